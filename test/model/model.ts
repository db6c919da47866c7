// A plain in-memory model of keyed state and random operations on it, for
// model-based tests: the same operations run on a backend and on the model,
// and the two are compared after every step.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import {
  AggregatingStateDescriptor,
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  stringSerializer,
  tupleSerializer,
  ValueStateDescriptor,
  voidNamespaceSerializer,
  type AnyStateDescriptor,
} from '../../src/index.js'

export type Kind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating'
export const KINDS: readonly Kind[] = ['value', 'list', 'map', 'reducing', 'aggregating']
/** undefined: the plain state (void namespace); a string: the namespaced twin of the state. */
export type Ns = string | undefined
export const NAMESPACES: readonly Ns[] = [undefined, 'w1', 'w2']
/** A few keys, so that operations hit the same keys often; one non-ASCII. */
export const KEYS = ['alice', 'bob', 'carol', 'dave', 'ëve', 'k5', 'k6', 'k7'] as const
const USER_KEYS = ['a', 'b', 'c', 'd'] as const

function makeDescriptors(suffix: string) {
  return {
    value: new ValueStateDescriptor(`value${suffix}`, int32Serializer),
    list: new ListStateDescriptor(`list${suffix}`, stringSerializer),
    map: new MapStateDescriptor(`map${suffix}`, stringSerializer, int32Serializer),
    reducing: new ReducingStateDescriptor(`reducing${suffix}`, (a: number, b: number) => a + b, int32Serializer),
    aggregating: new AggregatingStateDescriptor(
      `aggregating${suffix}`,
      {
        createAccumulator: (): [number, number] => [0, 0],
        add: (v: number, acc: [number, number]): [number, number] => {
          // Mutates in place, as real aggregate functions often do.
          acc[0] += v
          acc[1] += 1
          return acc
        },
        getResult: ([sum, count]: [number, number]) => `${sum}/${count}`,
      },
      tupleSerializer(int32Serializer, int32Serializer),
    ),
  } satisfies Record<Kind, AnyStateDescriptor>
}

export const descriptors = makeDescriptors('')
export const namespacedDescriptors = makeDescriptors('-ns')

/** The namespaced twin of each state has its own name (a state has one namespace serializer). */
export function stateName(kind: Kind, ns: Ns): string {
  return ns === undefined ? kind : `${kind}-ns`
}

export type Op =
  | { op: 'setKey'; key: string }
  | { op: 'valueUpdate'; ns: Ns; value: number }
  | { op: 'listAdd'; ns: Ns; value: string }
  | { op: 'listAddAll'; ns: Ns; values: string[] }
  | { op: 'listUpdate'; ns: Ns; values: string[] }
  | { op: 'mapPut'; ns: Ns; userKey: string; value: number }
  | { op: 'mapPutAll'; ns: Ns; entries: [string, number][] }
  | { op: 'mapRemove'; ns: Ns; userKey: string }
  | { op: 'reducingAdd'; ns: Ns; value: number }
  | { op: 'aggregatingAdd'; ns: Ns; value: number }
  | { op: 'clear'; ns: Ns; kind: Kind }

const ns = fc.constantFrom(...NAMESPACES)
const small = fc.integer({ min: -1000, max: 1000 })
const element = fc.string({ maxLength: 6 })
const userKey = fc.constantFrom(...USER_KEYS)

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('setKey' as const), key: fc.constantFrom(...KEYS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('valueUpdate' as const), ns, value: small }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('listAdd' as const), ns, value: element }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('listAddAll' as const), ns, values: fc.array(element, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('listUpdate' as const), ns, values: fc.array(element, { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mapPut' as const), ns, userKey, value: small }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('mapPutAll' as const), ns, entries: fc.array(fc.tuple(userKey, small), { maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mapRemove' as const), ns, userKey }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reducingAdd' as const), ns, value: small }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('aggregatingAdd' as const), ns, value: small }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('clear' as const), ns, kind: fc.constantFrom(...KINDS) }) },
)

/** The observable value of one state for one key and namespace, as the state API returns it. */
export type View = number | string | string[] | [string, number][] | undefined

/** Stored value per state name -> namespace ('' for none) -> key. */
type Slot = number | string[] | Map<string, number> | [number, number]

export class Model {
  private readonly data = new Map<string, Map<string, Map<string, Slot>>>()
  currentKey: string | undefined

