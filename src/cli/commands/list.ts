// `keyed-state list <root> [--all]`: the checkpoints and savepoints of a
// storage root. A checkpoint that retention removed (its `_metadata` deleted
// when newer ones subsumed it) is no checkpoint any more, but its files can
// outlive it when their deletion failed or was interrupted (the cleaner deletes
// `_metadata` first); the history file says it completed. Such directories are
// left out unless `--all`, and marked as removed by retention, not as a
// checkpoint that never completed.
import { listSnapshots, type SnapshotListing } from '../../checkpoint/catalog.js'
import { readCheckpointHistory } from '../../checkpoint/history.js'
import { openStorageRoot } from '../lib/open.js'
import { formatBytes, formatTime, table, writeJson, writeLine } from '../lib/output.js'

export interface ListRow {
  dir: string
  checkpointId: number | null
  type: 'checkpoint' | 'savepoint' | null
  complete: boolean
  /** It completed, then retention deleted its `_metadata`; the files listed here remain (gc deletes them). */
  removedByRetention: boolean
  completedAt: string | null
  completedAtMs: number | null
  /** Bytes the snapshot references (complete), or stored in its directory (incomplete). */
  sizeBytes: number
  /** Bytes written for this checkpoint alone (new shared files and exclusive files). */
  incrementalSizeBytes: number | null
  parallelism: number | null
  maxParallelism: number | null
  /** Files stored in its directory (for a complete snapshot, its shared files live elsewhere). */
  fileCount: number
  problem?: string
}

/** A completed checkpoint as the history records it: enough to name one retention removed. */
export interface CompletedEntry {
  type: 'checkpoint' | 'savepoint'
  endedAtMs: number
}

/** `completed`: the history's entry for the listing's directory, if it records one that completed. */
export function toRow(l: SnapshotListing, completed?: CompletedEntry): ListRow {
  const md = l.metadata
  // Only retention deletes a completed checkpoint's _metadata (savepoints are never removed; a _metadata that does not parse is corruption).
  const removed = !l.hasMetadata && completed?.type === 'checkpoint'
  const row: ListRow = {
    dir: l.dir,
    checkpointId: l.checkpointId ?? null,
    type: l.type ?? (removed ? 'checkpoint' : null),
    complete: l.complete,
    removedByRetention: removed,
    completedAt: md ? new Date(md.completedAtMs).toISOString() : removed ? new Date(completed.endedAtMs).toISOString() : null,
    completedAtMs: md?.completedAtMs ?? (removed ? completed.endedAtMs : null),
    sizeBytes: md ? md.sizeBytes : l.storedBytes,
    incrementalSizeBytes: md ? md.incrementalSizeBytes : null,
    parallelism: md?.parallelism ?? null,
    maxParallelism: md?.maxParallelism ?? null,
    fileCount: l.fileCount,
  }
  if (removed) row.problem = `removed by retention (its _metadata was deleted); ${l.fileCount} file(s) remain, which gc deletes`
  else if (l.problem) row.problem = l.problem
  return row
}

function statusOf(r: ListRow): string {
  return r.complete ? 'complete' : r.removedByRetention ? 'REMOVED' : 'INCOMPLETE'
}

export async function listCommand(root: string, options: { json?: boolean; all?: boolean }): Promise<number> {
  const storage = await openStorageRoot(root)
  const history = await readCheckpointHistory(storage)
  for (const problem of history.problems) process.stderr.write(`keyed-state: warning: ${problem}\n`)
  const completed = new Map<string, CompletedEntry>()
  for (const e of history.entries) if (e.status === 'completed') completed.set(e.dir, e)
  const all = (await listSnapshots(storage)).map((l) => toRow(l, completed.get(l.dir)))
  const rows = options.all ? all : all.filter((r) => !r.removedByRetention)
  const hidden = all.length - rows.length
  if (options.json) {
    await writeJson({ root: storage.location, snapshots: rows, ...(options.all ? {} : { removedByRetentionHidden: hidden }) })
    return 0
  }
  if (rows.length === 0) await writeLine(`no checkpoints or savepoints in ${storage.location}`)
  else {
    await writeLine(
      table(
        ['ID', 'TYPE', 'STATUS', 'COMPLETED', 'SIZE', 'INCREMENTAL', 'PARALLELISM', 'DIRECTORY'],
        rows.map((r) => [
          r.checkpointId === null ? '-' : String(r.checkpointId),
          r.type ?? '-',
          statusOf(r),
          formatTime(r.completedAtMs ?? undefined),
          formatBytes(r.sizeBytes),
          r.incrementalSizeBytes === null ? '-' : formatBytes(r.incrementalSizeBytes),
          r.parallelism === null ? '-' : `${r.parallelism}/${r.maxParallelism}`,
          r.problem ? `${r.dir}  (${r.problem})` : r.dir,
        ]),
      ),
    )
  }
  if (hidden > 0) {
    await writeLine(`${hidden} checkpoint(s) removed by retention still have files in storage: 'list --all' shows them, 'gc' deletes them`)
  }
  return 0
}
