import { test } from 'node:test'
import assert from 'node:assert/strict'
import { b, codeOf, decodeChunk, drain, openDb, s, scan } from './helpers.js'

function fill(keys: string[]): ReturnType<typeof openDb>['db'] {
  const { db } = openDb()
  for (const k of keys) db.put(0, b(k), b(`v-${k}`))
  return db
}

test('nextChunk packs (u32le keyLen | key | u32le valueLen | value) entries in key order', () => {
  const db = fill(['b', 'a', 'c'])
  const it = db.iterator(0)
  const chunk = it.nextChunk(100, 1 << 20)!
  assert.deepEqual(
    chunk,
    Buffer.concat([
      Buffer.from([1, 0, 0, 0]), b('a'), Buffer.from([3, 0, 0, 0]), b('v-a'),
      Buffer.from([1, 0, 0, 0]), b('b'), Buffer.from([3, 0, 0, 0]), b('v-b'),
      Buffer.from([1, 0, 0, 0]), b('c'), Buffer.from([3, 0, 0, 0]), b('v-c'),
    ]),
  )
  assert.equal(it.nextChunk(100, 1 << 20), null)
  assert.equal(it.nextChunk(100, 1 << 20), null, 'stays exhausted')
  it.close()
  it.close()
  assert.equal(codeOf(() => it.nextChunk(1, 1)), 'CLOSED')
})

test('chunks respect maxEntries and maxBytes but always hold at least one entry', () => {
  const keys = Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`)
  const db = fill(keys)
  const byCount = db.iterator(0)
  const sizes: number[] = []
  for (let c = byCount.nextChunk(7, 1 << 20); c !== null; c = byCount.nextChunk(7, 1 << 20)) sizes.push(decodeChunk(c).length)
  assert.deepEqual(sizes, [7, 7, 7, 7, 7, 7, 7, 1])
  // Each entry is 4 + 3 + 4 + 5 = 16 bytes.
  const byBytes = db.iterator(0)
  const first = byBytes.nextChunk(1000, 40)!
  assert.equal(first.length, 32)
  assert.equal(byBytes.nextChunk(1000, 1)!.length, 16, 'an entry larger than maxBytes still comes, alone')
  assert.deepEqual(drain(byBytes, 1000, 1 << 20).length, 47)
  assert.equal(codeOf(() => byBytes.nextChunk(0, 10)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => byBytes.nextChunk(1, 0)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => byBytes.nextChunk('1' as never, 10)), 'INVALID_ARGUMENT')
})

test('bounds: gte inclusive, lt exclusive, either alone, and seek within them', () => {
  const db = fill(['a', 'b', 'c', 'd', 'e', 'f'])
  const keys = (o: Parameters<typeof scan>[2]) => scan(db, 0, o).map(([k]) => k)
  assert.deepEqual(keys({ gte: b('b'), lt: b('e') }), ['b', 'c', 'd'])
  assert.deepEqual(keys({ gte: b('bb'), lt: b('d') }), ['c'])
  assert.deepEqual(keys({ gte: b('d') }), ['d', 'e', 'f'])
  assert.deepEqual(keys({ lt: b('c') }), ['a', 'b'])
  assert.deepEqual(keys({ gte: b('x') }), [])
  assert.deepEqual(keys({ gte: b('c'), lt: b('c') }), [])

  // The bound buffers may be reused by the caller right away.
  const lower = b('b')
  const upper = b('e')
  const it = db.iterator(0, { gte: lower, lt: upper })
  lower.fill(0)
  upper.fill(0xff)
  it.seek(b('c'))
  assert.deepEqual(drain(it).map((e) => e.key.toString()), ['c', 'd'])
  it.seek(b('a'))
  assert.deepEqual(drain(it).map((e) => e.key.toString()), ['b', 'c', 'd'], 'seek below gte lands on gte')
  it.seek(b('e'))
  assert.equal(it.nextChunk(10, 100), null, 'seek at lt is the end')
  it.seek(b('cc'))
  assert.equal(decodeChunk(it.nextChunk(1, 100)!)[0]!.key.toString(), 'd')
  it.close()
  assert.equal(codeOf(() => it.seek(b('a'))), 'CLOSED')
})

test('keysOnly gives empty values; merged values come out merged', () => {
  const { db } = openDb()
  db.put(0, b('a'), b('1'))
  db.merge(0, b('b'), b('x'))
  db.merge(0, b('b'), b('y'))
  assert.deepEqual(scan(db, 0), [['a', '1'], ['b', 'xy']])
  const it = db.iterator(0, { keysOnly: true })
  assert.deepEqual(drain(it).map((e) => [e.key.toString(), e.value.length]), [['a', 0], ['b', 0]])
})

test('iterators see the data as of their creation (implicit snapshot) and across flushes', () => {
  const { db } = openDb()
  for (let i = 0; i < 10; i++) db.put(0, b(`k${i}`), b(`${i}`))
  db.flush()
  const it = db.iterator(0)
  db.put(0, b('k5'), b('changed'))
  db.delete(0, b('k1'))
  db.put(0, b('k99'), b('new'))
  db.flush()
  db.compactRange(0)
  const seen = drain(it).map((e) => [e.key.toString(), e.value.toString()])
  assert.equal(seen.length, 10)
  assert.deepEqual(seen.find(([k]) => k === 'k5'), ['k5', '5'])
})

test('an iterator keeps working after its snapshot is released', () => {
  const { db } = openDb()
  db.put(0, b('a'), b('1'))
  const snap = db.snapshot()
  db.put(0, b('a'), b('2'))
  const it = db.iterator(0, { snapshot: snap })
  snap.release()
  db.put(0, b('a'), b('3'))
  db.flush()
  db.compactRange(0)
  assert.deepEqual(drain(it).map((e) => e.value.toString()), ['1'])
  assert.equal(s(db.get(0, b('a'))), '3')
})

test('iterators on dropped column families still finish their scan', () => {
  const { db } = openDb({ columnFamilies: ['t'] })
  const t = db.columnFamily('t')
  db.put(t, b('a'), b('1'))
  const it = db.iterator(t)
  db.dropColumnFamily('t')
  assert.deepEqual(drain(it).map((e) => e.key.toString()), ['a'])
  assert.equal(codeOf(() => db.iterator(t)), 'INVALID_ARGUMENT')
})

test('large values cross in chunks intact', () => {
  const { db } = openDb()
  const big = Buffer.alloc(3 << 20, 0xab)
  db.put(0, b('big'), big)
  db.put(0, b('small'), b('x'))
  const it = db.iterator(0)
  const first = decodeChunk(it.nextChunk(100, 1024)!)
  assert.equal(first.length, 1)
  assert.ok(first[0]!.value.equals(big))
  assert.deepEqual(decodeChunk(it.nextChunk(100, 1024)!).map((e) => e.key.toString()), ['small'])
})
