// nextChunkAsync: the same chunks as nextChunk, read on the thread pool. While
// one is in flight the iterator refuses every other use (BUSY); a DB close in
// the middle waits for the chunk being read; a worker thread that ends with a
// read in flight does not take the process down.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { KeyedStateError } from '../../../src/errors.js'
import { nativeAddonPath } from '../../../src/backends/rocksdb/native/binding.js'
import type { NativeDb } from '../../../src/backends/rocksdb/native/types.js'
import { b, codeOf, decodeChunk, native, openDb, tempDir } from './helpers.js'

function fill(count: number, valueBytes = 10): NativeDb {
  const { db } = openDb()
  const batch = db.batch()
  for (let i = 0; i < count; i++) batch.put(0, b(`k${String(i).padStart(6, '0')}`), Buffer.alloc(valueBytes, i % 251))
  db.write(batch)
  return db
}

test('nextChunkAsync reads what nextChunk reads, mixed freely with seeks and `until` bounds (model)', async () => {
  const limits = {
    entries: fc.integer({ min: 1, max: 9 }),
    bytes: fc.integer({ min: 1, max: 200 }),
    until: fc.option(fc.integer({ min: 0, max: 41 }), { nil: undefined }),
  }
  const opArb = fc.oneof(
    fc.record({ op: fc.constant('sync' as const), ...limits }),
    fc.record({ op: fc.constant('async' as const), ...limits }),
    fc.record({ op: fc.constant('seek' as const), to: fc.integer({ min: 0, max: 40 }) }),
  )
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }), fc.array(opArb, { maxLength: 25 }), async (keys, ops) => {
      const key = (k: number) => b(`k${String(k).padStart(2, '0')}`)
      const { db } = openDb()
      for (const k of keys) db.put(0, key(k), b(`v${k}`.repeat(k % 4)))
      const sorted = [...keys].sort((x, y) => x - y)
      const it = db.iterator(0)
      let next = 0 // index into `sorted` of the next entry the model expects
      try {
        for (const o of ops) {
          if (o.op === 'seek') {
            it.seek(key(o.to))
            next = sorted.findIndex((k) => k >= o.to)
            if (next < 0) next = sorted.length
            continue
          }
          const until = o.until === undefined ? undefined : key(o.until)
          const chunk = o.op === 'sync' ? it.nextChunk(o.entries, o.bytes, until) : await it.nextChunkAsync(o.entries, o.bytes, until)
          // The entries left before `until`; the iterator stays on the first one at or after it.
          const end = o.until === undefined ? sorted.length : sorted.filter((k) => k < o.until!).length
          if (next >= end) {
            assert.equal(chunk, null)
            continue
          }
          assert.ok(chunk instanceof Buffer)
          const got = decodeChunk(chunk)
          assert.ok(got.length >= 1 && got.length <= o.entries)
          for (const e of got) {
            assert.ok(next < end, 'no entry at or after until')
            const k = sorted[next++]!
            assert.deepEqual(e.key, key(k))
            assert.deepEqual(e.value, b(`v${k}`.repeat(k % 4)))
          }
          // Stopped by maxBytes (or the end, or until), never early: one more entry would not have fit.
          if (got.length < o.entries && next < end) {
            const nextBytes = 8 + 3 + b(`v${sorted[next]}`.repeat(sorted[next]! % 4)).length
            assert.ok(chunk.length + nextBytes > o.bytes)
          }
        }
      } finally {
        it.close()
        db.close()
      }
    }),
    { numRuns: 80 },
  )
})

