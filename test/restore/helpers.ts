// Shared set-up for the restore-safety tests: either backend in a temporary
// directory, opened through the public entry point.
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { BackendKind, KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import type { TestDirs } from '../rocksdb/incremental/helpers.js'

export { testDirs, type TestDirs as Dirs } from '../rocksdb/incremental/helpers.js'

export const KINDS: readonly BackendKind[] = ['heap', 'rocksdb']

let seq = 0

/** Opens a backend of `kind` (RocksDB in a fresh directory under `dirs`; full checkpoints unless asked). */
export function openKind<K>(
  kind: BackendKind,
  dirs: TestDirs,
  options: Omit<KeyedStateBackendOptions<K>, 'kind' | 'dir'>,
): Promise<KeyedStateBackend<K>> {
  return openKeyedStateBackend<K>({
    kind,
    ...(kind === 'rocksdb' ? { dir: dirs.dir(`db-${++seq}`), checkpointMode: 'full' as const } : {}),
    ...options,
  })
}
