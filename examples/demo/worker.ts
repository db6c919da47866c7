// One operator instance in its own process (forked by ChildProcessInstance).
// It opens its backend (restoring its key groups when told to), reads the
// source from its resume offsets, applies the events whose key is in its key
// groups, and between batches answers the job: snapshot (with the source
// offsets as operator state), cancel, checkpoint notifications, drain, close.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import {
  assignToKeyGroup,
  openCheckpointStorage,
  s3OptionsFromEnv,
  type CheckpointStorage,
  isKeyedStateError,
  openKeyedStateBackend,
  rangeContains,
  stringSerializer,
  type InstanceAck,
  type InstanceSnapshotRequest,
  type KeyedStateBackend,
  type SnapshotOptions,
  type SnapshotRun,
} from '../../src/index.js'
import { eventAt, MAX_OUT_OF_ORDER_MS, type DemoEvent } from './events.js'
import { EventCounter, StreamClock, type KeyResult } from './operator.js'
import type { ErrorInfo, FromWorker, ToWorker, WorkerConfig } from './protocol.js'
import { SourcePosition } from './source-position.js'

/**
 * The source yields to the event loop after this much work, so that IPC
 * messages (a checkpoint barrier) and the I/O of checkpoint uploads get their
 * turn; longer batches would delay barriers and stretch every upload.
 */
const BATCH_TIME_MS = 2
const EVENTS_PER_CLOCK_CHECK = 32
const PROGRESS_INTERVAL_MS = 20
const KEY_GROUP_CACHE_MAX = 100_000

function send(message: FromWorker): void {
  process.send!(message)
}

function errorInfo(e: unknown): ErrorInfo {
  return { code: isKeyedStateError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) }
}

class Worker {
  private nextOffset = 0
  private applied = 0
  private maxEventTimeMs = -Infinity
  private stopped = false
  private readonly runs = new Map<number, SnapshotRun>()
  private readonly keyGroups = new Map<string, number>()

  private constructor(
    private readonly config: WorkerConfig,
    private readonly backend: KeyedStateBackend<string>,
    private readonly storage: CheckpointStorage,
    private readonly operator: EventCounter,
    private readonly position: SourcePosition,
  ) {
    this.nextOffset = position.startOffset
  }

  static async open(config: WorkerConfig): Promise<Worker> {
    const startMs = performance.now()
    const storage = openCheckpointStorage(config.storageLocation, { s3: s3OptionsFromEnv() })
    const backend = await openKeyedStateBackend({
      kind: config.backend,
      keySerializer: stringSerializer,
      maxParallelism: config.maxParallelism,
      keyGroupRange: config.keyGroupRange,
      storage,
      ...(config.restoreFrom ? { restoreFrom: config.restoreFrom, knownEmptyRanges: config.knownEmptyRanges ?? [] } : {}),
      ...(config.backend === 'rocksdb' ? { dir: config.workDir } : {}),
    })
    const operator = new EventCounter(backend, new StreamClock())
    const worker = new Worker(config, backend, storage, operator, new SourcePosition(config.keyGroupRange, config.resumeFrom))
    send({ type: 'ready', restoreMs: performance.now() - startMs, startOffset: worker.nextOffset })
    return worker
  }

  private keyGroupOf(key: string): number {
    let kg = this.keyGroups.get(key)
    if (kg === undefined) {
      kg = assignToKeyGroup(stringSerializer.serialize(key), this.config.maxParallelism)
      if (this.keyGroups.size >= KEY_GROUP_CACHE_MAX) this.keyGroups.clear()
      this.keyGroups.set(key, kg)
    }
    return kg
  }

