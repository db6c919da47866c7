// The state the crash child holds at checkpoint `id`: a pure function of the
// id. Step s changes a seeded subset of the keys; the state at checkpoint N
// is steps 1..N applied in order. The child applies the steps up to N right
// before N's barrier (whatever ids it skipped after a crash), and the parent
// computes the same fold for any id it finds complete in storage.
import assert from 'node:assert/strict'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { assignToKeyGroup, rangeContains } from '../../src/keygroups.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'

export const KEY_COUNT = 600
export const MAX_PARALLELISM = 32
const LIST_MAX = 4

export const valueDescriptor = new ValueStateDescriptor<string>('value', stringSerializer)
export const mapDescriptor = new MapStateDescriptor<string, number>('map', stringSerializer, int32Serializer)
export const listDescriptor = new ListStateDescriptor<number>('list', int32Serializer)
const STATE_NAMES = [valueDescriptor.name, mapDescriptor.name, listDescriptor.name]

export interface KeyState {
  value: string
  map: Record<string, number>
  list: number[]
}

export type Change = { key: string; op: 'delete' } | { key: string; op: 'touch'; value: string; mapKey: string }

function mix(a: number, b: number): number {
  let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x632be5ab, 0x85ebca6b)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export function keyName(i: number): string {
  return `key-${i.toString().padStart(4, '0')}`
}

/** What step `step` does: about one key in eight changes, one in a hundred is deleted. */
export function changesOfStep(step: number): Change[] {
  const out: Change[] = []
  for (let i = 0; i < KEY_COUNT; i++) {
    const h = mix(step, i)
    if (h % 97 === 0) out.push({ key: keyName(i), op: 'delete' })
    else if (h % 8 === 0) {
      // Values of a few hundred bytes, so that checkpoints have SSTs worth uploading.
      const value = `${keyName(i)}@${step}:${(h.toString(36) + step.toString(36)).repeat(24)}`
      out.push({ key: keyName(i), op: 'touch', value, mapKey: `m${h % 5}` })
    }
  }
  return out
}

function applyToModel(model: Map<string, KeyState>, step: number): void {
  for (const c of changesOfStep(step)) {
    if (c.op === 'delete') {
      model.delete(c.key)
      continue
    }
    const s = model.get(c.key) ?? { value: '', map: {}, list: [] }
    s.value = c.value
    s.map[c.mapKey] = step
    s.list = [...s.list, step].slice(-LIST_MAX)
    model.set(c.key, s)
  }
}

/** The state at checkpoint `id` (steps 1..id). */
export function stateAt(id: number): Map<string, KeyState> {
  const model = new Map<string, KeyState>()
  for (let step = 1; step <= id; step++) applyToModel(model, step)
  return model
}

/** Brings the backends (each owning part of the key groups) from the state of `fromId` to that of `toId`. */
export function applySteps(backends: readonly KeyedStateBackend<string>[], fromId: number, toId: number): void {
  const owner = (key: string): KeyedStateBackend<string> => {
    const kg = assignToKeyGroup(stringSerializer.serialize(key), backends[0]!.maxParallelism)
    const b = backends.find((x) => rangeContains(x.keyGroupRange, kg))
    if (!b) throw new Error(`no backend owns ${key} (key group ${kg})`)
    b.setCurrentKey(key)
    return b
  }
  for (let step = fromId + 1; step <= toId; step++) {
    for (const c of changesOfStep(step)) {
      const b = owner(c.key)
      if (c.op === 'delete') {
        b.getState(valueDescriptor).clear()
        b.getMapState(mapDescriptor).clear()
        b.getListState(listDescriptor).clear()
        continue
      }
      b.getState(valueDescriptor).update(c.value)
      b.getMapState(mapDescriptor).put(c.mapKey, step)
      const list = b.getListState(listDescriptor)
      list.update([...list.get(), step].slice(-LIST_MAX))
    }
  }
}

/** Reads every key's state out of the backends (which together own every key group). */
export function readState(backends: readonly KeyedStateBackend<string>[]): Map<string, KeyState> {
  const out = new Map<string, KeyState>()
  for (const b of backends) {
    const names = b.stateNames()
    const keys = new Set<string>()
    for (const name of STATE_NAMES) if (names.includes(name)) for (const k of b.keys(name)) keys.add(k)
    for (const key of keys) {
      assert.ok(!out.has(key), `${key} has state in two instances`)
      b.setCurrentKey(key)
      out.set(key, {
        // undefined (a value lost while map and list survived) fails the comparison below
        value: b.getState(valueDescriptor).value() as string,
        map: Object.fromEntries(b.getMapState(mapDescriptor).entries()),
        list: b.getListState(listDescriptor).get(),
      })
    }
  }
  return out
}

/** Throws naming the first differing key unless `actual` is the state at checkpoint `id`. */
export function assertStateAt(actual: Map<string, KeyState>, id: number, where: string): void {
  const expected = stateAt(id)
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${where}: keys at checkpoint ${id}`)
  for (const [key, want] of expected) {
    const got = actual.get(key)!
    const sortedMap = (m: Record<string, number>): [string, number][] => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1))
    assert.equal(got.value, want.value, `${where}: value of ${key} at checkpoint ${id}`)
    assert.deepEqual(sortedMap(got.map), sortedMap(want.map), `${where}: map of ${key} at checkpoint ${id}`)
    assert.deepEqual(got.list, want.list, `${where}: list of ${key} at checkpoint ${id}`)
  }
}