test('while a read is in flight every other call on the iterator is BUSY; afterwards all work again', async () => {
  const db = fill(2000)
  const it = db.iterator(0)
  const pending = it.nextChunkAsync(100, 1 << 20)
  assert.equal(codeOf(() => it.nextChunk(1, 1)), 'BUSY')
  assert.equal(codeOf(() => it.seek(b('k'))), 'BUSY')
  assert.equal(codeOf(() => it.close()), 'BUSY')
  let second: unknown
  try {
    void it.nextChunkAsync(1, 1)
  } catch (e) {
    second = e
  }
  assert.ok(second instanceof KeyedStateError && second.code === 'BUSY', 'a second async read is refused synchronously')
  assert.match((second as Error).message, /in flight/)
  assert.equal(decodeChunk((await pending)!).length, 100)
  // Settled: the other calls go through, and the refused ones changed nothing.
  assert.deepEqual(decodeChunk(it.nextChunk(1, 1 << 20)!)[0]!.key, b('k000100'))
  it.seek(b('k001999'))
  assert.equal(decodeChunk((await it.nextChunkAsync(10, 1 << 20))!).length, 1)
  assert.equal(await it.nextChunkAsync(10, 1 << 20), null)
  it.close()
  it.close()
  assert.equal(codeOf(() => it.nextChunkAsync(1, 1)), 'CLOSED')
})

test('argument errors throw before anything is read; closed iterators and DBs throw CLOSED', async () => {
  const db = fill(10)
  const it = db.iterator(0)
  assert.equal(codeOf(() => it.nextChunkAsync(0, 10)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => it.nextChunkAsync(1, 0)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => it.nextChunkAsync('1' as never, 10)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => it.nextChunkAsync(1, 10, 'k5' as never)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => it.nextChunk(1, 10, 5 as never)), 'INVALID_ARGUMENT')
  assert.equal(decodeChunk((await it.nextChunkAsync(3, 1 << 20))!).length, 3, 'the refused calls did not move the iterator')
  const other = db.iterator(0)
  db.close()
  assert.equal(codeOf(() => other.nextChunkAsync(1, 10)), 'CLOSED')
  other.close()
})

test('a DB closed while a read is in flight: close waits for it, the read settles, nothing crashes', async () => {
  for (let round = 0; round < 20; round++) {
    const db = fill(3000, 100)
    const it = db.iterator(0)
    // Large reads so some rounds close while the thread pool is inside one.
    const pending = it.nextChunkAsync(100_000, 1 << 24)
    if (round % 2 === 1) await new Promise((resolve) => setImmediate(resolve))
    db.close()
    let result: Buffer | null | undefined
    let error: unknown
    try {
      result = await pending
    } catch (e) {
      error = e
    }
    if (error === undefined) assert.equal(decodeChunk(result!).length, 3000)
    else assert.ok(error instanceof KeyedStateError && error.code === 'CLOSED', `rejects with CLOSED, got ${String(error)}`)
    it.close()
    assert.equal(codeOf(() => it.nextChunkAsync(1, 1)), 'CLOSED')
  }
})

test('a dropped iterator with a read in flight still settles (the read holds it)', async () => {
  const db = fill(500)
  const pending = db.iterator(0).nextChunkAsync(1000, 1 << 20)
  ;(globalThis as { gc?: () => void }).gc?.()
  assert.equal(decodeChunk((await pending)!).length, 500)
})

test('a worker thread that ends or is terminated with a read in flight does not crash the process', async () => {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    const addon = require(workerData.addon)
    const db = addon.open(workerData.path, { disableWal: true })
    const batch = db.batch()
    for (let i = 0; i < 100000; i++) batch.put(0, Buffer.from('k' + i), Buffer.alloc(100, 7))
    db.write(batch)
    const it = db.iterator(0)
    it.nextChunkAsync(1e6, 2 ** 30).catch(() => {})
    globalThis.keep = it
    parentPort.postMessage('reading')
  `
  for (const terminate of [false, true]) {
    const path = join(tempDir(), 'db')
    await new Promise<number>((resolve, reject) => {
      const worker = new Worker(code, { eval: true, workerData: { addon: nativeAddonPath(), path } })
      worker.on('error', reject)
      worker.on('message', () => {
        if (terminate) void worker.terminate()
      })
      worker.on('exit', resolve)
    })
    // The worker's cleanup hook closed the DB (after the read it waited for): it opens again.
    native.open(path, { createIfMissing: false }).close()
  }
})
