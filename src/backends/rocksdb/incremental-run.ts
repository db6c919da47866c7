// The asynchronous part of an incremental checkpoint. The synchronous part
// (incremental-strategy.ts) captured a native checkpoint that the thread pool
// writes into a directory (awaited first): immutable files, no longer tied to the live database, so this part never touches the database and the
// job keeps writing to it. Here: upload the SSTs the base does not hold to the
// shared scope, refer to the others, upload MANIFEST/CURRENT/OPTIONS to the
// checkpoint's exclusive scope, write the meta file, and either keep the
// directory as the local recovery copy or delete it.
import { readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { crc32 } from 'node:zlib'
import { CancelledError, fromFsError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { StorageOutput } from '../../storage/types.js'
import type { IncrementalSnapshotHandle, LocalStateHandle, SnapshotOptions, SnapshotResult, SnapshotRun, StoredFile } from '../../snapshot/types.js'
import { isSstFile, metaFileName, privateFileName, sharedFileName } from './incremental-handle.js'
import type { SstSet, UploadedSst } from './incremental-history.js'
import { deleteLocalCheckpointDir } from './incremental-local.js'
import {
  encodeMetaFile,
  INCREMENTAL_FORMAT_VERSION,
  INCREMENTAL_META_FORMAT,
  LOCAL_META_FILE_NAME,
  type IncrementalMetaFile,
  type IncrementalStateEntry,
} from './incremental-meta-file.js'
import { forEachBounded } from '../../for-each-bounded.js'

/** Uploads in flight per run: several keep an object store busy; more only add open files. */
const UPLOAD_CONCURRENCY = 4

/** What the synchronous part captured at the barrier. */
export interface PreparedCheckpoint {
  readonly checkpointId: number
  readonly options: SnapshotOptions
  /** The native checkpoint directory (absolute). */
  readonly directory: string
  /** Settles when the thread pool has written `directory` (rejects when it could not; nothing is left then). */
  readonly written: Promise<unknown>
  /** Keep `directory` as the local recovery copy when the run succeeds. */
  readonly keepLocal: boolean
  readonly token: string
  readonly backendId: string
  readonly maxParallelism: number
  readonly keyGroupRange: KeyGroupRange
  readonly keySerializer: SerializerConfig | null
  readonly rocksdbVersion: string
  readonly states: readonly IncrementalStateEntry[]
  /** The SSTs of the last confirmed checkpoint (or of the restored handle). */
  readonly base: SstSet
}

export interface IncrementalRunCallbacks {
  /** The run uploaded everything: remember its SST set (before `done` resolves). */
  record(checkpointId: number, files: SstSet): void
  /** Whether the local copy is still wanted (a newer checkpoint may have completed meanwhile). */
  acceptLocalCopy(checkpointId: number, directory: string): boolean
  /** Once, when the run settled and cleaned up. */
  onSettled(): void
}

/** What a run uploaded and reused; for tests and benchmarks. */
export interface IncrementalRunStats {
  uploadedFiles: number
  uploadedBytes: number
  reusedFiles: number
  reusedBytes: number
}

interface LocalFile {
  name: string
  sizeBytes: number
}

export class IncrementalSnapshotRun implements SnapshotRun {
  readonly done: Promise<SnapshotResult>
  readonly stats: IncrementalRunStats = { uploadedFiles: 0, uploadedBytes: 0, reusedFiles: 0, reusedBytes: 0 }
  private cancelled = false
  /** Fired by cancel(): uploads in flight stop mid-file (an S3 multipart upload is aborted) instead of finishing first. */
  private readonly cancelSignal = new AbortController()
  private settled = false
  /** The checkpoint directory is gone or handed over as the local copy. */
  private directoryReleased = false
  /** Storage paths this run wrote: all of them go again on failure or cancel. */
  private readonly written: string[] = []
  private metaOutput: StorageOutput | undefined

  constructor(
    private readonly prepared: PreparedCheckpoint,
    readonly syncDurationMs: number,
    private readonly callbacks: IncrementalRunCallbacks,
  ) {
    this.done = this.runAsyncPart().finally(() => {
      this.settled = true
      this.callbacks.onSettled()
    })
  }

  get checkpointId(): number {
    return this.prepared.checkpointId
  }

  /** The native checkpoint directory, while this run still owns it. */
  get pendingDirectory(): string | undefined {
    return this.directoryReleased ? undefined : this.prepared.directory
  }

  cancel(): void {
    if (this.settled || this.cancelled) return
    this.cancelled = true
    this.cancelSignal.abort()
    this.done.catch(() => {})
  }

  private cancelledError(): CancelledError {
    return new CancelledError(`incremental checkpoint ${this.checkpointId} was cancelled; its files were deleted`)
  }

  private throwIfCancelled(): void {
    if (this.cancelled) throw this.cancelledError()
  }

  /** A test hook of SnapshotOptions.hooks (a hook that throws fails the run). */
  private async hook(name: 'afterSyncPart' | 'afterUpload' | 'beforeMetaFile', extra: { name?: string; path?: string } = {}): Promise<void> {
    const fn = this.prepared.options.hooks?.[name]
    if (fn) await fn({ run: this, checkpointId: this.checkpointId, ...extra })
    this.throwIfCancelled()
  }

  private async runAsyncPart(): Promise<SnapshotResult> {
    // The caller is still inside the synchronous part: start nothing before it returned.
    await yieldToEventLoop()
    try {
      await this.prepared.written
      await this.hook('afterSyncPart')
      return await this.upload()
    } catch (e) {
      // The directory is deleted only after the thread pool stopped writing it.
      await this.prepared.written.catch(() => {})
      await this.discard()
      if (this.cancelled && !(e instanceof CancelledError)) throw this.cancelledError()
      throw e
    }
  }

  private async listDirectory(): Promise<LocalFile[]> {
    const dir = this.prepared.directory
    const out: LocalFile[] = []
    try {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        if (!entry.isFile() || entry.name === LOCAL_META_FILE_NAME) continue
        out.push({ name: entry.name, sizeBytes: (await stat(join(dir, entry.name))).size })
      }
    } catch (e) {
      throw fromFsError(e, dir, 'listing the native checkpoint')
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /** The base file `f` may be referred to instead of uploaded. */
  private reusable(f: LocalFile): UploadedSst | undefined {
    const known = this.prepared.base.get(f.name)
    // Same name in the same lineage means same content; the size check guards against a lineage mix-up.
    if (!known || known.file.sizeBytes !== f.sizeBytes) return undefined
    if (this.prepared.options.forceFullUpload && !known.uploadedHere) return undefined
    return known
  }

  private async upload(): Promise<SnapshotResult> {
    const p = this.prepared
    const { storage } = p.options
    const files = await this.listDirectory()
    this.throwIfCancelled()
    const shared = new Map<string, UploadedSst>()
    const privateFiles: Record<string, StoredFile> = {}
    const toUpload: LocalFile[] = []
    for (const f of files) {
      const known = isSstFile(f.name) ? this.reusable(f) : undefined
      if (known) {
        shared.set(f.name, known)
        this.stats.reusedFiles++
        this.stats.reusedBytes += f.sizeBytes
      } else {
        toUpload.push(f)
      }
    }
    await forEachBounded(
      toUpload,
      UPLOAD_CONCURRENCY,
      async (f) => {
        const sst = isSstFile(f.name)
        const scope = sst ? ({ kind: 'shared' } as const) : ({ kind: 'exclusive', checkpointId: p.checkpointId } as const)
        const storageName = sst ? sharedFileName(p.backendId, f.name, p.token) : privateFileName(f.name, p.token)
        const stored = await storage.upload(scope, storageName, join(p.directory, f.name), { signal: this.cancelSignal.signal })
        this.written.push(stored.path)
        if (stored.sizeBytes !== f.sizeBytes) {
          // Checkpoint files are immutable; a different size means something else wrote into the directory.
          throw new KeyedStateError('INTERNAL', `checkpoint file ${f.name} changed during upload (${f.sizeBytes} → ${stored.sizeBytes} bytes)`, {
            file: join(p.directory, f.name),
          })
        }
        const file: StoredFile = { path: stored.path, sizeBytes: stored.sizeBytes, crc32: stored.crc32 >>> 0 }
        if (sst) shared.set(f.name, { file, uploadedHere: true })
        else privateFiles[f.name] = file
        this.stats.uploadedFiles++
        this.stats.uploadedBytes += f.sizeBytes
        await this.hook('afterUpload', { name: f.name, path: stored.path })
      },
      () => this.cancelled,
    )
    this.throwIfCancelled()

    await this.hook('beforeMetaFile')
    const meta: IncrementalMetaFile = {
      format: INCREMENTAL_META_FORMAT,
      formatVersion: INCREMENTAL_FORMAT_VERSION,
      checkpointId: p.checkpointId,
      backendId: p.backendId,
      maxParallelism: p.maxParallelism,
      keyGroupRange: { start: p.keyGroupRange.start, end: p.keyGroupRange.end },
      keySerializer: p.keySerializer,
      rocksdbVersion: p.rocksdbVersion,
      states: p.states.map((s) => ({ meta: s.meta, columnFamily: s.columnFamily })),
    }
    const metaBytes = encodeMetaFile(meta)
    const metaFile = await this.writeMetaFile(metaBytes)
    this.throwIfCancelled()

    const sharedFiles: Record<string, StoredFile> = {}
    for (const [name, u] of [...shared].sort(([a], [b]) => (a < b ? -1 : 1))) sharedFiles[name] = u.file
    const handle: IncrementalSnapshotHandle = {
      type: 'incremental',
      formatVersion: INCREMENTAL_FORMAT_VERSION,
      backendId: p.backendId,
      checkpointId: p.checkpointId,
      maxParallelism: p.maxParallelism,
      keyGroupRange: { start: p.keyGroupRange.start, end: p.keyGroupRange.end },
      sharedFiles,
      privateFiles,
      metaFile,
    }
    const localHandle = p.keepLocal ? await this.keepLocalCopy(handle, metaBytes) : undefined
    if (!localHandle) await this.removeDirectory()
    // Last step, with no await after it: a run that recorded its files also resolves.
    this.throwIfCancelled()
    this.callbacks.record(p.checkpointId, shared)
    return localHandle ? { handle, localHandle } : { handle }
  }

  private async writeMetaFile(bytes: Buffer): Promise<StoredFile> {
    const p = this.prepared
    const out = await p.options.storage.create({ kind: 'exclusive', checkpointId: p.checkpointId }, metaFileName(p.token))
    this.metaOutput = out
    await out.write(bytes)
    const sizeBytes = await out.commit()
    this.written.push(out.path)
    this.metaOutput = undefined
    return { path: out.path, sizeBytes, crc32: crc32(bytes) >>> 0 }
  }

  /** The directory becomes the local copy; a failure here only loses local recovery, never the checkpoint. */
  private async keepLocalCopy(handle: IncrementalSnapshotHandle, metaBytes: Buffer): Promise<LocalStateHandle | undefined> {
    const p = this.prepared
    try {
      await writeFile(join(p.directory, LOCAL_META_FILE_NAME), metaBytes)
    } catch {
      return undefined
    }
    if (!this.callbacks.acceptLocalCopy(p.checkpointId, p.directory)) return undefined
    this.directoryReleased = true
    return { type: 'local-incremental', checkpointId: p.checkpointId, directory: p.directory, handle }
  }

  private async removeDirectory(): Promise<void> {
    if (this.directoryReleased) return
    this.directoryReleased = true
    if (this.prepared.keepLocal) await deleteLocalCheckpointDir(this.prepared.directory)
    else await rm(this.prepared.directory, { recursive: true, force: true })
  }

  /** Deletes everything this run wrote, in storage and locally. Best effort: storage GC catches the rest. */
  private async discard(): Promise<void> {
    const written = this.written.splice(0)
    await Promise.all([
      this.metaOutput?.discard().catch(() => {}),
      ...written.map((path) => this.prepared.options.storage.delete(path).catch(() => {})),
    ])
    this.directoryReleased = false
    await this.removeDirectory().catch(() => {})
  }
}