  private table(kind: Kind, n: Ns): Map<string, Slot> {
    const name = stateName(kind, n)
    let byNs = this.data.get(name)
    if (!byNs) this.data.set(name, (byNs = new Map()))
    let byKey = byNs.get(n ?? '')
    if (!byKey) byNs.set(n ?? '', (byKey = new Map()))
    return byKey
  }

  private get(kind: Kind, n: Ns, key = this.currentKey!): Slot | undefined {
    return this.table(kind, n).get(key)
  }

  private set(kind: Kind, n: Ns, slot: Slot | undefined): void {
    if (slot === undefined) this.table(kind, n).delete(this.currentKey!)
    else this.table(kind, n).set(this.currentKey!, slot)
  }

  apply(op: Op): void {
    switch (op.op) {
      case 'setKey':
        this.currentKey = op.key
        return
      case 'valueUpdate':
        return this.set('value', op.ns, op.value)
      case 'listAdd':
        return this.set('list', op.ns, [...((this.get('list', op.ns) as string[]) ?? []), op.value])
      case 'listAddAll':
        if (op.values.length === 0) return
        return this.set('list', op.ns, [...((this.get('list', op.ns) as string[]) ?? []), ...op.values])
      case 'listUpdate':
        return this.set('list', op.ns, op.values.length === 0 ? undefined : [...op.values])
      case 'mapPut':
      case 'mapPutAll': {
        const m = new Map((this.get('map', op.ns) as Map<string, number>) ?? [])
        const entries = op.op === 'mapPut' ? [[op.userKey, op.value] as const] : op.entries
        for (const [k, v] of entries) m.set(k, v)
        return this.set('map', op.ns, m.size === 0 ? undefined : m)
      }
      case 'mapRemove': {
        const m = new Map((this.get('map', op.ns) as Map<string, number>) ?? [])
        m.delete(op.userKey)
        return this.set('map', op.ns, m.size === 0 ? undefined : m)
      }
      case 'reducingAdd':
        return this.set('reducing', op.ns, ((this.get('reducing', op.ns) as number) ?? 0) + op.value)
      case 'aggregatingAdd': {
        const [sum, count] = (this.get('aggregating', op.ns) as [number, number]) ?? [0, 0]
        return this.set('aggregating', op.ns, [sum + op.value, count + 1])
      }
      case 'clear':
        return this.set(op.kind, op.ns, undefined)
    }
  }

  view(kind: Kind, n: Ns, key = this.currentKey!): View {
    const slot = this.get(kind, n, key)
    if (slot === undefined) return kind === 'list' ? [] : kind === 'map' ? [] : undefined
    switch (kind) {
      case 'value':
      case 'reducing':
        return slot as number
      case 'list':
        return [...(slot as string[])]
      case 'map':
        return [...(slot as Map<string, number>)].sort(byFirst)
      case 'aggregating': {
        const [sum, count] = slot as [number, number]
        return `${sum}/${count}`
      }
    }
  }

  /** Keys holding state `kind` (in namespace `n` when given, else in any of the state's namespaces). */
  keys(kind: Kind, n: Ns | 'any-namespace'): string[] {
    const out = new Set<string>()
    const names = n === 'any-namespace' ? [stateName(kind, 'w1')] : [stateName(kind, n)]
    for (const name of names) {
      for (const [nsId, byKey] of this.data.get(name) ?? []) {
        if (n !== 'any-namespace' && nsId !== (n ?? '')) continue
        for (const k of byKey.keys()) out.add(k)
      }
    }
    return [...out].sort()
  }
}

