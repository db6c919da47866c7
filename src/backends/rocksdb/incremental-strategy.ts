// Incremental checkpoints of the RocksDB backend. The synchronous part copies
// the state meta-info and captures a native checkpoint: the live files and the
// WAL cut at its current size, without flushing the memtables (their writes are
// in the WAL); the thread pool then links and copies them into a new directory
// (native/checkpoint_async.cc), and incremental-run.ts uploads from it. Savepoints never come here: they are full and
// canonical (the backend routes them to the full strategy).
//
// Compared with Flink's RocksIncrementalSnapshotStrategy: a handle refers to
// reused SSTs by their storage path, size and checksum (no placeholder to
// resolve through a registry, so a handle is restorable on its own); aborted
// checkpoints are dropped from the bookkeeping instead of lingering; every
// uploaded name is unique (see incremental-handle.ts runToken); and the run never touches
// the database after the synchronous part.
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { keyGroupPrefix } from '../../encoding.js'
import { CancelledError, KeyedStateError } from '../../errors.js'
import type { RocksDBSnapshotContext, SnapshotStrategy, StateColumnFamily } from './snapshot-strategy.js'
import { META_COLUMN_FAMILY, MetaStore } from './meta-store.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeDb } from './native/types.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { SnapshotOptions, SnapshotResult, SnapshotRun, StoredFile } from '../../snapshot/types.js'
import { runToken } from './incremental-handle.js'
import { UploadedSstHistory } from './incremental-history.js'
import { deleteLocalCheckpointDir, localCheckpointDir } from './incremental-local.js'
import { IncrementalSnapshotRun, type PreparedCheckpoint } from './incremental-run.js'

/** Native checkpoints of runs without local recovery, inside the backend's working directory (same file system: hard links). */
export const CHECKPOINTS_SUBDIR = 'checkpoints'

/** The SST set a backend restored from: the base of its first checkpoint. */
export interface RestoredSstBase {
  checkpointId: number
  files: Readonly<Record<string, StoredFile>>
}

/** Whether any state holds an entry in the range (an empty backend writes nothing). */
function holdsState(db: NativeDb, states: readonly StateColumnFamily[], range: KeyGroupRange): boolean {
  const gte = keyGroupPrefix(range.start)
  const lt = keyGroupPrefix(range.end + 1)
  for (const s of states) {
    const it = db.iterator(s.cf, { gte, lt, keysOnly: true })
    try {
      if (it.nextChunk(1, 1) !== null) return true
    } finally {
      it.close()
    }
  }
  return false
}

/** The run of a checkpoint with nothing to write: resolves empty unless cancelled first. */
class EmptyRun implements SnapshotRun {
  readonly done: Promise<SnapshotResult>
  private cancelled = false

  constructor(
    readonly checkpointId: number,
    readonly syncDurationMs: number,
  ) {
    this.done = (async () => {
      await yieldToEventLoop()
      if (this.cancelled) throw new CancelledError(`incremental checkpoint ${checkpointId} was cancelled`)
      return { handle: undefined }
    })()
  }

  cancel(): void {
    this.cancelled = true
    this.done.catch(() => {})
  }
}

export class IncrementalSnapshotStrategy implements SnapshotStrategy {
  readonly name = 'incremental'
  readonly history = new UploadedSstHistory()
  private readonly keySerializer: SerializerConfig | null
  private readonly runningIds = new Set<number>()
  /** Notifications about runs still uploading, applied when they finish. */
  private readonly confirmedWhileRunning = new Set<number>()
  private readonly abortedWhileRunning = new Set<number>()
  /** Local recovery copies by checkpoint id. */
  private readonly localCopies = new Map<number, string[]>()
  /** Local copies of checkpoints below this id are obsolete. */
  private localPrunedBelow = -1
  private readonly deletions = new Set<Promise<void>>()

