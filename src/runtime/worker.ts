// A runtime worker: opens its backend (restored when told to), builds the
// job's operator and source reader for its key-group range, and runs the
// loop poll → processElement → watermark, yielding to the event loop between
// batches so that coordinator messages (a checkpoint barrier) get their turn.
// Transport-agnostic: the process entry (IPC) or a remote worker (NATS)
// delivers ToWorker messages to handle() and carries what `send` emits.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises'
import { openKeyedStateBackend } from '../backends/open.js'
import type { KeyedStateBackend } from '../state-backend/types.js'
import type { InstanceAck, InstanceSnapshotRequest } from '../checkpoint/instance.js'
import { isKeyedStateError, KeyGroupRangeError, KeyedStateError } from '../errors.js'
import { assignToKeyGroup } from '../keygroups.js'
import type { SnapshotOptions, SnapshotRun } from '../snapshot/types.js'
import { FileSystemCheckpointStorage } from '../storage/fs.js'
import { openCheckpointStorage, s3OptionsFromEnv } from '../storage/open.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { Timer, TimerService } from '../timers/types.js'
import { loadJob } from './job-module.js'
import type { JobDefinition, KeyedOperator, OperatorContext } from './operator.js'
import { positionRuns, checkPositionsCover, type WorkerOperatorState } from './positions.js'
import type { ErrorInfo, FromWorker, ToWorker, WorkerConfig, WorkerProgress } from './protocol.js'
import type { Serializer } from '../serializers/serializer.js'
import { misroutedError, type SourceReader, type SourceRecord } from './source.js'

/** Work between two yields to the event loop: longer delays barriers and checkpoint I/O, shorter costs throughput. */
const BATCH_TIME_MS = 2
const RECORDS_PER_POLL = 256
/** An idle source is polled again after this pause (broker readers wait inside poll instead). */
const IDLE_POLL_MS = 5
/**
 * Share of the worker's time its heartbeats may spend reading backend stats
 * for the metrics: after a read that took t, the next waits 100 t. A few
 * states cost microseconds (every heartbeat); 1,000 RocksDB states took 11 ms
 * (about once a second), and 100 KB per heartbeat would otherwise go out twice
 * a second.
 */
const STATS_TIME_SHARE = 0.01

export function errorInfo(e: unknown): ErrorInfo {
  return { code: isKeyedStateError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) }
}

export class Worker<E, K> {
  private processed = 0
  private finished = false
  private stopped = false
  private maxEventTimeMs = -Infinity
  private readonly runs = new Map<number, SnapshotRun>()
  private readonly timerServices: TimerService<K, unknown>[] = []
  /** caught-up requests waiting for an empty poll that started after them. */
  private caughtUpWaiters: { requestId: number; afterPoll: number }[] = []
  private pollsStarted = 0
  private heartbeat: NodeJS.Timeout | undefined
  private lagRecords: number | undefined
  /** performance.now() from which a heartbeat reads backend stats again (STATS_TIME_SHARE). */
  private statsDueMs = 0
  private lagInFlight = false
  /** For the error of a record whose key is not of the key group it was read from. */
  private sourceDescription = ''
  private readonly ctx: OperatorContext<K>

  private constructor(
    private readonly config: WorkerConfig,
    private readonly job: JobDefinition<E, K>,
    private readonly backend: KeyedStateBackend<K>,
    private readonly storage: CheckpointStorage,
    private readonly operator: KeyedOperator<E, K>,
    private readonly send: (m: FromWorker) => void,
    private readonly ownWorkDir: string | undefined,
    private reader: SourceReader<E> | undefined = undefined,
  ) {
    const services = this.timerServices
    const op = operator
    this.ctx = {
      backend,
      keyGroupRange: config.keyGroupRange,
      maxParallelism: config.maxParallelism,
      workerIndex: config.workerIndex,
      parallelism: config.parallelism,
      timerService: <N>(name: string, options: { namespaceSerializer?: Serializer<N> } = {}) => {
        const service = backend.timerService<N>(name, {
          ...(options.namespaceSerializer ? { namespaceSerializer: options.namespaceSerializer } : {}),
          onTimer: (timer: Timer<K, N>) => op.onTimer?.(timer as Timer<K, unknown>, name, this.ctx),
        })
        services.push(service as TimerService<K, unknown>)
        return service
      },
    }
  }

