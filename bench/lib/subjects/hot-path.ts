// The hot path side by side with raw RocksDB (issue 17 item 2): the public
// state API with string keys (`user-123`) or integer keys, against a JS loop
// over our binding and the addon's C++ loop, both on the same composite keys,
// the same values and the same visiting order, in a DB opened with the
// backend's own options. Each subject returns runners of n operations.
import { compositeKey } from '../../../src/encoding.js'
import { assignToKeyGroup } from '../../../src/keygroups.js'
import type { NativeBenchBinding, NativeDb } from '../../../src/backends/rocksdb/native/types.js'
import { int32Serializer, stringSerializer } from '../../../src/serializers/primitives.js'
import type { Serializer } from '../../../src/serializers/serializer.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../../src/state/descriptors.js'
import { openKeyedStateBackend } from '../../../src/backends/open.js'
import { permutation } from '../data.js'
import { BACKEND_LIKE_OPTIONS, MAX_PARALLELISM } from '../keyed.js'
import type { TempSpace } from '../tmp.js'
import { scratchReader } from './raw-native.js'
import { blackhole, cursor, type OpRunner } from './types.js'

export type KeyKind = 'string' | 'int'
export type HotOp = 'update' | 'value' | 'list-add' | 'map-put' | 'map-get'

export const HOT_OPS: ReadonlyArray<{ op: HotOp; label: string }> = [
  { op: 'update', label: 'ValueState update' },
  { op: 'value', label: 'ValueState value(), random' },
  { op: 'list-add', label: 'ListState add' },
  { op: 'map-put', label: 'MapState put' },
  { op: 'map-get', label: 'MapState get' },
]

const FAMILIES = ['value', 'list-add', 'map-put', 'map-get'] as const
const USER_KEYS = Array.from({ length: 16 }, (_, j) => `u${j.toString().padStart(2, '0')}`)
const NO_NAMESPACE = new Uint8Array(0)

/** Keys, values and visiting orders shared by every subject of one key kind. */
export interface HotWorkload<K> {
  kind: KeyKind
  keys: K[]
  keySerializer: Serializer<K>
  values: string[]
  /** Random visiting order over all keys (updates, reads, list adds, map puts). */
  order: Uint32Array
  /** Keys whose maps are prefilled (map get), in random order. */
  mapOrder: Uint32Array
}

export function hotWorkload(kind: 'string', count: number, values: string[]): HotWorkload<string>
export function hotWorkload(kind: 'int', count: number, values: string[]): HotWorkload<number>
export function hotWorkload(kind: KeyKind, count: number, values: string[]): HotWorkload<string> | HotWorkload<number> {
  const order = permutation(count, 3)
  const mapOrder = permutation(Math.max(100, Math.floor(count / 10)), 4)
  if (kind === 'string') return { kind, keys: Array.from({ length: count }, (_, i) => `user-${i}`), keySerializer: stringSerializer, values, order, mapOrder }
  // Spread over the int32 range as ids are, not 0..n-1.
  return { kind, keys: Array.from({ length: count }, (_, i) => (Math.imul(i, 0x9e3779b1) | 0)), keySerializer: int32Serializer, values, order, mapOrder }
}

export type HotRunners = Partial<Record<HotOp, OpRunner>>

/** A runner of n operations: `body` of the next index of `order` (cycled), n times. */
function loop(order: Uint32Array, body: (i: number) => void): OpRunner {
  const next = cursor(order)
  return (n) => {
    for (let j = 0; j < n; j++) body(next())
  }
}

export interface HotSubject {
  ops: HotRunners
  /** Flushes and fully compacts its DB: see settleDb. */
  settle(): void
  close(): Promise<void>
}

/**
 * Flushes and compacts every column family into one sorted run. Reads are
 * measured on DBs settled this way: the API's DB and the raw one are filled
 * alike, but when flushes and compactions run differs, and a read that probes
 * a dozen files against one that probes one measured 0.35× instead of 0.8×.
 */
export function settleDb(db: NativeDb): void {
  db.flush()
  for (const name of db.listColumnFamilies()) db.compactRange(db.columnFamily(name))
}

/** The public API: setCurrentKey, then one state call, per operation. */
export async function apiSubject<K>(tmp: TempSpace, w: HotWorkload<K>): Promise<HotSubject> {
  const dir = tmp.path(`hot-api-${w.kind}`)
  const backend = await openKeyedStateBackend({ kind: 'rocksdb', keySerializer: w.keySerializer, maxParallelism: MAX_PARALLELISM, dir })
  const value = backend.getState(new ValueStateDescriptor('value', stringSerializer))
  const list = backend.getListState(new ListStateDescriptor('list-add', stringSerializer))
  const mapPut = backend.getMapState(new MapStateDescriptor('map-put', stringSerializer, stringSerializer))
  const mapGet = backend.getMapState(new MapStateDescriptor('map-get', stringSerializer, stringSerializer))
  const { keys, values } = w
  for (let i = 0; i < keys.length; i++) {
    backend.setCurrentKey(keys[i]!)
    value.update(values[i]!)
  }
  for (const i of w.mapOrder) {
    backend.setCurrentKey(keys[i]!)
    for (let j = 0; j < USER_KEYS.length; j++) mapGet.put(USER_KEYS[j]!, values[(i + j) % values.length]!)
  }
  let u = 0
  const ops: HotRunners = {
    update: loop(w.order, (i) => {
      backend.setCurrentKey(keys[i]!)
      value.update(values[i]!)
    }),
    value: loop(w.order, (i) => {
      backend.setCurrentKey(keys[i]!)
      blackhole.value = value.value()
    }),
    'list-add': loop(w.order, (i) => {
      backend.setCurrentKey(keys[i]!)
      list.add(values[i]!)
    }),
    'map-put': loop(w.order, (i) => {
      backend.setCurrentKey(keys[i]!)
      mapPut.put(USER_KEYS[u++ & 15]!, values[i]!)
    }),
    'map-get': loop(w.mapOrder, (i) => {
      backend.setCurrentKey(keys[i]!)
      blackhole.value = mapGet.get(USER_KEYS[u++ & 15]!)
    }),
  }
  return {
    ops,
    // The backend's DB is not public; the bench reaches it as the tests of its layout do.
    settle: () => settleDb((backend as unknown as { db: NativeDb }).db),
    close: async () => {
      await backend.close()
      tmp.remove(dir)
    },
  }
}

