// State TTL in the conformance suite: every state kind with both update types
// and both visibilities on a test clock, per-element and per-entry expiry,
// cleanup of expired entries in full snapshots, and what restoring with TTL
// switched on or off (or a new TTL) does.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AggregatingStateDescriptor,
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type AnyStateDescriptor,
  type KeyedStateBackend,
  type StateTtlConfig,
  type TtlUpdateType,
  type TtlVisibility,
} from '../../src/index.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import type { BackendFactory } from './factory.js'
import { expectCodeSync, withBackend } from './helpers.js'

/** A clock the test moves by hand. */
export class TestClock {
  constructor(public t = 0) {}
  now(): number {
    return this.t
  }
}

const TTL_MS = 100

interface KindCase {
  readonly kind: string
  descriptor(ttl: StateTtlConfig | undefined): AnyStateDescriptor
  write(backend: KeyedStateBackend<string>, d: AnyStateDescriptor, v: number): void
  /** What the state shows now, or undefined when it shows nothing. */
  read(backend: KeyedStateBackend<string>, d: AnyStateDescriptor): unknown
  /** What read() shows after write(v) on an empty state. */
  shown(v: number): unknown
}

const sum = (a: number, b: number): number => a + b
const counting = {
  createAccumulator: () => ({ n: 0, total: 0 }),
  add: (v: number, acc: { n: number; total: number }) => ({ n: acc.n + 1, total: acc.total + v }),
  getResult: (acc: { n: number; total: number }) => `${acc.n}:${acc.total}`,
}
const accSerializer = {
  id: 'test-acc',
  version: 1,
  serialize: (a: { n: number; total: number }) => new TextEncoder().encode(JSON.stringify(a)),
  deserialize: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as { n: number; total: number },
}

function withTtl<D extends AnyStateDescriptor>(d: D, ttl: StateTtlConfig | undefined): D {
  if (ttl) d.enableTimeToLive(ttl)
  return d
}

export const KIND_CASES: KindCase[] = [
  {
    kind: 'value',
    descriptor: (ttl) => withTtl(new ValueStateDescriptor('ttl-value', int32Serializer, -1), ttl),
    write: (b, d, v) => b.getState(d as ValueStateDescriptor<number>).update(v),
    read: (b, d) => {
      const v = b.getState(d as ValueStateDescriptor<number>).value()
      return v === -1 ? undefined : v
    },
    shown: (v) => v,
  },
  {
    kind: 'list',
    descriptor: (ttl) => withTtl(new ListStateDescriptor('ttl-list', int32Serializer), ttl),
    write: (b, d, v) => b.getListState(d as ListStateDescriptor<number>).add(v),
    read: (b, d) => {
      const l = b.getListState(d as ListStateDescriptor<number>).get()
      return l.length === 0 ? undefined : l
    },
    shown: (v) => [v],
  },
  {
    kind: 'map',
    descriptor: (ttl) => withTtl(new MapStateDescriptor('ttl-map', stringSerializer, int32Serializer), ttl),
    write: (b, d, v) => b.getMapState(d as MapStateDescriptor<string, number>).put('u', v),
    read: (b, d) => b.getMapState(d as MapStateDescriptor<string, number>).get('u'),
    shown: (v) => v,
  },
  {
    kind: 'reducing',
    descriptor: (ttl) => withTtl(new ReducingStateDescriptor('ttl-reducing', sum, int32Serializer), ttl),
    write: (b, d, v) => b.getReducingState(d as ReducingStateDescriptor<number>).add(v),
    read: (b, d) => b.getReducingState(d as ReducingStateDescriptor<number>).get(),
    shown: (v) => v,
  },
  {
    kind: 'aggregating',
    descriptor: (ttl) => withTtl(new AggregatingStateDescriptor('ttl-aggregating', counting, accSerializer), ttl),
    write: (b, d, v) => b.getAggregatingState(d as AggregatingStateDescriptor<number, { n: number; total: number }, string>).add(v),
    read: (b, d) => b.getAggregatingState(d as AggregatingStateDescriptor<number, { n: number; total: number }, string>).get(),
    shown: (v) => `1:${v}`,
  },
]

