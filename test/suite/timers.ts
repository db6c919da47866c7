// Timers in the conformance suite: firing order with the key set as current
// key, de-duplication, deletion, both time domains, namespaces, timers
// registered while firing, and timers carried through every snapshot type,
// restore at another parallelism, and reopen.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  int32Serializer,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyGroupRange,
} from '../../src/index.js'
import { assignToKeyGroup, keyGroupRangeForOperator } from '../../src/keygroups.js'
import type { KeyedStateHandle, SnapshotType } from '../../src/snapshot/types.js'
import type { Timer } from '../../src/timers/types.js'
import type { BackendFactory } from './factory.js'
import { expectCode, expectCodeSync, withBackend } from './helpers.js'

type Fired = [key: string, namespace: unknown, timestamp: number, domain: string]

function recorder(): { fired: Fired[]; onTimer: (t: Timer<string, any>) => void } {
  const fired: Fired[] = []
  return { fired, onTimer: (t) => fired.push([t.key, t.namespace, t.timestamp, t.domain]) }
}

function keyGroupOf(key: string, maxParallelism: number): number {
  return assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
}

/** The documented firing order: timestamp, then key group, then key bytes (equal-length keys here). */
function firingOrder(timers: Array<[string, number]>, maxParallelism: number): Array<[string, number]> {
  return [...timers].sort(([ka, ta], [kb, tb]) => ta - tb || keyGroupOf(ka, maxParallelism) - keyGroupOf(kb, maxParallelism) || (ka < kb ? -1 : ka > kb ? 1 : 0))
}

const KEYS = Array.from({ length: 30 }, (_, i) => `key-${String(i).padStart(2, '0')}`)

