import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NativeError } from '../../../src/errors.js'
import { b, codeOf, native, openDb, s, scan } from './helpers.js'

test('rocksdbVersion names the linked library', () => {
  assert.match(native.rocksdbVersion, /^\d+\.\d+\.\d+$/)
})

test('put, get, delete and getInto on a column family', () => {
  const { db } = openDb({ columnFamilies: ['a'] })
  const cf = db.columnFamily('a')
  db.put(cf, b('k1'), b('v1'))
  assert.equal(s(db.get(cf, b('k1'))), 'v1')
  assert.equal(db.get(0, b('k1')), undefined, 'column families are separate')
  assert.equal(db.get(cf, b('nope')), undefined)

  const scratch = Buffer.alloc(8, 0xff)
  assert.equal(db.getInto(cf, b('k1'), scratch), 2)
  assert.equal(scratch.subarray(0, 2).toString(), 'v1')
  assert.equal(db.getInto(cf, b('nope'), scratch), -1)
  db.put(cf, b('big'), Buffer.alloc(20, 7))
  assert.equal(db.getInto(cf, b('big'), scratch), -(20 + 2), 'too small: -(length + 2)')
  assert.deepEqual(scratch, Buffer.from([0x76, 0x31, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'nothing copied')

  db.delete(cf, b('k1'))
  assert.equal(db.get(cf, b('k1')), undefined)
  db.delete(cf, b('never-existed'))
})

test('keys and values may be any Uint8Array view, empty included', () => {
  const { db } = openDb()
  const backing = new Uint8Array([9, 1, 2, 3, 9, 4, 5, 9])
  db.put(0, backing.subarray(1, 4), backing.subarray(5, 7))
  assert.deepEqual([...db.get(0, Uint8Array.of(1, 2, 3))!], [4, 5])
  db.put(0, new Uint8Array(0), new Uint8Array(0))
  assert.deepEqual(db.get(0, new Uint8Array(0)), Buffer.alloc(0))
  const scratch = new Uint8Array(4)
  assert.equal(db.getInto(0, new Uint8Array(0), scratch), 0)
})

test('merge concatenates the existing value and the operands in order', () => {
  const { db } = openDb({ columnFamilies: ['list'] })
  const cf = db.columnFamily('list')
  db.merge(cf, b('l'), b('a'))
  assert.equal(s(db.get(cf, b('l'))), 'a')
  db.merge(cf, b('l'), b('bc'))
  db.merge(cf, b('l'), b('d'))
  assert.equal(s(db.get(cf, b('l'))), 'abcd')
  db.put(cf, b('l'), b('X'))
  db.merge(cf, b('l'), b('y'))
  assert.equal(s(db.get(cf, b('l'))), 'Xy')
  // Across flushes and a full compaction (FullMergeV2 and PartialMerge paths).
  db.merge(cf, b('m'), b('1'))
  db.flush()
  db.merge(cf, b('m'), b('2'))
  db.merge(cf, b('m'), b('3'))
  db.flush()
  db.merge(cf, b('m'), b('4'))
  assert.equal(s(db.get(cf, b('m'))), '1234')
  db.compactRange(cf)
  assert.equal(s(db.get(cf, b('m'))), '1234')
  db.delete(cf, b('m'))
  db.merge(cf, b('m'), b('5'))
  db.compactRange(cf)
  assert.equal(s(db.get(cf, b('m'))), '5')
})

test('deleteRange removes [start, end) only', () => {
  const { db } = openDb()
  for (const k of ['a', 'b', 'c', 'd', 'e']) db.put(0, b(k), b(k))
  db.deleteRange(0, b('b'), b('d'))
  assert.deepEqual(scan(db, 0).map(([k]) => k), ['a', 'd', 'e'])
  db.flush()
  db.compactRange(0)
  assert.deepEqual(scan(db, 0).map(([k]) => k), ['a', 'd', 'e'])
  db.deleteRange(0, b('x'), b('x'))
  assert.deepEqual(scan(db, 0).map(([k]) => k), ['a', 'd', 'e'])
  // A reversed range is refused up front; RocksDB would fail it inside the
  // memtable and then refuse every later write.
  assert.equal(codeOf(() => db.deleteRange(0, b('e'), b('a'))), 'INVALID_ARGUMENT')
  const batch = db.batch()
  assert.equal(codeOf(() => batch.deleteRange(0, b('e'), b('a'))), 'INVALID_ARGUMENT')
  assert.equal(batch.count, 0)
  db.put(0, b('z'), b('z'))
  db.flush()
  assert.deepEqual(scan(db, 0).map(([k]) => k), ['a', 'd', 'e', 'z'])
})

test('batches apply atomically, count and clear', () => {
  const { db } = openDb({ columnFamilies: ['a', 'b'] })
  const a = db.columnFamily('a')
  const bcf = db.columnFamily('b')
  db.put(a, b('gone'), b('1'))
  db.put(a, b('r1'), b('1'))
  db.put(a, b('r2'), b('1'))
  const batch = db.batch()
  batch.put(a, b('k'), b('v'))
  batch.merge(bcf, b('l'), b('x'))
  batch.merge(bcf, b('l'), b('y'))
  batch.delete(a, b('gone'))
  batch.deleteRange(a, b('r1'), b('r3'))
  assert.equal(batch.count, 5)
  assert.equal(db.get(a, b('k')), undefined, 'nothing visible before write')
  db.write(batch)
  assert.equal(s(db.get(a, b('k'))), 'v')
  assert.equal(s(db.get(bcf, b('l'))), 'xy')
  assert.equal(db.get(a, b('gone')), undefined)
  assert.equal(db.get(a, b('r1')), undefined)
  assert.equal(db.get(a, b('r2')), undefined)
  batch.clear()
  assert.equal(batch.count, 0)
  db.write(batch)

  // A batch whose column family was dropped after it was built is refused
  // whole (RocksDB itself would apply part of it, then stop accepting writes).
  db.createColumnFamily('doomed')
  const doomed = db.columnFamily('doomed')
  const failing = db.batch()
  failing.put(a, b('partial'), b('1'))
  failing.put(doomed, b('x'), b('1'))
  db.dropColumnFamily('doomed')
  assert.equal(codeOf(() => db.write(failing)), 'INVALID_ARGUMENT')
  assert.equal(db.get(a, b('partial')), undefined, 'no partial write')
  db.put(a, b('after'), b('1'))
  assert.equal(s(db.get(a, b('after'))), '1', 'the DB still accepts writes')
})

test('a batch belongs to the database that made it', () => {
  const one = openDb().db
  const two = openDb().db
  const batch = one.batch()
  batch.put(0, b('k'), b('v'))
  assert.equal(codeOf(() => two.write(batch)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => one.write(one.snapshot() as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => one.write({} as never)), 'INVALID_ARGUMENT')
})

test('column families: create, list, look up, drop, and reopen with all of them', () => {
  const { db, path } = openDb({ columnFamilies: ['x'] })
  assert.equal(db.columnFamily('default'), 0)
  assert.equal(db.columnFamily('missing'), -1)
  const y = db.createColumnFamily('y')
  assert.ok(y > 0)
  assert.equal(db.columnFamily('y'), y)
  assert.deepEqual(db.listColumnFamilies().sort(), ['default', 'x', 'y'])
  assert.equal(codeOf(() => db.createColumnFamily('y')), 'INVALID_ARGUMENT')
  db.put(y, b('k'), b('v'))
  db.put(db.columnFamily('x'), b('k'), b('x'))
  db.dropColumnFamily('x')
  assert.equal(db.columnFamily('x'), -1)
  assert.equal(codeOf(() => db.dropColumnFamily('x')), 'NOT_FOUND')
  assert.equal(codeOf(() => db.dropColumnFamily('default')), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => db.get(1, b('k'))), 'INVALID_ARGUMENT', 'the dropped id is gone')
  db.close()

  // Families on disk open without being asked for, with stable ids.
  const again = native.open(path)
  try {
    assert.deepEqual(again.listColumnFamilies().sort(), ['default', 'y'])
    assert.equal(again.columnFamily('y'), y)
    assert.equal(s(again.get(y, b('k'))), 'v')
  } finally {
    again.close()
  }
})

test('writes survive close and reopen with the WAL disabled (close flushes)', () => {
  const { db, path } = openDb({ disableWal: true, columnFamilies: ['a'] })
  const a = db.columnFamily('a')
  for (let i = 0; i < 100; i++) db.put(a, b(`k${i}`), b(`v${i}`))
  db.merge(a, b('list'), b('12'))
  db.close()
  db.close()
  assert.equal(db.closed, true)
  const again = native.open(path, { createIfMissing: false })
  try {
    assert.equal(s(again.get(again.columnFamily('a'), b('k42'))), 'v42')
    assert.equal(s(again.get(again.columnFamily('a'), b('list'))), '12')
  } finally {
    again.close()
  }
})

test('open options: compression choices, misspelled and mistyped options', () => {
  for (const compression of ['none', 'snappy', 'lz4', 'zstd']) {
    const { db } = openDb({ compression })
    db.put(0, b('k'), Buffer.alloc(1000, 1))
    db.flush()
    assert.equal(db.get(0, b('k'))!.length, 1000)
    db.close()
  }
  const path = `${openDb().path}-other`
  assert.equal(codeOf(() => native.open(path, { compression: 'brotli' })), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(path, { createIfMising: true } as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(path, { disableWal: 'yes' } as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(path, { blockCacheBytes: -1 })), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(path, { columnFamilies: [1] } as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(path, { createIfMissing: false })), 'NOT_FOUND')
  assert.equal(codeOf(() => native.open('')), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => native.open(42 as never)), 'INVALID_ARGUMENT')
  const nested = native.open(`${path}/deeper/still`, { blockCacheBytes: 1 << 20, writeBufferBytes: 1 << 20 })
  nested.close()
})

test('a DB directory that is already open is refused', () => {
  const { path } = openDb()
  const code = codeOf(() => native.open(path))
  assert.ok(code === 'IO_ERROR' || code === 'BUSY', String(code))
})

test('flush, compactRange and properties', () => {
  const { db } = openDb({ columnFamilies: ['p'] })
  const p = db.columnFamily('p')
  for (let i = 0; i < 500; i++) db.put(p, b(`key-${String(i).padStart(4, '0')}`), Buffer.alloc(100, i))
  assert.ok(Number(db.getProperty(p, 'rocksdb.estimate-num-keys')) > 0)
  db.flush()
  const size = Number(db.getProperty(p, 'rocksdb.total-sst-files-size'))
  assert.ok(size > 0, `sst size ${size}`)
  assert.ok(Number(db.getProperty(p, 'rocksdb.live-sst-files-size')) > 0)
  assert.equal(db.getProperty(p, 'rocksdb.no-such-property'), undefined)
  db.deleteRange(p, b('key-0000'), b('key-0400'))
  db.compactRange(p, b('key-0000'), b('key-0500'))
  db.compactRange(p, undefined, b('key-0300'))
  db.compactRange(p)
  assert.ok(Number(db.getProperty(p, 'rocksdb.total-sst-files-size')) < size)
  assert.equal(db.get(p, b('key-0100')), undefined)
  assert.equal(db.get(p, b('key-0450'))!.length, 100)
})

test('wrong argument types throw INVALID_ARGUMENT NativeErrors and never crash', () => {
  const { db } = openDb()
  const bad: Array<[string, () => unknown]> = [
    ['cf string', () => db.put('0' as never, b('k'), b('v'))],
    ['cf fraction', () => db.get(0.5, b('k'))],
    ['cf negative', () => db.get(-1, b('k'))],
    ['cf unknown', () => db.get(12345, b('k'))],
    ['key string', () => db.put(0, 'k' as never, b('v'))],
    ['key missing', () => (db.get as (cf: number) => unknown)(0)],
    ['key Uint16Array', () => db.get(0, new Uint16Array(2) as never)],
    ['key DataView', () => db.get(0, new DataView(new ArrayBuffer(2)) as never)],
    ['value number', () => db.put(0, b('k'), 5 as never)],
    ['scratch missing', () => (db.getInto as (cf: number, k: Uint8Array) => number)(0, b('k'))],
    ['snapshot object', () => db.get(0, b('k'), {} as never)],
    ['iterator options', () => db.iterator(0, 'x' as never)],
    ['iterator option name', () => db.iterator(0, { gt: b('a') } as never)],
    ['iterator bound', () => db.iterator(0, { gte: 'a' } as never)],
    ['property name', () => db.getProperty(0, 5 as never)],
    ['cf name', () => db.columnFamily(undefined as never)],
    ['ingest files', () => db.ingest(0, 'file' as never)],
    ['ingest options', () => db.ingest(0, [], { copy: true } as never)],
    ['checkpoint dir', () => db.checkpoint(undefined as never)],
    ['sstWriter path', () => native.sstWriter(undefined as never)],
    ['sstWriter options', () => native.sstWriter('/tmp/x.sst', 'lz4' as never)],
    ['sstWriter option name', () => native.sstWriter('/tmp/x.sst', { codec: 'lz4' } as never)],
    ['sstWriter compression', () => native.sstWriter('/tmp/x.sst', { compression: 'gzip' as never })],
    ['compression sample', () => native.snappyCompressedLength('abc' as never)],
    ['compression sample size', () => native.snappyCompressedLength(new Uint8Array(2 << 20))],
    ['destroy path', () => native.destroy(null as never)],
  ]
  for (const [what, fn] of bad) {
    let error: unknown
    try {
      fn()
    } catch (e) {
      error = e
    }
    assert.ok(error instanceof NativeError, `${what}: ${String(error)}`)
    assert.equal(error.code, 'INVALID_ARGUMENT', what)
    assert.ok(error.message.length > 0)
  }
  // Methods called on the wrong object are refused by V8 before they run.
  assert.throws(() => db.put.call({}, 0, b('k'), b('v')), TypeError)
  const it = db.iterator(0)
  assert.throws(() => (db.get as (...args: unknown[]) => unknown).call(it, 0, b('k')), TypeError)
  it.close()
  // Objects made with `new` from JS are inert, not crashes.
  const Ctor = Object.getPrototypeOf(db).constructor as new () => typeof db
  const fake = new Ctor()
  assert.equal(fake.closed, true)
  assert.equal(codeOf(() => fake.put(0, b('k'), b('v'))), 'CLOSED')
  assert.equal(codeOf(() => db.write(new (Object.getPrototypeOf(db.batch()).constructor)())), 'INVALID_ARGUMENT')
})

test('RocksDB status errors keep the raw status in cause', () => {
  const { db } = openDb()
  try {
    db.createColumnFamily('default')
    assert.fail('expected an error')
  } catch (e) {
    assert.ok(e instanceof NativeError)
    assert.equal(e.code, 'INVALID_ARGUMENT')
    assert.match(e.message, /createColumnFamily 'default'/)
    const cause = e.cause as { code?: string; message?: string }
    assert.equal(cause.code, 'INVALID_ARGUMENT')
    assert.match(String(cause.message), /Invalid argument/)
  }
})

test('createColumnFamilies creates a batch in one call, and refuses a bad batch before creating any of it', () => {
  const { db, path } = openDb({ columnFamilies: ['x'] })
  assert.deepEqual(db.createColumnFamilies([]), [])
  const names = Array.from({ length: 50 }, (_, i) => `s:${i}`)
  const ids = db.createColumnFamilies(names)
  assert.equal(ids.length, names.length)
  assert.equal(new Set(ids).size, ids.length, 'distinct ids')
  names.forEach((name, i) => {
    assert.equal(db.columnFamily(name), ids[i], `${name} has the id returned in its place`)
    db.put(ids[i]!, b('k'), b(name))
  })
  for (const bad of [['new', 'new'], ['new', 'x'], ['new', ''], ['new', 's:3']]) {
    assert.equal(codeOf(() => db.createColumnFamilies(bad)), 'INVALID_ARGUMENT', JSON.stringify(bad))
    assert.equal(db.columnFamily('new'), -1, `nothing of ${JSON.stringify(bad)} was created`)
  }
  assert.equal(codeOf(() => db.createColumnFamilies('s:x' as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => db.createColumnFamilies([1] as never)), 'INVALID_ARGUMENT')
  db.close()

  const again = native.open(path)
  try {
    assert.deepEqual(again.listColumnFamilies().sort(), ['default', 'x', ...names].sort())
    for (const name of names) assert.equal(s(again.get(again.columnFamily(name), b('k'))), name)
  } finally {
    again.close()
  }
})

test('every method after close throws CLOSED; close is idempotent', () => {
  const { db } = openDb({ columnFamilies: ['a'] })
  const it = db.iterator(0)
  const snap = db.snapshot()
  const batch = db.batch()
  batch.put(0, b('k'), b('v'))
  db.close()
  assert.equal(db.closed, true)
  const calls: Array<[string, () => unknown]> = [
    ['columnFamily', () => db.columnFamily('a')],
    ['listColumnFamilies', () => db.listColumnFamilies()],
    ['createColumnFamily', () => db.createColumnFamily('z')],
    ['createColumnFamilies', () => db.createColumnFamilies(['z'])],
    ['dropColumnFamily', () => db.dropColumnFamily('a')],
    ['get', () => db.get(0, b('k'))],
    ['getInto', () => db.getInto(0, b('k'), Buffer.alloc(4))],
    ['put', () => db.put(0, b('k'), b('v'))],
    ['merge', () => db.merge(0, b('k'), b('v'))],
    ['delete', () => db.delete(0, b('k'))],
    ['deleteRange', () => db.deleteRange(0, b('a'), b('b'))],
    ['batch', () => db.batch()],
    ['write', () => db.write(batch)],
    ['snapshot', () => db.snapshot()],
    ['iterator', () => db.iterator(0)],
    ['flush', () => db.flush()],
    ['compactRange', () => db.compactRange(0)],
    ['getProperty', () => db.getProperty(0, 'rocksdb.estimate-num-keys')],
    ['checkpoint', () => db.checkpoint('/nonexistent/x')],
    ['liveFiles', () => db.liveFiles()],
    ['ingest', () => db.ingest(0, [])],
    ['iterator.seek', () => it.seek(b('a'))],
    ['iterator.nextChunk', () => it.nextChunk(1, 1)],
    ['batch.put', () => batch.put(0, b('k'), b('v'))],
    ['batch.merge', () => batch.merge(0, b('k'), b('v'))],
    ['batch.delete', () => batch.delete(0, b('k'))],
    ['batch.deleteRange', () => batch.deleteRange(0, b('a'), b('b'))],
    ['batch.clear', () => batch.clear()],
  ]
  for (const [what, fn] of calls) assert.equal(codeOf(fn), 'CLOSED', what)
  // Releasing what the close already released is not an error.
  it.close()
  snap.release()
  db.close()
  assert.equal(batch.count, 1)
})
