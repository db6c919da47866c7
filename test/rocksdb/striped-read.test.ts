// StripedReadAhead: several readers (each its own RocksDB iterator) read one
// state's key-group range in stripes on the thread pool; the consumer gets
// exactly the bytes one plain pass reads, in key order, whatever the
// distribution of entries over key groups, the number of readers, the chunk
// and stripe sizes and the consumer's pace. Readers never hold more chunks
// than allowed; ending early or a failing read leaves no read in flight.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { StripedReadAhead } from '../../src/backends/rocksdb/striped-read.js'
import { compositeKey, keyGroupPrefix } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { NativeIterator } from '../../src/backends/rocksdb/native/types.js'

const native = loadNative()
const KEY_GROUPS = 16

const scenarioArb = fc.record({
  // Entries per key group (many empty), values from empty to larger than a chunk.
  groups: fc.array(fc.record({ count: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })), valueBytes: fc.integer({ min: 0, max: 300 }) }), {
    minLength: KEY_GROUPS,
    maxLength: KEY_GROUPS,
  }),
  range: fc.tuple(fc.integer({ min: 0, max: KEY_GROUPS - 1 }), fc.integer({ min: 0, max: KEY_GROUPS - 1 })).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
  readers: fc.integer({ min: 1, max: 3 }),
  chunksPerReader: fc.integer({ min: 1, max: 3 }),
  chunkBytes: fc.integer({ min: 16, max: 2048 }),
  stripeBytes: fc.integer({ min: 16, max: 8192 }),
  // The consumer's pace: a turn of the event loop (or several) before some takes.
  pauses: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 40 }),
  stopAfter: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  failAtRead: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
})

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

async function run(scenario: Scenario): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-striped-'))
  const db = native.open(join(dir, 'db'), { columnFamilies: ['s'], disableWal: true })
  const iterators: NativeIterator[] = []
  try {
    const cf = db.columnFamily('s')
    scenario.groups.forEach((g, kg) => {
      for (let i = 0; i < g.count; i++) db.put(cf, compositeKey(kg, Buffer.from(`k${i}`), new Uint8Array(0)), Buffer.alloc(g.valueBytes + (i % 3), kg + i))
    })
    const { range } = scenario
    const bounds = { gte: keyGroupPrefix(range.start), lt: keyGroupPrefix(range.end + 1) }
    const plain = db.iterator(cf, bounds)
    const parts: Buffer[] = []
    for (let c = plain.nextChunk(1000, 1 << 20); c !== null; c = plain.nextChunk(1000, 1 << 20)) parts.push(c)
    plain.close()
    const expected = Buffer.concat(parts)

    for (let r = 0; r < scenario.readers; r++) iterators.push(db.iterator(cf, bounds))
    const bound = scenario.readers * scenario.chunksPerReader
    let calls = 0
    // Reads issued whose chunk the consumer has not received (in flight included). A take starts
    // the next read before next() resolves, so the chunk being handed over counts here as one more.
    let held = 0
    let inFlight = 0
    const reader = new StripedReadAhead(range, scenario, (r, fromKeyGroup, untilKeyGroup) => {
      assert.ok(untilKeyGroup > (fromKeyGroup ?? range.start) && untilKeyGroup <= range.end + 1)
      // A real failure: the iterator closed under the reader (as a released snapshot does).
      if (calls++ === scenario.failAtRead) iterators[r]!.close()
      const it = iterators[r]!
      if (fromKeyGroup !== undefined) it.seek(keyGroupPrefix(fromKeyGroup))
      const read = it.nextChunkAsync(1000, scenario.chunkBytes, keyGroupPrefix(untilKeyGroup))
      held++
      inFlight++
      assert.ok(held <= bound + 1, `readers hold ${held - 1} chunks besides the one handed over, at most ${bound} allowed`)
      return read.then(
        (chunk) => {
          inFlight--
          if (chunk === null) held--
          return chunk
        },
        (e: unknown) => {
          inFlight--
          held--
          throw e
        },
      )
    })

    const got: Buffer[] = []
    let failure: unknown
    try {
      for (let i = 0; ; i++) {
        if (i === scenario.stopAfter) break
        await turns(scenario.pauses[i] ?? 0)
        const next = await reader.next()
        if (next.done) break
        held--
        got.push(Buffer.from(next.value))
      }
    } catch (e) {
      failure = e
    }
    await reader.return()
    assert.equal(inFlight, 0, 'no read in flight once return() resolved')
    const bytes = Buffer.concat(got)
    if (failure !== undefined) {
      assert.ok(isKeyedStateError(failure, 'CLOSED'), String(failure))
      assert.ok(expected.subarray(0, bytes.length).equals(bytes), 'what came before the failure is a prefix')
    } else if (scenario.stopAfter !== undefined && got.length === scenario.stopAfter) {
      assert.ok(expected.subarray(0, bytes.length).equals(bytes), 'what came before the stop is a prefix')
    } else {
      assert.ok(bytes.equals(expected), `got ${bytes.length} bytes, expected ${expected.length}`)
    }
  } finally {
    for (const it of iterators) it.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

test('striped readers hand over exactly one pass of the range, in key order, holding a bounded number of chunks', async () => {
  await fc.assert(fc.asyncProperty(scenarioArb, run), { numRuns: 120 })
})

test('a stripe wider than what is left is shared out among the readers; every key group is read once', async () => {
  await run({
    groups: Array.from({ length: KEY_GROUPS }, () => ({ count: 30, valueBytes: 100 })),
    range: { start: 0, end: KEY_GROUPS - 1 },
    readers: 3,
    chunksPerReader: 2,
    chunkBytes: 1024,
    stripeBytes: 1 << 20,
    pauses: [],
    stopAfter: undefined,
    failAtRead: undefined,
  })
})
