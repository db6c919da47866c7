// The references for the RocksDB backend: a loop over our binding with keys and
// values prebuilt in the backend's byte layout (what the state layer adds is
// everything else), and the addon's C++ loop (what crossing N-API costs).
import { compositeKey, encodeListElements, prefixUpperBound } from '../../../src/encoding.js'
import { assignToKeyGroup } from '../../../src/keygroups.js'
import type { NativeBenchBinding, NativeBinding, NativeDb } from '../../../src/backends/rocksdb/native/types.js'
import { BACKEND_LIKE_OPTIONS, MAX_PARALLELISM } from '../keyed.js'
import type { TempSpace } from '../tmp.js'
import { blackhole, cursor, type AccessSubject, type AccessWorkload } from './types.js'

const NO_NAMESPACE = new Uint8Array(0)
const COLUMN_FAMILIES = ['value', 'list-add', 'list-get', 'map-put', 'map-get']

/** Composite key of key `i` in the layout the RocksDB backend writes (encoding.ts). */
function entryKey(key: string, userKey?: string): Uint8Array {
  const keyBytes = Buffer.from(key)
  const kg = assignToKeyGroup(keyBytes, MAX_PARALLELISM)
  return compositeKey(kg, keyBytes, NO_NAMESPACE, userKey === undefined ? undefined : Buffer.from(userKey))
}

/** getInto into one scratch buffer, growing it when a value does not fit (as the backend must); returns getInto's length. */
export function scratchReader(db: NativeDb): (family: number, key: Uint8Array) => number {
  let scratch = new Uint8Array(64 * 1024)
  return (family, key) => {
    let n = db.getInto(family, key, scratch)
    if (n < -1) {
      scratch = new Uint8Array(-n - 2)
      n = db.getInto(family, key, scratch)
    }
    return n
  }
}

export function rawBindingSubject(native: NativeBinding, tmp: TempSpace, w: AccessWorkload): AccessSubject {
  const dir = tmp.path('access-raw-binding')
  const db = native.open(dir, { ...BACKEND_LIKE_OPTIONS, columnFamilies: COLUMN_FAMILIES })
  const cf = Object.fromEntries(COLUMN_FAMILIES.map((name) => [name, db.columnFamily(name)])) as Record<string, number>
  const keys = w.keys.map((k) => entryKey(k))
  const values = w.values.map((v) => Buffer.from(v))
  const listElements = values.map((v) => encodeListElements([v]))
  const mapKeys = w.keys.map((k) => w.userKeys.map((u) => entryKey(k, u)))
  const prefixBounds = keys.map((k) => prefixUpperBound(k)!)

  for (const i of w.collectionOrder) {
    const list: Uint8Array[] = []
    for (let j = 0; j < w.listLength; j++) list.push(values[(i + j) % values.length]!)
    db.put(cf['list-get']!, keys[i]!, encodeListElements(list))
    for (let j = 0; j < w.mapEntries; j++) db.put(cf['map-get']!, mapKeys[i]![j]!, values[(i + j) % values.length]!)
  }

  const read = scratchReader(db)

  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      const family = cf.value!
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          db.put(family, keys[i]!, values[i]!)
          blackhole.value = read(family, keys[i]!)
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      const family = cf['list-add']!
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          db.merge(family, keys[i]!, listElements[i]!)
        }
      }
    })(),
    'list-get': (() => {
      const next = cursor(w.collectionOrder)
      const family = cf['list-get']!
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = read(family, keys[next()]!)
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      const family = cf['map-put']!
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          db.put(family, mapKeys[i]![u++ & 15]!, values[i]!)
        }
      }
    })(),
    'map-get': (() => {
      const next = cursor(w.collectionOrder)
      const family = cf['map-get']!
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = read(family, mapKeys[next()]![u++ & 15]!)
      }
    })(),
    'map-iterate': (() => {
      const next = cursor(w.collectionOrder)
      const family = cf['map-get']!
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          const it = db.iterator(family, { gte: keys[i]!, lt: prefixBounds[i]! })
          for (let chunk = it.nextChunk(1024, 1 << 20); chunk; chunk = it.nextChunk(1024, 1 << 20)) blackhole.value = chunk
          it.close()
        }
      }
    })(),
  }
  return {
    name: 'raw binding loop',
    ops,
    note: 'raw binding loop: db.put + db.getInto (merge for list add, one packed iterator per map) with keys and values prebuilt in the backend layout',
    close: async () => {
      db.close()
      tmp.remove(dir)
    },
  }
}

export function rawCppSubject(native: NativeBenchBinding, tmp: TempSpace, w: AccessWorkload): AccessSubject {
  const dir = tmp.path('access-raw-cpp')
  const db = native.open(dir, { ...BACKEND_LIKE_OPTIONS, columnFamilies: ['value'] })
  const family = db.columnFamily('value')
  const valueBytes = Buffer.byteLength(w.values[0] ?? '')
  return {
    name: 'raw C++ loop',
    ops: { value: (n: number) => native.benchRawLoop(db, family, n, valueBytes) / 1e6 },
    selfTimed: { value: true },
    note: `raw C++ loop: benchRawLoop (put+get in C++ inside the addon, ${valueBytes}-byte values), timed by the addon`,
    close: async () => {
      db.close()
      tmp.remove(dir)
    },
  }
}