  static async open<E, K>(config: WorkerConfig, send: (m: FromWorker) => void): Promise<Worker<E, K>> {
    const startMs = performance.now()
    const job = (await loadJob(config.jobModule)) as JobDefinition<E, K>
    // The job's own storage() first: a worker on another host reaches the storage the way the job says.
    const spec = config.storage
    const storage =
      job.storage?.(config.params) ??
      (spec.kind === 'fs' ? new FileSystemCheckpointStorage(spec.root) : spec.kind === 'location' ? openCheckpointStorage(spec.location, { s3: s3OptionsFromEnv() }) : undefined)
    if (!storage) throw new KeyedStateError('INVALID_ARGUMENT', `${config.jobModule}: the job defines no storage() for workers that cannot open the coordinator's storage`)
    let ownWorkDir: string | undefined
    let dir = config.workDir
    if (config.backend === 'rocksdb' && dir === undefined) dir = ownWorkDir = await mkdtemp(join(tmpdir(), 'keyed-state-worker-'))
    const backend = await openKeyedStateBackend<K>({
      kind: config.backend,
      keySerializer: job.keySerializer,
      maxParallelism: config.maxParallelism,
      keyGroupRange: config.keyGroupRange,
      storage,
      ...(config.restoreFrom ? { restoreFrom: config.restoreFrom, knownEmptyRanges: config.knownEmptyRanges ?? [] } : {}),
      ...(dir !== undefined ? { dir } : {}),
      ...(config.rocksdbStatistics ? { rocksdbStatistics: true } : {}),
    })
    const operator = job.operator(config.params)
    const worker = new Worker<E, K>(config, job, backend, storage, operator, send, ownWorkDir)
    await operator.open(worker.ctx)
    const { keySerializer, keyOf } = job
    const maxParallelism = config.maxParallelism
    const source = job.source(config.params)
    worker.sourceDescription = source.description
    worker.reader = await source.open({
      keyGroupRange: config.keyGroupRange,
      maxParallelism,
      positions: new Map(config.positions.map(([kg, p]) => [kg, p ?? undefined])),
      keyGroupOf: (event: E) => assignToKeyGroup(keySerializer.serialize(keyOf(event)), maxParallelism),
    })
    worker.heartbeat = setInterval(() => worker.sendHeartbeat(), config.heartbeatIntervalMs)
    send({ type: 'ready', restoreMs: performance.now() - startMs })
    return worker
  }

  private sendHeartbeat(): void {
    this.measureLag()
    const progress: WorkerProgress = { processed: this.processed, finished: this.finished }
    if (this.lagRecords !== undefined) progress.lagRecords = this.lagRecords
    const startMs = performance.now()
    if (startMs >= this.statsDueMs) {
      try {
        progress.stats = this.backend.stats()
      } catch {
        // Metrics must not fail a worker: the heartbeat goes without them (the state's own use reports real faults).
      }
      const endMs = performance.now()
      this.statsDueMs = endMs + (endMs - startMs) / STATS_TIME_SHARE
    }
    this.send({ type: 'heartbeat', progress })
  }

  /** Starts a lag measurement unless one runs; the heartbeat carries the last result (a broker answers later). */
  private measureLag(): void {
    const reader = this.reader
    if (!reader?.lag || this.lagInFlight || this.stopped) return
    this.lagInFlight = true
    reader.lag().then(
      (v) => {
        this.lagRecords = v
        this.lagInFlight = false
      },
      // A broker that does not answer now leaves the last value; reading records reports real failures.
      () => {
        this.lagInFlight = false
      },
    )
  }

  /** Reads and processes until closed; a bounded source's end fires the final watermark once. */
  async run(): Promise<void> {
    const reader = this.reader!
    const { watermarks } = this.job
    const { operator, ctx } = this
    while (!this.stopped) {
      const deadline = performance.now() + BATCH_TIME_MS
      let empty = false
      do {
        const pollIndex = ++this.pollsStarted
        const records = await reader.poll(RECORDS_PER_POLL)
        if (this.stopped) return
        for (const r of records) {
          this.setKeyOf(r)
          operator.processElement(r.event, ctx)
          if (watermarks) {
            const t = watermarks.eventTimeOf(r.event)
            if (t > this.maxEventTimeMs) this.maxEventTimeMs = t
          }
        }
        this.processed += records.length
        if (records.length === 0) {
          empty = true
          this.answerCaughtUp(pollIndex)
        }
      } while (!empty && performance.now() < deadline)
      this.advanceTime(watermarks ? this.maxEventTimeMs - watermarks.maxOutOfOrdernessMs : -Infinity)
      if (empty && reader.finished && !this.finished) {
        operator.endOfInput?.(ctx)
        this.advanceTime(Infinity)
        this.finished = true
        this.sendHeartbeat()
      }
      if (empty) await sleep(this.finished ? 50 : IDLE_POLL_MS)
      else await yieldToEventLoop()
    }
  }

