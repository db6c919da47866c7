// List state: get/add/addAll/update/clear, order, copies, argument checks.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { int32Serializer, jsonSerializer, ListStateDescriptor, stringSerializer } from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCodeSync, withBackend } from './helpers.js'

export function listStateTests(factory: BackendFactory): void {
  describe(`[${factory.name}] list state`, () => {
    test('get() is empty until elements are added, in insertion order', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('events', int32Serializer))
        b.setCurrentKey('a')
        assert.deepEqual(l.get(), [])
        l.add(3)
        l.add(1)
        l.addAll([4, 1, 5])
        l.add(9)
        assert.deepEqual(l.get(), [3, 1, 4, 1, 5, 9])
      }))

    test('update() replaces the elements; update([]) and clear() empty the list', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('l', stringSerializer))
        b.setCurrentKey('a')
        l.addAll(['x', 'y'])
        l.update(['z'])
        assert.deepEqual(l.get(), ['z'])
        l.update([])
        assert.deepEqual(l.get(), [])
        l.add('again')
        l.clear()
        assert.deepEqual(l.get(), [])
        l.addAll([])
        assert.deepEqual(l.get(), [])
        l.add('after clear')
        assert.deepEqual(l.get(), ['after clear'])
      }))

    test('lists are per key', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('l', int32Serializer))
        for (let i = 0; i < 20; i++) {
          b.setCurrentKey(`key-${i}`)
          for (let j = 0; j <= i; j++) l.add(j)
        }
        for (let i = 0; i < 20; i++) {
          b.setCurrentKey(`key-${i}`)
          assert.deepEqual(l.get(), Array.from({ length: i + 1 }, (_, j) => j))
        }
      }))

    test('the returned array is a copy: changing it does not change the state', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('l', int32Serializer))
        b.setCurrentKey('a')
        l.addAll([1, 2])
        const got = l.get()
        got.push(3)
        got[0] = 100
        assert.deepEqual(l.get(), [1, 2])
        const source = [5, 6]
        l.update(source)
        source.push(7)
        assert.deepEqual(l.get(), [5, 6])
      }))

    test('object elements round-trip', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor<{ id: number; tags: string[] }>('objs', jsonSerializer))
        b.setCurrentKey('a')
        l.add({ id: 1, tags: [] })
        l.addAll([{ id: 2, tags: ['x'] }, { id: 3, tags: ['y', 'z'] }])
        assert.deepEqual(l.get(), [{ id: 1, tags: [] }, { id: 2, tags: ['x'] }, { id: 3, tags: ['y', 'z'] }])
      }))

    test('large lists keep every element', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor('big', stringSerializer))
        b.setCurrentKey('a')
        const expected: string[] = []
        for (let i = 0; i < 2000; i++) {
          const v = `element-${i}-${'x'.repeat(i % 50)}`
          expected.push(v)
          if (i % 3 === 0) l.addAll([v])
          else l.add(v)
        }
        assert.deepEqual(l.get(), expected)
      }))

    test('undefined elements are refused with INVALID_ARGUMENT and change nothing', () =>
      withBackend(factory, (b) => {
        const l = b.getListState(new ListStateDescriptor<number>('l', int32Serializer))
        b.setCurrentKey('a')
        l.add(1)
        expectCodeSync(() => l.add(undefined as never), 'INVALID_ARGUMENT')
        expectCodeSync(() => l.addAll([2, undefined as never]), 'INVALID_ARGUMENT')
        expectCodeSync(() => l.update([undefined as never]), 'INVALID_ARGUMENT')
        assert.deepEqual(l.get(), [1])
      }))

    test('an element of the wrong type is refused by add, addAll and update, whether or not the key has elements, with and without TTL', () =>
      withBackend(factory, (b) => {
        const plain = b.getListState(new ListStateDescriptor('ints', int32Serializer))
        const ttl = b.getListState(new ListStateDescriptor('ttl-ints', int32Serializer).enableTimeToLive({ ttlMs: 3_600_000 }))
        for (const when of ['empty', 'with elements']) {
          b.setCurrentKey(when)
          if (when === 'with elements') for (const l of [plain, ttl]) l.add(1)
          const before = [plain.get(), ttl.get()]
          for (const l of [plain, ttl]) {
            for (const bad of ['1', 1.5, null, 1n, {}, [1], 2 ** 31]) {
              expectCodeSync(() => l.add(bad as never), 'INVALID_ARGUMENT', undefined, `${when}: add(${String(bad)})`)
              expectCodeSync(() => l.addAll([2, bad] as never), 'INVALID_ARGUMENT', undefined, `${when}: addAll([2, ${String(bad)}])`)
              expectCodeSync(() => l.update([2, bad] as never), 'INVALID_ARGUMENT', undefined, `${when}: update([2, ${String(bad)}])`)
            }
            for (const notArray of [5, null, 'ab', { length: 1, 0: 1 }]) {
              expectCodeSync(() => l.addAll(notArray as never), 'INVALID_ARGUMENT', undefined, `${when}: addAll(${String(notArray)})`)
              expectCodeSync(() => l.update(notArray as never), 'INVALID_ARGUMENT', undefined, `${when}: update(${String(notArray)})`)
            }
          }
          assert.deepEqual([plain.get(), ttl.get()], before, `${when}: the refused calls changed nothing`)
        }
      }))
  })
}
