// The heap's incremental TTL cleanup skips its walk while a lower bound of all
// timestamps in the state says nothing can have expired. The bound must never
// be above a timestamp still stored: entries must be cleaned once they expire,
// never before, restored entries included (their timestamps were never seen).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HeapKeyedStateBackend } from '../../src/backends/heap/backend.js'
import { ListStateDescriptor, MapStateDescriptor, stringSerializer, ValueStateDescriptor, int32Serializer } from '../../src/index.js'
import type { TtlClock } from '../../src/state/ttl.js'

const KEYS = Array.from({ length: 200 }, (_, i) => `key-${i}`)
const TTL_MS = 100

class Clock implements TtlClock {
  constructor(public t: number) {}
  now(): number {
    return this.t
  }
}

function heap(): HeapKeyedStateBackend<string> {
  return new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 16 })
}

function descriptors(clock: TtlClock) {
  const ttl = { ttlMs: TTL_MS, clock }
  return {
    value: new ValueStateDescriptor('v', int32Serializer).enableTimeToLive(ttl),
    list: new ListStateDescriptor('l', int32Serializer).enableTimeToLive(ttl),
    map: new MapStateDescriptor('m', stringSerializer, int32Serializer).enableTimeToLive(ttl),
  }
}

/** The three TTL'd states of `b`, bound with `clock`. */
function states(b: HeapKeyedStateBackend<string>, clock: TtlClock) {
  const d = descriptors(clock)
  return { value: b.getState(d.value), list: b.getListState(d.list), map: b.getMapState(d.map) }
}

/** Many accesses of every state under one key that holds nothing. */
function accessMany(b: HeapKeyedStateBackend<string>, clock: TtlClock): void {
  const { value, list, map } = states(b, clock)
  b.setCurrentKey('reader')
  for (let i = 0; i < 1000; i++) {
    value.value()
    list.get()
    map.get('x')
  }
}

function counts(b: HeapKeyedStateBackend<string>): number[] {
  return ['v', 'l', 'm'].map((name) => [...b.keys(name)].length)
}

test('entries rewritten later are kept until their new timestamp expires, then cleaned by accesses', () => {
  const b = heap()
  const clock = new Clock(0)
  const { value, list, map } = states(b, clock)
  const writeAll = () => {
    for (const key of KEYS) {
      b.setCurrentKey(key)
      value.update(1)
      list.update([1])
      map.put('k', 1)
    }
  }
  writeAll()
  clock.t = 50
  writeAll()
  // Walks (timestamps 0 were possible) and learns that the oldest is 50.
  clock.t = 100
  accessMany(b, clock)
  assert.deepEqual(counts(b), [200, 200, 200])
  clock.t = 149
  accessMany(b, clock)
  assert.deepEqual(counts(b), [200, 200, 200])
  clock.t = 150
  accessMany(b, clock)
  assert.deepEqual(counts(b), [0, 0, 0])
})

test('a clock going backwards lowers the bound: what it writes still expires on time', () => {
  const b = heap()
  const clock = new Clock(1000)
  const { value } = states(b, clock)
  b.setCurrentKey('early')
  value.update(1)
  clock.t = 10
  b.setCurrentKey('late')
  value.update(2)
  clock.t = 110
  accessMany(b, clock)
  assert.deepEqual([...b.keys('v')], ['early'])
})

test('restored entries are cleaned by accesses although every access is recent', () => {
  const source = heap()
  const { value, list, map } = states(source, new Clock(0))
  for (const key of KEYS) {
    source.setCurrentKey(key)
    value.update(1)
    list.add(1)
    map.put('k', 1)
  }
  const resources = source.captureSnapshotResources()
  const target = heap()
  const sink = target.restoreSink()
  sink.restoreMetaInfos(resources.metaInfos)
  resources.metaInfos.forEach((meta, s) => {
    for (let kg = 0; kg < source.maxParallelism; kg++) for (const chunk of resources.keyGroupChunks(s, kg)) sink.restoreChunk(meta.name, kg, chunk)
  })
  resources.release()

  const clock = new Clock(10_000)
  accessMany(target, clock)
  assert.deepEqual(counts(target), [0, 0, 0])
})