function byFirst(a: [string, number], b: [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
}

const NS_SERIALIZER = stringSerializer

function stateOf(backend: KeyedStateBackend<string>, kind: Kind, n: Ns): any {
  const d = n === undefined ? descriptors[kind] : namespacedDescriptors[kind]
  return n === undefined ? backend.getPartitionedState(undefined, voidNamespaceSerializer, d) : backend.getPartitionedState(n, NS_SERIALIZER, d)
}

/** Runs `op` on the backend. */
export function applyToBackend(backend: KeyedStateBackend<string>, op: Op): void {
  switch (op.op) {
    case 'setKey':
      return backend.setCurrentKey(op.key)
    case 'valueUpdate':
      return stateOf(backend, 'value', op.ns).update(op.value)
    case 'listAdd':
      return stateOf(backend, 'list', op.ns).add(op.value)
    case 'listAddAll':
      return stateOf(backend, 'list', op.ns).addAll(op.values)
    case 'listUpdate':
      return stateOf(backend, 'list', op.ns).update(op.values)
    case 'mapPut':
      return stateOf(backend, 'map', op.ns).put(op.userKey, op.value)
    case 'mapPutAll':
      return stateOf(backend, 'map', op.ns).putAll(op.entries)
    case 'mapRemove':
      return stateOf(backend, 'map', op.ns).remove(op.userKey)
    case 'reducingAdd':
      return stateOf(backend, 'reducing', op.ns).add(op.value)
    case 'aggregatingAdd':
      return stateOf(backend, 'aggregating', op.ns).add(op.value)
    case 'clear':
      return stateOf(backend, op.kind, op.ns).clear()
  }
}

/** What the backend shows for state `kind` in namespace `n` under the current key, in the model's form. */
export function backendView(backend: KeyedStateBackend<string>, kind: Kind, n: Ns): View {
  const s = stateOf(backend, kind, n)
  switch (kind) {
    case 'value':
      return s.value()
    case 'list':
      return s.get()
    case 'map': {
      const entries = [...s.entries()] as [string, number][]
      assert.equal(s.isEmpty(), entries.length === 0, 'isEmpty() agrees with entries()')
      for (const [k, v] of entries) {
        assert.equal(s.get(k), v)
        assert.equal(s.contains(k), true)
      }
      return entries.sort(byFirst)
    }
    case 'reducing':
    case 'aggregating':
      return s.get()
  }
}

export function kindOf(op: Op): Kind | undefined {
  switch (op.op) {
    case 'setKey':
      return undefined
    case 'valueUpdate':
      return 'value'
    case 'listAdd':
    case 'listAddAll':
    case 'listUpdate':
      return 'list'
    case 'mapPut':
    case 'mapPutAll':
    case 'mapRemove':
      return 'map'
    case 'reducingAdd':
      return 'reducing'
    case 'aggregatingAdd':
      return 'aggregating'
    case 'clear':
      return op.kind
  }
}

/** Every state of every key and namespace, compared; restores the current key afterwards. */
export function compareAll(backend: KeyedStateBackend<string>, model: Model): void {
  for (const key of KEYS) {
    backend.setCurrentKey(key)
    for (const kind of KINDS) for (const n of NAMESPACES) assert.deepEqual(backendView(backend, kind, n), model.view(kind, n, key), `${kind} ${n ?? '(no namespace)'} of key ${key}`)
  }
  if (model.currentKey !== undefined) backend.setCurrentKey(model.currentKey)
}

/** keys() of every state, with and without namespace, compared. */
export function compareKeys(backend: KeyedStateBackend<string>, model: Model): void {
  const registered = new Set(backend.stateNames())
  for (const kind of KINDS) {
    for (const n of NAMESPACES) {
      const name = stateName(kind, n)
      if (!registered.has(name)) continue
      const got = n === undefined ? [...backend.keys(name)] : [...backend.keys(name, n, NS_SERIALIZER)]
      assert.deepEqual(got.sort(), model.keys(kind, n), `keys('${name}', ${n ?? ''})`)
    }
    if (registered.has(stateName(kind, 'w1'))) {
      assert.deepEqual([...backend.keys(stateName(kind, 'w1'))].sort(), model.keys(kind, 'any-namespace'), `keys('${stateName(kind, 'w1')}')`)
    }
  }
}

/** Runs `ops` on both, comparing the touched state after every step, everything every `fullEvery` steps and at the end. */
export function runOps(backend: KeyedStateBackend<string>, model: Model, ops: readonly Op[], fullEvery = 25): void {
  ops.forEach((op, i) => {
    if (op.op !== 'setKey' && model.currentKey === undefined) return
    applyToBackend(backend, op)
    model.apply(op)
    const kind = kindOf(op)
    if (kind !== undefined) {
      const n = (op as { ns: Ns }).ns
      assert.deepEqual(backendView(backend, kind, n), model.view(kind, n), `after step ${i} ${JSON.stringify(op)}`)
    }
    if ((i + 1) % fullEvery === 0) compareAll(backend, model)
  })
  compareAll(backend, model)
  compareKeys(backend, model)
}
