// runJob: a keyed operator run by N worker processes, each owning a key-group
// range and reading only its key groups' partitions, checkpointed by a
// CheckpointCoordinator in this process, restarted from the latest completed
// checkpoint when a worker dies or stops answering (restart strategy),
// rescaled, stopped with a savepoint, restored from a checkpoint or savepoint.
//
// The job's states, and what moves it between them:
//   STARTING   → RUNNING     every worker opened (restored) its backend and source
//   RUNNING    → RESTARTING  a worker exited or missed heartbeats
//   RESTARTING → RUNNING     a new attempt started from the latest checkpoint
//   RESTARTING → FAILED      the restart strategy has no attempts left
//   RUNNING    → RESCALING → RUNNING   job.rescale(p)
//   RUNNING    → FINISHED    every worker's bounded source ended (a final checkpoint is taken)
//   RUNNING    → STOPPED     job.stop() (with a savepoint when asked)
// Control operations run one at a time; a failure seen during one is handled
// by it (rescale restarts at the new parallelism from the latest checkpoint).
// `job.metrics` is a prom-client Registry of the job (metrics/job-metrics.ts).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BackendKind } from '../state-backend/types.js'
import { findLatestCompleteCheckpoint } from '../checkpoint/catalog.js'
import { CheckpointCoordinator, type CheckpointEvent } from '../checkpoint/coordinator.js'
import { operatorStateProblem, readMetadata, type CheckpointMetadata, type JsonValue, type RestoreMode } from '../checkpoint/metadata.js'
import { restoreAssignment } from '../checkpoint/assignment.js'
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import { checkMaxParallelism, DEFAULT_MAX_PARALLELISM, keyGroupRangeForOperator } from '../keygroups.js'
import { booleanOption, checkKnownOptions } from '../option-checks.js'
import { FileSystemCheckpointStorage } from '../storage/fs.js'
import type { CheckpointStorage } from '../storage/types.js'
import { jobMetrics, type JobMetrics, type RestartCause, type WorkerSample } from '../metrics/job-metrics.js'
import type { Registry } from 'prom-client'
import { ChildProcessWorker } from './child-worker.js'
import type { WorkerHandle } from './worker-handle.js'
import { RemoteWorkerPool, type RemoteWorkersOptions } from './remote-pool.js'
import { jobModuleUrl } from './job-module.js'
import { resumePositions } from './positions.js'
import type { StorageSpec, WorkerConfig } from './protocol.js'
import { checkRestartStrategy, DEFAULT_RESTART_STRATEGY, restartDelayMs, type RestartStrategy } from './restart-strategy.js'

export type JobState = 'STARTING' | 'RUNNING' | 'RESTARTING' | 'RESCALING' | 'STOPPING' | 'FINISHED' | 'STOPPED' | 'FAILED'

export interface RunJobOptions {
  /** The job module (path or URL) whose default export is the job definition (defineJob). */
  job: string | URL
  /** Plain JSON given to the job definition's factories in every worker (it crosses process boundaries). */
  params?: unknown
  parallelism: number
  /** Key groups; fixed for the life of the job (default 128). */
  maxParallelism?: number
  /** Default 'rocksdb'. */
  backend?: BackendKind
  /** RocksDB statistics tickers in the workers, for the block cache and write stall metrics (default false: about 6% of the CPU time of a state read, bench/notes/metrics-statistics.md). */
  rocksdbStatistics?: boolean
  storage: CheckpointStorage
  /** Periodic checkpoints; none when omitted (stop/rescale/finish still take one). */
  checkpointIntervalMs?: number
  /** Completed checkpoints kept (default 3). */
  retainedCheckpoints?: number
  /** Default: exponential backoff from 100 ms to 10 s, 10 attempts. */
  restartStrategy?: RestartStrategy
  /**
   * Start from a snapshot: 'latest' (the newest complete checkpoint in storage,
   * e.g. after the coordinator process died; a fresh start when there is none),
   * the storage-relative directory of a checkpoint or savepoint, or its metadata.
   */
  restoreFrom?: 'latest' | string | CheckpointMetadata
  /** Workers send a heartbeat this often (default 500 ms). */
  heartbeatIntervalMs?: number
  /** A worker not heard from for this long is killed and the job restarts (default 10 s). */
  heartbeatTimeoutMs?: number
  /** Where the workers' RocksDB working directories go (default: a temporary directory, removed). */
  localDir?: string
  /**
   * Workers on other hosts instead of child processes: they join over NATS
   * (`keyed-state worker <job module> --connect <url> --job-id <jobId>`) and
   * open the checkpoint storage the job definition's storage() names (a
   * FileSystemCheckpointStorage root is used as it is: a shared mount).
   */
  workers?: RemoteWorkersOptions
  /** State changes, checkpoints, failures and restarts. Must not throw. */
  onEvent?: (event: JobEvent) => void
}