  constructor(
    private readonly ctx: RocksDBSnapshotContext,
    restored?: RestoredSstBase,
  ) {
    if (restored) {
      this.history.seed(new Map(Object.entries(restored.files).map(([name, file]) => [name, { file, uploadedHere: false }])))
    }
    const metaCf = ctx.db.columnFamily(META_COLUMN_FAMILY)
    this.keySerializer = metaCf < 0 ? null : (new MetaStore(ctx.db, metaCf, ctx.workingDir.root).readBackend()?.keySerializer ?? null)
    // Directories of runs a crashed process left behind; nothing runs yet.
    rmSync(join(ctx.workingDir.root, CHECKPOINTS_SUBDIR), { recursive: true, force: true })
  }

  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun {
    if (options.type !== 'checkpoint') {
      throw new KeyedStateError('INTERNAL', `the incremental strategy takes checkpoints only, not ${options.type}s`)
    }
    if (this.runningIds.has(checkpointId)) {
      throw new KeyedStateError('INVALID_ARGUMENT', `incremental checkpoint ${checkpointId} is already in flight on this backend`)
    }
    const startMs = performance.now()
    const { ctx } = this
    const states = ctx.states()
    if (!holdsState(ctx.db, states, ctx.keyGroupRange)) return new EmptyRun(checkpointId, performance.now() - startMs)

    const token = runToken(ctx.keyGroupRange)
    const keepLocal = ctx.localRecoveryDir !== undefined
    const directory = keepLocal
      ? localCheckpointDir(ctx.localRecoveryDir!, checkpointId, token)
      : join(ctx.workingDir.root, CHECKPOINTS_SUBDIR, `chk-${checkpointId}-${token}`)
    let written: Promise<unknown>
    try {
      mkdirSync(dirname(directory), { recursive: true })
      // Captures the live files and the WAL's size now; the thread pool writes the directory (no flush, no fsync here).
      written = ctx.db.checkpointAsync(directory)
    } catch (e) {
      rmSync(directory, { recursive: true, force: true })
      throw e
    }
    // Failures surface in the run, which awaits this first; never unhandled meanwhile.
    written.catch(() => {})
    const prepared: PreparedCheckpoint = {
      checkpointId,
      options,
      directory,
      written,
      keepLocal,
      token,
      backendId: ctx.backendId,
      maxParallelism: ctx.maxParallelism,
      keyGroupRange: ctx.keyGroupRange,
      keySerializer: this.keySerializer,
      rocksdbVersion: ctx.native.rocksdbVersion,
      states: states.map((s) => ({ meta: s.meta, columnFamily: s.columnFamily })),
      // Captured at the barrier: a confirmation arriving during the upload must not change what this run refers to.
      base: this.history.base(),
    }
    const syncDurationMs = performance.now() - startMs

    let run: IncrementalSnapshotRun | undefined
    // close() falls back to this when a run does not settle in time.
    const ticket = ctx.inFlight.begin(() => {
      const pending = run?.pendingDirectory
      if (pending !== undefined) rmSync(pending, { recursive: true, force: true })
    })
    this.runningIds.add(checkpointId)
    run = new IncrementalSnapshotRun(prepared, syncDurationMs, {
      record: (id, files) => {
        // An aborted checkpoint is never a base, even when its upload finishes.
        if (this.abortedWhileRunning.has(id)) return
        this.history.record(id, files)
        if (this.confirmedWhileRunning.delete(id)) this.pruneLocalCopiesBelow(id)
      },
      acceptLocalCopy: (id, dir) => this.acceptLocalCopy(id, dir),
      onSettled: () => {
        this.runningIds.delete(checkpointId)
        this.confirmedWhileRunning.delete(checkpointId)
        this.abortedWhileRunning.delete(checkpointId)
        ticket.settle()
      },
    })
    ticket.attach(run)
    return run
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.history.complete(checkpointId)
    // Only a confirmed checkpoint of our own (not a savepoint, not an empty run) replaces the local copies.
    if (this.history.has(checkpointId)) this.pruneLocalCopiesBelow(checkpointId)
    else if (this.runningIds.has(checkpointId)) this.confirmedWhileRunning.add(checkpointId)
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.history.abort(checkpointId)
    if (this.runningIds.has(checkpointId)) this.abortedWhileRunning.add(checkpointId)
    if (checkpointId === this.history.baseCheckpointId) return
    const dirs = this.localCopies.get(checkpointId)
    this.localCopies.delete(checkpointId)
    for (const dir of dirs ?? []) this.deleteLater(dir)
  }

  async dispose(): Promise<void> {
    // Local copies stay: they are for the restore after this process is gone.
    await Promise.all([...this.deletions])
  }

  private pruneLocalCopiesBelow(checkpointId: number): void {
    if (checkpointId <= this.localPrunedBelow) return
    this.localPrunedBelow = checkpointId
    for (const [id, dirs] of this.localCopies) {
      if (id < checkpointId) {
        this.localCopies.delete(id)
        for (const dir of dirs) this.deleteLater(dir)
      }
    }
  }

  private acceptLocalCopy(checkpointId: number, directory: string): boolean {
    if (checkpointId < this.localPrunedBelow || this.abortedWhileRunning.has(checkpointId)) return false
    const dirs = this.localCopies.get(checkpointId) ?? []
    dirs.push(directory)
    this.localCopies.set(checkpointId, dirs)
    return true
  }

  private deleteLater(dir: string): void {
    const p = deleteLocalCheckpointDir(dir).catch(() => {})
    this.deletions.add(p)
    void p.finally(() => this.deletions.delete(p))
  }
}