const UPDATE_TYPES: TtlUpdateType[] = ['onCreateAndWrite', 'onReadAndWrite']
const VISIBILITIES: TtlVisibility[] = ['neverReturnExpired', 'returnExpiredIfNotCleanedUp']

async function savepoint(backend: KeyedStateBackend<string>, storage: CheckpointStorage, id = 1): Promise<KeyedStateHandle[]> {
  const { handle } = await backend.snapshot(id, { type: 'savepoint', storage }).done
  return handle ? [handle] : []
}

export function ttlTests(factory: BackendFactory): void {
  describe(`[${factory.name}] state TTL`, () => {
    for (const c of KIND_CASES) {
      for (const updateType of UPDATE_TYPES) {
        for (const visibility of VISIBILITIES) {
          test(`${c.kind} state, ${updateType}, ${visibility}`, async () => {
            const clock = new TestClock(1000)
            const d = c.descriptor({ ttlMs: TTL_MS, updateType, visibility, clock })
            await withBackend(factory, (b) => {
              b.setCurrentKey('k')
              assert.equal(c.read(b, d), undefined)
              c.write(b, d, 7)
              clock.t = 1000 + TTL_MS - 1
              assert.deepEqual(c.read(b, d), c.shown(7), 'alive just before the TTL ends')
              // Written at 1000 and read at 1099: expires at 1100, or at 1199 when reads renew it.
              clock.t = 1000 + TTL_MS + 10
              if (updateType === 'onReadAndWrite') {
                assert.deepEqual(c.read(b, d), c.shown(7), 'the read renewed it')
                clock.t += TTL_MS
              }
              if (visibility === 'returnExpiredIfNotCleanedUp') {
                assert.deepEqual(c.read(b, d), c.shown(7), 'an expired value is still shown until cleaned up')
              }
              assert.equal(c.read(b, d), undefined, 'expired values are gone after a read')
              // Another key is unaffected by this key's expiry, and a new write starts afresh.
              c.write(b, d, 3)
              assert.deepEqual(c.read(b, d), c.shown(3))
              b.setCurrentKey('other')
              assert.equal(c.read(b, d), undefined)
            })
          })
        }
      }
    }

    test('list state: elements expire one by one', async () => {
      for (const visibility of VISIBILITIES) {
        const clock = new TestClock(0)
        const d = new ListStateDescriptor('ttl-elements', stringSerializer).enableTimeToLive({ ttlMs: TTL_MS, visibility, clock })
        await withBackend(factory, (b) => {
          b.setCurrentKey('k')
          const list = b.getListState(d)
          list.add('a')
          clock.t = 60
          list.addAll(['b', 'c'])
          clock.t = 120
          if (visibility === 'returnExpiredIfNotCleanedUp') assert.deepEqual(list.get(), ['a', 'b', 'c'])
          assert.deepEqual(list.get(), ['b', 'c'])
          list.update(['x'])
          clock.t = 159
          assert.deepEqual(list.get(), ['x'])
          clock.t = 300
          assert.deepEqual(list.get(), visibility === 'neverReturnExpired' ? [] : ['x'])
          assert.deepEqual(list.get(), [])
        })
      }
    })

    test('map state: entries expire one by one; contains, keys, values, entries and isEmpty agree', async () => {
      const clock = new TestClock(0)
      const d = new MapStateDescriptor('ttl-entries', stringSerializer, int32Serializer).enableTimeToLive({ ttlMs: TTL_MS, clock })
      await withBackend(factory, (b) => {
        b.setCurrentKey('k')
        const m = b.getMapState(d)
        m.put('a', 1)
        clock.t = 60
        m.putAll([['b', 2], ['c', 3]])
        clock.t = 120
        assert.equal(m.contains('a'), false)
        assert.equal(m.get('a'), undefined)
        assert.deepEqual([...m.entries()].sort(), [['b', 2], ['c', 3]])
        assert.deepEqual([...m.keys()].sort(), ['b', 'c'])
        assert.deepEqual([...m.values()].sort(), [2, 3])
        assert.equal(m.isEmpty(), false)
        clock.t = 200
        assert.equal(m.isEmpty(), true)
        assert.deepEqual([...m.entries()], [])
      })
    })

    test('onReadAndWrite: iterating map entries renews them', async () => {
      const clock = new TestClock(0)
      const d = new MapStateDescriptor('ttl-renew', stringSerializer, int32Serializer).enableTimeToLive({
        ttlMs: TTL_MS,
        updateType: 'onReadAndWrite',
        clock,
      })
      await withBackend(factory, (b) => {
        b.setCurrentKey('k')
        const m = b.getMapState(d)
        m.putAll([['a', 1], ['b', 2]])
        clock.t = 90
        assert.equal([...m.entries()].length, 2)
        clock.t = 180
        assert.deepEqual([...m.keys()].sort(), ['a', 'b'])
      })
    })

    test('map iteration reads the key it started for; changing the current key meanwhile writes nothing to the new key', async () => {
      const clock = new TestClock(0)
      const d = new MapStateDescriptor('ttl-iter', stringSerializer, int32Serializer).enableTimeToLive({
        ttlMs: TTL_MS,
        updateType: 'onReadAndWrite',
        clock,
      })
      await withBackend(factory, (b) => {
        const m = b.getMapState(d)
        b.setCurrentKey('k1')
        m.putAll([['a', 1], ['old', 0]])
        b.setCurrentKey('k2')
        m.put('b', 2)
        clock.t = 50
        b.setCurrentKey('k1')
        m.put('old', 0) // renewed: only 'a' is from 0
        clock.t = 120
        const it = m.entries()
        b.setCurrentKey('k2')
        assert.deepEqual([...it], [['old', 0]])
        assert.deepEqual([...m.entries()], [])
        b.setCurrentKey('k1')
        clock.t = 140
        assert.deepEqual([...m.keys()], ['old'])
      })
    })

    test('namespaced TTL state expires per namespace', async () => {
      const clock = new TestClock(0)
      const d = new ValueStateDescriptor('ttl-ns', int32Serializer).enableTimeToLive({ ttlMs: TTL_MS, clock })
      await withBackend(factory, (b) => {
        b.setCurrentKey('k')
        b.getPartitionedState('w1', stringSerializer, d).update(1)
        clock.t = 60
        b.getPartitionedState('w2', stringSerializer, d).update(2)
        clock.t = 120
        assert.equal(b.getPartitionedState('w1', stringSerializer, d).value(), undefined)
        assert.equal(b.getPartitionedState('w2', stringSerializer, d).value(), 2)
      })
    })

    test('invalid TTL configs are refused with the state named', async () => {
      await withBackend(factory, (b) => {
        const bad = (ttl: unknown, message: string): void => {
          const d = new ValueStateDescriptor('ttl-bad', int32Serializer).enableTimeToLive(ttl as StateTtlConfig)
          expectCodeSync(() => b.getState(d), 'INVALID_ARGUMENT', message)
        }
        bad({ ttlMs: 0 }, 'ttl-bad')
        bad({ ttlMs: 1.5 }, 'ttlMs')
        bad({ ttlMs: 10, ttlMS: 3 }, "did you mean 'ttlMs'")
        bad({ ttlMs: 10, updateType: 'onRead' }, 'updateType')
        bad({ ttlMs: 10, visibility: 'always' }, 'visibility')
        bad({ ttlMs: 10, clock: {} }, 'clock')
        // Nothing was registered by the failed attempts.
        assert.deepEqual(b.stateNames(), [])
      })
    })

    test('full snapshots (savepoints) leave out what expired at the barrier', async () => {
      const clock = new TestClock(0)
      const ttl = { ttlMs: TTL_MS, clock }
      const value = new ValueStateDescriptor('exp-value', int32Serializer).enableTimeToLive(ttl)
      const list = new ListStateDescriptor('exp-list', int32Serializer).enableTimeToLive(ttl)
      const map = new MapStateDescriptor('exp-map', stringSerializer, int32Serializer).enableTimeToLive(ttl)
      const keys = Array.from({ length: 12 }, (_, i) => `key${i}`)
      const storage = await factory.storage()
      const handles = await withBackend(factory, async (b) => {
        for (const [i, key] of keys.entries()) {
          clock.t = i % 2 === 0 ? 0 : 60
          b.setCurrentKey(key)
          b.getState(value).update(i)
          b.getListState(list).add(i)
          b.getMapState(map).put(`u${i % 2}`, i)
        }
        clock.t = 60
        for (const key of keys) {
          b.setCurrentKey(key)
          b.getListState(list).add(1000)
          b.getMapState(map).put('late', 1000)
        }
        clock.t = 120
        return savepoint(b, storage)
      })
      // Restored with a clock back at 0, reads filter nothing: they show what the savepoint holds.
      clock.t = 0
      await withBackend(factory, (r) => {
        assert.deepEqual([...r.keys('exp-value')].sort(), keys.filter((_, i) => i % 2 === 1).sort())
        for (const [i, key] of keys.entries()) {
          r.setCurrentKey(key)
          const live = i % 2 === 1
          assert.equal(r.getState(value).value(), live ? i : undefined, key)
          assert.deepEqual(r.getListState(list).get(), live ? [i, 1000] : [1000], key)
          assert.deepEqual([...r.getMapState(map).entries()].sort(), live ? [['late', 1000], [`u${i % 2}`, i]] : [['late', 1000]], key)
        }
      }, { storage, restoreFrom: handles })
    })

    test('restoring with TTL switched on or off is refused with the state named; a new ttlMs is fine', async () => {
      const clock = new TestClock(0)
      const storage = await factory.storage()
      const withTtlDescriptor = (ttlMs: number) => new ValueStateDescriptor('switch', int32Serializer).enableTimeToLive({ ttlMs, clock })
      const plain = new ValueStateDescriptor('switch', int32Serializer)
      const fromTtl = await withBackend(factory, (b) => {
        b.setCurrentKey('k')
        b.getState(withTtlDescriptor(TTL_MS)).update(5)
        return savepoint(b, storage, 1)
      })
      const fromPlain = await withBackend(factory, (b) => {
        b.setCurrentKey('k')
        b.getState(plain).update(6)
        return savepoint(b, storage, 2)
      })
      await withBackend(factory, (r) => {
        r.setCurrentKey('k')
        const e = expectCodeSync(() => r.getState(plain), 'STATE_CONFLICT', "'switch'")
        assert.equal(e.state, 'switch')
        assert.match(e.message, /with TTL/)
        // It says what the user can do, not a tool that does not exist.
        assert.doesNotMatch(e.message, /state-processor/)
        assert.match(e.message, /Keep the TTL setting the state was stored with, or register a state under a new name/)
        // The refused call changed nothing: the right descriptor still reads the value.
        assert.equal(r.getState(withTtlDescriptor(TTL_MS)).value(), 5)
      }, { storage, restoreFrom: fromTtl })
      await withBackend(factory, (r) => {
        r.setCurrentKey('k')
        expectCodeSync(() => r.getState(withTtlDescriptor(TTL_MS)), 'STATE_CONFLICT', "'switch'")
        assert.equal(r.getState(plain).value(), 6)
      }, { storage, restoreFrom: fromPlain })
      // The layout does not depend on ttlMs: a longer TTL keeps the value alive longer.
      clock.t = 150
      await withBackend(factory, (r) => {
        r.setCurrentKey('k')
        assert.equal(r.getState(withTtlDescriptor(200)).value(), 5)
      }, { storage, restoreFrom: fromTtl })
      await withBackend(factory, (r) => {
        r.setCurrentKey('k')
        assert.equal(r.getState(withTtlDescriptor(TTL_MS)).value(), undefined)
      }, { storage, restoreFrom: fromTtl })
    })

    if (factory.supports.reopen) {
      test('reopening a working directory with TTL switched off is refused', async () => {
        const clock = new TestClock(0)
        await withBackend(factory, (b) => {
          b.setCurrentKey('k')
          b.getState(new ValueStateDescriptor('reopen-ttl', int32Serializer).enableTimeToLive({ ttlMs: TTL_MS, clock })).update(1)
        }, {}, 'ttl-reopen')
        await withBackend(factory, (b) => {
          b.setCurrentKey('k')
          expectCodeSync(() => b.getState(new ValueStateDescriptor('reopen-ttl', int32Serializer)), 'STATE_CONFLICT', 'reopen-ttl')
          assert.equal(b.getState(new ValueStateDescriptor('reopen-ttl', int32Serializer).enableTimeToLive({ ttlMs: TTL_MS, clock })).value(), 1)
        }, {}, 'ttl-reopen')
      })
    }
  })
}