export type JobEvent =
  | { type: 'state'; state: JobState }
  | { type: 'started'; attempt: number; parallelism: number; restoredFrom: CheckpointMetadata | undefined; startMs: number }
  | { type: 'checkpoint'; metadata: CheckpointMetadata }
  | { type: 'checkpoint-aborted'; checkpointId: number; reason: string }
  | { type: 'failure'; error: KeyedStateError; restarts: number }

export interface JobResult {
  state: 'FINISHED' | 'STOPPED'
  /** The final checkpoint (FINISHED) or the savepoint (stop with savepoint). */
  snapshot: CheckpointMetadata | undefined
}

const KNOWN_OPTIONS = [
  'job', 'params', 'parallelism', 'maxParallelism', 'backend', 'storage', 'checkpointIntervalMs', 'retainedCheckpoints',
  'restartStrategy', 'restoreFrom', 'heartbeatIntervalMs', 'heartbeatTimeoutMs', 'localDir', 'workers', 'onEvent', 'rocksdbStatistics',
]

function positiveInteger(name: string, v: unknown, min = 1): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new KeyedStateError('INVALID_ARGUMENT', `runJob: ${name} must be an integer >= ${min}, got ${String(v)}`)
  }
}

function checkParallelism(p: number, maxParallelism: number): void {
  positiveInteger('parallelism', p)
  if (p > maxParallelism) throw new KeyedStateError('INVALID_ARGUMENT', `parallelism ${p} is more than maxParallelism ${maxParallelism} (the number of key groups)`)
}

function checkOptions(o: RunJobOptions): void {
  if (typeof o !== 'object' || o === null) throw new KeyedStateError('INVALID_ARGUMENT', 'runJob needs an options object')
  checkKnownOptions(o, KNOWN_OPTIONS, 'runJob option')
  if (!o.job) throw new KeyedStateError('INVALID_ARGUMENT', 'runJob needs job: the module that default-exports the job definition')
  if (!o.storage) throw new KeyedStateError('INVALID_ARGUMENT', 'runJob needs a checkpoint storage')
  if (o.maxParallelism !== undefined) checkMaxParallelism(o.maxParallelism)
  checkParallelism(o.parallelism, o.maxParallelism ?? DEFAULT_MAX_PARALLELISM)
  if (o.backend !== undefined && o.backend !== 'rocksdb' && o.backend !== 'heap') {
    throw new KeyedStateError('INVALID_ARGUMENT', `runJob: backend must be 'rocksdb' or 'heap', got ${JSON.stringify(o.backend)}`)
  }
  for (const name of ['checkpointIntervalMs', 'retainedCheckpoints', 'heartbeatIntervalMs', 'heartbeatTimeoutMs'] as const) {
    if (o[name] !== undefined) positiveInteger(name, o[name])
  }
  if (o.restartStrategy !== undefined) checkRestartStrategy(o.restartStrategy)
  booleanOption(o.rocksdbStatistics, 'runJob: rocksdbStatistics', false)
  const problem = o.params === undefined ? undefined : operatorStateProblem(o.params)
  if (problem) throw new KeyedStateError('INVALID_ARGUMENT', `runJob: ${problem.replace(/^operatorState/, 'params').replace('operator state', 'params')}`)
}

