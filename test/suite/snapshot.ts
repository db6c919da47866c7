// Snapshots in the conformance suite: for each backend and snapshot type,
// random state → snapshot → restore into a new backend → equal to the model;
// writes after the barrier are absent; overlapping snapshots; cancellation;
// restore at another parallelism. Cross-backend savepoints are a separate
// feature that takes two factories.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyGroupRange,
} from '../../src/index.js'
import { assignToKeyGroup, keyGroupRangeForOperator } from '../../src/keygroups.js'
import { CancelledError } from '../../src/errors.js'
import type { KeyedStateHandle, SnapshotHooks, SnapshotType } from '../../src/snapshot/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import type { BackendFactory } from './factory.js'

const valueDescriptor = new ValueStateDescriptor('sv', int32Serializer)
const listDescriptor = new ListStateDescriptor('sl', stringSerializer)
const mapDescriptor = new MapStateDescriptor('sm', stringSerializer, int32Serializer)

/** What the states should hold: per key, only non-empty values. */
export interface SnapshotModel {
  values: Map<string, number>
  lists: Map<string, string[]>
  maps: Map<string, Map<string, number>>
}

export type ModelOp =
  | { op: 'put'; key: string; value: number }
  | { op: 'clearValue'; key: string }
  | { op: 'add'; key: string; element: string }
  | { op: 'clearList'; key: string }
  | { op: 'mapPut'; key: string; userKey: string; value: number }
  | { op: 'mapRemove'; key: string; userKey: string }

// Lone surrogates and a leading BOM among the keys and strings: every backend and snapshot keeps them apart and intact.
const KEYS = [...Array.from({ length: 40 }, (_, i) => `key-${i}`), '\uD800', '\uDC00', '\uFEFFkey-0']
const keyArb = fc.constantFrom(...KEYS)
const userKeyArb = fc.constantFrom('a', 'b', 'c', 'd', 'ü', '', '\uD800', '\uDC00', '\uFEFF')

export const modelOpArb: fc.Arbitrary<ModelOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: fc.integer() }),
  fc.record({ op: fc.constant('clearValue' as const), key: keyArb }),
  fc.record({ op: fc.constant('add' as const), key: keyArb, element: fc.string({ unit: 'binary', maxLength: 8 }) }),
  fc.record({ op: fc.constant('clearList' as const), key: keyArb }),
  fc.record({ op: fc.constant('mapPut' as const), key: keyArb, userKey: userKeyArb, value: fc.integer() }),
  fc.record({ op: fc.constant('mapRemove' as const), key: keyArb, userKey: userKeyArb }),
)

export function emptyModel(): SnapshotModel {
  return { values: new Map(), lists: new Map(), maps: new Map() }
}

export function cloneModel(m: SnapshotModel): SnapshotModel {
  return {
    values: new Map(m.values),
    lists: new Map([...m.lists].map(([k, l]) => [k, [...l]])),
    maps: new Map([...m.maps].map(([k, mm]) => [k, new Map(mm)])),
  }
}

/** Applies `ops` to the backend (keys outside its range are skipped) and to the model. */
export function applyOps(backend: KeyedStateBackend<string>, ops: readonly ModelOp[], model: SnapshotModel): void {
  const v = backend.getState(valueDescriptor)
  const l = backend.getListState(listDescriptor)
  const m = backend.getMapState(mapDescriptor)
  for (const o of ops) {
    if (!owns(backend, o.key)) continue
    backend.setCurrentKey(o.key)
    switch (o.op) {
      case 'put':
        v.update(o.value)
        model.values.set(o.key, o.value)
        break
      case 'clearValue':
        v.clear()
        model.values.delete(o.key)
        break
      case 'add':
        l.add(o.element)
        model.lists.set(o.key, [...(model.lists.get(o.key) ?? []), o.element])
        break
      case 'clearList':
        l.clear()
        model.lists.delete(o.key)
        break
      case 'mapPut': {
        m.put(o.userKey, o.value)
        const mm = model.maps.get(o.key) ?? new Map<string, number>()
        mm.set(o.userKey, o.value)
        model.maps.set(o.key, mm)
        break
      }
      case 'mapRemove': {
        m.remove(o.userKey)
        const mm = model.maps.get(o.key)
        mm?.delete(o.userKey)
        if (mm && mm.size === 0) model.maps.delete(o.key)
        break
      }
    }
  }
}

