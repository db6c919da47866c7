// The checkpoint coordinator: decides when a checkpoint happens, collects the
// handles of every operator instance, makes the checkpoint complete by writing
// its `_metadata` (last, atomically), tells the instances, and deletes what is
// no longer needed: subsumed checkpoints, aborted ones, and shared files that
// no retained, in-flight or restored snapshot references.
//
// Ordering rules that keep storage consistent through crashes:
// - `_metadata` is written only after every instance acknowledged, and
//   instances hear "complete" only after it is durable.
// - A subsumed checkpoint loses its `_metadata` first, then its files: a
//   crash in between leaves orphans (gc finds them), never a `_metadata`
//   that points at deleted files.
// - "complete" for checkpoint N is sent to the instances before the files of
//   the checkpoints N subsumes are released, so a checkpoint triggered after
//   the release is based on N, not on the released files. Sent, not awaited:
//   notifications never hold completion or the next trigger (notifier.ts).
import { performance } from 'node:perf_hooks'
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import { formatRange, rangeSize } from '../keygroups.js'
import { checkKnownOptions } from '../option-checks.js'
import type { KeyedStateHandle, SnapshotType, StoredFile } from '../snapshot/types.js'
import { forEachBounded } from '../for-each-bounded.js'
import { openCheckpointStorage, type OpenStorageOptions } from '../storage/open.js'
import { normalizeStoragePath } from '../storage/paths.js'
import type { CheckpointStorage } from '../storage/types.js'
import { listSnapshots } from './catalog.js'
import { collectGarbage, removeEmptyDirectories, type GcOptions, type GcReport } from './gc.js'
import { assertValidHandle, filesOfHandle, handleSizeBytes } from './handles.js'
import { CheckpointHistoryWriter, DEFAULT_HISTORY_MAX_ENTRIES, historyEntryOfCompleted, historyEntryOfFailed } from './history.js'
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
import {
  METADATA_FORMAT,
  METADATA_VERSION,
  operatorStateProblem,
  writeMetadata,
  type CheckpointMetadata,
  type InstanceSnapshotRecord,
  type JsonValue,
  type RestoredFromRecord,
  type RestoreMode,
} from './metadata.js'
import { CheckpointNotifier } from './notifier.js'
import { SharedStateRegistry } from './registry.js'
import { checkpointsToSubsume, wouldBeSubsumed } from './retention.js'

export interface RestoreSettings {
  /** The metadata of the checkpoint or savepoint the instances were restored from. */
  metadata: CheckpointMetadata
  /**
   * 'no-claim' (default): the coordinator never deletes a file of that
   * snapshot (nor of any checkpoint it finds in storage at start), and until
   * the first new checkpoint completes it asks instances for full uploads so
   * that no new checkpoint depends on files it does not own.
   * 'claim': the job takes ownership of the checkpoints in its storage; they
   * join retention (the restored one is kept until a newer one completes) and
   * new incremental checkpoints may reuse their shared files. Checkpoints only.
   */
  mode?: RestoreMode
  /** The storage holding the snapshot, when it is not the coordinator's storage (it is then never written to). */
  storage?: CheckpointStorage
}

export type CheckpointEvent =
  | { type: 'completed'; metadata: CheckpointMetadata }
  | { type: 'aborted'; checkpointId: number; snapshotType: SnapshotType; reason: KeyedStateError }
  | { type: 'subsumed'; checkpointId: number }
  | { type: 'warning'; checkpointId?: number; message: string; error?: unknown }

