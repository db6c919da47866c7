// Namespaces (e.g. windows): the same state under different namespaces holds
// separate values, for every state kind.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AggregatingStateDescriptor,
  int32Serializer,
  int64Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  tupleSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import { STATE_OBJECTS_PER_STATE_MAX } from '../../src/state-backend/base.js'
import type { BackendFactory } from './factory.js'
import { withBackend } from './helpers.js'

const window = tupleSerializer(int64Serializer, int64Serializer)
type Window = [bigint, bigint]
const w1: Window = [0n, 1000n]
const w2: Window = [1000n, 2000n]

export function namespaceTests(factory: BackendFactory): void {
  describe(`[${factory.name}] namespaces`, () => {
    test('value state: namespaces are isolated from each other and from the plain state', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('count', int32Serializer, 0)
        const in1 = b.getPartitionedState(w1, window, d)
        const in2 = b.getPartitionedState(w2, window, d)
        b.setCurrentKey('a')
        in1.update(1)
        in2.update(2)
        assert.equal(in1.value(), 1)
        assert.equal(in2.value(), 2)
        assert.equal(b.getPartitionedState([5n, 6n] as Window, window, d).value(), 0)
        in1.clear()
        assert.equal(in1.value(), 0)
        assert.equal(in2.value(), 2)
        b.setCurrentKey('b')
        assert.equal(in2.value(), 0)
      }))

    test('many namespaces: state objects stay correct when the per-state object cache evicts them', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('perWindow', int32Serializer, 0)
        const n = STATE_OBJECTS_PER_STATE_MAX + 300
        const first = b.getPartitionedState([0n, 1n] as Window, window, d)
        b.setCurrentKey('a')
        for (let i = 0; i < n; i++) b.getPartitionedState([BigInt(i), BigInt(i + 1)] as Window, window, d).update(i)
        // `first` was evicted from the cache long ago and still reads and writes its own namespace.
        assert.equal(first.value(), 0)
        first.update(-1)
        assert.equal(b.getPartitionedState([0n, 1n] as Window, window, d).value(), -1)
        for (let i = 1; i < n; i += 97) assert.equal(b.getPartitionedState([BigInt(i), BigInt(i + 1)] as Window, window, d).value(), i)
      }))

    test('every state kind keeps namespaces apart', () =>
      withBackend(factory, (b) => {
        const list = new ListStateDescriptor('list', stringSerializer)
        const map = new MapStateDescriptor('map', stringSerializer, int32Serializer)
        const red = new ReducingStateDescriptor('red', (x: number, y: number) => x + y, int32Serializer)
        const agg = new AggregatingStateDescriptor(
          'agg',
          { createAccumulator: () => 0, add: (v: number, a: number) => a + v, getResult: (a: number) => `total ${a}` },
          int32Serializer,
        )
        b.setCurrentKey('k')
        for (const [w, n] of [[w1, 1], [w2, 2]] as const) {
          b.getPartitionedState(w, window, list).add(`in ${n}`)
          b.getPartitionedState(w, window, map).put('n', n)
          b.getPartitionedState(w, window, red).add(n)
          b.getPartitionedState(w, window, red).add(n)
          b.getPartitionedState(w, window, agg).add(n * 10)
        }
        b.getPartitionedState(w1, window, list).clear()
        b.getPartitionedState(w1, window, map).clear()
        assert.deepEqual(b.getPartitionedState(w1, window, list).get(), [])
        assert.deepEqual(b.getPartitionedState(w2, window, list).get(), ['in 2'])
        assert.equal(b.getPartitionedState(w1, window, map).isEmpty(), true)
        assert.equal(b.getPartitionedState(w2, window, map).get('n'), 2)
        assert.equal(b.getPartitionedState(w1, window, red).get(), 2)
        assert.equal(b.getPartitionedState(w2, window, red).get(), 4)
        assert.equal(b.getPartitionedState(w1, window, agg).get(), 'total 10')
        assert.equal(b.getPartitionedState(w2, window, agg).get(), 'total 20')
      }))

    test('map state iteration stays inside its namespace', () =>
      withBackend(factory, (b) => {
        const d = new MapStateDescriptor('m', stringSerializer, int32Serializer)
        b.setCurrentKey('k')
        const a = b.getPartitionedState('a', stringSerializer, d)
        const ab = b.getPartitionedState('ab', stringSerializer, d)
        a.put('x', 1)
        ab.put('y', 2)
        assert.deepEqual([...a.entries()], [['x', 1]])
        assert.deepEqual([...ab.entries()], [['y', 2]])
      }))
  })
}
