import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { b, codeOf, decodeChunk, encodeChunk, native, openDb, s, scan, tempDir } from './helpers.js'

test('checkpoint: a hard-linked directory that opens as a DB with the same data', () => {
  const { db } = openDb({ columnFamilies: ['a', 'b'], disableWal: true })
  const a = db.columnFamily('a')
  for (let i = 0; i < 200; i++) db.put(a, b(`k${i}`), b(`v${i}`))
  db.flush()
  db.put(a, b('memtable-only'), b('yes'))
  db.merge(db.columnFamily('b'), b('l'), b('xy'))
  const dir = join(tempDir(), 'cp')
  db.checkpoint(dir)
  db.put(a, b('after-checkpoint'), b('no'))
  assert.ok(existsSync(join(dir, 'CURRENT')))
  assert.equal(codeOf(() => db.checkpoint(dir)), 'INVALID_ARGUMENT', 'the directory must not exist')
  assert.ok(codeOf(() => db.checkpoint(join(tempDir(), 'missing-parent', 'cp'))) !== undefined)

  const copy = native.open(dir, { createIfMissing: false })
  try {
    const ca = copy.columnFamily('a')
    assert.deepEqual(copy.listColumnFamilies().sort(), ['a', 'b', 'default'])
    assert.equal(s(copy.get(ca, b('k150'))), 'v150')
    assert.equal(s(copy.get(ca, b('memtable-only'))), 'yes', 'memtables were flushed first')
    assert.equal(s(copy.get(copy.columnFamily('b'), b('l'))), 'xy')
    assert.equal(copy.get(ca, b('after-checkpoint')), undefined)
  } finally {
    copy.close()
  }
})

test('liveFiles lists SST files with names relative to the DB directory', () => {
  const { db, path } = openDb({ columnFamilies: ['a'] })
  const a = db.columnFamily('a')
  assert.deepEqual(db.liveFiles(), [])
  db.put(a, b('apple'), b('1'))
  db.put(a, b('zebra'), b('2'))
  db.put(0, b('m'), b('3'))
  db.flush()
  const files = db.liveFiles()
  assert.equal(files.length, 2)
  const onA = files.find((f) => f.columnFamily === 'a')!
  assert.match(onA.name, /^\d+\.sst$/)
  assert.equal(onA.sizeBytes, statSync(join(path, onA.name)).size)
  assert.equal(onA.level >= 0, true)
  assert.equal(onA.smallestKey.toString(), 'apple')
  assert.equal(onA.largestKey.toString(), 'zebra')
  assert.ok(files.some((f) => f.columnFamily === 'default'))
})

test('sstWriter + ingest: put, putChunk from an iterator chunk, entries, finish size', () => {
  const source = openDb().db
  for (let i = 0; i < 100; i++) source.put(0, b(`k${String(i).padStart(3, '0')}`), b(`v${i}`))
  const dir = tempDir()
  const file = join(dir, 'bulk.sst')
  const writer = native.sstWriter(file)
  const it = source.iterator(0, { lt: b('k050') })
  for (let c = it.nextChunk(16, 1 << 16); c !== null; c = it.nextChunk(16, 1 << 16)) writer.putChunk(c)
  it.close()
  writer.put(b('k050'), b('by put'))
  writer.putChunk(encodeChunk([[b('k051'), b('x')], [b('k052'), new Uint8Array(0)]]))
  assert.equal(writer.entries, 53)
  assert.equal(codeOf(() => writer.put(b('a-too-early'), b('x'))), 'INVALID_ARGUMENT', 'keys must ascend')
  assert.equal(codeOf(() => writer.put(b('k052'), b('dup'))), 'INVALID_ARGUMENT', 'strictly')
  const size = writer.finish()
  assert.equal(size, statSync(file).size)
  assert.equal(codeOf(() => writer.put(b('z'), b('z'))), 'CLOSED')
  assert.equal(codeOf(() => writer.finish()), 'CLOSED')

  const { db } = openDb({ columnFamilies: ['target'] })
  const t = db.columnFamily('target')
  db.put(t, b('k000'), b('overwritten by ingest'))
  db.ingest(t, [file])
  assert.equal(existsSync(file), true, 'copied, not moved')
  const rows = scan(db, t)
  assert.equal(rows.length, 53)
  assert.deepEqual(rows[0], ['k000', 'v0'])
  assert.deepEqual(rows[50], ['k050', 'by put'])
  assert.deepEqual(rows[52], ['k052', ''])
  // Merges still apply on top of ingested values.
  db.merge(t, b('k001'), b('+'))
  assert.equal(s(db.get(t, b('k001'))), 'v1+')

  const moved = join(dir, 'moved.sst')
  const w2 = native.sstWriter(moved)
  w2.put(b('m1'), b('1'))
  w2.finish()
  db.ingest(t, [moved], { move: true })
  assert.equal(s(db.get(t, b('m1'))), '1')
  assert.ok(codeOf(() => db.ingest(t, [join(dir, 'no-such.sst')])) !== undefined)
  db.ingest(t, [])
})

