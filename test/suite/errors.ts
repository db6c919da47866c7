// Errors at the public edge: typed, with a code, naming what is wrong.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  assignToKeyGroup,
  int32Serializer,
  int64Serializer,
  KeyGroupRangeError,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCode, expectCodeSync, stringKeysIn, withBackend } from './helpers.js'

export function errorTests(factory: BackendFactory): void {
  describe(`[${factory.name}] errors`, () => {
    test('setCurrentKey outside the key-group range throws KeyGroupRangeError naming the key group', () =>
      withBackend(
        factory,
        (b) => {
          const range = { start: 0, end: 63 }
          const [outside] = stringKeysIn(range, 128, 1, false)
          const [inside] = stringKeysIn(range, 128, 1, true)
          const e = expectCodeSync(() => b.setCurrentKey(outside!), 'KEY_GROUP_RANGE')
          assert.ok(e instanceof KeyGroupRangeError)
          assert.ok(e.keyGroup !== undefined && e.keyGroup >= 64 && e.keyGroup <= 127)
          // The backend stays usable, and a failed setCurrentKey does not change the current key.
          const s = b.getState(new ValueStateDescriptor('v', int32Serializer))
          b.setCurrentKey(inside!)
          s.update(1)
          expectCodeSync(() => b.setCurrentKey(outside!), 'KEY_GROUP_RANGE')
          assert.equal(b.getCurrentKey(), inside)
          assert.equal(s.value(), 1)
        },
        { maxParallelism: 128, keyGroupRange: { start: 0, end: 63 } },
      ))

    test('MapState.putAll refuses what is not a Map or an iterable of [key, value] pairs with INVALID_ARGUMENT, writing nothing', () =>
      withBackend(factory, (b) => {
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        b.setCurrentKey('k')
        for (const bad of [null, undefined, 5, 'ab', { a: 1 }, [['x', 1], ['y']], [['x', 1], 'y2']]) {
          const e = expectCodeSync(() => m.putAll(bad as never), 'INVALID_ARGUMENT')
          assert.match(e.message, /state 'm'/)
        }
        assert.equal(m.isEmpty(), true, 'a refused putAll writes nothing')
        m.putAll(new Map([['a', 1]]))
        m.putAll([['b', 2]])
        assert.deepEqual([...m.entries()].sort(), [['a', 1], ['b', 2]])
      }))

    test('getPartitionedState checks every argument before it registers the state', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('v', int32Serializer)
        expectCodeSync(() => b.getPartitionedState('ns', null as never, d), 'INVALID_ARGUMENT')
        expectCodeSync(() => b.getPartitionedState('ns', stringSerializer, null as never), 'INVALID_ARGUMENT')
        expectCodeSync(() => b.getPartitionedState(null as never, stringSerializer, d), 'INVALID_ARGUMENT')
        // Nothing was registered by the refused calls: another namespace serializer is no conflict.
        const s = b.getPartitionedState(7, int32Serializer, d)
        b.setCurrentKey('k')
        s.update(1)
        assert.equal(s.value(), 1)
      }))

    test('getCurrentKeyGroup is murmur3 of the serialized key, for the whole key-group range and part of it', async () => {
      // The heap backend computes it only when asked when it owns every key group; it must agree all the same.
      const strings = fc.sample(fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 9 })), { numRuns: 60, seed: 7 })
      const ints = [0, -0, 1, -1, 0x7fffffff, -0x80000000, ...fc.sample(fc.integer(), { numRuns: 40, seed: 8 })]
      for (const range of [undefined, { start: 32, end: 95 }]) {
        const inRange = (kg: number) => range === undefined || (kg >= range.start && kg <= range.end)
        await withBackend(factory, (b) => {
          for (const key of strings) {
            const kg = assignToKeyGroup(stringSerializer.serialize(key), 128)
            if (!inRange(kg)) continue
            b.setCurrentKey(key)
            assert.equal(b.getCurrentKeyGroup(), kg, `key ${JSON.stringify(key)}`)
          }
        }, { maxParallelism: 128, ...(range ? { keyGroupRange: range } : {}) })
        await withBackend<number>(factory, (b) => {
          for (const key of ints) {
            const kg = assignToKeyGroup(int32Serializer.serialize(key), 128)
            if (!inRange(kg)) continue
            b.setCurrentKey(key)
            assert.equal(b.getCurrentKeyGroup(), kg, `key ${key}`)
          }
        }, { keySerializer: int32Serializer, maxParallelism: 128, ...(range ? { keyGroupRange: range } : {}) })
      }
    })

    test('state used before setCurrentKey throws NO_CURRENT_KEY', () =>
      withBackend(factory, (b) => {
        const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
        const l = b.getListState(new ListStateDescriptor('l', int32Serializer))
        const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        expectCodeSync(() => v.value(), 'NO_CURRENT_KEY')
        expectCodeSync(() => v.update(1), 'NO_CURRENT_KEY')
        expectCodeSync(() => l.add(1), 'NO_CURRENT_KEY')
        expectCodeSync(() => l.get(), 'NO_CURRENT_KEY')
        expectCodeSync(() => m.put('a', 1), 'NO_CURRENT_KEY')
        expectCodeSync(() => [...m.entries()], 'NO_CURRENT_KEY')
        expectCodeSync(() => b.getCurrentKey(), 'NO_CURRENT_KEY')
      }))

    test('the same state name with a different kind throws STATE_CONFLICT', () =>
      withBackend(factory, (b) => {
        b.getState(new ValueStateDescriptor('s', int32Serializer))
        const e = expectCodeSync(() => b.getListState(new ListStateDescriptor('s', int32Serializer)), 'STATE_CONFLICT', "'s'")
        assert.equal(e.state, 's')
      }))

    test('the same state with an incompatible serializer throws SERIALIZER_MISMATCH naming the state', () =>
      withBackend(factory, (b) => {
        b.getState(new ValueStateDescriptor('count', int32Serializer))
        const e = expectCodeSync(() => b.getState(new ValueStateDescriptor('count', int64Serializer)), 'SERIALIZER_MISMATCH', "'count'")
        assert.equal(e.state, 'count')
        b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
        expectCodeSync(() => b.getMapState(new MapStateDescriptor('m', int32Serializer, int32Serializer)), 'SERIALIZER_MISMATCH', "'m'")
        expectCodeSync(
          () => b.getPartitionedState(1, int32Serializer, new ValueStateDescriptor('count', int32Serializer)),
          'SERIALIZER_MISMATCH',
          'namespace',
        )
        // The registered state still works.
        b.setCurrentKey('a')
        b.getState(new ValueStateDescriptor('count', int32Serializer)).update(3)
      }))

    test('keys() of an unknown state throws UNKNOWN_STATE', () =>
      withBackend(factory, async (b) => {
        const e = expectCodeSync(() => b.keys('nope'), 'UNKNOWN_STATE', "'nope'")
        assert.equal(e.state, 'nope')
      }))

    test('invalid state names are refused with INVALID_ARGUMENT', () => {
      expectCodeSync(() => new ValueStateDescriptor('', int32Serializer), 'INVALID_ARGUMENT')
      expectCodeSync(() => new ValueStateDescriptor('_reserved', int32Serializer), 'INVALID_ARGUMENT')
      expectCodeSync(() => new ValueStateDescriptor('has space', int32Serializer), 'INVALID_ARGUMENT')
    })

    test('a misspelled option is refused with INVALID_ARGUMENT and a suggestion', async () => {
      const options = { keySerializer: stringSerializer, maxParalelism: 64 } as never
      const e = await expectCode(() => factory.open(options), 'INVALID_ARGUMENT', 'maxParalelism')
      assert.match(e.message, /did you mean 'maxParallelism'/)
      const e2 = await expectCode(() => factory.open({ keySerializer: stringSerializer, keygroupRange: { start: 0, end: 1 } } as never), 'INVALID_ARGUMENT')
      assert.match(e2.message, /did you mean 'keyGroupRange'/)
    })

    test('bad maxParallelism, key-group range or key serializer is refused with INVALID_ARGUMENT', async () => {
      await expectCode(() => factory.open({ keySerializer: stringSerializer, maxParallelism: 0 }), 'INVALID_ARGUMENT')
      await expectCode(() => factory.open({ keySerializer: stringSerializer, maxParallelism: 40000 }), 'INVALID_ARGUMENT')
      await expectCode(() => factory.open({ keySerializer: stringSerializer, maxParallelism: 8, keyGroupRange: { start: 4, end: 8 } }), 'INVALID_ARGUMENT')
      await expectCode(() => factory.open({} as never), 'INVALID_ARGUMENT')
    })

    test('values the serializers cannot write are refused with INVALID_ARGUMENT and change nothing', () =>
      withBackend(factory, (b) => {
        const v = b.getState(new ValueStateDescriptor<number>('v', int32Serializer))
        const l = b.getListState(new ListStateDescriptor<bigint>('l', int64Serializer))
        const m = b.getMapState(new MapStateDescriptor<string, number>('m', stringSerializer, int32Serializer))
        b.setCurrentKey('a')
        v.update(1)
        l.add(1n)
        m.put('x', 1)
        expectCodeSync(() => v.update(1.5), 'INVALID_ARGUMENT')
        expectCodeSync(() => v.update('2' as never), 'INVALID_ARGUMENT')
        expectCodeSync(() => l.add(2 as never), 'INVALID_ARGUMENT')
        expectCodeSync(() => l.addAll([2n, 1n << 64n]), 'INVALID_ARGUMENT')
        expectCodeSync(() => l.update([3 as never]), 'INVALID_ARGUMENT')
        expectCodeSync(() => m.put('y', 2 ** 40), 'INVALID_ARGUMENT')
        expectCodeSync(() => m.put(5 as never, 1), 'INVALID_ARGUMENT')
        expectCodeSync(() => m.putAll([['ok', 2], ['bad', 0.5]]), 'INVALID_ARGUMENT')
        assert.equal(v.value(), 1)
        assert.deepEqual(l.get(), [1n])
        assert.deepEqual([...m.entries()], [['x', 1]])
      }))

    test('a key the key serializer cannot write is refused and the current key is kept', () =>
      withBackend<number>(
        factory,
        (b) => {
          b.setCurrentKey(1)
          expectCodeSync(() => b.setCurrentKey(1.5), 'INVALID_ARGUMENT')
          expectCodeSync(() => b.setCurrentKey('1' as never), 'INVALID_ARGUMENT')
          assert.equal(b.getCurrentKey(), 1)
        },
        { keySerializer: int32Serializer },
      ))
  })
}