function owns(backend: KeyedStateBackend<string>, key: string): boolean {
  const kg = assignToKeyGroup(stringSerializer.serialize(key), backend.maxParallelism)
  return kg >= backend.keyGroupRange.start && kg <= backend.keyGroupRange.end
}

/** Reads every key of the universe that the backend owns back into model form. */
export function readModel(backend: KeyedStateBackend<string>): SnapshotModel {
  const out = emptyModel()
  const v = backend.getState(valueDescriptor)
  const l = backend.getListState(listDescriptor)
  const m = backend.getMapState(mapDescriptor)
  for (const key of KEYS) {
    if (!owns(backend, key)) continue
    backend.setCurrentKey(key)
    const value = v.value()
    if (value !== undefined) out.values.set(key, value)
    const list = l.get()
    if (list.length > 0) out.lists.set(key, list)
    if (!m.isEmpty()) out.maps.set(key, new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
  }
  return out
}

function modelInRange(model: SnapshotModel, maxParallelism: number, range: KeyGroupRange): SnapshotModel {
  const inRange = (key: string): boolean => {
    const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
    return kg >= range.start && kg <= range.end
  }
  const out = cloneModel(model)
  for (const map of [out.values, out.lists, out.maps] as Array<Map<string, unknown>>) for (const k of [...map.keys()]) if (!inRange(k)) map.delete(k)
  return out
}

function normalized(m: SnapshotModel): unknown {
  const sortEntries = <V>(map: Map<string, V>): Array<[string, V]> => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    values: sortEntries(m.values),
    lists: sortEntries(m.lists),
    maps: sortEntries(m.maps).map(([k, mm]) => [k, sortEntries(mm)]),
  }
}

export function assertModelEqual(actual: SnapshotModel, expected: SnapshotModel, message?: string): void {
  assert.deepEqual(normalized(actual), normalized(expected), message)
}

async function snapshotOf(backend: KeyedStateBackend<string>, id: number, type: SnapshotType, storage: CheckpointStorage): Promise<KeyedStateHandle[]> {
  const { handle } = await backend.snapshot(id, { type, storage }).done
  return handle ? [handle] : []
}

async function restoreInto(
  factory: BackendFactory,
  storage: CheckpointStorage,
  handles: KeyedStateHandle[],
  maxParallelism: number,
  keyGroupRange?: KeyGroupRange,
): Promise<KeyedStateBackend<string>> {
  return factory.open<string>({
    keySerializer: stringSerializer,
    maxParallelism,
    ...(keyGroupRange ? { keyGroupRange } : {}),
    ...(handles.length ? { storage, restoreFrom: handles } : {}),
  })
}

async function withOpen<R>(backends: Array<KeyedStateBackend<string>>, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn()
  } finally {
    await Promise.all(backends.map((b) => b.close()))
  }
}

const TYPES: SnapshotType[] = ['checkpoint', 'savepoint']

/** Property runs per test: a few by default (every backend opens real databases), ten times more with SOAK=1. */
function runs(n: number): number {
  return process.env.SOAK === '1' ? n * 10 : n
}

