// How the heap backend identifies keys: the key itself for built-in primitive
// serializers, otherwise the serialized bytes. Either way two keys are the same
// exactly when their bytes are (as in RocksDB), and the snapshot holds one
// entry per distinct key.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HeapKeyedStateBackend } from '../../src/backends/heap/backend.js'
import { isKeyedStateError } from '../../src/errors.js'
import {
  float64Serializer,
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type Serializer,
} from '../../src/index.js'
import { rawEntries } from './dump.js'

async function entriesFor<K>(keySerializer: Serializer<K>, keys: K[]): Promise<{ keys: K[]; entryCount: number; values: (number | undefined)[] }> {
  const b = new HeapKeyedStateBackend<K>({ kind: 'heap', keySerializer })
  try {
    const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
    keys.forEach((k, i) => {
      b.setCurrentKey(k)
      v.update(i)
    })
    const values = keys.map((k) => {
      b.setCurrentKey(k)
      return v.value()
    })
    const snapshot = b.captureSnapshotResources()
    const entryCount = rawEntries(snapshot).length
    snapshot.release()
    return { keys: [...b.keys('v')], entryCount, values }
  } finally {
    await b.close()
  }
}

test('float64 keys: -0 and 0 are different keys (different bytes)', async () => {
  const r = await entriesFor(float64Serializer, [0, -0, 1.5])
  assert.equal(r.entryCount, 3)
  assert.deepEqual(r.values, [0, 1, 2])
  assert.ok(r.keys.some((k) => Object.is(k, -0)))
})

test('int32 and json keys: -0 is the same key as 0 (same bytes)', async () => {
  assert.equal((await entriesFor(int32Serializer, [0, -0])).entryCount, 1)
  assert.equal((await entriesFor(jsonSerializer, [0, -0])).entryCount, 1)
})

test('json keys: a string and an object with the same text are different keys', async () => {
  const r = await entriesFor<unknown>(jsonSerializer, ['{"a":1}', { a: 1 }, 1, '1', true, null])
  assert.equal(r.entryCount, 6)
  assert.deepEqual(r.values, [0, 1, 2, 3, 4, 5])
})

test('json object keys with equal bytes are the same key', async () => {
  const r = await entriesFor<unknown>(jsonSerializer, [{ a: 1, b: [2] }, { a: 1, b: [2] }])
  assert.equal(r.entryCount, 1)
  assert.deepEqual(r.values, [1, 1])
})

test('int64 keys are used directly and round-trip', async () => {
  const keys = [0n, -1n, (1n << 63n) - 1n]
  const r = await entriesFor(int64Serializer, keys)
  assert.equal(r.entryCount, 3)
  assert.deepEqual(r.keys.sort(), [...keys].sort())
})

test('keys the serializer refuses are refused on the heap too', async () => {
  const b = new HeapKeyedStateBackend<number>({ kind: 'heap', keySerializer: int32Serializer })
  try {
    assert.throws(() => b.setCurrentKey(2 ** 40), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
    b.setCurrentKey(1)
    const m = b.getMapState(new MapStateDescriptor<number, number>('m', int32Serializer, int32Serializer))
    assert.throws(() => m.put(1.5, 1), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
    assert.equal(m.isEmpty(), true)
  } finally {
    await b.close()
  }
})

test('map user keys follow the same rules', async () => {
  const b = new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer })
  try {
    const m = b.getMapState(new MapStateDescriptor<unknown, number>('m', jsonSerializer, int32Serializer))
    b.setCurrentKey('k')
    m.put('{"a":1}', 1)
    m.put({ a: 1 }, 2)
    m.put({ a: 1 }, 3)
    m.put(-0, 4)
    m.put(0, 5)
    assert.deepEqual([...m.entries()], [['{"a":1}', 1], [{ a: 1 }, 3], [0, 5]])
    const snapshot = b.captureSnapshotResources()
    assert.equal(rawEntries(snapshot).length, 3)
    snapshot.release()
  } finally {
    await b.close()
  }
})
