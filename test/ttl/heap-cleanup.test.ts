// Incremental TTL cleanup on the heap backend: accesses of a TTL'd state walk
// its entries a few at a time and drop what expired (and count it for the
// metrics), without touching what a snapshot in flight captured.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HeapKeyedStateBackend } from '../../src/backends/heap/backend.js'
import { forEachPacked } from '../../src/snapshot/format/packed.js'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import { TestClock } from '../suite/ttl.js'

const KEYS = Array.from({ length: 100 }, (_, i) => `key-${i}`)

function heap(): HeapKeyedStateBackend<string> {
  return new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 32 })
}

function entriesIn(b: HeapKeyedStateBackend<string>, resources = b.captureSnapshotResources()): number[] {
  try {
    return resources.metaInfos.map((_, s) => {
      let n = 0
      for (let kg = 0; kg < b.maxParallelism; kg++) {
        for (const chunk of resources.keyGroupChunks(s, kg)) forEachPacked(chunk, () => n++, 'test')
      }
      return n
    })
  } finally {
    resources.release()
  }
}

test('accessing a TTL state removes expired entries of other keys a few at a time', async () => {
  const b = heap()
  try {
    const clock = new TestClock(0)
    const ttl = { ttlMs: 100, clock }
    const value = b.getState(new ValueStateDescriptor('v', int32Serializer).enableTimeToLive(ttl))
    const list = b.getListState(new ListStateDescriptor('l', int32Serializer).enableTimeToLive(ttl))
    const map = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer).enableTimeToLive(ttl))
    for (const key of KEYS) {
      b.setCurrentKey(key)
      value.update(1)
      list.add(1)
      map.put('old', 1)
    }
    clock.t = 60
    for (const key of KEYS.slice(0, 10)) {
      b.setCurrentKey(key)
      list.add(2)
      map.put('new', 2)
    }
    assert.deepEqual(entriesIn(b), [100, 100, 110])
    const pinned = b.captureSnapshotResources()

    clock.t = 150
    b.setCurrentKey('reader')
    // One access checks a handful of entries: nothing like all of them.
    value.value()
    assert.ok([...b.keys('v')].length > 90)
    for (let i = 0; i < 200; i++) {
      value.value()
      list.get()
      map.get('x')
    }
    assert.deepEqual([...b.keys('v')], [])
    assert.deepEqual([...b.keys('l')].sort(), KEYS.slice(0, 10).sort())
    assert.deepEqual([...b.keys('m')].sort(), KEYS.slice(0, 10).sort())
    assert.deepEqual(entriesIn(b), [0, 10, 10])
    // Counted for the metrics: every value, every old list element and map entry, by the cleanup (not by reads).
    assert.deepEqual(Object.fromEntries(b.stats().states.map((s) => [s.state, s.ttlCleanedEntries])), { v: 100, l: 100, m: 100 })
    // The live parts are intact.
    for (const key of KEYS.slice(0, 10)) {
      b.setCurrentKey(key)
      assert.deepEqual(list.get(), [2])
      assert.deepEqual([...map.entries()], [['new', 2]])
    }
    // What the snapshot pinned before the cleanup is unchanged.
    assert.deepEqual(entriesIn(b, pinned), [100, 100, 110])
  } finally {
    await b.close()
  }
})

test('states without TTL are never cleaned, and a TTL state is cleaned by its own accesses only', async () => {
  const b = heap()
  try {
    const clock = new TestClock(0)
    const plain = b.getState(new ValueStateDescriptor('plain', int32Serializer))
    const a = b.getState(new ValueStateDescriptor('a', int32Serializer).enableTimeToLive({ ttlMs: 10, clock }))
    const other = b.getState(new ValueStateDescriptor('b', int32Serializer).enableTimeToLive({ ttlMs: 10, clock }))
    for (const key of KEYS) {
      b.setCurrentKey(key)
      plain.update(1)
      a.update(1)
      other.update(1)
    }
    clock.t = 1000
    b.setCurrentKey('reader')
    for (let i = 0; i < 300; i++) a.value()
    assert.equal([...b.keys('a')].length, 0)
    assert.equal([...b.keys('b')].length, KEYS.length)
    assert.equal([...b.keys('plain')].length, KEYS.length)
  } finally {
    await b.close()
  }
})
