// A TTL'd state refuses the values its serializer cannot write, on the heap as
// on RocksDB: RocksDB serializes every write, the heap checks the user's value
// inside the stored TtlValue without serializing it (it used to check nothing
// behind TTL, so the bad value only failed the next snapshot).
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import {
  AggregatingStateDescriptor,
  int32Serializer,
  int64Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type Serializer,
} from '../../src/index.js'
import { factoryAvailable, heapFactory, rocksdbFactory } from '../suite/factories.js'
import { expectCodeSync, withBackend } from '../suite/helpers.js'
import type { BackendFactory } from '../suite/factory.js'

const TTL = { ttlMs: 60_000 }

/** A value each serializer accepts, and values it refuses. */
const CASES: ReadonlyArray<{ serializer: Serializer<any>; good: unknown; bad: unknown[] }> = [
  { serializer: stringSerializer, good: 'ok', bad: [42, 1n, true, { a: 1 }, null] },
  { serializer: int32Serializer, good: 7, bad: ['7', 1.5, 2 ** 31, 1n] },
  { serializer: int64Serializer, good: 7n, bad: [7, '7', 2n ** 63n] },
]

function refusals(factory: BackendFactory): void {
  describe(`[${factory.name}] TTL'd writes are checked like plain ones`, () => {
    for (const { serializer, good, bad } of CASES) {
      test(`${serializer.id}: value, list, map, reducing and aggregating state refuse ${bad.length} bad values and keep what they had`, () =>
        withBackend(factory, (b: KeyedStateBackend<string>) => {
          const value = b.getState(new ValueStateDescriptor('v', serializer).enableTimeToLive(TTL))
          const list = b.getListState(new ListStateDescriptor('l', serializer).enableTimeToLive(TTL))
          const map = b.getMapState(new MapStateDescriptor('m', stringSerializer, serializer).enableTimeToLive(TTL))
          const reducing = b.getReducingState(new ReducingStateDescriptor('r', (_a: unknown, x: unknown) => x, serializer).enableTimeToLive(TTL))
          const aggregating = b.getAggregatingState(
            new AggregatingStateDescriptor(
              'a',
              { createAccumulator: () => good, add: (x: unknown) => x, getResult: (acc: unknown) => acc },
              serializer,
            ).enableTimeToLive(TTL),
          )
          b.setCurrentKey('k')
          value.update(good)
          list.add(good)
          map.put('u', good)
          reducing.add(good)
          aggregating.add(good)
          for (const v of bad) {
            const what = `${typeof v} ${String(v)}`
            expectCodeSync(() => value.update(v), 'INVALID_ARGUMENT')
            expectCodeSync(() => list.add(v), 'INVALID_ARGUMENT')
            expectCodeSync(() => list.addAll([good, v]), 'INVALID_ARGUMENT')
            expectCodeSync(() => list.update([v]), 'INVALID_ARGUMENT')
            expectCodeSync(() => map.put('u', v), 'INVALID_ARGUMENT')
            expectCodeSync(() => map.put('w', v), 'INVALID_ARGUMENT')
            expectCodeSync(() => reducing.add(v), 'INVALID_ARGUMENT')
            expectCodeSync(() => aggregating.add(v), 'INVALID_ARGUMENT')
            assert.deepEqual(value.value(), good, what)
            assert.deepEqual(list.get(), [good], what)
            assert.deepEqual([...map.entries()], [['u', good]], what)
            assert.deepEqual(reducing.get(), good, what)
            assert.deepEqual(aggregating.get(), good, what)
          }
        }))
    }
  })
}

const heap = heapFactory()
const rocksdb = rocksdbFactory()
refusals(heap)
const rocksdbAvailable = await factoryAvailable(rocksdb)
if (rocksdbAvailable.ok) refusals(rocksdb)
else test('TTL write checks on RocksDB', { skip: rocksdbAvailable.reason }, () => {})
after(() => Promise.all([heap.cleanup(), rocksdb.cleanup()]))