export function snapshotTests(factory: BackendFactory): void {
  for (const type of TYPES) {
    const incremental = type === 'checkpoint' && factory.supports.incremental
    const kind = incremental ? 'incremental checkpoint' : type
    describe(`[${factory.name}] snapshot and restore (${kind})`, () => {
      test('random state → snapshot → restore into a new backend → equal to the model', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(modelOpArb, { maxLength: 120 }), fc.constantFrom(1, 16, 128), async (ops, maxParallelism) => {
            const storage = await factory.storage()
            const source = await factory.open<string>({ keySerializer: stringSerializer, maxParallelism })
            let handles: KeyedStateHandle[] = []
            const model = emptyModel()
            await withOpen([source], async () => {
              applyOps(source, ops, model)
              handles = await snapshotOf(source, 1, type, storage)
            })
            const restored = await restoreInto(factory, storage, handles, maxParallelism)
            await withOpen([restored], async () => assertModelEqual(readModel(restored), model))
          }),
          { numRuns: runs(8) },
        )
      })

      test('writes after the barrier are absent from the snapshot', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(modelOpArb, { minLength: 1, maxLength: 60 }), fc.array(modelOpArb, { minLength: 1, maxLength: 60 }), async (before, afterOps) => {
            const storage = await factory.storage()
            const source = await factory.open<string>({ keySerializer: stringSerializer })
            const atBarrier = emptyModel()
            let handles: KeyedStateHandle[] = []
            await withOpen([source], async () => {
              applyOps(source, before, atBarrier)
              const run = source.snapshot(1, { type, storage })
              // The job keeps processing during the asynchronous part.
              applyOps(source, afterOps, cloneModel(atBarrier))
              const { handle } = await run.done
              handles = handle ? [handle] : []
            })
            const restored = await restoreInto(factory, storage, handles, 128)
            await withOpen([restored], async () => assertModelEqual(readModel(restored), atBarrier))
          }),
          { numRuns: runs(6) },
        )
      })

      test('two overlapping snapshots each hold the state of their own barrier', async () => {
        const storage = await factory.storage()
        const source = await factory.open<string>({ keySerializer: stringSerializer })
        const model = emptyModel()
        const ops = fc.sample(modelOpArb, { numRuns: 300, seed: 42 })
        let first: KeyedStateHandle[] = []
        let second: KeyedStateHandle[] = []
        const atFirst = emptyModel()
        let atSecond = emptyModel()
        await withOpen([source], async () => {
          applyOps(source, ops.slice(0, 100), model)
          const run1 = source.snapshot(1, { type, storage })
          Object.assign(atFirst, cloneModel(model))
          applyOps(source, ops.slice(100, 200), model)
          const run2 = source.snapshot(2, { type, storage })
          atSecond = cloneModel(model)
          applyOps(source, ops.slice(200), model)
          const [r1, r2] = await Promise.all([run1.done, run2.done])
          first = r1.handle ? [r1.handle] : []
          second = r2.handle ? [r2.handle] : []
          source.notifyCheckpointComplete(1)
          source.notifyCheckpointComplete(2)
        })
        for (const [handles, expected] of [[first, atFirst], [second, atSecond]] as const) {
          const restored = await restoreInto(factory, storage, handles, 128)
          await withOpen([restored], async () => assertModelEqual(readModel(restored), expected))
        }
      })

      test('cancel during the asynchronous part deletes every file and the backend works on', async () => {
        const storage = await factory.storage()
        const source = await factory.open<string>({ keySerializer: stringSerializer, maxParallelism: 32 })
        const model = emptyModel()
        const ops = fc.sample(modelOpArb, { numRuns: 200, seed: 7 })
        await withOpen([source], async () => {
          applyOps(source, ops, model)
          // Full snapshots stop at a named point in the middle; other strategies are cancelled right after their synchronous part.
          const run = source.snapshot(1, { type, storage })
          run.cancel()
          await assert.rejects(run.done, (e: unknown) => e instanceof CancelledError)
          if (!incremental) {
            const hooks: SnapshotHooks = {
              afterKeyGroup: ({ keyGroup, run }) => {
                if (keyGroup === 16) run.cancel()
              },
            }
            const inMiddle = source.snapshot(2, { type, storage, hooks })
            await assert.rejects(inMiddle.done, (e: unknown) => e instanceof CancelledError)
          }
          source.notifyCheckpointAborted(1)
          source.notifyCheckpointAborted(2)
          assert.deepEqual(await storage.list(''), [])
          // The backend works on: more writes, then a snapshot that succeeds.
          applyOps(source, fc.sample(modelOpArb, { numRuns: 50, seed: 8 }), model)
          assertModelEqual(readModel(source), model)
          const handles = await snapshotOf(source, 3, type, storage)
          const restored = await restoreInto(factory, storage, handles, 32)
          await withOpen([restored], async () => assertModelEqual(readModel(restored), model))
        })
      })

      test('restore at another parallelism: each instance holds exactly its key groups, the union is the model', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(modelOpArb, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(8, 32), async (ops, p1, p2, maxParallelism) => {
            const storage = await factory.storage()
            const model = emptyModel()
            const handles: KeyedStateHandle[] = []
            for (let i = 0; i < p1; i++) {
              const range = keyGroupRangeForOperator(maxParallelism, p1, i)
              const source = await factory.open<string>({ keySerializer: stringSerializer, maxParallelism, keyGroupRange: range })
              await withOpen([source], async () => {
                applyOps(source, ops, model)
                // Every old instance holds something, so its handle covers its key groups.
                const marker = firstKeyIn(range, maxParallelism)
                applyOps(source, [{ op: 'put', key: marker, value: -1 }], model)
                handles.push(...(await snapshotOf(source, 1, type, storage)))
              })
            }
            const union = emptyModel()
            for (let j = 0; j < p2; j++) {
              const range = keyGroupRangeForOperator(maxParallelism, p2, j)
              const restored = await restoreInto(factory, storage, handles, maxParallelism, range)
              await withOpen([restored], async () => {
                const got = readModel(restored)
                assertModelEqual(got, modelInRange(model, maxParallelism, range), `instance ${j} of ${p2}`)
                // Keys of other key groups are not visible at all.
                for (const name of ['sv', 'sl', 'sm']) {
                  for (const key of restored.keys(name)) assert.ok(owns(restored, key), `key ${key} of state ${name} is outside ${range.start}..${range.end}`)
                }
                for (const [k, v] of got.values) union.values.set(k, v)
                for (const [k, v] of got.lists) union.lists.set(k, v)
                for (const [k, v] of got.maps) union.maps.set(k, v)
              })
            }
            assertModelEqual(union, model)
          }),
          { numRuns: runs(5) },
        )
      })
    })
  }
}

