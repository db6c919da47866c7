// The RocksDB full-snapshot resources read each state ahead on the thread pool
// (stateChunksAsync): the same entries as the synchronous pass, and a release
// or DB close while reads are in flight neither throws nor crashes.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { captureFullSnapshotResources } from '../../src/backends/rocksdb/full-snapshot.js'
import { compositeKey } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { NativeDb } from '../../src/backends/rocksdb/native/types.js'
import type { StateMetaInfo } from '../../src/state/meta.js'

const native = loadNative()
const meta = (name: string): StateMetaInfo => ({
  name,
  kind: 'value',
  namespaceSerializer: { id: 'void', version: 1 },
  valueSerializer: { id: 'string', version: 1 },
})

type States = Array<{ meta: StateMetaInfo; columnFamily: string; cf: number }>
let shared: { dir: string; db: NativeDb; states: States } | undefined

/** One DB for the whole file: filling it is most of the time. */
function fixture(): { db: NativeDb; states: States } {
  if (shared) return shared
  const dir = mkdtempSync(join(tmpdir(), 'ks-ahead-'))
  const db = native.open(join(dir, 'db'), { columnFamilies: ['a', 'b'], disableWal: true })
  const states = ['a', 'b'].map((name) => ({ meta: meta(name), columnFamily: name, cf: db.columnFamily(name) }))
  // Enough entries for two 4 MiB chunks per state, in every key group of 0..63.
  for (const [i, st] of states.entries()) {
    const batch = db.batch()
    for (let k = 0; k < 80_000; k++) batch.put(st.cf, compositeKey(k % 64, Buffer.from(`key-${k}`), new Uint8Array(0)), Buffer.alloc(40 + i, k % 251))
    db.write(batch)
  }
  shared = { dir, db, states }
  return shared
}

after(() => {
  if (!shared) return
  shared.db.close()
  rmSync(shared.dir, { recursive: true, force: true })
})

function withDb(fn: (db: NativeDb, states: States) => Promise<void>) {
  return async () => {
    const { db, states } = fixture()
    await fn(db, states)
  }
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of chunks) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

test(
  'stateChunksAsync yields the bytes of stateChunks, for every state, also read side by side',
  withDb(async (db, states) => {
    const range = { start: 0, end: 63 }
    const sync = captureFullSnapshotResources(db, states, range)
    const expected = states.map((_, s) => Buffer.concat([...sync.stateChunks!(s)].map((c) => Buffer.from(c))))
    sync.release()
    const ahead = captureFullSnapshotResources(db, states, range)
    const got = await Promise.all(states.map((_, s) => collect(ahead.stateChunksAsync!(s))))
    ahead.release()
    assert.equal(got.length, 2)
    for (let s = 0; s < states.length; s++) assert.ok(got[s]!.equals(expected[s]!), `state ${s}`)
    // A narrower key-group range reads only its own entries.
    const narrow = captureFullSnapshotResources(db, states, { start: 10, end: 11 })
    const bytes = await collect(narrow.stateChunksAsync!(0))
    narrow.release()
    for (let pos = 0; pos < bytes.length; ) {
      const keyLength = bytes.readUInt32LE(pos)
      assert.ok([10, 11].includes(bytes.readUInt16BE(pos + 4)))
      pos += 8 + keyLength + bytes.readUInt32LE(pos + 4 + keyLength)
    }
    assert.ok(bytes.length > 0)
  }),
)

test(
  'release with reads in flight closes the iterators once the reads end; the pass then fails CLOSED',
  withDb(async (db, states) => {
    for (let round = 0; round < 4; round++) {
      const resources = captureFullSnapshotResources(db, states, { start: 0, end: 63 })
      const it = resources.stateChunksAsync!(0)[Symbol.asyncIterator]()
      const first = await it.next()
      assert.equal(first.done, false)
      // Reads ahead are in flight now (or already done): neither may make release throw.
      resources.release()
      let error: unknown
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) {
          // Chunks read before the release may still come.
        }
      } catch (e) {
        error = e
      }
      assert.ok(error === undefined || isKeyedStateError(error, 'CLOSED'), String(error))
      await it.return?.()
    }
    // The DB is untouched and usable.
    const again = captureFullSnapshotResources(db, states, { start: 0, end: 63 })
    assert.ok((await collect(again.stateChunksAsync!(1))).length > 0)
    again.release()
  }),
)

test(
  'ending a pass early waits for its read in flight, so the iterator closes cleanly',
  withDb(async (db, states) => {
    const resources = captureFullSnapshotResources(db, states, { start: 0, end: 63 })
    const it = resources.stateChunksAsync!(0)[Symbol.asyncIterator]()
    await it.next()
    await it.return!()
    resources.release()
    // Nothing in flight any more: closing the DB right away is fine.
    const dir = mkdtempSync(join(tmpdir(), 'ks-ahead-'))
    const other = native.open(join(dir, 'db'), { columnFamilies: ['a'], disableWal: true })
    other.put(other.columnFamily('a'), compositeKey(0, Buffer.from('k'), new Uint8Array(0)), Buffer.from('v'))
    const own = captureFullSnapshotResources(other, [{ meta: meta('a'), columnFamily: 'a', cf: other.columnFamily('a') }], { start: 0, end: 63 })
    const pass = own.stateChunksAsync!(0)[Symbol.asyncIterator]()
    await pass.next()
    await pass.return!()
    own.release()
    other.close()
    rmSync(dir, { recursive: true, force: true })
  }),
)
