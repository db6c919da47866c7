// The JSON the checkpoint page shows: the history (completed and failed
// checkpoints and savepoints, from `_checkpoint_history.jsonl`) merged with the
// snapshots storage still holds (a retained one missing from the history, e.g.
// written before it existed, comes from its `_metadata`), and one snapshot's
// details as `keyed-state inspect --json` gives them.
import { listSnapshots } from '../checkpoint/catalog.js'
import { historyEntryOfCompleted, readCheckpointHistory, type CheckpointHistoryEntry } from '../checkpoint/history.js'
import type { JsonValue } from '../checkpoint/metadata.js'
import { KeyedStateError } from '../errors.js'
import type { CheckpointStorage } from '../storage/types.js'
import { inspectSnapshot, type InspectedSnapshot } from '../cli/lib/inspect-snapshot.js'

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

export interface SnapshotDetails extends InspectedSnapshot {
  checkpointId: number
  type: string
  dir: string
  maxParallelism: number
  parallelism: number
  triggeredAtMs: number
  completedAtMs: number
  sizeBytes: number
  incrementalSizeBytes: number
  restoredFrom?: JsonValue
  /** Each instance's committed operator state (e.g. source offsets), by instance index. */
  operatorState: { index: number; operatorState: JsonValue | null }[]
}

/** One retained snapshot; `dir` must be one storage lists (nothing else is read). */
export async function snapshotDetails(storage: CheckpointStorage, dir: string): Promise<SnapshotDetails> {
  const listing = (await listSnapshots(storage)).find((l) => l.dir === dir && l.metadata)
  if (!listing?.metadata) throw new KeyedStateError('NOT_FOUND', `no complete checkpoint or savepoint in ${storage.location} at ${JSON.stringify(dir)}`)
  const md = listing.metadata
  const inspected = await inspectSnapshot(storage, md)
  const out: SnapshotDetails = {
    checkpointId: md.checkpointId,
    type: md.type,
    dir: md.dir,
    maxParallelism: md.maxParallelism,
    parallelism: md.parallelism,
    triggeredAtMs: md.triggeredAtMs,
    completedAtMs: md.completedAtMs,
    sizeBytes: md.sizeBytes,
    incrementalSizeBytes: md.incrementalSizeBytes,
    ...inspected,
    operatorState: md.instances.map((i) => ({ index: i.index, operatorState: i.operatorState ?? null })),
  }
  if (md.restoredFrom) out.restoredFrom = md.restoredFrom as unknown as JsonValue
  return out
}
