// keyed-state itself (RocksDB or heap backend) through the public state API,
// with setCurrentKey before every access as a stream operator does per record.
import { stringSerializer } from '../../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor } from '../../../src/state/descriptors.js'
import { openBackend, valueDescriptor, type Kind } from '../keyed.js'
import type { TempSpace } from '../tmp.js'
import { blackhole, cursor, type AccessSubject, type AccessWorkload } from './types.js'

export async function keyedStateSubject(tmp: TempSpace, kind: Kind, w: AccessWorkload): Promise<AccessSubject> {
  const opened = await openBackend(tmp, kind, `access-${kind}`)
  const b = opened.backend
  const value = b.getState(valueDescriptor())
  const listAdd = b.getListState(new ListStateDescriptor('list-add', stringSerializer))
  const listGet = b.getListState(new ListStateDescriptor('list-get', stringSerializer))
  const mapPut = b.getMapState(new MapStateDescriptor('map-put', stringSerializer, stringSerializer))
  const mapGet = b.getMapState(new MapStateDescriptor('map-get', stringSerializer, stringSerializer))

  for (const i of w.collectionOrder) {
    b.setCurrentKey(w.keys[i]!)
    for (let j = 0; j < w.listLength; j++) listGet.add(w.values[(i + j) % w.values.length]!)
    for (let j = 0; j < w.mapEntries; j++) mapGet.put(w.userKeys[j]!, w.values[(i + j) % w.values.length]!)
  }

  const { keys, values, userKeys } = w
  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          b.setCurrentKey(keys[i]!)
          value.update(values[i]!)
          blackhole.value = value.value()
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          b.setCurrentKey(keys[i]!)
          listAdd.add(values[i]!)
        }
      }
    })(),
    'list-get': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          b.setCurrentKey(keys[next()]!)
          blackhole.value = listGet.get()
        }
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          b.setCurrentKey(keys[i]!)
          mapPut.put(userKeys[u++ & 15]!, values[i]!)
        }
      }
    })(),
    'map-get': (() => {
      const next = cursor(w.collectionOrder)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          b.setCurrentKey(keys[next()]!)
          blackhole.value = mapGet.get(userKeys[u++ & 15]!)
        }
      }
    })(),
    'map-iterate': (() => {
      const next = cursor(w.collectionOrder)
      return (n: number) => {
        for (let j = 0; j < n; j++) {
          b.setCurrentKey(keys[next()]!)
          for (const e of mapGet.entries()) blackhole.value = e
        }
      }
    })(),
  }
  return {
    name: kind === 'rocksdb' ? 'keyed-state RocksDB' : 'keyed-state heap',
    ops,
    close: () => opened.dispose(),
  }
}
