// Backend factories for the conformance suite and the model-based tests. The
// RocksDB factory works once the RocksDB backend and its addon are built;
// `available()` says whether it can open a backend here.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/index.js'
import { isKeyedStateError } from '../../src/errors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { BackendFactory, SuiteOpenOptions } from './factory.js'

/** Temporary directories of one factory, removed by cleanup(). */
class TempDirs {
  private readonly dirs: string[] = []
  async make(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }
  async removeAll(): Promise<void> {
    const dirs = this.dirs.splice(0)
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}

export function heapFactory(): BackendFactory {
  const temp = new TempDirs()
  return {
    name: 'heap',
    supports: { reopen: false, incremental: false, serializesOnWrite: false },
    open: (options) => openKeyedStateBackend({ kind: 'heap', ...options }),
    storage: async () => new FileSystemCheckpointStorage(await temp.make('ks-heap-storage-')),
    cleanup: () => temp.removeAll(),
  }
}

export function rocksdbFactory(): BackendFactory {
  const temp = new TempDirs()
  let root: Promise<string> | undefined
  let anonymous = 0
  return {
    name: 'rocksdb',
    supports: { reopen: true, incremental: true, serializesOnWrite: true },
    async open<K>(options: SuiteOpenOptions<K>, instance?: string) {
      root ??= temp.make('ks-rocksdb-suite-')
      const dir = join(await root, instance ?? `anonymous-${anonymous++}`)
      return openKeyedStateBackend({ kind: 'rocksdb', dir, ...options })
    },
    storage: async () => new FileSystemCheckpointStorage(await temp.make('ks-rocksdb-storage-')),
    cleanup: async () => {
      root = undefined
      await temp.removeAll()
    },
  }
}

/**
 * Whether `factory` can open a backend in this environment. A backend that is
 * not built yet (NOT_SUPPORTED) or whose addon cannot load (NATIVE_UNAVAILABLE)
 * is reported as unavailable; any other failure is a real error and thrown.
 */
export async function factoryAvailable(factory: BackendFactory): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const backend = await factory.open({ keySerializer: stringSerializer }, 'availability-probe')
    await backend.close()
    return { ok: true }
  } catch (e) {
    if (isKeyedStateError(e, 'NOT_SUPPORTED') || isKeyedStateError(e, 'NATIVE_UNAVAILABLE')) return { ok: false, reason: e.message }
    throw e
  }
}
