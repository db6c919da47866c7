// The checkpoint coordinator: its lifecycle (start, close), when a checkpoint
// or savepoint happens, collecting every operator instance's answer, and the
// decision that a checkpoint is complete: its `_metadata`, written last and
// atomically. The other jobs are its parts, as in Flink:
// - pending-checkpoint.ts: one checkpoint in flight, what an answer must hold;
// - completed-store.ts: the completed checkpoints, retention, claim/no-claim;
// - cleaner.ts: deleting subsumed and aborted checkpoints and released files;
// - notifier.ts: telling instances, fire-and-forget;
// - coordinator-options.ts: options, events and their checks.
//
// Ordering rules that keep storage consistent through crashes:
// - `_metadata` is written only after every instance acknowledged, and
//   instances hear "complete" only after it is durable.
// - A subsumed checkpoint loses its `_metadata` first, then its files
//   (cleaner.ts).
// - "complete" for checkpoint N is sent to the instances before the files of
//   the checkpoints N subsumes are released, so a checkpoint triggered after
//   the release is based on N, not on the released files. Sent, not awaited:
//   notifications never hold completion or the next trigger (notifier.ts).
// - Completion, subsumption and cleanup run one at a time (serial()).
import { performance } from 'node:perf_hooks'
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import type { SnapshotType } from '../snapshot/types.js'
import { openCheckpointStorage } from '../storage/open.js'
import { normalizeStoragePath } from '../storage/paths.js'
import type { CheckpointStorage } from '../storage/types.js'
import { listSnapshots } from './catalog.js'
import { CheckpointHistoryWriter, DEFAULT_HISTORY_MAX_ENTRIES, historyEntryOfCompleted, historyEntryOfFailed } from './history.js'
import { CheckpointCleaner } from './cleaner.js'
import { CompletedCheckpointStore, type RestoreSettings } from './completed-store.js'
import {
  checkInstances,
  checkOptions,
  DEFAULT_CANCEL_GRACE_MS,
  DEFAULT_RETAINED_CHECKPOINTS,
  DEFAULT_TIMEOUT_MS,
  type CheckpointCoordinatorOptions,
  type CheckpointEvent,
} from './coordinator-options.js'
import { collectGarbage, type GcOptions, type GcReport } from './gc.js'
import type { CheckpointHooks, HookName } from './hooks.js'
import type { InstanceAck, InstanceSnapshotRequest, OperatorInstance } from './instance.js'
import {
  checkpointDirName,
  DEFAULT_SAVEPOINT_PARENT,
  isUnder,
  metadataPathOf,
  parseCheckpointDirName,
  SHARED_DIR,
  TASK_OWNED_DIR,
  topLevelDir,
} from './layout.js'
import { writeMetadata, type CheckpointMetadata, type JsonValue, type RestoredFromRecord } from './metadata.js'
import { CheckpointNotifier } from './notifier.js'
import { checkAck, metadataOf, PendingCheckpoint } from './pending-checkpoint.js'
import { SharedStateRegistry } from './registry.js'

export type { RestoreSettings } from './completed-store.js'
export type { CheckpointCoordinatorOptions, CheckpointEvent } from './coordinator-options.js'