  /** Reads the source to its end, one batch per turn of the event loop. */
  async run(): Promise<void> {
    const { stream } = this.config
    let lastProgressMs = 0
    while (!this.stopped && this.nextOffset < stream.events) {
      const deadline = performance.now() + BATCH_TIME_MS
      do {
        const end = Math.min(stream.events, this.nextOffset + EVENTS_PER_CLOCK_CHECK)
        while (this.nextOffset < end) this.read(eventAt(stream, this.nextOffset++))
      } while (this.nextOffset < stream.events && performance.now() < deadline)
      this.operator.advanceWatermark(this.maxEventTimeMs - MAX_OUT_OF_ORDER_MS)
      if (performance.now() - lastProgressMs >= PROGRESS_INTERVAL_MS) {
        send({ type: 'progress', nextOffset: this.nextOffset, applied: this.applied })
        lastProgressMs = performance.now()
      }
      await yieldToEventLoop()
    }
    if (!this.stopped) send({ type: 'finished', applied: this.applied })
  }

  private read(event: DemoEvent): void {
    // Event time advances with every event read, ours or not, as it would on a shared partition.
    if (event.timeMs > this.maxEventTimeMs) this.maxEventTimeMs = event.timeMs
    const kg = this.keyGroupOf(event.key)
    if (!rangeContains(this.config.keyGroupRange, kg) || !this.position.shouldApply(kg, event.offset)) return
    this.operator.processElement(event)
    this.applied++
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
      case 'drain':
        return this.reply(message.requestId, async () => this.drain())
      case 'close':
        this.stopped = true
        for (const run of this.runs.values()) run.cancel()
        await this.backend.close()
        return process.exit(0)
      case 'open':
        throw new Error('already open')
    }
  }

  private async reply(requestId: number, fn: () => Promise<InstanceAck | [string, KeyResult][] | null>): Promise<void> {
    try {
      send({ type: 'reply', requestId, ok: true, value: await fn() })
    } catch (e) {
      send({ type: 'reply', requestId, ok: false, error: errorInfo(e) })
    }
  }

  private async snapshot(requestId: number, request: InstanceSnapshotRequest): Promise<InstanceAck> {
    const options: SnapshotOptions = { type: request.type, storage: this.storage }
    if (request.targetDir !== undefined) options.targetDir = request.targetDir
    if (request.forceFullUpload) options.forceFullUpload = true
    // The barrier: state and source offsets are captured together, between two events.
    const run = this.backend.snapshot(request.checkpointId, options)
    const operatorState = this.position.snapshot(this.nextOffset)
    const asyncStartMs = performance.now()
    this.runs.set(requestId, run)
    try {
      const result = await run.done
      return {
        handle: result.handle,
        syncDurationMs: run.syncDurationMs,
        asyncDurationMs: performance.now() - asyncStartMs,
        operatorState,
      }
    } finally {
      this.runs.delete(requestId)
    }
  }

  private drain(): [string, KeyResult][] {
    if (this.nextOffset < this.config.stream.events) throw new Error(`${this.config.name}: drain before the end of the stream (at offset ${this.nextOffset})`)
    this.operator.endOfInput(this.config.stream.events)
    return this.operator.keys().map((key) => [key, this.operator.resultFor(key)])
  }
}

// The parent's death leaves nobody to talk to: exit rather than linger.
process.on('disconnect', () => process.exit(1))

let worker: Worker | undefined
let queue: Promise<void> = Promise.resolve()
process.on('message', (message: ToWorker) => {
  // One message at a time, in order: a notification never overtakes the snapshot it is about.
  queue = queue.then(async () => {
    if (message.type === 'open') {
      worker = await Worker.open(message.config)
      void worker.run().catch(fail)
      return
    }
    if (!worker) throw new Error(`'${message.type}' before 'open'`)
    // A snapshot's asynchronous part runs alongside the source; only its synchronous part is ordered here.
    if (message.type === 'snapshot') void worker.handle(message)
    else await worker.handle(message)
  }).catch(fail)
})

function fail(e: unknown): void {
  process.send!({ type: 'failed', error: errorInfo(e) } satisfies FromWorker, () => process.exit(1))
}
