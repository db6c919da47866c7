// The same entries as a ValueState of the RocksDB backend, written straight
// through the binding into a plain DB: the reference for "how fast can these
// bytes be read at all" (raw packed iteration).
import { compositeKey } from '../../src/encoding.js'
import type { NativeBinding, NativeDb, NativeIterator } from '../../src/backends/rocksdb/native/types.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { Dataset } from './data.js'
import { BACKEND_LIKE_OPTIONS, keyGroupsOf } from './keyed.js'

const NO_NAMESPACE = new Uint8Array(0)
/** Synchronous chunk limits (src/backends/rocksdb/packed-chunks.ts SNAPSHOT_CHUNK; the writer reads 4 MiB chunks on the thread pool, and 4 MiB here measured the same: 452 against 459 ms for 100 MB). */
const CHUNK_ENTRIES = 8192
const CHUNK_BYTES = 1024 * 1024

export interface RawDb {
  db: NativeDb
  cf: number
  close(): void
}

export function fillRawDb(native: NativeBinding, dir: string, data: Dataset): RawDb {
  const db = native.open(dir, { ...BACKEND_LIKE_OPTIONS, columnFamilies: ['value'] })
  const cf = db.columnFamily('value')
  const kgs = keyGroupsOf(data)
  const batch = db.batch()
  for (let i = 0; i < data.count; i++) {
    batch.put(cf, compositeKey(kgs[i]!, stringSerializer.serialize(data.key(i)), NO_NAMESPACE), stringSerializer.serialize(data.value(i)))
    if (batch.count >= 10_000) {
      db.write(batch)
      batch.clear()
    }
  }
  if (batch.count) db.write(batch)
  db.flush()
  return { db, cf, close: () => db.close() }
}

/** Reads every entry of the column family in packed chunks from a read snapshot; returns the packed bytes. */
export function packedIteration(raw: RawDb): number {
  const snapshot = raw.db.snapshot()
  try {
    return readAllPacked(raw.db.iterator(raw.cf, { snapshot }))
  } finally {
    snapshot.release()
  }
}

/**
 * Reads every entry of a column family in packed chunks through one iterator,
 * which reads as of its creation as the full snapshot's do (no db.snapshot():
 * releasing one lets RocksDB rewrite bottommost files, which would change what
 * the next incremental checkpoint uploads). Returns the packed bytes.
 */
export function packedIterationOf(db: NativeDb, cf: number): number {
  return readAllPacked(db.iterator(cf))
}

function readAllPacked(it: NativeIterator): number {
  let bytes = 0
  try {
    for (let chunk = it.nextChunk(CHUNK_ENTRIES, CHUNK_BYTES); chunk; chunk = it.nextChunk(CHUNK_ENTRIES, CHUNK_BYTES)) bytes += chunk.length
  } finally {
    it.close()
  }
  return bytes
}
