// Use after close, and the consistency of full-snapshot resources taken in the
// synchronous part while processing continues.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkCursor } from '../../src/backends/rocksdb/packed-chunks.js'
import { parseCompositeKey } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { bytesSerializer, int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { FullSnapshotResources } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { openIn, tempDir } from './helpers.js'

const isClosed = (e: unknown) => isKeyedStateError(e, 'CLOSED')

test('after close every call throws CLOSED, and close is idempotent', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path)
    const valueD = new ValueStateDescriptor('v', int32Serializer)
    const mapD = new MapStateDescriptor('m', stringSerializer, int32Serializer)
    b.setCurrentKey('k')
    const value = b.getState(valueD)
    const list = b.getListState(new ListStateDescriptor('l', int32Serializer))
    const map = b.getMapState(mapD)
    value.update(1)
    map.put('a', 1)
    map.put('b', 2)
    const entries = map.entries()
    entries.next()
    const closing = b.close()
    assert.equal(b.closed, true)
    // While closing too: nothing reaches the database.
    assert.throws(() => value.value(), isClosed)
    await closing
    await b.close()
    assert.throws(() => value.value(), isClosed)
    assert.throws(() => value.update(2), isClosed)
    assert.throws(() => value.clear(), isClosed)
    assert.throws(() => list.add(1), isClosed)
    assert.throws(() => list.get(), isClosed)
    assert.throws(() => map.get('a'), isClosed)
    assert.throws(() => map.put('a', 2), isClosed)
    assert.throws(() => map.isEmpty(), isClosed)
    assert.throws(() => map.keys(), isClosed)
    assert.throws(() => entries.next(), isClosed)
    assert.throws(() => b.setCurrentKey('k'), isClosed)
    assert.throws(() => b.getState(valueD), isClosed)
    assert.throws(() => b.keys('v'), isClosed)
    assert.throws(() => b.stateNames(), isClosed)
    assert.throws(() => b.captureFullSnapshotResources(), isClosed)
    assert.throws(
      () => b.snapshot(1, { type: 'checkpoint', storage: new FileSystemCheckpointStorage(dir.path) }),
      isClosed,
    )
  } finally {
    await dir.remove()
  }
})

function readAll(resources: FullSnapshotResources, stateIndex: number): Map<string, string> {
  const out = new Map<string, string>()
  const cursor = new ChunkCursor(new Uint8Array(0))
  for (let kg = resources.keyGroupRange.start; kg <= resources.keyGroupRange.end; kg++) {
    for (const chunk of resources.keyGroupChunks(stateIndex, kg)) {
      cursor.reset(chunk)
      while (cursor.next()) {
        assert.equal(parseCompositeKey(cursor.key()).keyGroup, kg)
        out.set(Buffer.from(cursor.key()).toString('hex'), Buffer.from(cursor.value()).toString('hex'))
      }
    }
  }
  return out
}

test('full-snapshot resources see the state at the barrier, not later writes', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path, { maxParallelism: 16 })
    const v = new ValueStateDescriptor('v', int32Serializer)
    const m = new MapStateDescriptor('m', stringSerializer, int32Serializer)
    for (let i = 0; i < 500; i++) {
      b.setCurrentKey(`k${i}`)
      b.getState(v).update(i)
      b.getMapState(m).put('x', i)
    }
    const emptyDir = await tempDir()
    const empty = await openIn(emptyDir.path)
    empty.setCurrentKey('k')
    empty.getState(v).update(1)
    empty.getState(v).clear()
    const none = empty.captureFullSnapshotResources()
    assert.equal(none.metaInfos.length, 1)
    assert.equal(none.isEmpty(), true)
    none.release()
    await empty.close()
    await emptyDir.remove()

    const before = b.captureFullSnapshotResources()
    assert.deepEqual(before.metaInfos.map((x) => x.name), ['v', 'm'])
    assert.equal(before.isEmpty(), false)
    const expectedV = readAll(before, 0)
    assert.equal(expectedV.size, 500)

    // After the barrier: overwrite, delete, add keys and a new state.
    for (let i = 0; i < 500; i++) {
      b.setCurrentKey(`k${i}`)
      if (i % 3 === 0) b.getState(v).clear()
      else b.getState(v).update(-i)
      b.getMapState(m).put('y', i)
    }
    b.setCurrentKey('new')
    b.getState(v).update(1)
    b.getState(new ValueStateDescriptor('later', int32Serializer)).update(1)

    assert.deepEqual(readAll(before, 0), expectedV)
    assert.equal(readAll(before, 1).size, 500)
    assert.equal(before.metaInfos.length, 2)

    const after = b.captureFullSnapshotResources()
    assert.equal(readAll(after, 0).size, 500 - 167 + 1)
    assert.equal(readAll(after, 1).size, 1000)
    after.release()

    // An iteration in progress ends with a clear error once the resources are released.
    const chunks = before.keyGroupChunks(0, 0)[Symbol.iterator]()
    before.release()
    before.release()
    assert.throws(() => chunks.next(), isClosed)
    assert.throws(() => before.keyGroupChunks(0, 1), isClosed)
    await b.close()
  } finally {
    await dir.remove()
  }
})

test('state objects follow the current key when the caller reuses one mutable key buffer', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn<Uint8Array>(dir.path, { keySerializer: bytesSerializer })
    const v = new ValueStateDescriptor('v', int32Serializer)
    const m = new MapStateDescriptor('m', stringSerializer, int32Serializer)
    const key = Uint8Array.of(1)
    b.setCurrentKey(key)
    const value = b.getState(v)
    const map = b.getMapState(m)
    value.update(1)
    map.put('x', 1)
    key[0] = 2 // bytesSerializer hands back this very array: same identity, different key
    b.setCurrentKey(key)
    assert.equal(value.value(), undefined)
    assert.equal(map.get('x'), undefined)
    value.update(2)
    key[0] = 1
    b.setCurrentKey(key)
    assert.equal(value.value(), 1)
    assert.equal(map.get('x'), 1)
    assert.deepEqual([...b.keys('v')].map((k) => [...k]).sort(), [[1], [2]])
    await b.close()
  } finally {
    await dir.remove()
  }
})
