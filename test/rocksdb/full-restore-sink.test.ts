// The RocksDB restore sink on its own (src/backends/rocksdb/full-restore.ts),
// fed the way a reader with lanes feeds it: interleaved lanes, key groups
// given out of order within a lane, strays outside the target range, and a
// chunk the writer refuses (nothing of it is ingested, no file is left).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IngestingRestoreSink, type RestoreTarget } from '../../src/backends/rocksdb/full-restore.js'
import { isKeyedStateError } from '../../src/errors.js'
import { b, drain, encodeChunk, native, openDb, scan, tempDir } from './native/helpers.js'

function key(keyGroup: number, rest: string): Buffer {
  return Buffer.concat([Buffer.from([keyGroup >> 8, keyGroup & 0xff]), b(rest)])
}

function targetOf(range: { start: number; end: number }): { target: RestoreTarget; cf: (name: string) => number; stagingDir: string; dbPath: string } {
  const { db, path: dbPath } = openDb({ columnFamilies: ['a', 'b'] })
  const stagingDir = join(tempDir(), 'staging')
  const target: RestoreTarget = {
    native,
    db,
    keyGroupRange: range,
    stagingDir,
    registerRestoredStates: () => {},
    columnFamilyHandle: (name) => db.columnFamily(name),
  }
  return { target, cf: (name) => db.columnFamily(name), stagingDir, dbPath }
}

test('interleaved lanes, out-of-order key groups and strays: every entry of the range is ingested once, in order', async () => {
  const { target, cf, stagingDir } = targetOf({ start: 0, end: 9 })
  const sink = new IngestingRestoreSink(target)
  const chunk = (kg: number, ...names: string[]) => encodeChunk(names.map((n): [Buffer, Buffer] => [key(kg, n), b(`${kg}:${n}`)]))
  await sink.restoreChunk('a', 1, chunk(1, 'x', 'y'), 0)
  await sink.restoreChunk('a', 6, chunk(6, 'x'), 1)
  await sink.restoreChunk('b', 2, chunk(2, 'z'), 0)
  await sink.restoreChunk('a', 7, chunk(7, 'x'), 1)
  // Lane 0 goes back to key group 0: what state 'a' has so far is ingested first.
  await sink.restoreChunk('a', 0, chunk(0, 'w'), 0)
  await sink.restoreChunk('a', 12, chunk(12, 'stray'), 0)
  await sink.restoreChunk('a', 3, new Uint8Array(0), 0)
  await sink.flushRestore()
  await sink.discard()
  assert.deepEqual(
    scan(target.db, cf('a')).map(([, v]) => v),
    ['0:w', '1:x', '1:y', '6:x', '7:x'],
  )
  assert.deepEqual(scan(target.db, cf('b')).map(([, v]) => v), ['2:z'])
  assert.equal(sink.entries, 6)
  assert.equal(existsSync(stagingDir), false)
})

test('a chunk the writer refuses fails the restore with CORRUPTION naming the state; discard leaves no file', async () => {
  const { target, cf, stagingDir } = targetOf({ start: 0, end: 3 })
  const sink = new IngestingRestoreSink(target)
  const big = encodeChunk(Array.from({ length: 3000 }, (_, i): [Buffer, Buffer] => [key(1, `k${String(i).padStart(5, '0')}`), b('v'.repeat(400))]))
  await sink.restoreChunk('a', 1, big, 0)
  // Same key group, keys not after the last one: the writer refuses them on the thread pool.
  await sink.restoreChunk('a', 1, encodeChunk([[key(1, 'a-too-early'), b('x')]]), 0)
  await assert.rejects(sink.flushRestore(), (e) => {
    assert.ok(isKeyedStateError(e, 'CORRUPTION'), String(e))
    assert.equal(e.state, 'a')
    assert.match(e.message, /ascending order/)
    return true
  })
  await sink.discard()
  assert.deepEqual(scan(target.db, cf('a')), [], 'nothing ingested')
  assert.equal(existsSync(stagingDir), false, 'staged files removed')
})

/**
 * Whether each SST file of the DB was built without compression: such a file's
 * properties block is stored raw and names NoCompression; a compressed file's
 * is compressed too (so the name is not in its plain bytes).
 */
function builtUncompressed(dbPath: string): boolean[] {
  return readdirSync(dbPath)
    .filter((f) => f.endsWith('.sst'))
    .map((f) => readFileSync(join(dbPath, f)).includes('NoCompression', 0, 'latin1'))
}

test('files of state that does not compress are built uncompressed, files of state that does (or of too few bytes to tell) keep the DB\'s compression; all read back', async () => {
  for (const [kind, value, count] of [
    ['incompressible', (i: number) => randomBytes(200 + (i % 7)), 5000],
    ['compressible', (i: number) => b(`{"user":"user-${i}","events":[${'"click",'.repeat(20)}"view"]}`), 5000],
    // Too few bytes to judge by: the DB's compression.
    ['small', (i: number) => randomBytes(200 + i), 3],
  ] as const) {
    const { target, cf, dbPath } = targetOf({ start: 0, end: 3 })
    const sink = new IngestingRestoreSink(target)
    const entries = Array.from({ length: count }, (_, i): [Buffer, Buffer] => [key(2, `k${String(i).padStart(5, '0')}`), Buffer.from(value(i))])
    await sink.restoreChunk('a', 2, encodeChunk(entries), 0)
    await sink.flushRestore()
    await sink.discard()
    assert.deepEqual(builtUncompressed(dbPath), [kind === 'incompressible'], kind)
    const rawBytes = entries.reduce((sum, [k, v]) => sum + k.length + v.length, 0)
    const sstBytes = Number(target.db.getProperty(cf('a'), 'rocksdb.total-sst-files-size'))
    if (kind === 'compressible') assert.ok(sstBytes < rawBytes / 2, `compressed: ${sstBytes} bytes of SST for ${rawBytes} bytes of entries`)
    if (kind === 'incompressible') assert.ok(sstBytes >= rawBytes, `${sstBytes} bytes of SST for ${rawBytes} bytes of random entries`)
    const it = target.db.iterator(cf('a'))
    const read = drain(it)
    it.close()
    assert.equal(read.length, entries.length, kind)
    for (const [i, e] of read.entries()) assert.ok(e.key.equals(entries[i]![0]) && e.value.equals(entries[i]![1]), `${kind} entry ${i}`)
  }
})
