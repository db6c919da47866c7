// Shared set-up for the RocksDB backend tests: temporary working directories
// and raw access to a closed backend's database through the addon.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openRocksDBBackend, type RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import type { KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import { ChunkCursor } from '../../src/backends/rocksdb/packed-chunks.js'
import { loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { NativeDb } from '../../src/backends/rocksdb/native/types.js'
import { stringSerializer } from '../../src/serializers/primitives.js'

export async function tempDir(prefix = 'ks-rocksdb-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

export type TestOptions<K> = Partial<Omit<KeyedStateBackendOptions<K>, 'kind' | 'dir'>>

/** Opens a backend in `dir`; checkpoints are full snapshots unless the test asks otherwise. */
export function openIn<K = string>(dir: string, options: TestOptions<K> = {}): Promise<RocksDBKeyedStateBackend<K>> {
  return openRocksDBBackend<K>({
    kind: 'rocksdb',
    dir,
    keySerializer: stringSerializer as never,
    maxParallelism: 128,
    checkpointMode: 'full',
    ...options,
  })
}

/** The text of the newest OPTIONS file RocksDB wrote in `dbDir` (the options it runs with). */
export async function newestOptionsText(dbDir: string): Promise<string> {
  const files = (await readdir(dbDir)).filter((f) => /^OPTIONS-\d+$/.test(f))
  const newest = files.sort((a, b) => Number(a.slice(8)) - Number(b.slice(8))).at(-1)
  if (newest === undefined) throw new Error(`no OPTIONS file in ${dbDir}`)
  return readFile(join(dbDir, newest), 'utf8')
}

/** Opens the backend's database directly (the backend must be closed). */
export function withRawDb<T>(dir: string, fn: (db: NativeDb) => T): T {
  const db = loadNative().open(join(dir, 'db'), { createIfMissing: false })
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

export interface RawEntry {
  key: Buffer
  value: Buffer
}

/** Every entry of a column family, in RocksDB order, read through the native iterator. */
export function rawEntries(db: NativeDb, columnFamily: string): RawEntry[] {
  const cf = db.columnFamily(columnFamily)
  if (cf < 0) throw new Error(`no column family ${columnFamily}`)
  const out: RawEntry[] = []
  const it = db.iterator(cf)
  const cursor = new ChunkCursor(new Uint8Array(0))
  try {
    for (let chunk = it.nextChunk(100, 4096); chunk !== null; chunk = it.nextChunk(100, 4096)) {
      cursor.reset(chunk)
      while (cursor.next()) out.push({ key: Buffer.from(cursor.key()), value: Buffer.from(cursor.value()) })
    }
  } finally {
    it.close()
  }
  return out
}