export interface CheckpointCoordinatorOptions<O extends JsonValue = JsonValue> {
  /** The storage, or its location: a path, file:// URL or s3://bucket/prefix (opened with `storageOptions`). */
  storage: CheckpointStorage | string
  /** Options for a storage given by location (e.g. `{ s3: { region, endpoint, forcePathStyle } }`). */
  storageOptions?: OpenStorageOptions
  /** The operator instances; their key-group ranges must cover [0, maxParallelism) without overlap. */
  instances: readonly OperatorInstance<O>[]
  /** Trigger a checkpoint every intervalMs after start(); manual triggers only when omitted. */
  intervalMs?: number
  /** Checkpoints in flight at once (savepoints not counted); default 1. */
  maxConcurrentCheckpoints?: number
  /** Time from the last completed checkpoint before the next may start; default 0. */
  minPauseBetweenCheckpointsMs?: number
  /** A checkpoint or savepoint not acknowledged by every instance within this time is aborted; default 10 minutes. */
  timeoutMs?: number
  /** Completed checkpoints kept (savepoints are never deleted); default 3. */
  retainedCheckpoints?: number
  /** How long an abort waits for instances to cancel and clean up, and and how long a notification may take before it is reported late (it never holds a checkpoint); default 10 s. */
  cancelGraceMs?: number
  /** The snapshot the instances were restored from, if any. */
  restoredFrom?: RestoreSettings
  /** Named points for tests and crash tests (see hooks.ts). */
  hooks?: CheckpointHooks
  /** Completions, aborts, subsumptions and warnings (failed deletes and notifications). Must not throw. */
  onEvent?: (event: CheckpointEvent) => void
  /**
   * Entries kept in the checkpoint history file (`_checkpoint_history.jsonl`,
   * what `keyed-state ui` shows); default 1000, 0 writes none.
   */
  historyMaxEntries?: number
}

const KNOWN_OPTIONS = new Set([
  'storage', 'storageOptions', 'instances', 'intervalMs', 'maxConcurrentCheckpoints', 'minPauseBetweenCheckpointsMs', 'timeoutMs',
  'retainedCheckpoints', 'cancelGraceMs', 'restoredFrom', 'hooks', 'onEvent', 'historyMaxEntries',
])

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000
const DEFAULT_CANCEL_GRACE_MS = 10 * 1000
const DEFAULT_RETAINED_CHECKPOINTS = 3
/** Size checks of newly uploaded shared files in flight at once. */
const SHARED_FILE_CHECKS_IN_FLIGHT = 8