test('ingestAll: several column families in one call, all or nothing', () => {
  const dir = tempDir()
  const sst = (name: string, entries: Array<[string, string]>): string => {
    const path = join(dir, name)
    const writer = native.sstWriter(path)
    for (const [k, v] of entries) writer.put(b(k), b(v))
    writer.finish()
    return path
  }
  const { db } = openDb({ columnFamilies: ['x', 'y', 'z'] })
  const [x, y, z] = ['x', 'y', 'z'].map((name) => db.columnFamily(name)) as [number, number, number]
  db.ingestAll(
    [
      { cf: x, files: [sst('x1.sst', [['a', '1'], ['b', '2']]), sst('x2.sst', [['c', '3']])] },
      { cf: y, files: [sst('y.sst', [['a', 'y']])] },
      { cf: z, files: [] },
    ],
    { move: true },
  )
  assert.deepEqual(scan(db, x), [['a', '1'], ['b', '2'], ['c', '3']])
  assert.deepEqual(scan(db, y), [['a', 'y']])
  assert.deepEqual(scan(db, z), [])
  assert.equal(existsSync(join(dir, 'y.sst')), false, 'moved')

  const kept = sst('kept.sst', [['k', 'v']])
  assert.equal(codeOf(() => db.ingestAll([{ cf: x, files: [kept] }, { cf: x, files: [kept] }])), 'INVALID_ARGUMENT', 'one family twice')
  assert.ok(codeOf(() => db.ingestAll([{ cf: y, files: [kept] }, { cf: z, files: [join(dir, 'no-such.sst')] }])) !== undefined)
  assert.equal(db.get(y, b('k')), undefined, 'a failed call ingests nothing')
  for (const bad of [undefined, {}, [{ cf: x }], [{ cf: -1, files: [kept] }], [{ cf: x, files: [kept], extra: 1 }]]) {
    assert.equal(codeOf(() => db.ingestAll(bad as never)), 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
  db.ingestAll([])
  db.close()
  assert.equal(codeOf(() => db.ingestAll([])), 'CLOSED')
})

test('an sst writer with no entries creates no file and finishes with 0', () => {
  const file = join(tempDir(), 'empty.sst')
  const writer = native.sstWriter(file)
  assert.equal(writer.entries, 0)
  writer.putChunk(Buffer.alloc(0))
  assert.equal(writer.finish(), 0)
  assert.equal(existsSync(file), false)
})

test('putChunk refuses truncated chunks, naming the offset', () => {
  const writer = native.sstWriter(join(tempDir(), 'bad.sst'))
  const good = encodeChunk([[b('a'), b('1')], [b('b'), b('22')]])
  for (const cut of [good.length - 1, 11, 3]) {
    const w = native.sstWriter(join(tempDir(), `cut-${cut}.sst`))
    try {
      w.putChunk(good.subarray(0, cut))
      assert.fail('expected an error')
    } catch (e) {
      assert.equal((e as { code?: string }).code, 'INVALID_ARGUMENT')
      assert.match((e as Error).message, /offset (0|10)/)
    }
  }
  assert.equal(codeOf(() => writer.putChunk('x' as never)), 'INVALID_ARGUMENT')
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff])
  assert.equal(codeOf(() => writer.putChunk(huge)), 'INVALID_ARGUMENT')
  assert.deepEqual(decodeChunk(good).map((e) => e.value.toString()), ['1', '22'])
})

test('destroy removes a closed DB; an open one is refused', () => {
  const { db, path } = openDb()
  db.put(0, b('k'), b('v'))
  assert.ok(codeOf(() => native.destroy(path)) !== undefined, 'locked while open')
  db.close()
  native.destroy(path)
  assert.equal(existsSync(join(path, 'CURRENT')), false)
  const fresh = native.open(path)
  assert.equal(fresh.get(0, b('k')), undefined)
  fresh.close()
  native.destroy(join(tempDir(), 'never-was-a-db'))
})

test('a corrupt CURRENT file fails to open with CORRUPTION or IO_ERROR', () => {
  const { db, path } = openDb()
  db.put(0, b('k'), b('v'))
  db.close()
  writeFileSync(join(path, 'CURRENT'), 'garbage-that-names-no-manifest\n')
  const code = codeOf(() => native.open(path))
  assert.ok(code === 'CORRUPTION' || code === 'IO_ERROR' || code === 'NOT_FOUND', String(code))

  const other = join(tempDir(), 'db2')
  const db2 = native.open(other)
  db2.put(0, b('k'), b('v'))
  db2.close()
  writeFileSync(join(other, 'CURRENT'), Buffer.from([0, 1, 2, 3]))
  const code2 = codeOf(() => native.open(other))
  assert.ok(code2 === 'CORRUPTION' || code2 === 'IO_ERROR', String(code2))

  // A manifest overwritten with garbage.
  const third = join(tempDir(), 'db3')
  const db3 = native.open(third)
  db3.put(0, b('k'), b('v'))
  db3.close()
  const manifest = readdirSync(third).find((f) => f.startsWith('MANIFEST-'))!
  writeFileSync(join(third, manifest), Buffer.alloc(4096, 0x5a))
  assert.equal(codeOf(() => native.open(third)), 'CORRUPTION')

  // A file where the directory should be.
  const blocked = join(tempDir(), 'file-not-dir')
  writeFileSync(blocked, 'x')
  assert.ok(codeOf(() => native.open(join(blocked, 'db'))) !== undefined)
})
