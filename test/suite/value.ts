// Value state: default values, per-key isolation, clear, every built-in serializer.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  booleanSerializer,
  bytesSerializer,
  float64Serializer,
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  listSerializer,
  mapSerializer,
  stringSerializer,
  tupleSerializer,
  ValueStateDescriptor,
  type Serializer,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { withBackend } from './helpers.js'

export function valueStateTests(factory: BackendFactory): void {
  describe(`[${factory.name}] value state`, () => {
    test('value() returns the default value until update(), then the value', () =>
      withBackend(factory, (b) => {
        const count = b.getState(new ValueStateDescriptor('count', int64Serializer, 0n))
        const noDefault = b.getState(new ValueStateDescriptor('name', stringSerializer))
        b.setCurrentKey('a')
        assert.equal(count.value(), 0n)
        assert.equal(noDefault.value(), undefined)
        count.update(41n)
        count.update(count.value()! + 1n)
        noDefault.update('alice')
        assert.equal(count.value(), 42n)
        assert.equal(noDefault.value(), 'alice')
      }))

    test('values are per key', () =>
      withBackend(factory, (b) => {
        const s = b.getState(new ValueStateDescriptor('v', int32Serializer, -1))
        for (let i = 0; i < 50; i++) {
          b.setCurrentKey(`key-${i}`)
          s.update(i * 3)
        }
        for (let i = 49; i >= 0; i--) {
          b.setCurrentKey(`key-${i}`)
          assert.equal(s.value(), i * 3)
        }
        b.setCurrentKey('other')
        assert.equal(s.value(), -1)
      }))

    test('clear() and update(undefined) remove the value', () =>
      withBackend(factory, (b) => {
        const s = b.getState(new ValueStateDescriptor('v', stringSerializer, 'none'))
        b.setCurrentKey('a')
        s.update('x')
        s.clear()
        assert.equal(s.value(), 'none')
        s.update('y')
        s.update(undefined)
        assert.equal(s.value(), 'none')
        s.clear() // clearing nothing is fine
        assert.equal(s.value(), 'none')
      }))

    test('states with different names are independent', () =>
      withBackend(factory, (b) => {
        const x = b.getState(new ValueStateDescriptor('x', int32Serializer))
        const y = b.getState(new ValueStateDescriptor('y', int32Serializer))
        b.setCurrentKey('a')
        x.update(1)
        y.update(2)
        x.clear()
        assert.equal(x.value(), undefined)
        assert.equal(y.value(), 2)
      }))

    test('asking again for a state returns a working object bound to the same data', () =>
      withBackend(factory, (b) => {
        const d = new ValueStateDescriptor('v', int32Serializer)
        b.setCurrentKey('a')
        b.getState(d).update(7)
        assert.equal(b.getState(d).value(), 7)
        assert.equal(b.getState(new ValueStateDescriptor('v', int32Serializer)).value(), 7)
      }))

    test('an object read from state, changed and written back is stored', () =>
      withBackend(factory, (b) => {
        const s = b.getState(new ValueStateDescriptor<{ n: number; tags: string[] }>('obj', jsonSerializer))
        b.setCurrentKey('a')
        s.update({ n: 1, tags: ['x'] })
        const v = s.value()!
        v.n++
        v.tags.push('y')
        s.update(v)
        assert.deepEqual(s.value(), { n: 2, tags: ['x', 'y'] })
      }))

    test('an object default value is not shared between keys', () =>
      withBackend(factory, (b) => {
        const s = b.getState(new ValueStateDescriptor<{ n: number }>('obj', jsonSerializer, { n: 0 }))
        b.setCurrentKey('a')
        const d = s.value()!
        d.n = 99
        b.setCurrentKey('b')
        assert.deepEqual(s.value(), { n: 0 })
      }))

    const cases: [string, Serializer<any>, unknown[]][] = [
      ['string', stringSerializer, ['', 'hello', 'ünïcødé ✓', 'a'.repeat(10_000)]],
      ['int32', int32Serializer, [0, -1, 2147483647, -2147483648]],
      ['int64', int64Serializer, [0n, -1n, (1n << 63n) - 1n, -(1n << 63n)]],
      ['float64', float64Serializer, [0, -0.5, Math.PI, Number.MAX_VALUE, -Infinity]],
      ['boolean', booleanSerializer, [true, false]],
      ['bytes', bytesSerializer, [new Uint8Array(0), Uint8Array.of(0, 255, 7)]],
      ['json', jsonSerializer, [null, 1, 'x', [1, { a: [true] }], { nested: { deep: 'yes' } }]],
      ['list', listSerializer(int32Serializer), [[], [1, 2, 3]]],
      ['map', mapSerializer(stringSerializer, int64Serializer), [new Map(), new Map([['a', 1n], ['b', -2n]])]],
      ['tuple', tupleSerializer(stringSerializer, float64Serializer, booleanSerializer), [['a', 1.5, true]]],
    ]
    for (const [name, serializer, values] of cases) {
      test(`stores ${name} values`, () =>
        withBackend(factory, (b) => {
          const s = b.getState(new ValueStateDescriptor(`v-${name}`, serializer))
          values.forEach((v, i) => {
            b.setCurrentKey(`key-${i}`)
            s.update(v)
          })
          values.forEach((v, i) => {
            b.setCurrentKey(`key-${i}`)
            assert.deepEqual(s.value(), v)
          })
        }))
    }
  })
}
