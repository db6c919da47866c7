// What serializers return and what they are given, checked the same on every
// backend: a serializer's output must be a Uint8Array (a typed error names the
// serializer and the state otherwise), strings keep every code unit (lone
// surrogates, a leading byte-order mark), and json refuses what it cannot
// write at the write, not at the next snapshot.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AggregatingStateDescriptor,
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  listSerializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyedStateError,
  type Serializer,
} from '../../src/index.js'
import type { BackendFactory } from './factory.js'
import { expectCode, expectCodeSync, sorted, withBackend } from './helpers.js'

/** What a broken serializer returns instead of bytes, and how the error describes it. Each used to be coerced. */
const NOT_BYTES: ReadonlyArray<[string, unknown]> = [
  ['a number', 7],
  ['a string', 'abc'],
  ['an array', [1, 2, 3]],
  // A typed array copy of it would loop a billion times.
  ['an object (Object)', { length: 1e9 }],
  ['undefined', undefined],
  ['an object (ArrayBuffer)', new ArrayBuffer(3)],
]

/** A string serializer that returns `returned` instead of bytes for the strings in `broken`. */
function brokenSerializer(id: string, returned: unknown, broken: (s: string) => boolean = () => true): Serializer<string> {
  return {
    id,
    version: 1,
    serialize: (s) => (broken(s) ? (returned as Uint8Array) : stringSerializer.serialize(s)),
    deserialize: (b) => stringSerializer.deserialize(b),
  }
}

function assertNames(e: KeyedStateError, serializerId: string, state?: string): void {
  assert.ok(e.message.includes(`'${serializerId}'`), `the message names the serializer: ${e.message}`)
  if (state !== undefined) {
    assert.equal(e.state, state, `the error names the state: ${e.message}`)
    assert.ok(e.message.includes(`'${state}'`), `the message names the state: ${e.message}`)
  }
}

/** Strings that UTF-8 alone would change or merge: lone surrogates (each alone, reversed), a BOM, U+FFFD itself. */
const TRICKY_STRINGS = ['\uD800', '\uDC00', '\uDBFF', '\uDFFF', '\uDC00\uD800', 'a\uD800b', '\uD83D\uDE00', '\uFEFFa', 'a', '\uFFFD', '']