/** Composite keys of one workload in the backend's layout, and the bytes written for them. */
interface RawKeys {
  keys: Uint8Array[]
  /** keys[i] + the user key of map entry j, for the maps. */
  mapKeys: Uint8Array[][]
  values: Uint8Array[]
  /** One list element frame (u32be length | bytes) per value, as ListState.add merges it. */
  frames: Uint8Array[]
}

function rawKeys<K>(w: HotWorkload<K>): RawKeys {
  const keys: Uint8Array[] = []
  const mapKeys: Uint8Array[][] = []
  for (const key of w.keys) {
    const bytes = w.keySerializer.serialize(key)
    const kg = assignToKeyGroup(bytes, MAX_PARALLELISM)
    keys.push(compositeKey(kg, bytes, NO_NAMESPACE))
    mapKeys.push(USER_KEYS.map((u) => compositeKey(kg, bytes, NO_NAMESPACE, stringSerializer.serialize(u))))
  }
  const values = w.values.map((v) => stringSerializer.serialize(v))
  const frames = values.map((v) => {
    const frame = new Uint8Array(4 + v.length)
    new DataView(frame.buffer).setUint32(0, v.length)
    frame.set(v, 4)
    return frame
  })
  return { keys, mapKeys, values, frames }
}

/** A raw DB with the backend's open options, filled as apiSubject fills its backend. */
export interface RawHotDb {
  db: NativeDb
  cf: Record<(typeof FAMILIES)[number], number>
  raw: RawKeys
  close(): void
}

export function openRawHotDb<K>(native: NativeBenchBinding, tmp: TempSpace, w: HotWorkload<K>): RawHotDb {
  const dir = tmp.path(`hot-raw-${w.kind}`)
  const db = native.open(dir, { ...BACKEND_LIKE_OPTIONS, columnFamilies: [...FAMILIES] })
  const cf = Object.fromEntries(FAMILIES.map((name) => [name, db.columnFamily(name)])) as RawHotDb['cf']
  const raw = rawKeys(w)
  for (let i = 0; i < raw.keys.length; i++) db.put(cf.value, raw.keys[i]!, raw.values[i]!)
  for (const i of w.mapOrder) {
    for (let j = 0; j < USER_KEYS.length; j++) db.put(cf['map-get'], raw.mapKeys[i]![j]!, raw.values[(i + j) % raw.values.length]!)
  }
  return {
    db,
    cf,
    raw,
    close: () => {
      db.close()
      tmp.remove(dir)
    },
  }
}

/** A JS loop over the binding: prebuilt keys and values, one native call per operation. */
export function bindingRunners<K>(r: RawHotDb, w: HotWorkload<K>): HotRunners {
  const { db, cf, raw } = r
  const read = scratchReader(db)
  let u = 0
  return {
    update: loop(w.order, (i) => db.put(cf.value, raw.keys[i]!, raw.values[i]!)),
    value: loop(w.order, (i) => {
      blackhole.value = read(cf.value, raw.keys[i]!)
    }),
    'list-add': loop(w.order, (i) => db.merge(cf['list-add'], raw.keys[i]!, raw.frames[i]!)),
    'map-put': loop(w.order, (i) => db.put(cf['map-put'], raw.mapKeys[i]![u++ & 15]!, raw.values[i]!)),
    'map-get': loop(w.mapOrder, (i) => {
      blackhole.value = read(cf['map-get'], raw.mapKeys[i]![u++ & 15]!)
    }),
  }
}

const OP_PUT = 0
const OP_GET = 1
const OP_MERGE = 2

/** The addon's C++ loop over the same keys (one value for all: its bytes do not change RocksDB's work). Runners return their time in ms. */
export function cppRunners<K>(native: NativeBenchBinding, r: RawHotDb, w: HotWorkload<K>): HotRunners {
  const { db, cf, raw } = r
  const ends = new Uint32Array(raw.keys.length)
  let total = 0
  for (const [i, k] of raw.keys.entries()) ends[i] = total += k.length
  const packed = new Uint8Array(total)
  for (const [i, k] of raw.keys.entries()) packed.set(k, ends[i]! - k.length)
  // Each call starts where the last one stopped, as the JS loops' cursors do.
  const loop = (family: number, op: 0 | 1 | 2, value: Uint8Array): OpRunner => {
    let offset = 0
    const order = w.order
    return (n) => {
      const window = order.subarray(offset, Math.min(order.length, offset + n))
      offset = (offset + window.length) % order.length
      return native.benchRawOps(db, family, op, packed, ends, window, value, n) / 1e6
    }
  }
  return {
    update: loop(cf.value, OP_PUT, raw.values[0]!),
    value: loop(cf.value, OP_GET, raw.values[0]!),
    'list-add': loop(cf['list-add'], OP_MERGE, raw.frames[0]!),
  }
}
