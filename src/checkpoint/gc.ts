// Garbage collection of files that crashes left behind: files in checkpoint
// storage that no `_metadata` references. A file is only ever deleted when it
// is older than a grace period (a checkpoint being written right now has young
// files and no `_metadata` yet), lies in a directory the checkpoint lifecycle
// owns, and no `_metadata` - valid or not - can possibly reference it.
import { isKeyedStateError } from '../errors.js'
import type { CheckpointStorage, StoredEntry } from '../storage/types.js'
import { listSnapshots } from './catalog.js'
import { DEFAULT_SAVEPOINT_PARENT, isUnder, parseCheckpointDirName, SHARED_DIR, TASK_OWNED_DIR, topLevelDir } from './layout.js'
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
}

function ownedByLifecycle(path: string, metadataDirs: readonly string[]): boolean {
  const top = topLevelDir(path)
  if (parseCheckpointDirName(top) !== undefined) return true
  if (top === SHARED_DIR || top === TASK_OWNED_DIR || top === DEFAULT_SAVEPOINT_PARENT) return true
  return metadataDirs.some((d) => d !== '' && isUnder(path, d))
}

/** Finds orphans (and deletes them when `options.delete`). */
export async function collectGarbage(storage: CheckpointStorage, options: GcOptions = {}): Promise<GcReport> {
  const gracePeriodMs = options.gracePeriodMs ?? DEFAULT_GC_GRACE_PERIOD_MS
  const nowMs = options.nowMs ?? Date.now()
  const entries = await storage.list('')
  const listings = await listSnapshots(storage, entries)

  const referenced = new Set<string>()
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

  let done = 0
  for (const e of report.orphans) {
    try {
      await storage.delete(e.path)
      report.deleted.push(e.path)
    } catch (err) {
      if (!isKeyedStateError(err)) throw err
      report.failed.push({ path: e.path, error: err.message })
    }
    options.onProgress?.(++done, report.orphans.length)
  }
  await removeEmptyDirectories(storage, report.deleted)
  return report
}

/**
 * Removes directories that deleting files left empty, on storage with local
 * paths. rmdir fails on a non-empty directory, so a file created meanwhile is
 * never lost.
 */
export async function removeEmptyDirectories(storage: CheckpointStorage, deletedPaths: readonly string[]): Promise<void> {
  if (!storage.localPath) return
  const { rmdir } = await import('node:fs/promises')
  const dirs = new Set<string>()
  for (const p of deletedPaths) {
    for (let d = p.slice(0, Math.max(0, p.lastIndexOf('/'))); d !== ''; d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) dirs.add(d)
  }
  // Deepest first, so a parent is tried after its children.
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) {
    if (d === SHARED_DIR || d === TASK_OWNED_DIR) continue
    await rmdir(storage.localPath(d)).catch(() => {})
  }
}