/** One set of workers and the coordinator checkpointing them; replaced as a whole on restart or rescale. */
interface Attempt {
  number: number
  parallelism: number
  workers: WorkerHandle[]
  coordinator: CheckpointCoordinator
  workDirs: string[]
  heartbeatTimer: NodeJS.Timeout
  stopping: boolean
  /** Its final checkpoint was asked for (once per attempt). */
  finishing?: boolean
  /** A worker exit seen before the job was RUNNING again (still starting, restarting or rescaling): acted on once it is. */
  unhandledExit?: { reason: KeyedStateError; cause: RestartCause }
  /** Workers the job killed for missing heartbeats (the cause of their exit). */
  silenced: Set<WorkerHandle>
  /** Its workers' event counts were added to the job's totals (it stopped). */
  counted?: boolean
}

/** Why a worker of `attempt` went away, for the restart metrics. */
function exitCause(attempt: Attempt, w: WorkerHandle): RestartCause {
  if (attempt.silenced.has(w)) return 'heartbeat-timeout'
  return w.reportedFailure ? 'worker-error' : 'worker-exit'
}

export class Job {
  private stateValue: JobState = 'STARTING'
  private current: Attempt | undefined
  private attempts = 0
  /** Failures that led to a restart, over the life of the job. */
  restarts = 0
  /** The newest snapshot a restart would resume from. */
  private latest: CheckpointMetadata | undefined
  /** Checkpoint ids completed by this job (claimed on restart; anything else is restored without claim). */
  private readonly ownCheckpoints = new Set<number>()
  private control: Promise<unknown> = Promise.resolve()
  private localDir!: string
  private ownLocalDir = false
  private pool: RemoteWorkerPool | undefined
  private resolveDone!: (r: JobResult) => void
  private rejectDone!: (e: KeyedStateError) => void
  /** Settles when the job ends: resolves FINISHED or STOPPED, rejects when it FAILED. */
  readonly done: Promise<JobResult>
  private readonly strategy: RestartStrategy
  private readonly storageSpec: StorageSpec
  private readonly jobModule: string
  private readonly metricsFeed: JobMetrics
  /** Events processed by the stopped attempts' workers, by worker index. */
  private readonly processedBefore = new Map<number, number>()

