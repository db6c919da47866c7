// Takes one snapshot and measures what the issue asks for: the synchronous
// pause, the asynchronous part, and the bytes that landed in storage.
import type { CompressionCodec, SnapshotResult, SnapshotType } from '../../src/snapshot/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import type { Backend } from './keyed.js'

export interface CheckpointCost {
  syncMs: number
  asyncMs: number
  /** From the call to `done` resolving. */
  totalMs: number
  /** Growth of the storage: what this snapshot uploaded (shared files already there are not counted). */
  bytesWritten: number
  result: SnapshotResult
}

export async function storedBytes(storage: CheckpointStorage): Promise<number> {
  let total = 0
  for (const e of await storage.list('')) total += e.sizeBytes
  return total
}

export async function takeSnapshot(
  backend: Backend,
  checkpointId: number,
  storage: CheckpointStorage,
  type: SnapshotType = 'checkpoint',
  compression?: CompressionCodec,
): Promise<CheckpointCost> {
  const before = await storedBytes(storage)
  const start = process.hrtime.bigint()
  const run = backend.snapshot(checkpointId, compression === undefined ? { type, storage } : { type, storage, compression })
  const syncEnd = process.hrtime.bigint()
  const result = await run.done
  const end = process.hrtime.bigint()
  const after = await storedBytes(storage)
  return {
    syncMs: run.syncDurationMs ?? Number(syncEnd - start) / 1e6,
    asyncMs: Number(end - syncEnd) / 1e6,
    totalMs: Number(end - start) / 1e6,
    bytesWritten: after - before,
    result,
  }
}

/** Takes a checkpoint and confirms it, so the next incremental one builds on it. */
export async function takeCompletedCheckpoint(backend: Backend, checkpointId: number, storage: CheckpointStorage): Promise<CheckpointCost> {
  const cost = await takeSnapshot(backend, checkpointId, storage, 'checkpoint')
  backend.notifyCheckpointComplete(checkpointId)
  return cost
}
