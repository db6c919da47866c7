// Map state: every method, per-key isolation, iteration, argument checks.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  MapStateDescriptor,
  stringSerializer,
  tupleSerializer,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCodeSync, sorted, withBackend } from './helpers.js'

export function mapStateTests(factory: BackendFactory): void {
  describe(`[${factory.name}] map state`, () => {
    test('get/put/contains/remove/isEmpty', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('seen', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        assert.equal(m.isEmpty(), true)
        assert.equal(m.get('x'), undefined)
        assert.equal(m.contains('x'), false)
        m.put('x', 1)
        m.put('y', 2)
        m.put('x', 3)
        assert.equal(m.get('x'), 3)
        assert.equal(m.contains('y'), true)
        assert.equal(m.isEmpty(), false)
        m.remove('x')
        m.remove('never-there')
        assert.equal(m.contains('x'), false)
        assert.equal(m.get('x'), undefined)
        m.remove('y')
        assert.equal(m.isEmpty(), true)
      }))

    test('entries/keys/values list every entry once', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int64Serializer))
        b.setCurrentKey('a')
        const expected = new Map<string, bigint>()
        for (let i = 0; i < 300; i++) expected.set(`user-${i}`, BigInt(i) * 1000n)
        m.putAll(expected)
        assert.deepEqual(new Map(m.entries()), expected)
        assert.deepEqual(sorted(m.keys()), sorted(expected.keys()))
        assert.deepEqual(sorted(m.values()), sorted(expected.values()))
      }))

    test('putAll takes any iterable of pairs; clear removes everything', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', int32Serializer, stringSerializer))
        b.setCurrentKey('a')
        m.putAll([[1, 'one'], [2, 'two']])
        m.putAll(new Map([[3, 'three']]))
        assert.deepEqual(new Map(m.entries()), new Map([[1, 'one'], [2, 'two'], [3, 'three']]))
        m.clear()
        assert.equal(m.isEmpty(), true)
        assert.deepEqual([...m.entries()], [])
        m.put(4, 'four')
        assert.deepEqual([...m.entries()], [[4, 'four']])
      }))

    test('maps are per key', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        for (let i = 0; i < 20; i++) {
          b.setCurrentKey(`key-${i}`)
          m.put('i', i)
          if (i % 2 === 0) m.put('even', 1)
        }
        for (let i = 0; i < 20; i++) {
          b.setCurrentKey(`key-${i}`)
          assert.equal(m.get('i'), i)
          assert.equal(m.contains('even'), i % 2 === 0)
          assert.equal([...m.keys()].length, i % 2 === 0 ? 2 : 1)
        }
      }))

    test('composite user keys and object values', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(
          new MapStateDescriptor<[string, number], { total: number }>('m', tupleSerializer(stringSerializer, int32Serializer), jsonSerializer),
        )
        b.setCurrentKey('a')
        m.put(['x', 1], { total: 1 })
        m.put(['x', 2], { total: 2 })
        m.put(['x', 1], { total: 10 })
        assert.deepEqual(m.get(['x', 1]), { total: 10 })
        assert.equal(m.contains(['x', 3]), false)
        assert.deepEqual(
          [...m.entries()].sort((p, q) => p[0][1] - q[0][1]),
          [[['x', 1], { total: 10 }], [['x', 2], { total: 2 }]],
        )
        const v = m.get(['x', 2])!
        v.total += 5
        m.put(['x', 2], v)
        assert.deepEqual(m.get(['x', 2]), { total: 7 })
      }))

    test('an iteration sees the entries present when it started, whatever the caller changes meanwhile', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        const initial: [string, number][] = [['p', 1], ['q', 2], ['r', 3], ['s', 4]]
        let model = new Map<string, number>()
        const reset = () => {
          for (const k of [...m.keys()]) m.remove(k)
          for (const [k, v] of initial) m.put(k, v)
          model = new Map(initial)
        }
        // Each step removes the entry just seen, changes every other one and adds one.
        const disturb = (step: number, current: string) => {
          m.remove(current)
          model.delete(current)
          for (const [k] of initial) {
            if (k === current) continue
            m.put(k, 100 + step)
            model.set(k, 100 + step)
          }
          m.put(`new${step}`, step)
          model.set(`new${step}`, step)
        }
        const keyOfValue = (v: number) => initial.find(([, x]) => x === v)![0]

        reset()
        const entries: [string, number][] = []
        for (const [k, v] of m.entries()) {
          entries.push([k, v])
          disturb(entries.length, k)
        }
        assert.deepEqual(sorted(entries), initial)
        assert.deepEqual(new Map(sorted(m.entries())), new Map(sorted(model)))

        reset()
        const keys: string[] = []
        for (const k of m.keys()) {
          keys.push(k)
          disturb(keys.length, k)
        }
        assert.deepEqual(sorted(keys), ['p', 'q', 'r', 's'])
        assert.deepEqual(new Map(sorted(m.entries())), new Map(sorted(model)))

        reset()
        const values: number[] = []
        for (const v of m.values()) {
          values.push(v)
          disturb(values.length, keyOfValue(v))
        }
        assert.deepEqual(sorted(values), [1, 2, 3, 4])
        assert.deepEqual(new Map(sorted(m.entries())), new Map(sorted(model)))
      }))

    test('an iteration visits each entry present when it started exactly once while the loop removes and re-adds every entry or clears the map', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        const initial = new Map(Array.from({ length: 40 }, (_, i) => [`u${i}`, i] as [string, number]))
        const patterns: Array<[string, (key: string, step: number) => void]> = [
          ['remove and put the entry again', (key, step) => {
            m.remove(key)
            m.put(key, 1000 + step)
          }],
          ['clear the map and put everything back', (_key, step) => {
            m.clear()
            m.putAll([...initial].map(([k]) => [k, 1000 + step]))
          }],
          ['put a new entry', (_key, step) => m.put(`new${step}`, step)],
        ]
        const iterations: Array<[string, () => Iterable<unknown>, (item: unknown) => string, unknown[]]> = [
          ['entries', () => m.entries(), (item) => (item as [string, number])[0], [...initial]],
          ['keys', () => m.keys(), (item) => item as string, [...initial.keys()]],
          ['values', () => m.values(), (item) => `u${item as number}`, [...initial.values()]],
        ]
        for (const [what, disturb] of patterns) {
          for (const [kind, iterate, keyOf, expected] of iterations) {
            m.clear()
            m.putAll(initial)
            const seen: unknown[] = []
            for (const item of iterate()) {
              seen.push(item)
              assert.ok(seen.length <= initial.size, `${what}, ${kind}: ${seen.length} items of ${initial.size}`)
              disturb(keyOf(item), seen.length)
            }
            assert.deepEqual(sorted(seen), sorted(expected), `${what}, ${kind}`)
          }
        }
      }))

    test('an iterator keeps the key it was created for', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        m.put('from-a', 1)
        b.setCurrentKey('b')
        m.put('from-b', 2)
        b.setCurrentKey('a')
        const it = m.keys()
        b.setCurrentKey('b')
        assert.deepEqual([...it], ['from-a'])
      }))

    test('undefined keys or values are refused with INVALID_ARGUMENT; putAll is all or nothing', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor<string, number>('m', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        expectCodeSync(() => m.put('x', undefined as never), 'INVALID_ARGUMENT')
        expectCodeSync(() => m.put(undefined as never, 1), 'INVALID_ARGUMENT')
        expectCodeSync(() => m.putAll([['ok', 1], ['bad', undefined as never]]), 'INVALID_ARGUMENT')
        assert.equal(m.isEmpty(), true)
      }))

    test('a user key or value of the wrong type is refused by every method, whether or not the key has entries, with and without TTL', () =>
      withBackend(factory, (b) => {
        const plain = b.getMapState(new MapStateDescriptor<string, number>('m', stringSerializer, int32Serializer))
        const ttl = b.getMapState(new MapStateDescriptor<string, number>('ttl-m', stringSerializer, int32Serializer).enableTimeToLive({ ttlMs: 3_600_000 }))
        const ints = b.getMapState(new MapStateDescriptor<number, bigint>('int-keys', int32Serializer, int64Serializer))
        const wrongKeys: ReadonlyArray<[typeof plain | typeof ints, unknown[]]> = [
          [plain, [5, null, {}, 2n, true]],
          [ttl, [5, null, {}, 2n, true]],
          [ints, ['5', 1.5, null, {}, 2n, 2 ** 31]],
        ]
        const goodKey = (m: unknown) => (m === ints ? 1 : 'a')
        const goodValue = (m: unknown) => (m === ints ? 1n : 1)
        const wrongValues = (m: unknown) => (m === ints ? [1, '1', null, 2n ** 64n] : ['1', 1.5, null, 1n])
        // 'empty': the current key has no entry in any map (heap answered get and contains without checking the key).
        for (const when of ['empty', 'with entries']) {
          b.setCurrentKey(when)
          if (when === 'with entries') for (const [m] of wrongKeys) m.put(goodKey(m) as never, goodValue(m) as never)
          const before = wrongKeys.map(([m]) => [...m.entries()])
          for (const [m, keys] of wrongKeys) {
            for (const key of keys) {
              for (const [name, call] of [
                ['get', () => m.get(key as never)],
                ['contains', () => m.contains(key as never)],
                ['remove', () => m.remove(key as never)],
                ['put', () => m.put(key as never, goodValue(m) as never)],
                ['putAll', () => m.putAll([[goodKey(m), goodValue(m)], [key, goodValue(m)]] as never)],
              ] as const) {
                expectCodeSync(call, 'INVALID_ARGUMENT', undefined, `${when}: ${name}(${String(key)})`)
              }
            }
            for (const value of wrongValues(m)) {
              expectCodeSync(() => m.put(goodKey(m) as never, value as never), 'INVALID_ARGUMENT', undefined, `${when}: put(_, ${String(value)})`)
              expectCodeSync(() => m.putAll(new Map([[goodKey(m), value]]) as never), 'INVALID_ARGUMENT', undefined, `${when}: putAll(_, ${String(value)})`)
            }
          }
          assert.deepEqual(wrongKeys.map(([m]) => [...m.entries()]), before, `${when}: the refused calls changed nothing`)
        }
      }))
  })
}
