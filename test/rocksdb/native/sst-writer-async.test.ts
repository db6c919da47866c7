// The sst writer's thread-pool calls (putChunksAsync, finishAsync, abort): the
// same file as the synchronous calls, every other call refused while one is in
// flight, nothing accepted after finish, bad chunks refused at their offset.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { b, codeOf, encodeChunk, native, openDb, rejectionCode, scan, tempDir } from './helpers.js'

/** A key with the u16be key-group prefix the restore writes. */
function kgKey(keyGroup: number, rest: string): Buffer {
  return Buffer.concat([Buffer.from([keyGroup >> 8, keyGroup & 0xff]), b(rest)])
}

test('putChunksAsync + finishAsync write the file the synchronous calls write, for any split into chunks and batches', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 40 }),
      fc.array(fc.nat(5), { maxLength: 8 }),
      async (keys, cuts) => {
        const entries = [...keys].sort((x, y) => Buffer.compare(b(x), b(y))).map((k): [Buffer, Buffer] => [b(k), b(`v:${k}`)])
        const dir = tempDir()
        const sync = native.sstWriter(join(dir, 'sync.sst'))
        sync.putChunk(encodeChunk(entries))
        sync.finish()
        // Chunks of the cut sizes, handed over in two batches.
        const chunks: Buffer[] = []
        let at = 0
        for (const n of [...cuts, entries.length]) {
          if (at >= entries.length) break
          chunks.push(encodeChunk(entries.slice(at, at + n)))
          at += n
        }
        const async = native.sstWriter(join(dir, 'async.sst'))
        const half = chunks.length >> 1
        await async.putChunksAsync(chunks.slice(0, half))
        await async.putChunksAsync(chunks.slice(half))
        assert.equal(async.entries, entries.length)
        const size = await async.finishAsync()
        assert.equal(size, statSync(join(dir, 'async.sst')).size)
        const { db } = openDb({ columnFamilies: ['s', 'a'] })
        db.ingest(db.columnFamily('s'), [join(dir, 'sync.sst')])
        db.ingest(db.columnFamily('a'), [join(dir, 'async.sst')])
        assert.deepEqual(scan(db, db.columnFamily('a')), scan(db, db.columnFamily('s')))
        db.close()
      },
    ),
    { numRuns: 25 },
  )
})

test('while an async call is in flight every other call is refused with BUSY; after finish with CLOSED', async () => {
  const dir = tempDir()
  const writer = native.sstWriter(join(dir, 'busy.sst'))
  const chunk = encodeChunk(Array.from({ length: 2000 }, (_, i): [Buffer, Buffer] => [b(`k${String(i).padStart(6, '0')}`), b('x'.repeat(100))]))
  const put = writer.putChunksAsync([chunk])
  assert.equal(codeOf(() => writer.put(b('z'), b('1'))), 'BUSY')
  assert.equal(codeOf(() => writer.putChunk(encodeChunk([[b('z'), b('1')]]))), 'BUSY')
  assert.equal(codeOf(() => writer.finish()), 'BUSY')
  assert.equal(codeOf(() => writer.abort()), 'BUSY')
  assert.equal(codeOf(() => void writer.putChunksAsync([])), 'BUSY')
  assert.equal(codeOf(() => void writer.finishAsync()), 'BUSY')
  await put
  assert.ok((await writer.finishAsync()) > 0)
  assert.equal(codeOf(() => void writer.putChunksAsync([chunk])), 'CLOSED')
  assert.equal(codeOf(() => void writer.finishAsync()), 'CLOSED')
  assert.equal(codeOf(() => writer.put(b('z'), b('1'))), 'CLOSED')
  writer.abort()
  assert.ok(existsSync(join(dir, 'busy.sst')), 'abort after finish leaves the finished file')
})

test('putChunksAsync refuses bad arguments before starting, and truncated chunks, keys out of order or key groups out of bounds when it runs', async () => {
  const dir = tempDir()
  const writer = native.sstWriter(join(dir, 'args.sst'))
  for (const bad of [undefined, 'x', [1], [new Uint8Array(1), 'x']]) {
    assert.equal(codeOf(() => void writer.putChunksAsync(bad as never)), 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
  assert.equal(codeOf(() => void writer.putChunksAsync([], 5, 4)), 'INVALID_ARGUMENT', 'min > max')
  assert.equal(codeOf(() => void writer.putChunksAsync([], -1, 4)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => void writer.putChunksAsync([], 0, 65536)), 'INVALID_ARGUMENT')
  assert.equal(writer.entries, 0, 'nothing was started')

  const good = encodeChunk([[kgKey(3, 'a'), b('1')], [kgKey(3, 'b'), b('22')]])
  const truncated = native.sstWriter(join(dir, 'truncated.sst'))
  const later = encodeChunk([[kgKey(3, 'c'), b('3')], [kgKey(3, 'd'), b('44')]])
  await assert.rejects(truncated.putChunksAsync([good, later.subarray(0, later.length - 1)]), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INVALID_ARGUMENT')
    // The offset counts across the batch: the second chunk's second entry.
    assert.match(e.message, new RegExp(`offset ${good.length + 12}\\b`))
    return true
  })

  const outOfRange = native.sstWriter(join(dir, 'range.sst'))
  const foreign = encodeChunk([[kgKey(3, 'a'), b('1')], [kgKey(9, 'a'), b('2')]])
  await assert.rejects(outOfRange.putChunksAsync([foreign], 0, 7), /key group 9, outside 0\.\.7/)
  const noPrefix = native.sstWriter(join(dir, 'prefix.sst'))
  await assert.rejects(noPrefix.putChunksAsync([encodeChunk([[b('x'), b('1')]])], 0, 7), /key-group prefix/)

  const unordered = native.sstWriter(join(dir, 'order.sst'))
  assert.equal(await rejectionCode(unordered.putChunksAsync([good, good])), 'INVALID_ARGUMENT', 'keys must ascend across chunks')
  for (const w of [truncated, outOfRange, noPrefix, unordered]) {
    w.abort()
    w.abort()
    assert.equal(codeOf(() => w.put(b('z'), b('1'))), 'CLOSED', 'aborted writers refuse use')
  }
})

test('an async writer given no entries creates no file and finishes with 0', async () => {
  const file = join(tempDir(), 'empty.sst')
  const writer = native.sstWriter(file)
  await writer.putChunksAsync([Buffer.alloc(0)])
  assert.equal(await writer.finishAsync(), 0)
  assert.equal(existsSync(file), false)
})
