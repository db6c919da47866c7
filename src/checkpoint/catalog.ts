// What a checkpoint storage holds: complete and incomplete checkpoints, and
// savepoints (any directory with a `_metadata` file). A `chk-<id>/` without a
// valid `_metadata` is incomplete and is never restored from.
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import type { SnapshotType } from '../snapshot/types.js'
import type { CheckpointStorage, StoredEntry } from '../storage/types.js'
import { filesOfHandle } from './handles.js'
import { METADATA_FILE_NAME, parentDir, parseCheckpointDirName, topLevelDir } from './layout.js'
import { readMetadata, type CheckpointMetadata } from './metadata.js'

export interface SnapshotListing {
  /** Storage-relative directory. */
  dir: string
  /** From the directory name (`chk-<id>`) or the metadata. */
  checkpointId: number | undefined
  /** Known only when the metadata is valid (a `chk-*` directory is a checkpoint). */
  type: SnapshotType | undefined
  complete: boolean
  /** Whether it has a `_metadata` file at all (valid or not). */
  hasMetadata: boolean
  /** Why it is incomplete. */
  problem?: string
  metadata?: CheckpointMetadata
  /** Files stored inside the directory and their bytes. */
  fileCount: number
  storedBytes: number
  newestMtimeMs: number
}

interface DirGroup {
  files: StoredEntry[]
  hasMetadata: boolean
}

function groupDirectories(entries: readonly StoredEntry[]): Map<string, DirGroup> {
  const groups = new Map<string, DirGroup>()
  const group = (dir: string): DirGroup => {
    let g = groups.get(dir)
    if (!g) groups.set(dir, (g = { files: [], hasMetadata: false }))
    return g
  }
  // Savepoint directories are those holding a `_metadata`; checkpoint directories are named chk-<id>.
  for (const e of entries) {
    if (e.path !== METADATA_FILE_NAME && !e.path.endsWith(`/${METADATA_FILE_NAME}`)) continue
    const dir = parentDir(e.path)
    const top = topLevelDir(e.path)
    // Only chk-<id>/_metadata counts inside a checkpoint directory.
    if (parseCheckpointDirName(top) === undefined || dir === top) group(dir).hasMetadata = true
  }
  for (const e of entries) {
    const top = topLevelDir(e.path)
    if (parseCheckpointDirName(top) !== undefined) {
      group(top).files.push(e)
      continue
    }
    for (let d = parentDir(e.path); ; d = parentDir(d)) {
      const g = groups.get(d)
      if (g?.hasMetadata) {
        g.files.push(e)
        break
      }
      if (d === '') break
    }
  }
  return groups
}

/** Every checkpoint directory and savepoint in `storage`, sorted by checkpoint id. */
export async function listSnapshots(storage: CheckpointStorage, entries?: readonly StoredEntry[]): Promise<SnapshotListing[]> {
  const all = entries ?? (await storage.list(''))
  const out: SnapshotListing[] = []
  for (const [dir, g] of groupDirectories(all)) {
    const listing: SnapshotListing = {
      dir,
      checkpointId: parseCheckpointDirName(dir),
      type: undefined,
      complete: false,
      hasMetadata: g.hasMetadata,
      fileCount: g.files.length,
      storedBytes: g.files.reduce((n, f) => n + f.sizeBytes, 0),
      newestMtimeMs: g.files.reduce((t, f) => Math.max(t, f.mtimeMs), 0),
    }
    if (!g.hasMetadata) {
      listing.problem = `no ${METADATA_FILE_NAME} (the checkpoint never completed)`
    } else {
      try {
        const md = await readMetadata(storage, dir)
        if (listing.checkpointId !== undefined && md.checkpointId !== listing.checkpointId) {
          throw new KeyedStateError('CORRUPTION', `${dir}/${METADATA_FILE_NAME} describes checkpoint ${md.checkpointId}`)
        }
        listing.checkpointId = md.checkpointId
        listing.type = md.type
        listing.metadata = md
        listing.complete = true
      } catch (e) {
        if (!isKeyedStateError(e)) throw e
        listing.problem = e.message
      }
    }
    out.push(listing)
  }
  return out.sort((a, b) => (a.checkpointId ?? -1) - (b.checkpointId ?? -1) || a.dir.localeCompare(b.dir))
}

export interface FindLatestOptions {
  /**
   * Also check that every file the metadata references exists with its
   * recorded size, and fall back to an older checkpoint otherwise. Costs one
   * size lookup per file.
   */
  checkFiles?: boolean
}

/** The metadata of the newest complete checkpoint (not savepoint) in `storage`, or undefined. */
export async function findLatestCompleteCheckpoint(
  storage: CheckpointStorage,
  options: FindLatestOptions = {},
): Promise<CheckpointMetadata | undefined> {
  const listings = await listSnapshots(storage)
  const complete = listings.filter((l) => l.complete && l.type === 'checkpoint' && parseCheckpointDirName(l.dir) !== undefined)
  for (const l of complete.reverse()) {
    const md = l.metadata!
    if (!options.checkFiles || (await missingFiles(storage, md)).length === 0) return md
  }
  return undefined
}

/** Files the metadata references that are missing or have another size, as messages naming them. */
export async function missingFiles(storage: CheckpointStorage, md: CheckpointMetadata): Promise<string[]> {
  const problems: string[] = []
  for (const inst of md.instances) {
    if (!inst.handle) continue
    for (const f of filesOfHandle(inst.handle)) {
      let size: number
      try {
        size = await storage.size(f.path)
      } catch (e) {
        if (!isKeyedStateError(e)) throw e
        problems.push(`${f.path}: ${e.code === 'MISSING_FILE' ? 'missing' : e.message}`)
        continue
      }
      if (size !== f.sizeBytes) problems.push(`${f.path}: ${size} bytes, expected ${f.sizeBytes}`)
    }
  }
  return problems
}