  /** Sets the record's key as current, checking it is of the key group the source read it from. */
  private setKeyOf(record: SourceRecord<E>): void {
    const { backend } = this
    try {
      backend.setCurrentKey(this.job.keyOf(record.event))
    } catch (e) {
      if (record.keyGroup >= 0 && e instanceof KeyGroupRangeError) throw misroutedError(this.sourceDescription, record.keyGroup, e.keyGroup ?? -1)
      throw e
    }
    // A record of another key group of this range would be processed right but its position kept with the wrong key group.
    if (record.keyGroup >= 0 && backend.getCurrentKeyGroup() !== record.keyGroup) throw misroutedError(this.sourceDescription, record.keyGroup, backend.getCurrentKeyGroup())
  }

  private advanceTime(watermark: number): void {
    const now = Date.now()
    for (const s of this.timerServices) {
      if (watermark > s.currentWatermark) s.advanceWatermark(watermark)
      s.advanceProcessingTime(now)
    }
  }

  private answerCaughtUp(emptyPollIndex: number): void {
    if (this.caughtUpWaiters.length === 0) return
    const ready = this.caughtUpWaiters.filter((w) => w.afterPoll < emptyPollIndex)
    this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.afterPoll >= emptyPollIndex)
    for (const w of ready) this.send({ type: 'reply', requestId: w.requestId, ok: true, value: null })
  }

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'snapshot':
        return this.reply(message.requestId, () => this.snapshot(message.requestId, message.request))
      case 'cancel':
        this.runs.get(message.requestId)?.cancel()
        return
      case 'notify':
        return this.reply(message.requestId, async () => {
          if (message.outcome === 'complete') this.backend.notifyCheckpointComplete(message.checkpointId)
          else this.backend.notifyCheckpointAborted(message.checkpointId)
          return null
        })
      case 'caught-up':
        this.caughtUpWaiters.push({ requestId: message.requestId, afterPoll: this.pollsStarted })
        return
      case 'close':
        await this.close()
        return
      case 'ping':
        return
      case 'open':
        throw new KeyedStateError('INVALID_ARGUMENT', `${this.config.name} is already open`)
    }
  }

  private async reply(requestId: number, fn: () => Promise<InstanceAck | null>): Promise<void> {
    try {
      this.send({ type: 'reply', requestId, ok: true, value: await fn() })
    } catch (e) {
      this.send({ type: 'reply', requestId, ok: false, error: errorInfo(e) })
    }
  }

  private async snapshot(requestId: number, request: InstanceSnapshotRequest): Promise<InstanceAck> {
    const options: SnapshotOptions = { type: request.type, storage: this.storage }
    if (request.targetDir !== undefined) options.targetDir = request.targetDir
    if (request.forceFullUpload) options.forceFullUpload = true
    // The barrier: keyed state and source positions are captured together, between two batches.
    const run = this.backend.snapshot(request.checkpointId, options)
    const positions = this.reader!.positions()
    checkPositionsCover(this.config.keyGroupRange, positions)
    const operatorState: WorkerOperatorState = { sourcePositions: positionRuns(this.config.keyGroupRange, positions) }
    const asyncStartMs = performance.now()
    this.runs.set(requestId, run)
    try {
      const result = await run.done
      return { handle: result.handle, syncDurationMs: run.syncDurationMs, asyncDurationMs: performance.now() - asyncStartMs, operatorState }
    } finally {
      this.runs.delete(requestId)
    }
  }

  async close(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.heartbeat)
    for (const run of this.runs.values()) run.cancel()
    await this.reader?.close().catch(() => {})
    await this.operator.close?.()
    await this.backend.close()
    if (this.ownWorkDir) await rm(this.ownWorkDir, { recursive: true, force: true })
  }
}