export function timerTests(factory: BackendFactory): void {
  describe(`[${factory.name}] timers`, () => {
    test('event-time timers fire in order of timestamp with their key set as current key', async () => {
      const count = new ValueStateDescriptor('count', int32Serializer, 0)
      await withBackend(factory, (b) => {
        const seen: Array<[string, number, number]> = []
        const timers = b.timerService('t', {
          onTimer: (t) => {
            assert.equal(b.getCurrentKey(), t.key)
            seen.push([t.key, t.timestamp, b.getState(count).value()!])
          },
        })
        const expected: Array<[string, number]> = []
        for (const [i, key] of KEYS.entries()) {
          b.setCurrentKey(key)
          b.getState(count).update(i)
          const ts = 100 + ((i * 37) % 11)
          timers.registerEventTimeTimer(ts)
          expected.push([key, ts])
        }
        b.setCurrentKey('key-00')
        assert.equal(timers.nextTimerTimestamp('event'), 100)
        assert.equal(timers.advanceWatermark(99), 0)
        const fired = timers.advanceWatermark(105)
        const order = firingOrder(expected, b.maxParallelism)
        assert.equal(fired, order.filter(([, ts]) => ts <= 105).length)
        assert.equal(timers.advanceWatermark(1000), order.length - fired)
        assert.deepEqual(seen.map(([k, ts]) => [k, ts]), order)
        for (const [key, , value] of seen) assert.equal(value, KEYS.indexOf(key))
        // The key set before firing is current again.
        assert.equal(b.getCurrentKey(), 'key-00')
        assert.equal(timers.currentWatermark, 1000)
        assert.equal(timers.nextTimerTimestamp('event'), undefined)
      })
    })

    test('registering twice fires once; deleted timers never fire; domains are separate', async () => {
      await withBackend(factory, (b) => {
        const { fired, onTimer } = recorder()
        const timers = b.timerService('t', { onTimer })
        b.setCurrentKey('a')
        timers.registerEventTimeTimer(10)
        timers.registerEventTimeTimer(10)
        timers.registerEventTimeTimer(20)
        timers.registerProcessingTimeTimer(10)
        timers.registerProcessingTimeTimer(15)
        b.setCurrentKey('b')
        timers.registerEventTimeTimer(10)
        timers.deleteEventTimeTimer(10)
        timers.deleteEventTimeTimer(12345) // absent: nothing happens
        b.setCurrentKey('a')
        timers.deleteProcessingTimeTimer(15)
        assert.equal(timers.advanceWatermark(100), 2)
        assert.deepEqual(fired, [['a', undefined, 10, 'event'], ['a', undefined, 20, 'event']])
        fired.length = 0
        assert.equal(timers.advanceProcessingTime(100), 1)
        assert.deepEqual(fired, [['a', undefined, 10, 'processing']])
        // Fired timers are gone; a watermark going back changes nothing.
        assert.equal(timers.advanceWatermark(100), 0)
        assert.equal(timers.advanceWatermark(5), 0)
        assert.equal(timers.currentWatermark, 100)
      })
    })

    test('namespaces: one timer per (key, namespace, timestamp), namespace handed to onTimer', async () => {
      await withBackend(factory, (b) => {
        const { fired, onTimer } = recorder()
        const timers = b.timerService('windows', { namespaceSerializer: stringSerializer, onTimer })
        b.setCurrentKey('k')
        timers.registerEventTimeTimer(59_999, 'w0')
        timers.registerEventTimeTimer(59_999, 'w1')
        timers.registerEventTimeTimer(59_999, 'w1')
        timers.registerEventTimeTimer(119_999, 'w1')
        timers.deleteEventTimeTimer(119_999, 'w0') // other namespace: nothing happens
        timers.advanceWatermark(200_000)
        assert.deepEqual(fired, [['k', 'w0', 59_999, 'event'], ['k', 'w1', 59_999, 'event'], ['k', 'w1', 119_999, 'event']])
      })
    })

    test('negative and large timestamps keep their order', async () => {
      await withBackend(factory, (b) => {
        const { fired, onTimer } = recorder()
        const timers = b.timerService('t', { onTimer })
        b.setCurrentKey('k')
        const stamps = [Number.MAX_SAFE_INTEGER, -1, 0, -(2 ** 40), 2 ** 32, 2 ** 32 - 1, Number.MIN_SAFE_INTEGER]
        for (const ts of stamps) timers.registerEventTimeTimer(ts)
        timers.advanceWatermark(Infinity)
        assert.deepEqual(fired.map((f) => f[2]), [...stamps].sort((a, b) => a - b))
      })
    })

    test('timers registered from onTimer fire in the same advance when due', async () => {
      await withBackend(factory, (b) => {
        const fired: number[] = []
        const timers = b.timerService('t', {
          onTimer: (t) => {
            fired.push(t.timestamp)
            if (t.timestamp < 50) timers.registerEventTimeTimer(t.timestamp + 10)
            if (t.timestamp === 30) timers.deleteEventTimeTimer(45)
          },
        })
        b.setCurrentKey('k')
        timers.registerEventTimeTimer(10)
        timers.registerEventTimeTimer(45)
        assert.equal(timers.advanceWatermark(40), 4)
        assert.deepEqual(fired, [10, 20, 30, 40])
        timers.advanceWatermark(100)
        assert.deepEqual(fired, [10, 20, 30, 40, 50])
      })
    })

    test('arguments are checked; advancing from onTimer is refused; the service is one per name', async () => {
      await withBackend(factory, async (b) => {
        const onTimer = (): void => {
          expectCodeSync(() => timers.advanceWatermark(1000), 'INVALID_ARGUMENT', 'onTimer')
        }
        const timers = b.timerService('t', { onTimer })
        expectCodeSync(() => timers.registerEventTimeTimer(1), 'NO_CURRENT_KEY')
        b.setCurrentKey('k')
        expectCodeSync(() => timers.registerEventTimeTimer(1.5), 'INVALID_ARGUMENT', "'t'")
        expectCodeSync(() => timers.registerProcessingTimeTimer(Number.NaN), 'INVALID_ARGUMENT')
        expectCodeSync(() => timers.advanceWatermark(Number.NaN), 'INVALID_ARGUMENT')
        expectCodeSync(() => b.timerService('bad name', { onTimer }), 'INVALID_ARGUMENT')
        expectCodeSync(() => b.timerService('u', { onTimer, namespace: stringSerializer } as never), 'INVALID_ARGUMENT', 'namespace')
        expectCodeSync(() => b.timerService('u', {} as never), 'INVALID_ARGUMENT', 'onTimer')
        assert.equal(b.timerService('t', { onTimer }), timers)
        expectCodeSync(() => b.timerService('t', { onTimer: () => {} }), 'STATE_CONFLICT', "'t'")
        timers.registerEventTimeTimer(1)
        assert.equal(timers.advanceWatermark(10), 1)
        // Timer states are internal: not listed, not readable as state.
        assert.deepEqual(b.stateNames(), [])
        await expectCode(() => b.keys('_timers:t:event'), 'UNKNOWN_STATE')
      })
    })

    test('timer calls after close are refused', async () => {
      const b = await factory.open<string>({ keySerializer: stringSerializer })
      const timers = b.timerService('t', { onTimer: () => {} })
      b.setCurrentKey('k')
      timers.registerEventTimeTimer(5)
      await b.close()
      expectCodeSync(() => timers.registerEventTimeTimer(6), 'CLOSED')
      expectCodeSync(() => timers.advanceWatermark(10), 'CLOSED')
    })

    const types: SnapshotType[] = ['checkpoint', 'savepoint']
    for (const type of types) {
      const kind = type === 'checkpoint' && factory.supports.incremental ? 'incremental checkpoint' : type
      test(`timers survive a ${kind}, a restore and a rescale 1 → 2 → 1`, async () => {
        const maxParallelism = 16
        const storage = await factory.storage()
        const expected: Array<[string, number]> = []
        const handles: KeyedStateHandle[] = await withBackend(factory, async (b) => {
          const timers = b.timerService('t', { namespaceSerializer: stringSerializer, onTimer: () => {} })
          const processing = b.timerService('p', { onTimer: () => {} })
          for (const [i, key] of KEYS.entries()) {
            b.setCurrentKey(key)
            timers.registerEventTimeTimer(1000 + i, 'ns')
            timers.registerEventTimeTimer(5, 'early')
            processing.registerProcessingTimeTimer(i)
            expected.push([key, 1000 + i])
          }
          // Fired before the snapshot: not in it.
          timers.advanceWatermark(10)
          const { handle } = await b.snapshot(1, { type, storage }).done
          // Registered after the barrier: not in it either.
          b.setCurrentKey(KEYS[0]!)
          timers.registerEventTimeTimer(1, 'late')
          return [handle!]
        }, { maxParallelism })

        const restoreAt = async (range: KeyGroupRange | undefined, from: KeyedStateHandle[]) => {
          const backend = await factory.open<string>({
            keySerializer: stringSerializer,
            maxParallelism,
            storage,
            restoreFrom: from,
            ...(range ? { keyGroupRange: range } : {}),
          })
          return backend
        }
        const fireAll = (b: KeyedStateBackend<string>): { events: Fired[]; processing: Fired[] } => {
          const events = recorder()
          const processing = recorder()
          b.timerService('t', { namespaceSerializer: stringSerializer, onTimer: events.onTimer }).advanceWatermark(Infinity)
          b.timerService('p', { onTimer: processing.onTimer }).advanceProcessingTime(Infinity)
          return { events: events.fired, processing: processing.fired }
        }

        // Restore as two instances: each fires exactly its key groups' timers, in order.
        const ranges = [0, 1].map((i) => keyGroupRangeForOperator(maxParallelism, 2, i))
        const halves = await Promise.all(ranges.map((r) => restoreAt(r, handles)))
        const split: KeyedStateHandle[] = []
        try {
          for (const b of halves) {
            // Snapshot again before firing, to scale back in from the halves.
            b.timerService('t', { namespaceSerializer: stringSerializer, onTimer: () => {} })
            b.timerService('p', { onTimer: () => {} })
            const { handle } = await b.snapshot(2, { type, storage }).done
            if (handle) split.push(handle)
          }
        } finally {
          await Promise.all(halves.map((b) => b.close()))
        }
        for (const [i, range] of ranges.entries()) {
          const b = await restoreAt(range, handles)
          try {
            const { events, processing } = fireAll(b)
            const inRange = firingOrder(expected.filter(([k]) => {
              const kg = keyGroupOf(k, maxParallelism)
              return kg >= range.start && kg <= range.end
            }), maxParallelism)
            assert.deepEqual(events.map(([k, ns, ts]) => [k, ts, ns]), inRange.map(([k, ts]) => [k, ts, 'ns']), `instance ${i}`)
            assert.equal(processing.length, inRange.length)
          } finally {
            await b.close()
          }
        }
        // Scale in: both halves' snapshots into one instance.
        const merged = await restoreAt(undefined, split)
        try {
          const { events, processing } = fireAll(merged)
          assert.deepEqual(events.map(([k, , ts]) => [k, ts]), firingOrder(expected, maxParallelism))
          assert.deepEqual(processing.map(([k, , ts]) => [k, ts]), firingOrder(KEYS.map((k, i) => [k, i]), maxParallelism))
        } finally {
          await merged.close()
        }
      })
    }

    test('a restored timer service with an incompatible namespace serializer is refused', async () => {
      const storage = await factory.storage()
      const handles = await withBackend(factory, async (b) => {
        b.setCurrentKey('k')
        b.timerService('w', { namespaceSerializer: stringSerializer, onTimer: () => {} }).registerEventTimeTimer(1, 'x')
        const { handle } = await b.snapshot(1, { type: 'savepoint', storage }).done
        return [handle!]
      })
      await withBackend(factory, (r) => {
        expectCodeSync(() => r.timerService('w', { namespaceSerializer: int32Serializer, onTimer: () => {} }), 'SERIALIZER_MISMATCH', "'w'")
      }, { storage, restoreFrom: handles })
    })

    if (factory.supports.reopen) {
      test('timers survive close and reopen of the working directory', async () => {
        await withBackend(factory, (b) => {
          const timers = b.timerService('t', { onTimer: () => {} })
          for (const key of KEYS) {
            b.setCurrentKey(key)
            timers.registerEventTimeTimer(7)
          }
        }, {}, 'timers-reopen')
        await withBackend(factory, (b) => {
          const { fired, onTimer } = recorder()
          b.timerService('t', { onTimer }).advanceWatermark(7)
          assert.deepEqual(fired.map((f) => f[0]).sort(), [...KEYS].sort())
        }, {}, 'timers-reopen')
      })
    }
  })
}