export function serializerCheckTests(factory: BackendFactory): void {
  describe(`[${factory.name}] serializer output and input checks`, () => {
    test('a key serializer that returns no Uint8Array is refused with INVALID_ARGUMENT naming it; the current key stays', async () => {
      for (const [what, returned] of NOT_BYTES) {
        const keys = brokenSerializer('broken-key', returned, (k) => k.startsWith('bad'))
        await withBackend(
          factory,
          (b) => {
            const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
            b.setCurrentKey('ok')
            v.update(1)
            // Before the check, RocksDB stored both bad keys under one composite key and the heap threw a TypeError.
            assertNames(expectCodeSync(() => b.setCurrentKey('bad-1'), 'INVALID_ARGUMENT', what), 'broken-key')
            expectCodeSync(() => b.setCurrentKey('bad-2'), 'INVALID_ARGUMENT')
            assert.equal(b.getCurrentKey(), 'ok')
            assert.equal(v.value(), 1)
            assert.deepEqual([...b.keys('v')], ['ok'])
          },
          { keySerializer: keys },
        )
      }
    })

    test('a namespace serializer (of a state or a timer service) or a map user key serializer that returns no Uint8Array is refused naming it and where it is used', () =>
      withBackend(factory, (b) => {
        for (const [what, returned] of NOT_BYTES) {
          const ns = brokenSerializer('broken-namespace', returned)
          const e = expectCodeSync(() => b.getPartitionedState('w', ns, new ValueStateDescriptor('windowed', int32Serializer)), 'INVALID_ARGUMENT', what)
          assertNames(e, 'broken-namespace', 'windowed')
        }
        b.setCurrentKey('k')
        const timers = b.timerService('broken-windows', { namespaceSerializer: brokenSerializer('broken-timer-namespace', 7), onTimer: () => {} })
        const e = expectCodeSync(() => timers.registerEventTimeTimer(1, 'w'), 'INVALID_ARGUMENT', 'a number')
        assert.ok(e.message.includes("'broken-timer-namespace'") && e.message.includes("'broken-windows'"), e.message)
        assert.equal(timers.nextTimerTimestamp('event'), undefined)
        NOT_BYTES.forEach(([what, returned], i) => {
          const userKeys = brokenSerializer('broken-user-key', returned, (k) => k !== 'good')
          const m = b.getMapState(new MapStateDescriptor(`map-${i}`, userKeys, int32Serializer))
          m.put('good', 1)
          assertNames(expectCodeSync(() => m.put('x', 2), 'INVALID_ARGUMENT', what), 'broken-user-key', `map-${i}`)
          for (const use of [() => m.get('x'), () => m.contains('x'), () => m.remove('x'), () => m.putAll([['y', 3]])]) {
            assertNames(expectCodeSync(use, 'INVALID_ARGUMENT'), 'broken-user-key', `map-${i}`)
          }
          assert.deepEqual([...m.entries()], [['good', 1]])
        })
      }))

    test('a value serializer that returns no Uint8Array is refused, naming it and the state, at the write or by the next snapshot; nothing is stored coerced', async () => {
      for (const [what, returned] of NOT_BYTES) {
        const values = brokenSerializer('broken-value', returned, (s) => s.startsWith('bad'))
        await withBackend(factory, async (b) => {
          const storage = await factory.storage()
          // atWrite: refused at the write on every backend (a built-in composite around the user's serializer is checked at the write).
          const cases: Array<{ state: string; write: () => void; undo: () => void; read: () => unknown; atWrite?: boolean }> = []
          const v = b.getState(new ValueStateDescriptor('value-state', values))
          const l = b.getListState(new ListStateDescriptor('list-state', values))
          const m = b.getMapState(new MapStateDescriptor('map-state', stringSerializer, values))
          const r = b.getReducingState(new ReducingStateDescriptor('reducing-state', (_a: string, x: string) => x, values))
          const t = b.getState(new ValueStateDescriptor('ttl-state', values).enableTimeToLive({ ttlMs: 3_600_000 }))
          const nested = b.getState(new ValueStateDescriptor('nested-state', listSerializer(values)))
          b.setCurrentKey('k')
          v.update('good')
          l.add('good')
          m.put('u', 'good')
          r.add('good')
          t.update('good')
          nested.update(['good'])
          cases.push(
            { state: 'value-state', write: () => v.update('bad'), undo: () => v.update('good'), read: () => v.value() },
            { state: 'list-state', write: () => l.add('bad'), undo: () => l.update(['good']), read: () => l.get() },
            { state: 'map-state', write: () => m.put('u', 'bad'), undo: () => m.put('u', 'good'), read: () => [...m.entries()] },
            { state: 'reducing-state', write: () => r.add('bad'), undo: () => {
              r.clear()
              r.add('good')
            }, read: () => r.get() },
            { state: 'ttl-state', write: () => t.update('bad'), undo: () => t.update('good'), read: () => t.value() },
            { state: 'nested-state', write: () => nested.update(['good', 'bad']), undo: () => nested.update(['good']), read: () => nested.value(), atWrite: true },
          )
          const before = cases.map((c) => c.read())
          let checkpointId = 1
          for (const c of cases) {
            let refused: KeyedStateError
            if (factory.supports.serializesOnWrite || c.atWrite === true) {
              refused = expectCodeSync(c.write, 'INVALID_ARGUMENT', what)
            } else {
              c.write()
              refused = await expectCode(() => b.snapshot(checkpointId++, { type: 'savepoint', storage }).done, 'INVALID_ARGUMENT', what)
              c.undo()
            }
            assertNames(refused, 'broken-value', c.state)
          }
          assert.deepEqual(cases.map((c) => c.read()), before)
          // Every snapshot works once no bad value is stored, and restores what was written.
          const { handle } = await b.snapshot(checkpointId, { type: 'savepoint', storage }).done
          const restored = await factory.open<string>({ keySerializer: stringSerializer, storage, restoreFrom: handle ? [handle] : [] })
          try {
            restored.setCurrentKey('k')
            assert.equal(restored.getState(new ValueStateDescriptor('value-state', values)).value(), 'good')
            assert.deepEqual(restored.getListState(new ListStateDescriptor('list-state', values)).get(), ['good'])
            assert.deepEqual(restored.getState(new ValueStateDescriptor('nested-state', listSerializer(values))).value(), ['good'])
          } finally {
            await restored.close()
          }
        })
      }
    })

    test('a serializer that throws an untyped error is reported as INVALID_ARGUMENT naming it and the state', () =>
      withBackend(factory, async (b) => {
        const throwing: Serializer<string> = {
          id: 'throwing',
          version: 1,
          serialize: (s) => {
            if (s === 'bad') throw new TypeError('cannot write bad')
            return stringSerializer.serialize(s)
          },
          deserialize: (bytes) => stringSerializer.deserialize(bytes),
        }
        const v = b.getState(new ValueStateDescriptor('v', throwing))
        b.setCurrentKey('k')
        const m = b.getMapState(new MapStateDescriptor('m', throwing, int32Serializer))
        assertNames(expectCodeSync(() => m.put('bad', 1), 'INVALID_ARGUMENT', 'cannot write bad'), 'throwing', 'm')
        if (factory.supports.serializesOnWrite) {
          assertNames(expectCodeSync(() => v.update('bad'), 'INVALID_ARGUMENT', 'cannot write bad'), 'throwing', 'v')
        } else {
          v.update('bad')
          const storage = await factory.storage()
          assertNames(await expectCode(() => b.snapshot(1, { type: 'savepoint', storage }).done, 'INVALID_ARGUMENT', 'cannot write bad'), 'throwing', 'v')
        }
      }))

    test('a built-in serializer given the wrong type names the state and says what it expects (int64 given 1)', () =>
      withBackend(factory, async (b) => {
        const total = b.getState(new ValueStateDescriptor('total', int64Serializer))
        b.setCurrentKey('k')
        const expected = /state 'total': int64 serializer expects a bigint .* got a number \(1\)/
        let e: KeyedStateError
        try {
          total.update(1 as unknown as bigint)
          const storage = await factory.storage()
          e = await expectCode(() => b.snapshot(1, { type: 'savepoint', storage }).done, 'INVALID_ARGUMENT', 'int64')
        } catch (thrown) {
          e = thrown as KeyedStateError
          assert.equal(e.code, 'INVALID_ARGUMENT')
        }
        assert.match(e.message, expected)
        assert.equal(e.state, 'total')
      }))

    test('json refuses bigints, circular values, functions and symbols at the write with INVALID_ARGUMENT naming the state; snapshots keep working', () =>
      withBackend(factory, async (b) => {
        const circular: Record<string, unknown> = { a: 1 }
        circular.self = circular
        const refused: unknown[] = [1n, { n: 2n }, [3n], circular, () => 1, Symbol('s'), { toJSON: () => 5n }]
        const v = b.getState(new ValueStateDescriptor<unknown>('json-value', jsonSerializer))
        const l = b.getListState(new ListStateDescriptor<unknown>('json-list', jsonSerializer))
        const m = b.getMapState(new MapStateDescriptor<string, unknown>('json-map', stringSerializer, jsonSerializer))
        const r = b.getReducingState(new ReducingStateDescriptor<unknown>('json-reducing', (_a, x) => x, jsonSerializer))
        const a = b.getAggregatingState(
          new AggregatingStateDescriptor<unknown, unknown, unknown>(
            'json-aggregating',
            { createAccumulator: () => ({ n: 0 }), add: (x) => x, getResult: (acc) => acc },
            jsonSerializer,
          ),
        )
        const t = b.getState(new ValueStateDescriptor<unknown>('json-ttl', jsonSerializer).enableTimeToLive({ ttlMs: 3_600_000 }))
        b.setCurrentKey('k')
        const good = { n: 1, s: 'x' }
        v.update(good)
        l.add(good)
        m.put('u', good)
        r.add(good)
        a.add(good)
        t.update(good)
        for (const bad of refused) {
          const what = typeof bad === 'symbol' ? 'a symbol' : String(bad)
          for (const [state, write] of [
            ['json-value', () => v.update(bad)],
            ['json-list', () => l.add(bad)],
            ['json-list', () => l.addAll([good, bad])],
            ['json-list', () => l.update([bad])],
            ['json-map', () => m.put('u', bad)],
            ['json-map', () => m.putAll([['w', good], ['u', bad]])],
            ['json-reducing', () => r.add(bad)],
            ['json-aggregating', () => a.add(bad)],
            ['json-ttl', () => t.update(bad)],
          ] as const) {
            const e = expectCodeSync(write, 'INVALID_ARGUMENT')
            assert.equal(e.state, state, `${what} in ${state}: ${e.message}`)
          }
        }
        assert.deepEqual(v.value(), good)
        assert.deepEqual(l.get(), [good])
        assert.deepEqual([...m.entries()], [['u', good]])
        assert.deepEqual(r.get(), good)
        assert.deepEqual(a.get(), good)
        assert.deepEqual(t.value(), good)
        // A reduce that changes its accumulator in place into something json refuses leaves the state as it was.
        const inPlace = b.getReducingState(
          new ReducingStateDescriptor<{ n: unknown }>('json-in-place', (acc, x) => {
            acc.n = x.n
            return acc
          }, jsonSerializer),
        )
        inPlace.add({ n: 1 })
        expectCodeSync(() => inPlace.add({ n: 2n }), 'INVALID_ARGUMENT')
        assert.deepEqual(inPlace.get(), { n: 1 })
        const storage = await factory.storage()
        await b.snapshot(1, { type: 'savepoint', storage }).done
      }))

    test('values a built-in composite serializer refuses are refused at the write', () =>
      withBackend(factory, (b) => {
        const v = b.getState(new ValueStateDescriptor('ints', listSerializer(int32Serializer)))
        b.setCurrentKey('k')
        v.update([1, 2])
        expectCodeSync(() => v.update([1, 1.5]), 'INVALID_ARGUMENT', "'ints'")
        expectCodeSync(() => v.update('not a list' as never), 'INVALID_ARGUMENT')
        assert.deepEqual(v.value(), [1, 2])
      }))

    test('strings keep every code unit: lone surrogates and a leading BOM make different keys, values, user keys and namespaces, before and after a savepoint', () =>
      withBackend(factory, async (b) => {
        const storage = await factory.storage()
        const fill = (backend: KeyedStateBackend<string>) => ({
          v: backend.getState(new ValueStateDescriptor('strings', stringSerializer)),
          l: backend.getListState(new ListStateDescriptor('string-list', stringSerializer)),
          m: backend.getMapState(new MapStateDescriptor('string-map', stringSerializer, stringSerializer)),
          j: backend.getState(new ValueStateDescriptor<unknown>('json-strings', jsonSerializer)),
          ns: (s: string) => backend.getPartitionedState(s, stringSerializer, new ValueStateDescriptor('by-namespace', int32Serializer)),
        })
        const write = fill(b)
        TRICKY_STRINGS.forEach((key, i) => {
          b.setCurrentKey(key)
          write.v.update(key)
          write.l.addAll(TRICKY_STRINGS)
          for (const u of TRICKY_STRINGS) write.m.put(u, key)
          write.j.update({ [key]: key, list: TRICKY_STRINGS })
          write.ns(key).update(i)
        })
        const check = (backend: KeyedStateBackend<string>, when: string) => {
          const read = fill(backend)
          assert.deepEqual(sorted(backend.keys('strings')), sorted(TRICKY_STRINGS), when)
          TRICKY_STRINGS.forEach((key, i) => {
            backend.setCurrentKey(key)
            assert.equal(read.v.value(), key, `${when}: value of key ${JSON.stringify(key)}`)
            assert.deepEqual(read.l.get(), TRICKY_STRINGS, when)
            assert.deepEqual(new Map(read.m.entries()), new Map(TRICKY_STRINGS.map((u) => [u, key])), when)
            assert.deepEqual(read.j.value(), { [key]: key, list: TRICKY_STRINGS }, when)
            assert.equal(read.ns(key).value(), i, when)
            assert.deepEqual([...backend.keys('by-namespace', key, stringSerializer)], [key], when)
          })
        }
        check(b, 'before the savepoint')
        const { handle } = await b.snapshot(1, { type: 'savepoint', storage }).done
        const restored = await factory.open<string>({ keySerializer: stringSerializer, storage, restoreFrom: handle ? [handle] : [] })
        try {
          check(restored, 'after restoring the savepoint')
        } finally {
          await restored.close()
        }
      }))
  })
}
