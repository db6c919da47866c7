import { KeyedStateError } from '../../errors.js'
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../../backend/types.js'

// Placeholder until the backend lands.
export async function openHeapBackend<K>(_options: KeyedStateBackendOptions<K>): Promise<KeyedStateBackend<K>> {
  throw new KeyedStateError('NOT_SUPPORTED', 'heap backend not built yet')
}
