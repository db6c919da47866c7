// The JSON the checkpoint page shows: the history (completed and failed
// checkpoints and savepoints, from `_checkpoint_history.jsonl`) merged with the
// snapshots storage still holds (a retained one missing from the history, e.g.
// written before it existed, comes from its `_metadata`), and one snapshot's
// details as `keyed-state inspect --json` gives them.
import { listSnapshots } from '../checkpoint/catalog.js'
import { historyEntryOfCompleted, readCheckpointHistory, type CheckpointHistoryEntry } from '../checkpoint/history.js'
import { KeyedStateError } from '../errors.js'
import type { CheckpointStorage } from '../storage/types.js'
import { inspectReport, type InspectReport } from '../cli/lib/inspect-snapshot.js'

export interface OverviewRow extends CheckpointHistoryEntry {
  /** Its `_metadata` is still in storage (it can be restored and inspected). */
  retained: boolean
}

export interface Overview {
  location: string
  generatedAtMs: number
  rows: OverviewRow[]
  /** Damaged history lines and unreadable `_metadata` files. */
  problems: string[]
}

export async function overview(storage: CheckpointStorage): Promise<Overview> {
  const [history, listings] = await Promise.all([readCheckpointHistory(storage), listSnapshots(storage)])
  const problems = [...history.problems]
  const retained = new Map<string, CheckpointHistoryEntry>()
  for (const l of listings) {
    if (l.metadata) retained.set(l.dir, historyEntryOfCompleted(l.metadata))
    else if (!l.problem?.startsWith('no ')) problems.push(`${l.dir}: ${l.problem}`)
  }
  const rows: OverviewRow[] = history.entries.map((e) => ({ ...e, retained: e.status === 'completed' && retained.has(e.dir) }))
  const inHistory = new Set(history.entries.filter((e) => e.status === 'completed').map((e) => e.dir))
  for (const [dir, e] of retained) if (!inHistory.has(dir)) rows.push({ ...e, retained: true })
  rows.sort((a, b) => a.triggeredAtMs - b.triggeredAtMs || a.checkpointId - b.checkpointId)
  return { location: storage.location, generatedAtMs: Date.now(), rows, problems }
}

/** One retained snapshot, as `keyed-state inspect --json` reports it; `dir` must be one storage lists (nothing else is read). */
export async function snapshotDetails(storage: CheckpointStorage, dir: string): Promise<InspectReport> {
  const listing = (await listSnapshots(storage)).find((l) => l.dir === dir && l.metadata)
  if (!listing?.metadata) throw new KeyedStateError('NOT_FOUND', `no complete checkpoint or savepoint in ${storage.location} at ${JSON.stringify(dir)}`)
  return inspectReport(storage, listing.metadata)
}
