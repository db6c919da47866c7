// Backends with a working directory (RocksDB): close, open the same instance,
// state is still there. Registered only when factory.supports.reopen.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCodeSync, sorted, withBackend } from './helpers.js'

let instances = 0

export function reopenTests(factory: BackendFactory): void {
  if (!factory.supports.reopen) return
  describe(`[${factory.name}] close and reopen`, () => {
    test('state written before close() is there after reopening', async () => {
      const instance = `reopen-${instances++}`
      await withBackend(
        factory,
        (b) => {
          const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
          const l = b.getListState(new ListStateDescriptor('l', stringSerializer))
          const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
          for (let i = 0; i < 50; i++) {
            b.setCurrentKey(`key-${i}`)
            v.update(i)
            l.addAll([`a${i}`, `b${i}`])
            m.put(`u${i}`, i)
          }
        },
        {},
        instance,
      )
      await withBackend(
        factory,
        (b) => {
          assert.deepEqual(sorted(b.stateNames()), ['l', 'm', 'v'])
          assert.equal([...b.keys('v')].length, 50)
          const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
          const l = b.getListState(new ListStateDescriptor('l', stringSerializer))
          const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
          for (let i = 0; i < 50; i++) {
            b.setCurrentKey(`key-${i}`)
            assert.equal(v.value(), i)
            assert.deepEqual(l.get(), [`a${i}`, `b${i}`])
            assert.deepEqual([...m.entries()], [[`u${i}`, i]])
          }
        },
        {},
        instance,
      )
    })

    test('after reopening, the stored meta-info is checked against new descriptors', async () => {
      const instance = `reopen-${instances++}`
      await withBackend(factory, (b) => {
        b.setCurrentKey('a')
        b.getState(new ValueStateDescriptor('v', int32Serializer)).update(1)
      }, {}, instance)
      await withBackend(factory, (b) => {
        expectCodeSync(() => b.getState(new ValueStateDescriptor('v', stringSerializer)), 'SERIALIZER_MISMATCH', "'v'")
        expectCodeSync(() => b.getListState(new ListStateDescriptor('v', int32Serializer)), 'STATE_CONFLICT', "'v'")
        b.setCurrentKey('a')
        assert.equal(b.getState(new ValueStateDescriptor('v', int32Serializer)).value(), 1)
      }, {}, instance)
    })
  })
}
