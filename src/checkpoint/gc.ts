// Garbage collection of files that crashes left behind: files in checkpoint
// storage that no `_metadata` references. A file is only ever deleted when it
// is older than a grace period (a checkpoint being written right now has young
// files and no `_metadata` yet), lies in a directory the checkpoint lifecycle
// owns, and no `_metadata` - valid or not - can possibly reference it.
// On object stores gc also aborts multipart uploads older than the grace
// period (a crash mid-upload leaves their parts, which are billed but never
// listed as objects).
import { isKeyedStateError } from '../errors.js'
import type { CheckpointStorage, IncompleteUpload, StoredEntry } from '../storage/types.js'
import { listSnapshots } from './catalog.js'
import { DEFAULT_SAVEPOINT_PARENT, HISTORY_FILE_NAME, isHistoryTempFile, isUnder, parseCheckpointDirName, SHARED_DIR, TASK_OWNED_DIR, topLevelDir } from './layout.js'
import { referencedPaths } from './metadata.js'

export const DEFAULT_GC_GRACE_PERIOD_MS = 60 * 60 * 1000

export interface GcOptions {
  /** Unreferenced files modified within this period are kept. Default one hour; keep it above the checkpoint timeout. */
  gracePeriodMs?: number
  /** Delete the orphans (otherwise only report them). */
  delete?: boolean
  /** "Now" for the grace period; default Date.now(). */
  nowMs?: number
  /** Files a live coordinator still uses that no `_metadata` mentions yet (in-flight checkpoints). */
  inUse?: (entry: StoredEntry) => boolean
  /** Called as files are deleted. */
  onProgress?: (done: number, total: number) => void
}

export interface GcReport {
  scannedFiles: number
  /** Files some `_metadata` references (the `_metadata` files included). */
  referencedFiles: number
  /** Unreferenced and older than the grace period: deleted with `delete`. */
  orphans: StoredEntry[]
  orphanBytes: number
  /** Unreferenced but younger than the grace period: kept. */
  tooYoung: StoredEntry[]
  /** Outside the directories checkpoints use: never touched. */
  foreign: StoredEntry[]
  deleted: string[]
  failed: { path: string; error: string }[]
  /** Invalid `_metadata` files; what they might reference is kept. */
  problems: string[]
  /** Object stores: multipart uploads older than the grace period (aborted with `delete`). */
  staleUploads: IncompleteUpload[]
  /** Multipart uploads younger than the grace period (a checkpoint may be uploading them now): kept. */
  youngUploads: IncompleteUpload[]
  abortedUploads: IncompleteUpload[]
}

function ownedByLifecycle(path: string, metadataDirs: readonly string[]): boolean {
  const top = topLevelDir(path)
  if (parseCheckpointDirName(top) !== undefined) return true
  if (top === SHARED_DIR || top === TASK_OWNED_DIR || top === DEFAULT_SAVEPOINT_PARENT) return true
  if (isHistoryTempFile(path)) return true
  return metadataDirs.some((d) => d !== '' && isUnder(path, d))
}

