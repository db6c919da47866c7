import { KeyedStateError } from '../errors.js'
import type { KeyedStateBackend, KeyedStateBackendOptions } from './types.js'

const KNOWN_OPTIONS = new Set([
  'kind', 'keySerializer', 'maxParallelism', 'keyGroupRange', 'dir', 'restoreFrom', 'localRestoreFrom',
  'localRecoveryDir', 'checkpointMode', 'storage',
])

function suggest(name: string): string {
  const lower = name.toLowerCase()
  const match = [...KNOWN_OPTIONS].find((k) => k.toLowerCase() === lower)
  return match ? ` (did you mean '${match}'?)` : ''
}

/** Opens a heap or RocksDB keyed-state backend, restoring from handles when given. */
export async function openKeyedStateBackend<K>(options: KeyedStateBackendOptions<K>): Promise<KeyedStateBackend<K>> {
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new KeyedStateError('INVALID_ARGUMENT', `unknown option '${key}'${suggest(key)}`)
  }
  switch (options.kind) {
    case 'heap': {
      const { openHeapBackend } = await import('../backends/heap/backend.js')
      return openHeapBackend(options)
    }
    case 'rocksdb': {
      const { openRocksDBBackend } = await import('../backends/rocksdb/backend.js')
      return openRocksDBBackend(options)
    }
    default:
      throw new KeyedStateError('INVALID_ARGUMENT', `unknown backend kind '${String((options as { kind: unknown }).kind)}' (use 'heap' or 'rocksdb')`)
  }
}
