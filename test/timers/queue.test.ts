// Timer queues against a sorted model: the entry encoding's order, then the
// partitioned queue over heap queues, write-through heap queues and cached
// store queues (with tiny caches, so refills and evictions happen all the time).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compareInKeyGroup, compareTimers, decodeTimer, encodeTimer, type TimerEntry } from '../../src/timers/entry.js'
import { CachedKeyGroupQueue, HeapKeyGroupQueue, PartitionedTimerQueue, type KeyGroupTimerQueue, type TimerStore } from '../../src/timers/queue.js'

const RUNS = process.env.SOAK === '1' ? 1000 : 100
const safeInt = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })
const bytes = fc.uint8Array({ maxLength: 6 })

test('entry bytes sort like (timestamp, key, namespace) inside a key group and decode back', () => {
  const entry = fc.tuple(safeInt, bytes, bytes).map(([ts, k, ns]) => encodeTimer(3, ts, k, ns))
  fc.assert(
    fc.property(entry, entry, (a, b) => {
      assert.equal(Math.sign(Buffer.compare(a.bytes, b.bytes)), Math.sign(compareInKeyGroup(a, b)))
      if (a.timestamp !== b.timestamp) assert.equal(Math.sign(Buffer.compare(a.bytes, b.bytes)), Math.sign(a.timestamp - b.timestamp))
      const back = decodeTimer(a.bytes, 'test')
      assert.deepEqual([back.keyGroup, back.timestamp, [...back.keyBytes], [...back.namespaceBytes], back.id], [3, a.timestamp, [...a.keyBytes], [...a.namespaceBytes], a.id])
    }),
    { numRuns: RUNS * 5 },
  )
})

test('decoding refuses entries that are not exactly one timer', () => {
  const good = encodeTimer(1, 5, Uint8Array.of(1, 2), Uint8Array.of(3)).bytes
  for (const bad of [good.subarray(0, 5), Uint8Array.of(...good, 0), good.subarray(0, good.length - 1)]) {
    assert.throws(() => decodeTimer(bad, 'timer state x'), (e: Error & { code?: string }) => e.code === 'CORRUPTION' && e.message.includes('timer state x'))
  }
})

/** A sorted in-memory store with the scan semantics of the RocksDB one. */
class MemoryStore implements TimerStore {
  readonly entries = new Map<string, Uint8Array>()
  scans = 0
  put(k: Uint8Array): void {
    this.entries.set(Buffer.from(k).toString('latin1'), k)
  }
  delete(k: Uint8Array): void {
    this.entries.delete(Buffer.from(k).toString('latin1'))
  }
  scan(keyGroup: number, from: Uint8Array | undefined, limit: number): Uint8Array[] {
    this.scans++
    return [...this.entries.values()]
      .filter((k) => ((k[0]! << 8) | k[1]!) === keyGroup && (from === undefined || Buffer.compare(k, from) >= 0))
      .sort(Buffer.compare)
      .slice(0, limit)
  }
}

type Op = { op: 'add'; kg: number; ts: number; key: number } | { op: 'remove'; kg: number; ts: number; key: number } | { op: 'poll' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), kg: fc.integer({ min: 2, max: 5 }), ts: fc.integer({ min: -5, max: 30 }), key: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), kg: fc.integer({ min: 2, max: 5 }), ts: fc.integer({ min: -5, max: 30 }), key: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'poll' as const }) },
)

function entryOf(o: { kg: number; ts: number; key: number }): TimerEntry {
  return encodeTimer(o.kg, o.ts, Uint8Array.of(o.key), new Uint8Array(0))
}

type Variant = 'heap' | 'heap-write-through' | 'cached'

function run(variant: Variant, capacity: number, ops: readonly Op[], preloaded: readonly Op[]): void {
  const range = { start: 2, end: 5 }
  const store = new MemoryStore()
  const model = new Map<string, TimerEntry>()
  // Timers already stored before the queue exists (a restored or reopened store).
  for (const o of preloaded) {
    if (o.op !== 'add') continue
    const e = entryOf(o)
    store.put(e.bytes)
    model.set(e.id, e)
  }
  const queues: KeyGroupTimerQueue[] = []
  for (let kg = range.start; kg <= range.end; kg++) {
    if (variant === 'cached') {
      const known = [...store.entries.values()].some((k) => ((k[0]! << 8) | k[1]!) === kg)
      queues.push(new CachedKeyGroupQueue(kg, store, capacity, 'test', !known))
    } else {
      const q = new HeapKeyGroupQueue(variant === 'heap' ? undefined : store)
      for (const k of store.scan(kg, undefined, Infinity)) q.insert(decodeTimer(k, 'test'))
      queues.push(q)
    }
  }
  const queue = new PartitionedTimerQueue(range, queues)
  const sortedModel = (): TimerEntry[] => [...model.values()].sort(compareTimers)
  for (const o of ops) {
    switch (o.op) {
      case 'add': {
        const e = entryOf(o)
        queue.add(e)
        if (!model.has(e.id)) model.set(e.id, e)
        break
      }
      case 'remove': {
        const e = entryOf(o)
        queue.remove(e)
        model.delete(e.id)
        break
      }
      case 'poll': {
        const expected = sortedModel()[0]
        const got = queue.poll()
        assert.equal(got?.id, expected?.id)
        if (expected) model.delete(expected.id)
        break
      }
    }
    assert.equal(queue.peek()?.id, sortedModel()[0]?.id)
    if (variant !== 'heap') assert.deepEqual([...store.entries.keys()].sort(), [...model.keys()].sort(), 'the store holds exactly the pending timers')
  }
  // Drain: everything comes out in order.
  const drained: string[] = []
  for (let e = queue.poll(); e !== undefined; e = queue.poll()) drained.push(e.id)
  assert.deepEqual(drained, sortedModel().map((e) => e.id))
}

for (const variant of ['heap', 'heap-write-through', 'cached'] as const) {
  test(`partitioned ${variant} queue behaves like a sorted set`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(opArb, { maxLength: 80 }), fc.array(opArb, { maxLength: 30 }), (capacity, ops, preloaded) => {
        run(variant, capacity, ops, preloaded)
      }),
      { numRuns: RUNS },
    )
  })
}

test('a cached queue scans its store only when its cache runs dry', () => {
  const store = new MemoryStore()
  const q = new CachedKeyGroupQueue(0, store, 8, 'test', true)
  for (let ts = 0; ts < 100; ts++) q.add(encodeTimer(0, ts, Uint8Array.of(1), new Uint8Array(0)))
  assert.equal(store.scans, 0)
  const fired: number[] = []
  for (let e = q.peek(); e !== undefined; e = q.peek()) {
    fired.push(e.timestamp)
    q.remove(e)
  }
  assert.deepEqual(fired, Array.from({ length: 100 }, (_, i) => i))
  // 100 timers through a cache of 8: one scan per 8 fired, plus the final empty one.
  assert.ok(store.scans <= 14, `${store.scans} scans`)
})
