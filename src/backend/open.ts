import { KeyedStateError } from '../errors.js'
import type { KeyedStateBackend, KeyedStateBackendOptions } from './types.js'

const KNOWN_OPTIONS = new Set([
  'kind', 'keySerializer', 'maxParallelism', 'keyGroupRange', 'dir', 'restoreFrom', 'localRestoreFrom',
  'localRecoveryDir', 'checkpointMode', 'storage', 'knownEmptyRanges', 'timers',
])

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known option closest to a misspelled one (case differences and up to two typos). */
function suggest(name: string): string {
  const lower = name.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const k of KNOWN_OPTIONS) {
    const d = editDistance(lower, k.toLowerCase())
    if (d < bestDistance) {
      best = k
      bestDistance = d
    }
  }
  return best ? ` (did you mean '${best}'?)` : ''
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
