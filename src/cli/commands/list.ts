import { listSnapshots, type SnapshotListing } from '../../checkpoint/catalog.js'
import { openStorageRoot } from '../lib/open.js'
import { formatBytes, formatTime, table, writeJson, writeLine } from '../lib/output.js'

export interface ListRow {
  dir: string
  checkpointId: number | null
  type: 'checkpoint' | 'savepoint' | null
  complete: boolean
  completedAt: string | null
  completedAtMs: number | null
  /** Bytes the snapshot references (complete), or stored in its directory (incomplete). */
  sizeBytes: number
  /** Bytes written for this checkpoint alone (new shared files and exclusive files). */
  incrementalSizeBytes: number | null
  parallelism: number | null
  maxParallelism: number | null
  problem?: string
}

export function toRow(l: SnapshotListing): ListRow {
  const md = l.metadata
  const row: ListRow = {
    dir: l.dir,
    checkpointId: l.checkpointId ?? null,
    type: l.type ?? null,
    complete: l.complete,
    completedAt: md ? new Date(md.completedAtMs).toISOString() : null,
    completedAtMs: md?.completedAtMs ?? null,
    sizeBytes: md ? md.sizeBytes : l.storedBytes,
    incrementalSizeBytes: md ? md.incrementalSizeBytes : null,
    parallelism: md?.parallelism ?? null,
    maxParallelism: md?.maxParallelism ?? null,
  }
  if (l.problem) row.problem = l.problem
  return row
}

export async function listCommand(root: string, options: { json?: boolean }): Promise<number> {
  const storage = await openStorageRoot(root)
  const rows = (await listSnapshots(storage)).map(toRow)
  if (options.json) {
    await writeJson({ root: storage.location, snapshots: rows })
    return 0
  }
  if (rows.length === 0) {
    await writeLine(`no checkpoints or savepoints in ${storage.location}`)
    return 0
  }
  await writeLine(
    table(
      ['ID', 'TYPE', 'STATUS', 'COMPLETED', 'SIZE', 'INCREMENTAL', 'PARALLELISM', 'DIRECTORY'],
      rows.map((r) => [
        r.checkpointId === null ? '-' : String(r.checkpointId),
        r.type ?? '-',
        r.complete ? 'complete' : 'INCOMPLETE',
        formatTime(r.completedAtMs ?? undefined),
        formatBytes(r.sizeBytes),
        r.incrementalSizeBytes === null ? '-' : formatBytes(r.incrementalSizeBytes),
        r.parallelism === null ? '-' : `${r.parallelism}/${r.maxParallelism}`,
        r.problem ? `${r.dir}  (${r.problem})` : r.dir,
      ]),
    ),
  )
  return 0
}
