// A job's state as of one checkpoint or savepoint, in this process: one
// backend owning every key group, restored from the snapshot. For checks
// after a run (tests, the demo, the examples) and for looking into a job's
// state by key; it never writes to the snapshot.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../backends/open.js'
import type { KeyedStateBackend } from '../state-backend/types.js'
import type { CheckpointMetadata } from '../checkpoint/metadata.js'
import { restoreAssignment } from '../checkpoint/assignment.js'
import type { Serializer } from '../serializers/serializer.js'
import type { CheckpointStorage } from '../storage/types.js'

/**
 * Calls `read` with a backend holding every key group of the snapshot, then
 * closes it. RocksDB in a temporary directory (it restores every snapshot
 * type, incremental checkpoints included).
 */
export async function withSnapshotState<K, T>(
  storage: CheckpointStorage,
  snapshot: CheckpointMetadata,
  keySerializer: Serializer<K>,
  read: (backend: KeyedStateBackend<K>) => T | Promise<T>,
): Promise<T> {
  const [all] = restoreAssignment(snapshot, 1)
  const dir = await mkdtemp(join(tmpdir(), 'keyed-state-snapshot-'))
  try {
    const backend = await openKeyedStateBackend<K>({
      kind: 'rocksdb',
      dir,
      keySerializer,
      maxParallelism: snapshot.maxParallelism,
      storage,
      restoreFrom: all!.restoreFrom,
      knownEmptyRanges: all!.knownEmptyRanges,
    })
    try {
      return await read(backend)
    } finally {
      await backend.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