function checkOptions(o: CheckpointCoordinatorOptions): void {
  if (typeof o !== 'object' || o === null) throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs an options object')
  checkKnownOptions(o, KNOWN_OPTIONS, 'CheckpointCoordinator option')
  if (!o.storage) throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs a storage')
  const positive = (name: keyof CheckpointCoordinatorOptions, min: number): void => {
    const v = o[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
      throw new KeyedStateError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${String(v)}`)
    }
  }
  positive('intervalMs', 1)
  positive('maxConcurrentCheckpoints', 1)
  positive('minPauseBetweenCheckpointsMs', 0)
  positive('timeoutMs', 1)
  positive('retainedCheckpoints', 1)
  positive('cancelGraceMs', 0)
  positive('historyMaxEntries', 0)
  const mode = o.restoredFrom?.mode
  if (mode !== undefined && mode !== 'claim' && mode !== 'no-claim') {
    throw new KeyedStateError('INVALID_ARGUMENT', `restore mode must be 'claim' or 'no-claim', got ${JSON.stringify(mode)}`)
  }
}

/** Checks that the instances split [0, maxParallelism) between them, and returns maxParallelism. */
function checkInstances(instances: readonly OperatorInstance[]): number {
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs at least one operator instance')
  }
  const maxParallelism = instances[0]!.maxParallelism
  let next = 0
  instances.forEach((inst, i) => {
    if (inst.maxParallelism !== maxParallelism) {
      throw new KeyedStateError('INVALID_ARGUMENT', `instance ${i} (${inst.name}) has maxParallelism ${inst.maxParallelism}, instance 0 has ${maxParallelism}`)
    }
    // Instance i owns the i-th range: `_metadata` records them in this order and restore relies on it.
    if (rangeSize(inst.keyGroupRange) === 0 || inst.keyGroupRange.start !== next) {
      throw new KeyedStateError(
        'INVALID_ARGUMENT',
        `instance ${i} (${inst.name}) owns key groups ${formatRange(inst.keyGroupRange)}; expected a non-empty range starting at ${next} ` +
          '(list the instances in key-group order, together covering every key group once)',
      )
    }
    next = inst.keyGroupRange.end + 1
  })
  if (next !== maxParallelism) {
    throw new KeyedStateError('INVALID_ARGUMENT', `the instances own key groups [0..${next - 1}], not all of [0..${maxParallelism - 1}]`)
  }
  return maxParallelism
}

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

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

function sharedFilesOf(handle: KeyedStateHandle | null | undefined): StoredFile[] {
  return handle ? filesOfHandle(handle).filter((f) => f.shared).map(({ path, sizeBytes, crc32 }) => ({ path, sizeBytes, crc32 })) : []
}

function sharedFilesOfMetadata(md: CheckpointMetadata): StoredFile[] {
  return md.instances.flatMap((i) => sharedFilesOf(i.handle))
}

interface AckRecord {
  ack: InstanceAck
  incrementalSizeBytes: number
}

type PendingState = 'collecting' | 'finalizing' | 'aborting' | 'done'

class PendingCheckpoint {
  state: PendingState = 'collecting'
  readonly acks: (AckRecord | undefined)[]
  ackCount = 0
  readonly controller = new AbortController()
  timer: NodeJS.Timeout | undefined
  /** One per instance: settles after the instance answered and its answer was handled. */
  readonly answered: Promise<void>[] = []
  readonly result: Promise<CheckpointMetadata>
  resolve!: (md: CheckpointMetadata) => void
  reject!: (e: KeyedStateError) => void

  constructor(
    readonly checkpointId: number,
    readonly type: SnapshotType,
    readonly dir: string,
    readonly triggeredAtMs: number,
    instanceCount: number,
  ) {
    this.acks = new Array<AckRecord | undefined>(instanceCount).fill(undefined)
    this.result = new Promise<CheckpointMetadata>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  get label(): string {
    return `${this.type} ${this.checkpointId}`
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

  private readonly instances: readonly OperatorInstance[]
  private readonly maxConcurrentCheckpoints: number
  private readonly minPauseBetweenCheckpointsMs: number
  private readonly timeoutMs: number
  private readonly retainedCheckpoints: number
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
  /** Completed checkpoints this coordinator owns (and will delete when subsumed), by id. */
  private readonly completed = new Map<number, CheckpointMetadata>()
  /** Owned checkpoints that retention must not delete yet (a claimed restore, until a newer checkpoint completes). */
  private readonly protectedIds = new Set<number>()
  private forceFullUpload = false
  private lastCompletionAtMs: number | undefined
  private intervalTimer: NodeJS.Timeout | undefined
  /** Completion, subsumption and cleanup run one at a time, in trigger-independent order. */
  private serialTail: Promise<unknown> = Promise.resolve()
  private closing: Promise<void> | undefined
  private readonly savepointDirsReserved = new Set<string>()
  private readonly notifier: CheckpointNotifier

  constructor(options: CheckpointCoordinatorOptions) {
    checkOptions(options)
    this.ownsStorage = typeof options.storage === 'string'
    this.storage = typeof options.storage === 'string' ? openCheckpointStorage(options.storage, options.storageOptions) : options.storage
    this.instances = [...options.instances]
    this.maxParallelism = checkInstances(this.instances)
    this.maxConcurrentCheckpoints = options.maxConcurrentCheckpoints ?? 1
    this.minPauseBetweenCheckpointsMs = options.minPauseBetweenCheckpointsMs ?? 0
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.retainedCheckpoints = options.retainedCheckpoints ?? DEFAULT_RETAINED_CHECKPOINTS
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

  private sameStorage(other: CheckpointStorage | undefined): boolean {
    return other === undefined || other === this.storage || other.location === this.storage.location
  }

  private async adoptStorage(): Promise<void> {
    const listings = await listSnapshots(this.storage)
    const restore = this.restoredFrom
    const mode = restore?.mode ?? 'no-claim'
    const maxFound = Math.max(0, restore?.metadata.checkpointId ?? 0, ...listings.map((l) => l.checkpointId ?? 0))
    this.nextCheckpointId = maxFound + 1
    const checkpoints = listings.filter((l) => l.complete && l.type === 'checkpoint' && parseCheckpointDirName(l.dir) !== undefined)

    if (restore && mode === 'claim') {
      if (!this.sameStorage(restore.storage)) {
        throw new KeyedStateError('INVALID_ARGUMENT', `claim mode needs the restored checkpoint in the coordinator's storage (${this.storage.location})`)
      }
      if (restore.metadata.type !== 'checkpoint') {
        throw new KeyedStateError('INVALID_ARGUMENT', 'claim mode applies to checkpoints; savepoints are never deleted, restore them in no-claim mode')
      }
      if (!checkpoints.some((l) => l.metadata!.checkpointId === restore.metadata.checkpointId)) {
        throw new KeyedStateError('NOT_FOUND', `checkpoint ${restore.metadata.checkpointId} is not a complete checkpoint in ${this.storage.location}`)
      }
      for (const l of checkpoints) {
        const md = l.metadata!
        this.completed.set(md.checkpointId, md)
        this.registry.register(md.checkpointId, sharedFilesOfMetadata(md))
      }
      this.protectedIds.add(restore.metadata.checkpointId)
      await this.serial(() => this.applyRetention())
      return
    }

    // Nothing found is ours: never delete it, keep its shared files alive.
    for (const l of checkpoints) this.registry.pin(l.dir, sharedFilesOfMetadata(l.metadata!))
    if (restore) {
      if (this.sameStorage(restore.storage)) this.registry.pin(`restored:${restore.metadata.dir}`, sharedFilesOfMetadata(restore.metadata))
      this.forceFullUpload = true
    } else if (checkpoints.length > 0) {
      this.emit({
        type: 'warning',
        message: `${this.storage.location} holds ${checkpoints.length} checkpoint(s) from an earlier run that this coordinator neither restored nor owns; it will not delete them`,
      })
    }
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
    if (p.state !== 'collecting') return this.discardLateAck(p, ack)
    const inst = this.instances[index]!
    try {
      await this.checkAck(p, index, ack)
    } catch (e) {
      await this.discardLateAck(p, ack)
      void this.abort(p, asError(e, 'ABORTED', `${inst.name} acknowledged ${p.label} with an unusable handle`))
      return
    }
    if (p.state !== 'collecting') return this.discardLateAck(p, ack)
    const handle = ack.handle
    let incrementalSizeBytes = 0
    if (handle) {
      const files = filesOfHandle(handle)
      const fresh = p.type === 'checkpoint' ? this.registry.register(p.checkpointId, sharedFilesOf(handle)) : []
      incrementalSizeBytes = files.filter((f) => !f.shared).reduce((n, f) => n + f.sizeBytes, 0) + fresh.reduce((n, f) => n + f.sizeBytes, 0)
    }
    // A copy of the operator state: the instance may keep changing the object it acknowledged with.
    const kept = ack.operatorState === undefined ? ack : { ...ack, operatorState: structuredClone(ack.operatorState) }
    p.acks[index] = { ack: kept, incrementalSizeBytes }
    p.ackCount++
    if (p.ackCount === this.instances.length) void this.finalize(p)
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

  private async checkAck(p: PendingCheckpoint, index: number, ack: InstanceAck): Promise<void> {
    const inst = this.instances[index]!
    const where = `${inst.name}, ${p.label}`
    if (typeof ack !== 'object' || ack === null) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the acknowledgement is not an object`)
    if (p.acks[index]) throw new KeyedStateError('INTERNAL', `${where}: acknowledged twice`)
    if (ack.operatorState !== undefined) {
      const problem = operatorStateProblem(ack.operatorState)
      if (problem) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: ${problem}`)
    }
    const handle = ack.handle
    if (handle === undefined || handle === null) return
    assertValidHandle(handle, where)
    if (handle.checkpointId !== p.checkpointId) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the handle is for checkpoint ${handle.checkpointId}`)
    if (handle.maxParallelism !== this.maxParallelism) {
      throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the handle has maxParallelism ${handle.maxParallelism}, the job ${this.maxParallelism}`)
    }
    if (handle.keyGroupRange.start !== inst.keyGroupRange.start || handle.keyGroupRange.end !== inst.keyGroupRange.end) {
      throw new KeyedStateError(
        'INVALID_ARGUMENT',
        `${where}: the handle covers ${formatRange(handle.keyGroupRange)}, the instance owns ${formatRange(inst.keyGroupRange)}`,
      )
    }
    if (p.type === 'savepoint') {
      if (handle.type !== 'full') throw new KeyedStateError('INVALID_ARGUMENT', `${where}: a savepoint must be a full snapshot, got ${handle.type}`)
      for (const f of filesOfHandle(handle)) {
        if (!isUnder(f.path, p.dir)) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: ${f.path} lies outside the savepoint directory '${p.dir}'`)
      }
    }
    // A shared file the registry has never seen must be a new upload, so it exists. If it does
    // not, the backend reused a file that was already deleted and the checkpoint could not be restored.
    // One size request per file (a HEAD on object stores), a few at once: each is a round trip.
    const unknown = sharedFilesOf(handle).filter((f) => !this.registry.isKnown(f.path))
    await forEachBounded(unknown, SHARED_FILE_CHECKS_IN_FLIGHT, async (f) => {
      let size: number
      try {
        size = await this.storage.size(f.path)
      } catch (e) {
        if (!isKeyedStateError(e, 'MISSING_FILE')) throw e
        throw new KeyedStateError('MISSING_FILE', `${where}: shared file ${f.path} does not exist`, { file: f.path })
      }
      if (size !== f.sizeBytes) {
        throw new KeyedStateError('CORRUPTION', `${where}: shared file ${f.path} has ${size} bytes, the handle says ${f.sizeBytes}`, { file: f.path })
      }
    })
  }

  /** Deletes the files of an answer that came too late (or was refused); shared files anyone knows stay. */
  private async discardLateAck(p: PendingCheckpoint, ack: InstanceAck): Promise<void> {
    const handle = ack?.handle
    if (!handle || typeof handle !== 'object') return
    let files: StoredFile[]
    try {
      files = filesOfHandle(handle).filter((f) => !(f.shared && this.registry.isKnown(f.path)))
    } catch {
      return // a malformed handle: its files, if any, are orphans for gc
    }
    await this.deleteFiles(files.map((f) => f.path), p.checkpointId)
  }

  // ----------------------------------------------------------------- completion

  private async finalize(p: PendingCheckpoint): Promise<void> {
    p.state = 'finalizing'
    clearTimeout(p.timer)
    let failure: KeyedStateError | undefined
    let metadata: CheckpointMetadata | undefined
    await this.serial(async () => {
      if (p.type === 'checkpoint' && wouldBeSubsumed(p.checkpointId, [...this.completed.keys()], this.retainedCheckpoints)) {
        failure = new KeyedStateError('ABORTED', `${p.label} completed after ${this.retainedCheckpoints} newer checkpoints and is subsumed by them`)
        return
      }
      const md = this.buildMetadata(p)
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
        this.completed.set(p.checkpointId, md)
        this.forceFullUpload = false
        this.protectedIds.clear()
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

  private buildMetadata(p: PendingCheckpoint): CheckpointMetadata {
    const instances: InstanceSnapshotRecord[] = this.instances.map((inst, index) => {
      const { ack, incrementalSizeBytes } = p.acks[index]!
      return {
        index,
        keyGroupRange: { start: inst.keyGroupRange.start, end: inst.keyGroupRange.end },
        handle: ack.handle ?? null,
        sizeBytes: ack.handle ? handleSizeBytes(ack.handle) : 0,
        incrementalSizeBytes,
        syncDurationMs: round3(Math.max(0, ack.syncDurationMs)),
        asyncDurationMs: round3(Math.max(0, ack.asyncDurationMs)),
        ...(ack.operatorState !== undefined ? { operatorState: ack.operatorState } : {}),
      }
    })
    const md: CheckpointMetadata = {
      format: METADATA_FORMAT,
      version: METADATA_VERSION,
      checkpointId: p.checkpointId,
      type: p.type,
      dir: p.dir,
      triggeredAtMs: p.triggeredAtMs,
      completedAtMs: Math.max(p.triggeredAtMs, Date.now()),
      maxParallelism: this.maxParallelism,
      parallelism: this.instances.length,
      sizeBytes: instances.reduce((n, i) => n + i.sizeBytes, 0),
      incrementalSizeBytes: instances.reduce((n, i) => n + i.incrementalSizeBytes, 0),
      instances,
    }
    if (this.restoredFrom) {
      const r = this.restoredFrom
      const record: RestoredFromRecord = {
        checkpointId: r.metadata.checkpointId,
        type: r.metadata.type,
        dir: r.metadata.dir,
        location: (r.storage ?? this.storage).location,
        mode: r.mode ?? 'no-claim',
      }
      md.restoredFrom = record
    }
    return md
  }

  /** Deletes the owned checkpoints beyond retainedCheckpoints. Runs inside serial(). */
  private async applyRetention(): Promise<void> {
    const subsumed = checkpointsToSubsume([...this.completed.keys()], this.retainedCheckpoints, this.protectedIds)
    for (const id of subsumed) {
      const md = this.completed.get(id)!
      await this.discardCompleted(md)
      this.emit({ type: 'subsumed', checkpointId: id })
    }
    await this.deleteReleasedSharedFiles()
  }

  private async discardCompleted(md: CheckpointMetadata): Promise<void> {
    const hookCtx = { checkpointId: md.checkpointId, type: md.type }
    this.completed.delete(md.checkpointId)
    await this.callHook('beforeDiscard', hookCtx)
    // `_metadata` first: from here on the checkpoint is incomplete, whatever happens to its files.
    if (!(await this.deleteFiles([metadataPathOf(md.dir)], md.checkpointId))) return // stays complete in storage; claim or gc later
    await this.callHook('afterDiscardMetadata', hookCtx)
    const exclusive = md.instances.flatMap((i) => (i.handle ? filesOfHandle(i.handle) : [])).filter((f) => !f.shared)
    await this.deleteFiles(exclusive.map((f) => f.path), md.checkpointId)
    await this.deleteDirectoryContents(md.dir, md.checkpointId)
    this.registry.release(md.checkpointId)
  }

  /** After a completion: pending checkpoints older than every retained one would be dropped on arrival. */
  private abortCheckpointsThatCannotBeRetained(): void {
    const completedIds = [...this.completed.keys()]
    for (const p of this.pending.values()) {
      if (p.type === 'checkpoint' && p.state === 'collecting' && wouldBeSubsumed(p.checkpointId, completedIds, this.retainedCheckpoints)) {
        void this.abort(p, new KeyedStateError('ABORTED', `${p.label} is subsumed: ${this.retainedCheckpoints} newer checkpoints completed first`))
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
      await this.callHook('beforeAbortCleanup', { checkpointId: p.checkpointId, type: p.type })
      const exclusive = p.acks.flatMap((a) => (a?.ack.handle ? filesOfHandle(a.ack.handle) : [])).filter((f) => !f.shared)
      await this.deleteFiles(exclusive.map((f) => f.path), p.checkpointId)
      await this.deleteDirectoryContents(p.dir, p.checkpointId)
      if (p.type === 'checkpoint') this.registry.release(p.checkpointId)
      this.notifier.send('aborted', p.checkpointId)
      if (p.type === 'checkpoint') this.registry.checkpointSettled(p.checkpointId)
      await this.deleteReleasedSharedFiles()
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

  /** Deletes files; failures become warnings (the files are orphans for gc). Returns whether all were deleted. */
  private async deleteFiles(paths: readonly string[], checkpointId: number): Promise<boolean> {
    if (this.storage.deleteMany && paths.length > 1) {
      // Object stores: one DeleteObjects request per 1,000 files instead of one request each.
      try {
        const { failed } = await this.storage.deleteMany(paths)
        for (const f of failed) this.emit({ type: 'warning', checkpointId, message: `could not delete ${f.path}: ${f.error}` })
        return failed.length === 0
      } catch (e) {
        this.emit({ type: 'warning', checkpointId, message: `could not delete ${paths.length} file(s) of checkpoint ${checkpointId}`, error: e })
        return false
      }
    }
    let ok = true
    for (const path of paths) {
      try {
        await this.storage.delete(path)
      } catch (e) {
        ok = false
        this.emit({ type: 'warning', checkpointId, message: `could not delete ${path}`, error: e })
      }
    }
    return ok
  }

  private async deleteDirectoryContents(dir: string, checkpointId: number): Promise<void> {
    let left: string[]
    try {
      left = (await this.storage.list(dir)).map((e) => e.path)
    } catch (e) {
      this.emit({ type: 'warning', checkpointId, message: `could not list ${dir}`, error: e })
      return
    }
    await this.deleteFiles(left, checkpointId)
    await removeEmptyDirectories(this.storage, [`${dir}/x`])
  }

  private async deleteReleasedSharedFiles(): Promise<void> {
    const deletable = this.registry.takeDeletable()
    for (const path of deletable) {
      try {
        await this.storage.delete(path)
      } catch (e) {
        this.registry.retryDelete(path)
        this.emit({ type: 'warning', message: `could not delete shared file ${path}; will retry`, error: e })
      }
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
    return [...this.completed.values()].sort((a, b) => a.checkpointId - b.checkpointId) as CheckpointMetadata<O>[]
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
    const inFlightFiles = new Set(pending.flatMap((p) => p.acks.flatMap((a) => (a?.ack.handle ? filesOfHandle(a.ack.handle).map((f) => f.path) : []))))
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
