// A plain JS Map: the ceiling for the heap backend (no serialization, no key groups).
import { blackhole, cursor, type AccessSubject, type AccessWorkload } from './types.js'

export function jsMapSubject(w: AccessWorkload): AccessSubject {
  const { keys, values, userKeys } = w
  const valueMap = new Map<string, string>()
  const listAdd = new Map<string, string[]>()
  const listGet = new Map<string, string[]>()
  const mapPut = new Map<string, Map<string, string>>()
  const mapGet = new Map<string, Map<string, string>>()
  for (const i of w.collectionOrder) {
    listGet.set(keys[i]!, Array.from({ length: w.listLength }, (_, j) => values[(i + j) % values.length]!))
    mapGet.set(keys[i]!, new Map(userKeys.slice(0, w.mapEntries).map((u, j) => [u, values[(i + j) % values.length]!])))
  }
  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          valueMap.set(keys[i]!, values[i]!)
          blackhole.value = valueMap.get(keys[i]!)
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          const list = listAdd.get(keys[i]!)
          if (list) list.push(values[i]!)
          else listAdd.set(keys[i]!, [values[i]!])
        }
      }
    })(),
    'list-get': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = listGet.get(keys[next()]!)
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          let m = mapPut.get(keys[i]!)
          if (!m) mapPut.set(keys[i]!, (m = new Map()))
          m.set(userKeys[u++ & 15]!, values[i]!)
        }
      }
    })(),
    'map-get': (() => {
      const next = cursor(w.collectionOrder)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = mapGet.get(keys[next()]!)!.get(userKeys[u++ & 15]!)
      }
    })(),
    'map-iterate': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) for (const e of mapGet.get(keys[next()]!)!) blackhole.value = e
      }
    })(),
  }
  return {
    name: 'JS Map',
    ops,
    note: 'JS Map: Map<key, value>, Map<key, array> for lists (get returns the stored array, no copy), Map<key, Map> for maps',
    close: async () => {},
  }
}

/**
 * A JS Map that checks each written value's type first, as the heap backend
 * does (it refuses what its serializer could not write, like RocksDB):
 * what the check costs once the values are not in cache. Writes only; its
 * reads would be the plain Map's.
 */
export function jsCheckedMapSubject(w: AccessWorkload): AccessSubject {
  const { keys, values, userKeys } = w
  const valueMap = new Map<string, string>()
  const listAdd = new Map<string, string[]>()
  const mapPut = new Map<string, Map<string, string>>()
  const checked = (v: unknown): string => {
    if (typeof v !== 'string') throw new TypeError('not a string')
    return v
  }
  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          valueMap.set(keys[i]!, checked(values[i]))
          blackhole.value = valueMap.get(keys[i]!)
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          const v = checked(values[i])
          const list = listAdd.get(keys[i]!)
          if (list) list.push(v)
          else listAdd.set(keys[i]!, [v])
        }
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          const v = checked(values[i])
          let m = mapPut.get(keys[i]!)
          if (!m) mapPut.set(keys[i]!, (m = new Map()))
          m.set(checked(userKeys[u++ & 15]), v)
        }
      }
    })(),
  }
  return {
    name: 'JS Map, checked',
    ops,
    note: "JS Map, checked: the plain Map's writes with a typeof check of each written value (and map key) first, as the heap backend checks what it stores",
    close: async () => {},
  }
}