  private constructor(private readonly options: RunJobOptions) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    // A caller that only awaits runJob() must not get an unhandled rejection when the job later fails.
    this.done.catch(() => {})
    this.strategy = options.restartStrategy ?? DEFAULT_RESTART_STRATEGY
    this.storageSpec =
      options.storage instanceof FileSystemCheckpointStorage
        ? { kind: 'fs', root: options.storage.root }
        : /^s3:\/\//.test(options.storage.location)
          ? { kind: 'location', location: options.storage.location }
          : { kind: 'job' }
    this.jobModule = jobModuleUrl(options.job)
    this.metricsFeed = jobMetrics(() => this.workerSamples())
  }

  /**
   * The job's Prometheus metrics (events and source lag per worker, restarts,
   * checkpoints, restores, the workers' state metrics): merge it into your
   * registry (Registry.merge) or serve it (serveMetrics).
   */
  get metrics(): Registry {
    return this.metricsFeed.registry
  }

  private workerSamples(): WorkerSample[] {
    const samples = new Map<number, WorkerSample>()
    for (const [worker, processed] of this.processedBefore) samples.set(worker, { worker, processed })
    const attempt = this.current
    if (attempt && !attempt.counted) {
      for (const [worker, w] of attempt.workers.entries()) {
        const sample: WorkerSample = { worker, processed: (this.processedBefore.get(worker) ?? 0) + w.progress.processed }
        if (w.alive && !attempt.stopping) {
          if (w.progress.lagRecords !== undefined) sample.lagRecords = w.progress.lagRecords
          if (w.progress.stats) sample.stats = w.progress.stats
        }
        samples.set(worker, sample)
      }
    }
    return [...samples.values()].sort((a, b) => a.worker - b.worker)
  }

  static async run(options: RunJobOptions): Promise<Job> {
    checkOptions(options)
    const job = new Job(options)
    const { restoreFrom } = options
    job.latest = await job.resolveRestore(restoreFrom)
    if (restoreFrom === 'latest' && job.latest) job.ownCheckpoints.add(job.latest.checkpointId)
    if (options.localDir) job.localDir = options.localDir
    else {
      job.localDir = await mkdtemp(join(tmpdir(), 'keyed-state-job-'))
      job.ownLocalDir = true
    }
    try {
      if (options.workers) job.pool = await RemoteWorkerPool.open(options.workers)
      await job.startAttempt(options.parallelism)
    } catch (e) {
      await job.cleanUp()
      throw e
    }
    job.setState('RUNNING')
    return job
  }

  private async resolveRestore(r: RunJobOptions['restoreFrom']): Promise<CheckpointMetadata | undefined> {
    if (r === undefined) return undefined
    if (r === 'latest') return findLatestCompleteCheckpoint(this.options.storage)
    if (typeof r === 'string') return readMetadata(this.options.storage, r)
    return r
  }

  get state(): JobState {
    return this.stateValue
  }

  get parallelism(): number {
    return this.current?.parallelism ?? this.options.parallelism
  }

  /** The current attempt's workers (e.g. their pids, for a test that kills one). */
  get workers(): readonly WorkerHandle[] {
    return this.current?.workers ?? []
  }

  /** The snapshot a restart would resume from now. */
  get latestSnapshot(): CheckpointMetadata | undefined {
    return this.latest
  }

  private setState(state: JobState): void {
    if (this.stateValue === state) return
    this.stateValue = state
    this.emit({ type: 'state', state })
    // Workers may have finished while the job was starting, restarting or rescaling, when their
    // news was not acted on: look again now that the job runs.
    if (state !== 'RUNNING') return
    // A worker of the new attempt may also have died before then (a failure that repeats at once):
    // without this the job would run on with a dead worker and never finish.
    const attempt = this.current
    const exit = attempt?.unhandledExit
    if (attempt && exit) {
      attempt.unhandledExit = undefined
      this.onWorkerExit(attempt, exit.reason, exit.cause)
      return
    }
    this.onWorkerChange(attempt)
  }

  private emit(event: JobEvent): void {
    try {
      this.options.onEvent?.(event)
    } catch {
      // onEvent must not throw; a listener's bug must not take the job down.
    }
  }

  private get ended(): boolean {
    return this.stateValue === 'FINISHED' || this.stateValue === 'STOPPED' || this.stateValue === 'FAILED'
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.control.then(fn)
    this.control = run.catch(() => {})
    return run
  }

  /** `rescale`: at a parallelism chosen by rescale() (for the restore metrics). */
  private async startAttempt(parallelism: number, rescale = false): Promise<void> {
    const number = ++this.attempts
    const maxParallelism = this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM
    const from = this.latest
    const assignments = from ? restoreAssignment(from, parallelism) : undefined
    const startedMs = performance.now()
    const workDirs: string[] = []
    const attemptRef: { a?: Attempt } = {}
    const configs = Array.from({ length: parallelism }, (_, index): WorkerConfig => {
      const keyGroupRange = keyGroupRangeForOperator(maxParallelism, parallelism, index)
      const workDir = join(this.localDir, `attempt-${number}-worker-${index}`)
      workDirs.push(workDir)
      return {
        name: `worker ${index + 1}/${parallelism} (attempt ${number})`,
        jobModule: this.jobModule,
        params: (this.options.params ?? null) as JsonValue,
        workerIndex: index,
        parallelism,
        backend: this.options.backend ?? 'rocksdb',
        ...(this.options.rocksdbStatistics ? { rocksdbStatistics: true } : {}),
        maxParallelism,
        keyGroupRange,
        storage: this.storageSpec,
        workDir,
        // A fresh start passes no restoreFrom: an empty one would be a restore that covers nothing.
        ...(assignments ? { restoreFrom: assignments[index]!.restoreFrom, knownEmptyRanges: assignments[index]!.knownEmptyRanges } : {}),
        positions: [...resumePositions(from, keyGroupRange)].map(([kg, p]) => [kg, p ?? null]),
        heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 500,
        heartbeatTimeoutMs: this.options.heartbeatTimeoutMs ?? 10_000,
      }
    })
    const onChange = (): void => this.onWorkerChange(attemptRef.a)
    const pool = this.pool
    const starting = await Promise.allSettled(configs.map((c) => (pool ? pool.start(c, onChange) : ChildProcessWorker.start(c, onChange))))
    const workers = starting.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) {
      await Promise.all(workers.map((w) => w.close()))
      await Promise.all(workDirs.map((d) => rm(d, { recursive: true, force: true })))
      throw failed.reason
    }
    let coordinator: CheckpointCoordinator
    try {
      coordinator = await CheckpointCoordinator.create({
        storage: this.options.storage,
        instances: workers,
        ...(this.options.checkpointIntervalMs !== undefined ? { intervalMs: this.options.checkpointIntervalMs } : {}),
        retainedCheckpoints: this.options.retainedCheckpoints ?? 3,
        // A dead worker fails its requests at once; these only bound a hung one.
        timeoutMs: 60_000,
        cancelGraceMs: 5_000,
        ...(from ? { restoredFrom: { metadata: from, mode: this.restoreModeOf(from) } } : {}),
        onEvent: (e) => this.onCheckpointEvent(e),
      })
    } catch (e) {
      await Promise.all(workers.map((w) => w.close()))
      throw e
    }
    const heartbeatTimeoutMs = this.options.heartbeatTimeoutMs ?? 10_000
    const silenced = new Set<WorkerHandle>()
    const attempt: Attempt = {
      number,
      parallelism,
      workers,
      coordinator,
      workDirs,
      stopping: false,
      silenced,
      // A worker that stops answering (hung, or its host gone) is killed; its exit restarts the job.
      heartbeatTimer: setInterval(() => {
        for (const w of workers) {
          if (!w.alive || performance.now() - w.lastHeardMs <= heartbeatTimeoutMs) continue
          silenced.add(w)
          w.kill()
        }
      }, Math.min(heartbeatTimeoutMs, 1000)),
    }
    attemptRef.a = attempt
    this.current = attempt
    this.metricsFeed.attach(coordinator)
    for (const w of workers) {
      void w.exited.then((reason) => this.onWorkerExit(attempt, reason, exitCause(attempt, w)))
    }
    const startMs = performance.now() - startedMs
    if (from) this.metricsFeed.recordRestore(startMs, rescale)
    this.emit({ type: 'started', attempt: number, parallelism, restoredFrom: from, startMs })
    this.onWorkerChange(attempt)
  }

  private restoreModeOf(md: CheckpointMetadata): RestoreMode {
    return md.type === 'checkpoint' && this.ownCheckpoints.has(md.checkpointId) ? 'claim' : 'no-claim'
  }

  private onCheckpointEvent(e: CheckpointEvent): void {
    if (e.type === 'completed') {
      if (e.metadata.type === 'checkpoint') {
        this.latest = e.metadata
        this.ownCheckpoints.add(e.metadata.checkpointId)
      }
      this.emit({ type: 'checkpoint', metadata: e.metadata })
    } else if (e.type === 'aborted') {
      this.emit({ type: 'checkpoint-aborted', checkpointId: e.checkpointId, reason: e.reason.message })
    }
  }

  private async stopAttempt(attempt: Attempt | undefined): Promise<void> {
    if (!attempt || attempt.stopping) return
    attempt.stopping = true
    clearInterval(attempt.heartbeatTimer)
    await attempt.coordinator.close()
    await Promise.all(attempt.workers.map((w) => w.close()))
    // Their last heartbeats' counts (a worker that died counts what it reported).
    for (const [worker, w] of attempt.workers.entries()) this.processedBefore.set(worker, (this.processedBefore.get(worker) ?? 0) + w.progress.processed)
    attempt.counted = true
    await Promise.all(attempt.workDirs.map((d) => rm(d, { recursive: true, force: true })))
  }

  private onWorkerExit(attempt: Attempt, reason: KeyedStateError | undefined, cause: RestartCause): void {
    if (attempt.stopping || attempt !== this.current || this.ended || reason === undefined) return
    // Not RUNNING: a restart or rescale is under way, or a stop; setState('RUNNING') acts on it if the job goes on.
    if (this.stateValue !== 'RUNNING') {
      attempt.unhandledExit ??= { reason, cause }
      return
    }
    this.setState('RESTARTING')
    void this.serial(() => this.recover(reason, attempt.parallelism, cause))
  }

  /** Restarts at `parallelism` from the latest snapshot, as often as the restart strategy allows. */
  private async recover(reason: KeyedStateError, parallelism: number, cause: RestartCause): Promise<void> {
    for (;;) {
      if (this.ended) return
      this.restarts++
      this.emit({ type: 'failure', error: reason, restarts: this.restarts })
      this.setState('RESTARTING')
      await this.stopAttempt(this.current)
      const delayMs = restartDelayMs(this.strategy, this.restarts)
      if (delayMs === undefined) {
        const attempts = this.restarts - 1
        await this.end('FAILED', undefined, new KeyedStateError(
          'ABORTED',
          `job failed after ${attempts} restart${attempts === 1 ? '' : 's'} (restart strategy ${this.strategy.kind} allows no more): ${reason.message}`,
          { cause: reason },
        ))
        return
      }
      this.metricsFeed.recordRestart(cause)
      await sleep(delayMs)
      try {
        await this.startAttempt(parallelism)
        this.setState('RUNNING')
        return
      } catch (e) {
        reason = isKeyedStateError(e) ? e : new KeyedStateError('INTERNAL', String(e), { cause: e })
        cause = 'start-failed'
      }
    }
  }

  private onWorkerChange(attempt: Attempt | undefined): void {
    if (!attempt || attempt !== this.current || attempt.stopping || this.stateValue !== 'RUNNING' || attempt.finishing) return
    if (!attempt.workers.every((w) => w.progress.finished)) return
    attempt.finishing = true
    void this.serial(async () => {
      if (attempt !== this.current || this.stateValue !== 'RUNNING') return
      // Bounded input is done everywhere: one last checkpoint holds the final state.
      const md = await this.checkpointOf(attempt)
      await this.end('FINISHED', md)
    }).catch((e: unknown) => {
      // A restart or rescale took over, or a worker died (its exit restarts the job).
      if (attempt !== this.current || this.stateValue !== 'RUNNING' || attempt.workers.some((w) => !w.alive)) return
      // The final checkpoint failed with every worker still there: a failure like any other (restart, which finishes again).
      const reason = isKeyedStateError(e) ? e : new KeyedStateError('INTERNAL', String(e), { cause: e })
      this.setState('RESTARTING')
      void this.serial(() =>
        this.recover(new KeyedStateError(reason.code, `the final checkpoint failed: ${reason.message}`, { cause: reason }), attempt.parallelism, 'final-checkpoint-failed'))
    })
  }

  /** Takes a checkpoint now, waiting for one already in flight. */
  triggerCheckpoint(): Promise<CheckpointMetadata> {
    const attempt = this.current
    if (!attempt || this.stateValue !== 'RUNNING') return Promise.reject(new KeyedStateError('BUSY', `the job is ${this.stateValue}`))
    return this.checkpointOf(attempt)
  }

  private async checkpointOf(attempt: Attempt): Promise<CheckpointMetadata> {
    for (;;) {
      try {
        return await attempt.coordinator.triggerCheckpoint()
      } catch (e) {
        if (!isKeyedStateError(e, 'BUSY')) throw e
        await sleep(10)
      }
    }
  }

  /**
   * Restarts the job at `parallelism` workers: a checkpoint first (when it
   * fails, the latest completed one), then every key group resumes on its new
   * worker from its recorded position.
   */
  rescale(parallelism: number): Promise<void> {
    checkParallelism(parallelism, this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM)
    return this.serial(async () => {
      if (this.ended) throw new KeyedStateError('CLOSED', `the job is ${this.stateValue}`)
      this.setState('RESCALING')
      const attempt = this.current
      if (attempt && !attempt.stopping) await this.checkpointOf(attempt).catch(() => undefined)
      await this.stopAttempt(attempt)
      try {
        await this.startAttempt(parallelism, true)
        this.setState('RUNNING')
      } catch (e) {
        await this.recover(isKeyedStateError(e) ? e : new KeyedStateError('INTERNAL', String(e)), parallelism, 'start-failed')
      }
    })
  }

  /** Resolves once every worker has read everything its source had when it was asked (survives restarts). */
  async waitUntilCaughtUp(): Promise<void> {
    for (;;) {
      if (this.ended) throw new KeyedStateError('CLOSED', `the job is ${this.stateValue}`)
      const attempt = this.current
      if (attempt && this.stateValue === 'RUNNING') {
        const ok = await Promise.all(attempt.workers.map((w) => w.caughtUp())).then(() => true, () => false)
        if (ok && attempt === this.current && this.stateValue === 'RUNNING') return
      }
      await sleep(50)
    }
  }

  /** Stops the job; with `savepoint`, takes one first (under `savepointDir` when given) and returns it. */
  stop(options: { savepoint?: boolean; savepointDir?: string } = {}): Promise<JobResult> {
    return this.serial(async () => {
      if (this.ended) return this.done
      let snapshot: CheckpointMetadata | undefined
      this.setState('STOPPING')
      const attempt = this.current
      if (options.savepoint) {
        try {
          if (!attempt || attempt.stopping) throw new KeyedStateError('ABORTED', 'no running workers to take a savepoint from')
          snapshot = await attempt.coordinator.triggerSavepoint(options.savepointDir)
        } catch (e) {
          // The job goes on (restarting if a worker died meanwhile); the caller may stop again.
          this.setState('RUNNING')
          const dead = attempt?.workers.find((w) => !w.alive)
          if (attempt && dead) this.onWorkerExit(attempt, new KeyedStateError('ABORTED', `${dead.name} died during the savepoint`), exitCause(attempt, dead))
          throw e
        }
      }
      await this.end('STOPPED', snapshot)
      return this.done
    })
  }

  private async end(state: 'FINISHED' | 'STOPPED' | 'FAILED', snapshot: CheckpointMetadata | undefined, error?: KeyedStateError): Promise<void> {
    await this.stopAttempt(this.current)
    await this.cleanUp()
    this.setState(state)
    if (state === 'FAILED') this.rejectDone(error!)
    else this.resolveDone({ state, snapshot })
  }

  private async cleanUp(): Promise<void> {
    await this.pool?.close()
    if (this.ownLocalDir) await rm(this.localDir, { recursive: true, force: true })
  }
}

/** Starts a job; resolves once its workers run. See RunJobOptions and Job. */
export function runJob(options: RunJobOptions): Promise<Job> {
  return Job.run(options)
}