/** Finds orphans (and deletes them when `options.delete`). */
export async function collectGarbage(storage: CheckpointStorage, options: GcOptions = {}): Promise<GcReport> {
  const gracePeriodMs = options.gracePeriodMs ?? DEFAULT_GC_GRACE_PERIOD_MS
  const nowMs = options.nowMs ?? Date.now()
  const entries = await storage.list('')
  const listings = await listSnapshots(storage, entries)

  // The checkpoint history is the lifecycle's own file: kept, and not foreign.
  const referenced = new Set<string>([HISTORY_FILE_NAME])
  const protectedDirs: string[] = []
  const metadataDirs: string[] = []
  const problems: string[] = []
  let sharedUnknown = false
  for (const l of listings) {
    if (l.metadata) {
      metadataDirs.push(l.dir)
      for (const p of referencedPaths(l.metadata)) referenced.add(p)
    } else if (!l.problem?.startsWith('no ')) {
      // A `_metadata` we cannot read might reference anything in its directory and in shared/.
      metadataDirs.push(l.dir)
      protectedDirs.push(l.dir)
      sharedUnknown = true
      problems.push(`${l.dir}: ${l.problem}; its files and shared/ are kept (delete the directory by hand if it is garbage)`)
    }
  }
  if (sharedUnknown) protectedDirs.push(SHARED_DIR)

  const report: GcReport = {
    scannedFiles: entries.length,
    referencedFiles: 0,
    orphans: [],
    orphanBytes: 0,
    tooYoung: [],
    foreign: [],
    deleted: [],
    failed: [],
    problems,
    staleUploads: [],
    youngUploads: [],
    abortedUploads: [],
  }
  for (const u of (await storage.listIncompleteUploads?.()) ?? []) {
    if (nowMs - u.initiatedMs < gracePeriodMs) report.youngUploads.push(u)
    else report.staleUploads.push(u)
  }
  for (const e of entries) {
    if (referenced.has(e.path)) {
      report.referencedFiles++
    } else if (!ownedByLifecycle(e.path, metadataDirs)) {
      report.foreign.push(e)
    } else if (protectedDirs.some((d) => isUnder(e.path, d)) || options.inUse?.(e)) {
      report.tooYoung.push(e)
    } else if (nowMs - e.mtimeMs < gracePeriodMs) {
      report.tooYoung.push(e)
    } else {
      report.orphans.push(e)
      report.orphanBytes += e.sizeBytes
    }
  }
  if (!options.delete) return report

  await deleteFiles(storage, report.orphans.map((e) => e.path), report, options.onProgress)
  for (const u of report.staleUploads) {
    try {
      await storage.abortIncompleteUpload!(u)
      report.abortedUploads.push(u)
    } catch (err) {
      if (!isKeyedStateError(err)) throw err
      report.failed.push({ path: u.path, error: `aborting upload ${u.uploadId}: ${err.message}` })
    }
  }
  await removeEmptyDirectories(storage, report.deleted)
  return report
}

/** Batches of DeleteObjects where the storage has them, one delete at a time otherwise. */
const DELETE_BATCH = 1000

async function deleteFiles(
  storage: CheckpointStorage,
  paths: readonly string[],
  report: Pick<GcReport, 'deleted' | 'failed'>,
  onProgress: GcOptions['onProgress'],
): Promise<void> {
  let done = 0
  for (let i = 0; i < paths.length; i += storage.deleteMany ? DELETE_BATCH : 1) {
    const batch = paths.slice(i, i + (storage.deleteMany ? DELETE_BATCH : 1))
    try {
      if (storage.deleteMany) {
        const r = await storage.deleteMany(batch)
        report.deleted.push(...r.deleted)
        report.failed.push(...r.failed)
      } else {
        await storage.delete(batch[0]!)
        report.deleted.push(batch[0]!)
      }
    } catch (err) {
      if (!isKeyedStateError(err)) throw err
      for (const path of batch) report.failed.push({ path, error: err.message })
    }
    done += batch.length
    onProgress?.(done, paths.length)
  }
}

/**
 * Removes directories that deleting files left empty, on storage that has
 * directories. rmdir fails on a non-empty directory, so a file created
 * meanwhile is never lost; the storage follows no link while doing it.
 */
export async function removeEmptyDirectories(storage: CheckpointStorage, deletedPaths: readonly string[]): Promise<void> {
  if (!storage.removeEmptyDirectory) return
  const dirs = new Set<string>()
  for (const p of deletedPaths) {
    for (let d = p.slice(0, Math.max(0, p.lastIndexOf('/'))); d !== ''; d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) dirs.add(d)
  }
  // Deepest first, so a parent is tried after its children.
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) {
    if (d === SHARED_DIR || d === TASK_OWNED_DIR) continue
    await storage.removeEmptyDirectory(d).catch(() => {})
  }
}
