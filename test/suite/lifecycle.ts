// Open / close: close is idempotent, and everything refuses use after close.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCodeSync } from './helpers.js'

export function lifecycleTests(factory: BackendFactory): void {
  describe(`[${factory.name}] lifecycle`, () => {
    test('the backend reports its configuration', async () => {
      const b = await factory.open({ keySerializer: stringSerializer, maxParallelism: 16, keyGroupRange: { start: 4, end: 9 } })
      try {
        assert.equal(b.maxParallelism, 16)
        assert.deepEqual(b.keyGroupRange, { start: 4, end: 9 })
        assert.equal(b.keySerializer, stringSerializer)
        assert.equal(b.closed, false)
      } finally {
        await b.close()
      }
      assert.equal(b.closed, true)
    })

    test('defaults: maxParallelism 128 and the full key-group range', async () => {
      const b = await factory.open({ keySerializer: stringSerializer })
      try {
        assert.equal(b.maxParallelism, 128)
        assert.deepEqual(b.keyGroupRange, { start: 0, end: 127 })
      } finally {
        await b.close()
      }
    })

    test('close() is idempotent and concurrent calls share one close', async () => {
      const b = await factory.open({ keySerializer: stringSerializer })
      await Promise.all([b.close(), b.close()])
      await b.close()
      assert.equal(b.closed, true)
    })

    test('everything throws CLOSED after close()', async () => {
      const b = await factory.open({ keySerializer: stringSerializer })
      const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
      const l = b.getListState(new ListStateDescriptor('l', int32Serializer))
      const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
      const r = b.getReducingState(new ReducingStateDescriptor('r', (x: number, y: number) => x + y, int32Serializer))
      b.setCurrentKey('a')
      v.update(1)
      m.put('x', 1)
      await b.close()
      expectCodeSync(() => b.setCurrentKey('a'), 'CLOSED')
      expectCodeSync(() => v.value(), 'CLOSED')
      expectCodeSync(() => v.update(2), 'CLOSED')
      expectCodeSync(() => l.add(1), 'CLOSED')
      expectCodeSync(() => m.get('x'), 'CLOSED')
      expectCodeSync(() => [...m.entries()], 'CLOSED')
      expectCodeSync(() => r.add(1), 'CLOSED')
      expectCodeSync(() => b.getState(new ValueStateDescriptor('v', int32Serializer)), 'CLOSED')
      expectCodeSync(() => b.getState(new ValueStateDescriptor('new', int32Serializer)), 'CLOSED')
      expectCodeSync(() => b.keys('v'), 'CLOSED')
      expectCodeSync(() => b.stateNames(), 'CLOSED')
      const storage = await factory.storage()
      expectCodeSync(() => b.snapshot(1, { type: 'checkpoint', storage }), 'CLOSED')
    })

    test('every iteration refuses after close() with CLOSED: map entries/keys/values and backend keys(), started, not started and empty', async () => {
      const b = await factory.open({ keySerializer: stringSerializer })
      const m = b.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
      const ttl = b.getMapState(new MapStateDescriptor('ttl-m', stringSerializer, int32Serializer).enableTimeToLive({ ttlMs: 3_600_000 }))
      const empty = b.getMapState(new MapStateDescriptor('empty', stringSerializer, int32Serializer))
      b.setCurrentKey('a')
      for (let i = 0; i < 10; i++) {
        m.put(`k${i}`, i)
        ttl.put(`k${i}`, i)
      }
      b.setCurrentKey('b')
      m.put('x', 1)
      b.setCurrentKey('a')
      const iterations: Array<[string, Iterator<unknown>, boolean]> = []
      for (const started of [false, true]) {
        for (const [name, make] of [
          ['entries()', () => m.entries()],
          ['keys()', () => m.keys()],
          ['values()', () => m.values()],
          ['entries() of a TTL state', () => ttl.entries()],
          ['keys() of a TTL state', () => ttl.keys()],
          ['values() of a TTL state', () => ttl.values()],
          ['backend keys()', () => b.keys('m')[Symbol.iterator]()],
          ['entries() of an empty map', () => empty.entries()],
        ] as const) {
          const it = make() as Iterator<unknown>
          // An empty map has nothing to start on.
          if (started && name.includes('empty')) continue
          if (started) assert.equal(it.next().done, false, name)
          iterations.push([name, it, started])
        }
      }
      await b.close()
      for (const [name, it, started] of iterations) {
        expectCodeSync(() => it.next(), 'CLOSED', undefined, `${name}${started ? ', started before close()' : ''}`)
      }
    })
  })
}
