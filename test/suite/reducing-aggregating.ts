// Reducing and aggregating state.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AggregatingStateDescriptor,
  float64Serializer,
  int64Serializer,
  jsonSerializer,
  ReducingStateDescriptor,
  tupleSerializer,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { withBackend } from './helpers.js'

const average = {
  createAccumulator: (): [number, number] => [0, 0],
  add: (v: number, [sum, count]: [number, number]): [number, number] => [sum + v, count + 1],
  getResult: ([sum, count]: [number, number]) => (count === 0 ? 0 : sum / count),
}

export function reducingAggregatingTests(factory: BackendFactory): void {
  describe(`[${factory.name}] reducing state`, () => {
    test('get() is undefined until add(); add() reduces per key', () =>
      withBackend(factory, (b) => {
        const sum = b.getReducingState(new ReducingStateDescriptor('sum', (a: bigint, c: bigint) => a + c, int64Serializer))
        b.setCurrentKey('a')
        assert.equal(sum.get(), undefined)
        sum.add(5n)
        assert.equal(sum.get(), 5n)
        sum.add(7n)
        b.setCurrentKey('b')
        sum.add(100n)
        b.setCurrentKey('a')
        assert.equal(sum.get(), 12n)
        sum.clear()
        assert.equal(sum.get(), undefined)
        sum.add(1n)
        assert.equal(sum.get(), 1n)
        b.setCurrentKey('b')
        assert.equal(sum.get(), 100n)
      }))

    test('a reduce function that mutates its first argument works', () =>
      withBackend(factory, (b) => {
        type Counts = Record<string, number>
        const merge = (a: Counts, c: Counts): Counts => {
          for (const [k, v] of Object.entries(c)) a[k] = (a[k] ?? 0) + v
          return a
        }
        const counts = b.getReducingState(new ReducingStateDescriptor<Counts>('counts', merge, jsonSerializer))
        b.setCurrentKey('a')
        counts.add({ x: 1 })
        counts.add({ x: 2, y: 1 })
        counts.add({ y: 1 })
        assert.deepEqual(counts.get(), { x: 3, y: 2 })
      }))
  })

  describe(`[${factory.name}] aggregating state`, () => {
    test('get() is undefined until add(); add() aggregates per key; getResult is applied', () =>
      withBackend(factory, (b) => {
        const avg = b.getAggregatingState(
          new AggregatingStateDescriptor('avg', average, tupleSerializer(float64Serializer, float64Serializer)),
        )
        b.setCurrentKey('a')
        assert.equal(avg.get(), undefined)
        avg.add(1)
        avg.add(2)
        avg.add(6)
        b.setCurrentKey('b')
        avg.add(10)
        b.setCurrentKey('a')
        assert.equal(avg.get(), 3)
        avg.clear()
        assert.equal(avg.get(), undefined)
        b.setCurrentKey('b')
        assert.equal(avg.get(), 10)
      }))

    test('an accumulator mutated in place by add() works', () =>
      withBackend(factory, (b) => {
        const fn = {
          createAccumulator: () => ({ items: [] as string[] }),
          add: (v: string, acc: { items: string[] }) => {
            acc.items.push(v)
            return acc
          },
          getResult: (acc: { items: string[] }) => acc.items.join(','),
        }
        const joined = b.getAggregatingState(new AggregatingStateDescriptor('joined', fn, jsonSerializer))
        b.setCurrentKey('a')
        joined.add('x')
        joined.add('y')
        b.setCurrentKey('b')
        joined.add('z')
        b.setCurrentKey('a')
        assert.equal(joined.get(), 'x,y')
      }))
  })
}