function asError(e: unknown, code: 'ABORTED' | 'IO_ERROR' | 'INTERNAL', message: string): KeyedStateError {
  if (isKeyedStateError(e)) return e
  return new KeyedStateError(code, `${message}: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
}

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

type Lifecycle = 'new' | 'starting' | 'running' | 'closed'

/** `O`: the type of the instances' operator state, as their acknowledgements give it and the metadata records it. */
export class CheckpointCoordinator<O extends JsonValue = JsonValue> {
  readonly storage: CheckpointStorage
  /** Opened here from a location: closed with the coordinator. */
  private readonly ownsStorage: boolean
  readonly maxParallelism: number
  /** Shared files and the checkpoints that reference them (read it, do not change it). */
  readonly registry = new SharedStateRegistry()

  private readonly instances: readonly OperatorInstance<O>[]
  private readonly maxConcurrentCheckpoints: number
  private readonly minPauseBetweenCheckpointsMs: number
  private readonly timeoutMs: number
  private readonly cancelGraceMs: number
  private readonly intervalMs: number | undefined
  private readonly hooks: CheckpointHooks
  private readonly onEvent: ((event: CheckpointEvent) => void) | undefined
  private readonly restoredFrom: RestoreSettings | undefined
  private readonly history: CheckpointHistoryWriter | undefined
  /** Listeners added with subscribe() (metrics), next to options.onEvent. */
  private readonly listeners = new Set<(event: CheckpointEvent) => void>()

  private lifecycle: Lifecycle = 'new'
  private nextCheckpointId = 1
  private readonly pending = new Map<number, PendingCheckpoint>()
  private readonly completed: CompletedCheckpointStore
  private readonly cleaner: CheckpointCleaner
  private forceFullUpload = false
  private lastCompletionAtMs: number | undefined
  private intervalTimer: NodeJS.Timeout | undefined
  /** Completion, subsumption and cleanup run one at a time, in trigger-independent order. */
  private serialTail: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | undefined
  private readonly savepointDirsReserved = new Set<string>()
  private readonly notifier: CheckpointNotifier

  constructor(options: CheckpointCoordinatorOptions<O>) {
    checkOptions(options)
    this.ownsStorage = typeof options.storage === 'string'
    this.storage = typeof options.storage === 'string' ? openCheckpointStorage(options.storage, options.storageOptions) : options.storage
    this.instances = [...options.instances]
    this.maxParallelism = checkInstances(this.instances)
    this.maxConcurrentCheckpoints = options.maxConcurrentCheckpoints ?? 1
    this.minPauseBetweenCheckpointsMs = options.minPauseBetweenCheckpointsMs ?? 0
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.completed = new CompletedCheckpointStore(this.storage, this.registry, options.retainedCheckpoints ?? DEFAULT_RETAINED_CHECKPOINTS)
    this.cancelGraceMs = options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS
    this.intervalMs = options.intervalMs
    this.hooks = options.hooks ?? {}
    this.onEvent = options.onEvent
    this.restoredFrom = options.restoredFrom
    const historyMaxEntries = options.historyMaxEntries ?? DEFAULT_HISTORY_MAX_ENTRIES
    if (historyMaxEntries > 0) {
      this.history = new CheckpointHistoryWriter(this.storage, historyMaxEntries, (error) =>
        this.emit({ type: 'warning', message: 'writing the checkpoint history failed', error }),
      )
    }
    this.cleaner = new CheckpointCleaner({
      storage: this.storage,
      registry: this.registry,
      callHook: (name, checkpointId, type) => this.callHook(name, { checkpointId, type }),
      warn: (message, checkpointId, error) =>
        this.emit({ type: 'warning', ...(checkpointId !== undefined ? { checkpointId } : {}), message, ...(error !== undefined ? { error } : {}) }),
    })
    this.notifier = new CheckpointNotifier(this.instances, this.cancelGraceMs, (checkpointId, message, error) =>
      this.emit({ type: 'warning', checkpointId, message, ...(error !== undefined ? { error } : {}) }),
    )
    const restored = options.restoredFrom?.metadata
    if (restored && restored.maxParallelism !== this.maxParallelism) {
      throw new KeyedStateError(
        'INVALID_ARGUMENT',
        `the instances have maxParallelism ${this.maxParallelism} but ${restored.type} ${restored.checkpointId} was taken with ${restored.maxParallelism}`,
      )
    }
  }

  /** Creates a coordinator and starts it. */
  static async create<O extends JsonValue = JsonValue>(options: CheckpointCoordinatorOptions<O>): Promise<CheckpointCoordinator<O>> {
    const c = new CheckpointCoordinator<O>(options)
    await c.start()
    return c
  }

  /**
   * Reads what the storage holds (checkpoint ids continue after the highest
   * one found; the registry is rebuilt from the `_metadata` files), applies
   * the restore mode and starts periodic checkpoints when intervalMs is set.
   */
  async start(): Promise<void> {
    if (this.lifecycle !== 'new') throw new KeyedStateError('INVALID_ARGUMENT', `CheckpointCoordinator.start() called when ${this.lifecycle}`)
    this.lifecycle = 'starting'
    try {
      await this.adoptStorage()
    } catch (e) {
      this.lifecycle = 'closed'
      throw e
    }
    this.lifecycle = 'running'
    this.scheduleNextInterval()
  }

  private async adoptStorage(): Promise<void> {
    const adoption = this.completed.adopt(await listSnapshots(this.storage), this.restoredFrom)
    this.nextCheckpointId = adoption.nextCheckpointId
    this.forceFullUpload = adoption.forceFullUpload
    if (adoption.foreignCheckpoints > 0) {
      this.emit({
        type: 'warning',
        message: `${this.storage.location} holds ${adoption.foreignCheckpoints} checkpoint(s) from an earlier run that this coordinator neither restored nor owns; it will not delete them`,
      })
    }
    // A claimed storage may hold more checkpoints than retention keeps.
    await this.serial(() => this.applyRetention())
  }

  // ---------------------------------------------------------------- triggers

  /**
   * Triggers a checkpoint on every instance. Resolves with its metadata once
   * it is complete (retention applied, instances notified); rejects with a
   * KeyedStateError when it is aborted. Throws BUSY when
   * maxConcurrentCheckpoints are in flight or the minimum pause has not passed.
   */
  triggerCheckpoint(): Promise<CheckpointMetadata<O>> {
    try {
      this.checkRunning()
      this.checkCanTriggerCheckpoint()
    } catch (e) {
      return Promise.reject(e)
    }
    const checkpointId = this.nextCheckpointId++
    return this.startPending(checkpointId, 'checkpoint', checkpointDirName(checkpointId)) as Promise<CheckpointMetadata<O>>
  }

  /**
   * Triggers a savepoint: a self-contained full snapshot under `dir`
   * (storage-relative, default `savepoints/savepoint-<id>`; it must be empty),
   * with its own `_metadata`. Savepoints do not count against
   * maxConcurrentCheckpoints and are never deleted by retention.
   */
  async triggerSavepoint(dir?: string): Promise<CheckpointMetadata<O>> {
    this.checkRunning()
    const checkpointId = this.nextCheckpointId++
    const target = normalizeStoragePath(dir ?? `${DEFAULT_SAVEPOINT_PARENT}/savepoint-${checkpointId}`)
    const top = topLevelDir(`${target}/x`)
    if (parseCheckpointDirName(top) !== undefined || top === SHARED_DIR || top === TASK_OWNED_DIR) {
      throw new KeyedStateError('INVALID_ARGUMENT', `savepoint directory '${target}' lies inside '${top}/', which checkpoints own`)
    }
    const busy = [...this.pending.values()].filter((p) => p.type === 'savepoint').map((p) => p.dir).concat([...this.savepointDirsReserved])
    const clash = busy.find((d) => isUnder(target, d) || isUnder(d, target))
    if (clash !== undefined) throw new KeyedStateError('BUSY', `a savepoint is being written to '${clash}'`)
    // Reserved across the emptiness check, so two calls cannot both claim the directory.
    this.savepointDirsReserved.add(target)
    try {
      // Savepoints are deleted as a whole when they fail, so the directory must hold nothing else.
      const existing = await this.storage.list(target)
      if (existing.length > 0) {
        throw new KeyedStateError('INVALID_ARGUMENT', `savepoint directory '${target}' is not empty (${existing.length} files); choose a new one`)
      }
      this.checkRunning()
    } finally {
      this.savepointDirsReserved.delete(target)
    }
    return this.startPending(checkpointId, 'savepoint', target) as Promise<CheckpointMetadata<O>>
  }

  private checkRunning(): void {
    if (this.lifecycle === 'new' || this.lifecycle === 'starting') {
      throw new KeyedStateError('INVALID_ARGUMENT', 'call CheckpointCoordinator.start() before triggering')
    }
    if (this.lifecycle === 'closed') throw new KeyedStateError('CLOSED', 'the checkpoint coordinator is closed')
  }

  private checkCanTriggerCheckpoint(): void {
    const inFlight = [...this.pending.values()].filter((p) => p.type === 'checkpoint').length
    if (inFlight >= this.maxConcurrentCheckpoints) {
      throw new KeyedStateError('BUSY', `${inFlight} checkpoint(s) in flight (maxConcurrentCheckpoints ${this.maxConcurrentCheckpoints})`)
    }
    if (this.lastCompletionAtMs !== undefined) {
      const sinceMs = performance.now() - this.lastCompletionAtMs
      if (sinceMs < this.minPauseBetweenCheckpointsMs) {
        throw new KeyedStateError(
          'BUSY',
          `${Math.round(sinceMs)} ms since the last checkpoint completed (minPauseBetweenCheckpointsMs ${this.minPauseBetweenCheckpointsMs})`,
        )
      }
    }
  }

  private scheduleNextInterval(): void {
    if (this.intervalMs === undefined || this.lifecycle !== 'running') return
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = undefined
      if (this.lifecycle !== 'running') return
      let ready = true
      try {
        this.checkCanTriggerCheckpoint()
      } catch {
        ready = false // busy: try again at the next tick
      }
      if (ready) this.triggerCheckpoint().catch(() => {}) // the outcome is reported through onEvent
      this.scheduleNextInterval()
    }, this.intervalMs)
  }

  private startPending(checkpointId: number, type: SnapshotType, dir: string): Promise<CheckpointMetadata> {
    const p = new PendingCheckpoint(checkpointId, type, dir, Date.now(), this.instances.length)
    this.pending.set(checkpointId, p)
    if (type === 'checkpoint') this.registry.checkpointStarted(checkpointId)
    p.timer = setTimeout(() => {
      const missing = this.instances.filter((_, i) => !p.acks[i]).map((inst) => inst.name)
      void this.abort(p, new KeyedStateError('ABORTED', `${p.label} timed out after ${this.timeoutMs} ms waiting for ${missing.join(', ')}`))
    }, this.timeoutMs)

    const request: InstanceSnapshotRequest = { checkpointId, type }
    if (type === 'savepoint') request.targetDir = dir
    if (type === 'checkpoint' && this.forceFullUpload) request.forceFullUpload = true
    // Every instance's synchronous part runs in this loop, with no event in between: the barrier.
    this.instances.forEach((inst, i) => {
      let answer: Promise<InstanceAck>
      try {
        answer = inst.snapshot({ ...request }, p.controller.signal)
      } catch (e) {
        answer = Promise.reject(e)
      }
      p.answered.push(
        answer.then(
          (ack) => this.onAck(p, i, ack),
          (e: unknown) => this.onDecline(p, i, e),
        ).catch((e: unknown) => this.emit({ type: 'warning', checkpointId, message: `handling the answer of ${inst.name} failed`, error: e })),
      )
    })
    this.runHook('afterTrigger', p).catch((e: unknown) => void this.abort(p, asError(e, 'ABORTED', `hook afterTrigger of ${p.label}`)))
    return p.result
  }

  // ----------------------------------------------------------- acknowledgements

  private async onAck(p: PendingCheckpoint, index: number, ack: InstanceAck): Promise<void> {
    if (p.state !== 'collecting') return this.cleaner.discardLateAck(p.checkpointId, ack)
    const inst = this.instances[index]!
    try {
      await checkAck(p, index, ack, { instance: inst, maxParallelism: this.maxParallelism, registry: this.registry, storage: this.storage })
    } catch (e) {
      await this.cleaner.discardLateAck(p.checkpointId, ack)
      void this.abort(p, asError(e, 'ABORTED', `${inst.name} acknowledged ${p.label} with an unusable handle`))
      return
    }
    if (p.state !== 'collecting') return this.cleaner.discardLateAck(p.checkpointId, ack)
    p.accept(index, ack, this.registry)
    if (p.complete) void this.finalize(p)
  }

  private onDecline(p: PendingCheckpoint, index: number, e: unknown): void {
    if (p.state !== 'collecting') return // a cancelled instance answers this way
    const inst = this.instances[index]!
    // The cause's code goes into the message (ABORTED stays the code callers branch on), so a
    // full disk reads as DISK_FULL wherever the abort is logged.
    const reason = e instanceof Error ? e.message : String(e)
    const causeCode = isKeyedStateError(e) ? ` (${e.code})` : ''
    void this.abort(p, new KeyedStateError('ABORTED', `${inst.name} declined ${p.label}${causeCode}: ${reason}`, { cause: e }))
  }

  // ----------------------------------------------------------------- completion

  private async finalize(p: PendingCheckpoint): Promise<void> {
    p.state = 'finalizing'
    clearTimeout(p.timer)
    let failure: KeyedStateError | undefined
    let metadata: CheckpointMetadata | undefined
    await this.serial(async () => {
      if (p.type === 'checkpoint' && this.completed.wouldBeSubsumed(p.checkpointId)) {
        failure = new KeyedStateError('ABORTED', `${p.label} completed after ${this.completed.retainedCheckpoints} newer checkpoints and is subsumed by them`)
        return
      }
      const md = metadataOf(p, this.instances, this.maxParallelism, this.restoredFromRecord())
      try {
        await this.runHook('beforeMetadataWrite', p)
        await writeMetadata(this.storage, md)
        await this.runHook('afterMetadataWrite', p)
      } catch (e) {
        failure = asError(e, 'IO_ERROR', `writing ${metadataPathOf(p.dir)}`)
        return
      }
      p.state = 'done'
      metadata = md
      if (p.type === 'checkpoint') {
        this.completed.add(md)
        this.forceFullUpload = false
        this.lastCompletionAtMs = performance.now()
        await this.runHook('beforeNotifyComplete', p).catch((e: unknown) =>
          this.emit({ type: 'warning', checkpointId: p.checkpointId, message: 'hook beforeNotifyComplete failed', error: e }),
        )
        this.notifier.send('complete', p.checkpointId)
        this.registry.checkpointSettled(p.checkpointId)
        await this.applyRetention()
        this.abortCheckpointsThatCannotBeRetained()
      }
      this.pending.delete(p.checkpointId)
    })
    if (failure) return this.abort(p, failure, true)
    // Before the caller hears of it, so that the page and tests that read the history see it.
    await this.history?.record(historyEntryOfCompleted(metadata!))
    this.emit({ type: 'completed', metadata: metadata! })
    p.resolve(metadata!)
  }

  private restoredFromRecord(): RestoredFromRecord | undefined {
    const r = this.restoredFrom
    if (!r) return undefined
    return {
      checkpointId: r.metadata.checkpointId,
      type: r.metadata.type,
      dir: r.metadata.dir,
      location: (r.storage ?? this.storage).location,
      mode: r.mode ?? 'no-claim',
    }
  }

  /** Deletes the owned checkpoints beyond retainedCheckpoints. Runs inside serial(). */
  private async applyRetention(): Promise<void> {
    for (const md of this.completed.subsumeBeyondRetention()) {
      await this.cleaner.discardCompleted(md)
      this.emit({ type: 'subsumed', checkpointId: md.checkpointId })
    }
    await this.cleaner.deleteReleasedSharedFiles()
  }

  /** After a completion: pending checkpoints older than every retained one would be dropped on arrival. */
  private abortCheckpointsThatCannotBeRetained(): void {
    for (const p of this.pending.values()) {
      if (p.type === 'checkpoint' && p.state === 'collecting' && this.completed.wouldBeSubsumed(p.checkpointId)) {
        void this.abort(p, new KeyedStateError('ABORTED', `${p.label} is subsumed: ${this.completed.retainedCheckpoints} newer checkpoints completed first`))
      }
    }
  }

  // ---------------------------------------------------------------------- abort

  private async abort(p: PendingCheckpoint, reason: KeyedStateError, fromFinalize = false): Promise<void> {
    // Once every instance acknowledged, only finalize() decides; a timeout or close() waits for it.
    if (p.state === 'aborting' || p.state === 'done' || (p.state === 'finalizing' && !fromFinalize)) return
    p.state = 'aborting'
    clearTimeout(p.timer)
    p.controller.abort(reason)
    // Instances cancel and delete what they wrote; one that hangs past the grace period leaves orphans for gc.
    const answered = await settledWithin(Promise.all(p.answered), this.cancelGraceMs)
    if (!answered) {
      this.emit({ type: 'warning', checkpointId: p.checkpointId, message: `not every instance stopped ${p.label} within ${this.cancelGraceMs} ms; late files are left to gc` })
    }
    await this.serial(async () => {
      await this.cleaner.discardAborted(p)
      this.notifier.send('aborted', p.checkpointId)
      if (p.type === 'checkpoint') this.registry.checkpointSettled(p.checkpointId)
      await this.cleaner.deleteReleasedSharedFiles()
      this.pending.delete(p.checkpointId)
    })
    await this.history?.record(historyEntryOfFailed({ checkpointId: p.checkpointId, type: p.type, dir: p.dir, triggeredAtMs: p.triggeredAtMs, reason }))
    this.emit({ type: 'aborted', checkpointId: p.checkpointId, snapshotType: p.type, reason })
    p.reject(reason)
  }

  // -------------------------------------------------------------------- helpers

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serialTail.then(fn, fn)
    this.serialTail = run.catch(() => {})
    return run
  }

  private async runHook(name: HookName, p: PendingCheckpoint): Promise<void> {
    const hook = this.hooks[name]
    if (hook) await hook({ checkpointId: p.checkpointId, type: p.type })
  }

  /** A hook outside the path that can still fail a checkpoint: errors become warnings. */
  private async callHook(name: HookName, ctx: { checkpointId: number; type: SnapshotType }): Promise<void> {
    const hook = this.hooks[name]
    if (!hook) return
    try {
      await hook(ctx)
    } catch (e) {
      this.emit({ type: 'warning', checkpointId: ctx.checkpointId, message: `hook ${name} failed`, error: e })
    }
  }

  private emit(event: CheckpointEvent): void {
    for (const listener of [this.onEvent, ...this.listeners]) {
      try {
        listener?.(event)
      } catch {
        // A listener's failure must not break the checkpoint lifecycle.
      }
    }
  }

  /** Adds a listener of the events onEvent gets (e.g. metrics); returns the function that removes it. */
  subscribe(listener: (event: CheckpointEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  // ---------------------------------------------------------------- inspection

  /** The completed checkpoints this coordinator owns and retains, oldest first. */
  completedCheckpoints(): CheckpointMetadata<O>[] {
    // The instances' acknowledgements were typed O; the records hold them as given.
    return this.completed.all() as CheckpointMetadata<O>[]
  }

  latestCompletedCheckpoint(): CheckpointMetadata<O> | undefined {
    return this.completedCheckpoints().at(-1)
  }

  inFlightCheckpoints(): { checkpointId: number; type: SnapshotType; dir: string }[] {
    return [...this.pending.values()].map((p) => ({ checkpointId: p.checkpointId, type: p.type, dir: p.dir }))
  }

  /** Whether the next checkpoint asks instances for full uploads (after a no-claim restore). */
  get forcesFullUpload(): boolean {
    return this.forceFullUpload
  }

  /**
   * Garbage collection that also spares what this live coordinator is
   * writing: the directories of in-flight checkpoints and every shared file
   * the registry still tracks.
   */
  async collectGarbage(options: Omit<GcOptions, 'inUse'> = {}): Promise<GcReport> {
    this.checkRunning()
    const pending = [...this.pending.values()]
    const inFlightFiles = new Set(pending.flatMap((p) => p.filesAcknowledged()))
    // An instance may be uploading a file that no answer mentions yet: spare whatever was written
    // since the oldest in-flight checkpoint started (with a second of slack for coarse mtimes).
    const oldestTriggerMs = Math.min(...pending.map((p) => p.triggeredAtMs)) - 1000
    return collectGarbage(this.storage, {
      ...options,
      inUse: (entry) =>
        this.registry.isProtected(entry.path) ||
        inFlightFiles.has(entry.path) ||
        pending.some((p) => isUnder(entry.path, p.dir)) ||
        entry.mtimeMs >= oldestTriggerMs,
    })
  }

  async findOrphans(options: Omit<GcOptions, 'inUse' | 'delete'> = {}): Promise<GcReport> {
    return this.collectGarbage({ ...options, delete: false })
  }

  /**
   * Stops periodic checkpoints, aborts every checkpoint and savepoint in
   * flight and waits for their cleanup. Does not close the instances.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = (async () => {
      this.lifecycle = 'closed'
      clearTimeout(this.intervalTimer)
      const waiting = [...this.pending.values()]
      for (const p of waiting) void this.abort(p, new KeyedStateError('ABORTED', `${p.label} aborted: the coordinator is closing`))
      await Promise.allSettled(waiting.map((p) => p.result))
      await this.serialTail
      await this.history?.flush()
      this.notifier.close()
      if (this.ownsStorage) this.storage.close?.()
    })()
    return this.closing
  }
}
