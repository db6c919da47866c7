// Shared set-up for the restore-safety tests: either backend in a temporary
// directory, opened through the public entry point, with a small fill.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { BackendKind, KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'

export const KINDS: readonly BackendKind[] = ['heap', 'rocksdb']

export interface Dirs {
  root: string
  storage: FileSystemCheckpointStorage
  dir(name: string): string
  remove(): Promise<void>
}

export async function testDirs(prefix = 'ks-restore-'): Promise<Dirs> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  return {
    root,
    storage: new FileSystemCheckpointStorage(join(root, 'storage')),
    dir: (name) => join(root, name),
    remove: () => rm(root, { recursive: true, force: true }),
  }
}

let seq = 0

/** Opens a backend of `kind` (RocksDB in a fresh directory under `dirs`; full checkpoints unless asked). */
export function openKind<K>(
  kind: BackendKind,
  dirs: Dirs,
  options: Omit<KeyedStateBackendOptions<K>, 'kind' | 'dir'>,
): Promise<KeyedStateBackend<K>> {
  return openKeyedStateBackend<K>({
    kind,
    ...(kind === 'rocksdb' ? { dir: dirs.dir(`db-${++seq}`), checkpointMode: 'full' as const } : {}),
    ...options,
  })
}