/** A key of the suite's key universe (or beyond) whose key group lies in `range`. */
function firstKeyIn(range: KeyGroupRange, maxParallelism: number): string {
  for (let i = 0; ; i++) {
    const key = i < KEYS.length ? KEYS[i]! : `extra-${i}`
    const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
    if (kg >= range.start && kg <= range.end) return key
  }
}

/** Savepoints are canonical: a savepoint of `source` restores into `target` (and keeps equal state). */
export function crossBackendSnapshotTests(source: BackendFactory, target: BackendFactory): void {
  describe(`[${source.name} → ${target.name}] savepoint portability`, () => {
    test(`a ${source.name} savepoint restores into ${target.name}, at the same and at another parallelism`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(modelOpArb, { maxLength: 150 }), fc.integer({ min: 1, max: 3 }), async (ops, p2) => {
          const storage = await source.storage()
          const model = emptyModel()
          const from = await source.open<string>({ keySerializer: stringSerializer, maxParallelism: 16 })
          let handles: KeyedStateHandle[] = []
          await withOpen([from], async () => {
            applyOps(from, ops, model)
            handles = await snapshotOf(from, 1, 'savepoint', storage)
          })
          for (let j = 0; j < p2; j++) {
            const range = keyGroupRangeForOperator(16, p2, j)
            const restored = await restoreInto(target, storage, handles, 16, range)
            await withOpen([restored], async () => assertModelEqual(readModel(restored), modelInRange(model, 16, range)))
          }
        }),
        { numRuns: runs(5) },
      )
    })
  })
}
