// The RocksDB compaction filter for TTL'd state, seen from outside: after a
// forced compaction, expired values and map entries are gone from the column
// family (and counted), list values hold only live elements, state without TTL
// is untouched, and bytes the filter cannot parse are kept.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { decodeListElements } from '../../src/encoding.js'
import { ChunkCursor } from '../../src/backends/rocksdb/packed-chunks.js'
import type { RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import { readTimestamp } from '../../src/ttl/value.js'
import { openIn, tempDir } from '../rocksdb/helpers.js'
import { TestClock } from '../suite/ttl.js'

const dirs: Array<{ remove: () => Promise<void> }> = []
after(() => Promise.all(dirs.map((d) => d.remove())))

async function open(): Promise<RocksDBKeyedStateBackend<string>> {
  const dir = await tempDir('ks-ttl-compaction-')
  dirs.push(dir)
  return openIn<string>(dir.path)
}

/** Every (key, value) of a state's column family, read raw. */
function rawEntries(b: RocksDBKeyedStateBackend<string>, state: string): Array<[Uint8Array, Uint8Array]> {
  const cf = b.db.columnFamily(`s:${state}`)
  assert.ok(cf >= 0, `column family of ${state}`)
  const out: Array<[Uint8Array, Uint8Array]> = []
  const it = b.db.iterator(cf)
  const cursor = new ChunkCursor(new Uint8Array(0))
  try {
    for (let chunk = it.nextChunk(1000, 1 << 20); chunk !== null; chunk = it.nextChunk(1000, 1 << 20)) {
      cursor.reset(chunk)
      while (cursor.next()) out.push([cursor.key().slice(), cursor.value().slice()])
    }
  } finally {
    it.close()
  }
  return out
}

function compact(b: RocksDBKeyedStateBackend<string>, state: string): void {
  b.db.flush()
  b.db.compactRange(b.db.columnFamily(`s:${state}`))
}

function estimatedKeys(b: RocksDBKeyedStateBackend<string>, state: string): number {
  return Number(b.db.getProperty(b.db.columnFamily(`s:${state}`), 'rocksdb.estimate-num-keys'))
}

const KEYS = Array.from({ length: 200 }, (_, i) => `key-${i}`)

test('a forced compaction drops expired values and map entries and rewrites lists; state without TTL is untouched', async () => {
  const b = await open()
  try {
    const clock = new TestClock(0)
    const ttl = { ttlMs: 100, clock }
    const value = b.getState(new ValueStateDescriptor('v', int32Serializer).enableTimeToLive(ttl))
    const list = b.getListState(new ListStateDescriptor('l', int32Serializer).enableTimeToLive(ttl))
    const map = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer).enableTimeToLive(ttl))
    const plain = b.getState(new ValueStateDescriptor('plain', int32Serializer))
    for (const [i, key] of KEYS.entries()) {
      b.setCurrentKey(key)
      clock.t = i < 150 ? 0 : 60 // 150 keys expire at 100, 50 at 160
      value.update(i)
      map.put('old', i)
      list.add(i)
      plain.update(i)
    }
    clock.t = 60
    for (const key of KEYS) {
      b.setCurrentKey(key)
      map.put('new', 1)
      list.add(-1) // a merge operand of its own until compaction
    }
    assert.equal(estimatedKeys(b, 'v'), KEYS.length)

    // The filter learns the time from accesses of the state itself.
    clock.t = 150
    b.setCurrentKey(KEYS[0]!)
    value.value()
    list.get()
    map.get('x')
    for (const s of ['v', 'l', 'm', 'plain']) compact(b, s)

    const values = rawEntries(b, 'v')
    assert.equal(values.length, 50)
    assert.equal(estimatedKeys(b, 'v'), 50)
    for (const [, v] of values) assert.equal(readTimestamp(v, 0), 60)

    const maps = rawEntries(b, 'm')
    assert.equal(maps.length, 50 + KEYS.length, "every 'new' entry and the late keys' 'old' entries")

    const lists = rawEntries(b, 'l')
    // Key 0 was read at 150, so its expired element was already removed by that read.
    assert.equal(lists.length, KEYS.length)
    let elements = 0
    for (const [, v] of lists) {
      for (const e of decodeListElements(v)) {
        assert.equal(readTimestamp(e, 0), 60, 'only elements written at 60 are left')
        elements++
      }
    }
    assert.equal(elements, KEYS.length + 50)

    assert.equal(rawEntries(b, 'plain').length, KEYS.length)
    // Counted in the filter for the metrics (key 0's expired value and element were removed by its read, not the filter).
    assert.deepEqual(Object.fromEntries(b.stats().states.map((s) => [s.state, s.ttlCleanedEntries])), { v: 149, l: 149, m: 150, plain: undefined })
    // What the states show did not change through compaction.
    b.setCurrentKey(KEYS[199]!)
    assert.equal(value.value(), 199)
    assert.deepEqual(list.get(), [199, -1])
    b.setCurrentKey(KEYS[5]!)
    assert.deepEqual(list.get(), [-1])
    assert.equal(value.value(), undefined)
  } finally {
    await b.close()
  }
})

