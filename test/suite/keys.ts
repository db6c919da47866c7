// keys(stateName, namespace?): the keys that hold state, across key groups.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  int32Serializer,
  jsonSerializer,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { sorted, withBackend } from './helpers.js'

export function keysTests(factory: BackendFactory): void {
  describe(`[${factory.name}] keys()`, () => {
    test('lists every key with state, each once, and drops cleared keys', () =>
      withBackend(factory, (b) => {
        const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
        const expected: string[] = []
        for (let i = 0; i < 200; i++) {
          b.setCurrentKey(`key-${i}`)
          v.update(i)
          expected.push(`key-${i}`)
        }
        assert.deepEqual(sorted(b.keys('v')), sorted(expected))
        for (let i = 0; i < 200; i += 2) {
          b.setCurrentKey(`key-${i}`)
          v.clear()
        }
        assert.deepEqual(sorted(b.keys('v')), sorted(expected.filter((_, i) => i % 2 === 1)))
      }))

    test('a registered state without entries has no keys', () =>
      withBackend(factory, (b) => {
        b.getState(new ValueStateDescriptor('empty', int32Serializer))
        assert.deepEqual([...b.keys('empty')], [])
        assert.deepEqual(sorted(b.stateNames()), ['empty'])
      }))

    test('list and map states: keys with a non-empty list or map', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('l', int32Serializer))
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        b.setCurrentKey('with-list')
        l.add(1)
        b.setCurrentKey('with-map')
        m.put('a', 1)
        m.put('b', 2)
        b.setCurrentKey('emptied')
        l.add(1)
        l.update([])
        m.put('a', 1)
        m.remove('a')
        assert.deepEqual([...b.keys('l')], ['with-list'])
        assert.deepEqual([...b.keys('m')], ['with-map'])
      }))

    test('with a namespace: only keys that have state in it; without: each key once', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('v', int32Serializer)
        for (const [key, namespaces] of [['a', ['n1']], ['b', ['n1', 'n2']], ['c', ['n2']]] as const) {
          b.setCurrentKey(key)
          for (const ns of namespaces) b.getPartitionedState(ns, stringSerializer, d).update(1)
        }
        assert.deepEqual(sorted(b.keys('v', 'n1', stringSerializer)), ['a', 'b'])
        assert.deepEqual(sorted(b.keys('v', 'n2', stringSerializer)), ['b', 'c'])
        assert.deepEqual(sorted(b.keys('v', 'n3', stringSerializer)), [])
        assert.deepEqual(sorted(b.keys('v')), ['a', 'b', 'c'])
      }))

    test('the namespace serializer is taken from the registered state when omitted', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('v', int32Serializer)
        b.setCurrentKey('a')
        b.getPartitionedState('n1', stringSerializer, d).update(1)
        assert.deepEqual([...b.keys('v', 'n1')], ['a'])
      }))

    test('a loop over keys() visits each key present when it started exactly once, whatever the loop writes', () =>
      withBackend(factory, (b) => {
        const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
        const d = new ValueStateDescriptor('w', int32Serializer)
        const initial = Array.from({ length: 60 }, (_, i) => `key-${i}`)
        const fill = () => {
          for (const [i, key] of initial.entries()) {
            b.setCurrentKey(key)
            v.update(i)
            b.getPartitionedState('n1', stringSerializer, d).update(i)
            if (i % 2 === 0) b.getPartitionedState('n2', stringSerializer, d).update(i)
          }
        }
        // Each visit clears and re-adds its key (the pattern that never ended on the heap), removes a
        // key not visited yet (still visited: it was there at the start) and adds a new one (not visited).
        const disturb = (key: string, step: number, write: (value: number) => void, clear: () => void) => {
          b.setCurrentKey(key)
          clear()
          write(step)
          b.setCurrentKey(initial[(initial.indexOf(key) + 7) % initial.length]!)
          clear()
          b.setCurrentKey(`new-${step}`)
          write(step)
        }
        const n1 = () => b.getPartitionedState('n1', stringSerializer, d)
        const n2 = () => b.getPartitionedState('n2', stringSerializer, d)
        const loops: Array<[string, () => Iterable<string>, (value: number) => void, () => void]> = [
          ['keys(v)', () => b.keys('v'), (x) => v.update(x), () => v.clear()],
          ['keys(w, n1)', () => b.keys('w', 'n1', stringSerializer), (x) => n1().update(x), () => n1().clear()],
          ['keys(w)', () => b.keys('w'), (x) => n2().update(x), () => n2().clear()],
        ]
        for (const [what, keysOf, write, clear] of loops) {
          fill()
          // What a loop that writes nothing sees (earlier loops added new keys).
          const expected = [...keysOf()]
          for (const key of initial) assert.ok(expected.includes(key), `${what}: ${key}`)
          const seen: string[] = []
          for (const key of keysOf()) {
            seen.push(key)
            assert.ok(seen.length <= expected.length, `${what} visited ${seen.length} keys of ${expected.length}`)
            disturb(key, seen.length, write, clear)
          }
          assert.deepEqual(sorted(seen), sorted(expected), what)
        }
      }))

    test('object keys come back equal to the keys used', () =>
      withBackend<{ user: string; shard: number }>(
        factory,
        (b) => {
          const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
          const keys = [{ user: 'x', shard: 1 }, { user: 'y', shard: 2 }]
          for (const k of keys) {
            b.setCurrentKey(k)
            v.update(k.shard)
          }
          b.setCurrentKey({ user: 'x', shard: 1 })
          assert.equal(v.value(), 1)
          assert.deepEqual([...b.keys('v')].sort((p, q) => p.shard - q.shard), keys)
        },
        { keySerializer: jsonSerializer },
      ))
  })
}
