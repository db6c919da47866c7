import { KeyedStateError } from '../errors.js'
import { checkKnownOptions } from '../option-checks.js'
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../state-backend/types.js'

const KNOWN_OPTIONS = new Set([
  'kind', 'keySerializer', 'maxParallelism', 'keyGroupRange', 'dir', 'restoreFrom', 'localRestoreFrom',
  'localRecoveryDir', 'checkpointMode', 'storage', 'knownEmptyRanges', 'timers', 'rocksdb',
  'memory', 'onLocalFallback', 'restoreHooks', 'rocksdbStatistics', 'rocksdbMmapReads',
])

/** Opens a heap or RocksDB keyed-state backend, restoring from handles when given. */
export async function openKeyedStateBackend<K>(options: KeyedStateBackendOptions<K>): Promise<KeyedStateBackend<K>> {
  checkKnownOptions(options, KNOWN_OPTIONS, 'option')
  switch (options.kind) {
    case 'heap': {
      const { openHeapBackend } = await import('./heap/backend.js')
      return openHeapBackend(options)
    }
    case 'rocksdb': {
      const { openRocksDBBackend } = await import('./rocksdb/backend.js')
      return openRocksDBBackend(options)
    }
    default:
      throw new KeyedStateError('INVALID_ARGUMENT', `unknown backend kind '${String((options as { kind: unknown }).kind)}' (use 'heap' or 'rocksdb')`)
  }
}
