// Incremental handles hold RocksDB files. The CLI reads them the way a job
// would: it restores the handle into a temporary RocksDB backend and asks that
// backend for a canonical full snapshot, which the ordinary reader decodes.
// This needs the native addon and incremental restore; without them the
// caller gets a NOT_SUPPORTED error to report.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../backends/open.js'
import { KeyedStateError } from '../../errors.js'
import type { Serializer } from '../../serializers/serializer.js'
import type { FullSnapshotHandle, IncrementalSnapshotHandle } from '../../snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../storage/fs.js'
import type { CheckpointStorage } from '../../storage/types.js'

/**
 * Keys only move as bytes from RocksDB to the full snapshot here, so any
 * recorded key serializer is acceptable: this one reads whatever was written.
 */
const rawKeySerializer: Serializer<Uint8Array> = {
  id: 'keyed-state-cli-raw-key',
  version: 1,
  serialize: (v) => v,
  deserialize: (b) => Uint8Array.prototype.slice.call(b),
  canRead: () => true,
}

export interface MaterializedSnapshot {
  storage: CheckpointStorage
  handle: FullSnapshotHandle | undefined
  cleanup(): Promise<void>
}

export async function materializeIncremental(storage: CheckpointStorage, handle: IncrementalSnapshotHandle): Promise<MaterializedSnapshot> {
  const temp = await mkdtemp(join(tmpdir(), 'keyed-state-cli-'))
  const cleanup = (): Promise<void> => rm(temp, { recursive: true, force: true })
  try {
    const backend = await openKeyedStateBackend({
      kind: 'rocksdb',
      keySerializer: rawKeySerializer,
      maxParallelism: handle.maxParallelism,
      keyGroupRange: handle.keyGroupRange,
      dir: join(temp, 'db'),
      storage,
      restoreFrom: [handle],
    })
    try {
      const target = new FileSystemCheckpointStorage(join(temp, 'full'))
      const run = backend.snapshot(handle.checkpointId, { type: 'savepoint', storage: target, targetDir: 'snapshot', compression: 'none' })
      const result = await run.done
      if (result.handle && result.handle.type !== 'full') {
        throw new KeyedStateError('INTERNAL', `a savepoint of the restored ${handle.metaFile.path} is not a full snapshot`)
      }
      return { storage: target, handle: result.handle, cleanup }
    } finally {
      await backend.close()
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}