test('the filter never drops what the state clock has not expired, and keeps bytes it cannot parse', async () => {
  const b = await open()
  try {
    const clock = new TestClock(1_000)
    const value = b.getState(new ValueStateDescriptor('v', int32Serializer).enableTimeToLive({ ttlMs: 100, clock }))
    const list = b.getListState(new ListStateDescriptor('l', int32Serializer).enableTimeToLive({ ttlMs: 100, clock }))
    b.setCurrentKey('k')
    value.update(1)
    list.add(1)
    // Malformed values written around the state: too short, bad list framing, short element.
    const cfV = b.db.columnFamily('s:v')
    const cfL = b.db.columnFamily('s:l')
    b.db.put(cfV, Uint8Array.of(0, 0, 9), Uint8Array.of(1, 2, 3))
    b.db.put(cfL, Uint8Array.of(0, 0, 9), Uint8Array.of(0, 0, 0, 50, 1))
    b.db.put(cfL, Uint8Array.of(0, 0, 10), Uint8Array.of(0, 0, 0, 2, 1, 2))
    clock.t = 1_099
    value.value()
    compact(b, 'v')
    compact(b, 'l')
    assert.equal(rawEntries(b, 'v').length, 2)
    assert.equal(rawEntries(b, 'l').length, 3)
    // A clock that goes back is passed on at once: nothing expires by a time the clock left.
    clock.t = 500
    value.value()
    clock.t = 2_000 // not told to the filter: no access since
    compact(b, 'v')
    assert.equal(rawEntries(b, 'v').length, 2)
    clock.t = 2_000
    list.get() // expires the element by reading it, and tells the list's filter
    value.update(2) // a fresh value at 2000; the malformed one stays
    compact(b, 'v')
    compact(b, 'l')
    assert.equal(rawEntries(b, 'v').length, 2)
    assert.equal(rawEntries(b, 'l').length, 2)
  } finally {
    await b.close()
  }
})

test('setColumnFamilyTtl, ttlCleanedEntries and tickers check their arguments and refuse a closed database', async () => {
  const b = await open()
  const { native, db } = b
  const cf = db.columnFamily('_meta')
  const code = (fn: () => void): string | undefined => {
    try {
      fn()
    } catch (e) {
      return (e as { code?: string }).code
    }
    return undefined
  }
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, { kind: 'set' as never, ttlMs: 1 })), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, { kind: 'value', ttlMs: 0 })), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, { kind: 'value', ttlMs: 1, nowMS: 5 } as never)), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.setColumnFamilyTtl(db, 9999, { kind: 'value', ttlMs: 1 })), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.setColumnFamilyTtl({} as never, cf, null)), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, { kind: 'list', ttlMs: 5, nowMs: -5 })), undefined)
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, null)), undefined)
  // The counter of a family whose TTL config was removed stays readable (a counter never goes back).
  assert.equal(native.ttlCleanedEntries(db, cf), 0)
  assert.equal(code(() => native.ttlCleanedEntries(db, 9999)), 'INVALID_ARGUMENT')
  assert.equal(code(() => native.ttlCleanedEntries({} as never, cf)), 'INVALID_ARGUMENT')
  assert.equal(db.tickers(), undefined, 'opened without statistics')
  await b.close()
  assert.equal(code(() => native.setColumnFamilyTtl(db, cf, null)), 'CLOSED')
  assert.equal(code(() => native.ttlCleanedEntries(db, cf)), 'CLOSED')
  assert.equal(code(() => db.tickers()), 'CLOSED')
})
