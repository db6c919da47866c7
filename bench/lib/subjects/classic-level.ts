// classic-level (LevelDB), what most Node users reach for. Writes are async
// (the only API it has); reads use getSync, its fastest read path. Lists are
// stored as one entry per element (key!seq), maps as key#userKey.
import { ClassicLevel } from 'classic-level'
import type { TempSpace } from '../tmp.js'
import { blackhole, cursor, type AccessSubject, type AccessWorkload } from './types.js'

export async function classicLevelSubject(tmp: TempSpace, w: AccessWorkload): Promise<AccessSubject> {
  const dir = tmp.path('access-classic-level')
  const db = new ClassicLevel<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  await db.open()
  const { keys, values, userKeys } = w
  const listKey = (k: string, seq: number) => `l|${k}!${seq.toString(36).padStart(8, '0')}`
  const mapKey = (k: string, u: string) => `m|${k}#${u}`

  const prefill = db.batch()
  for (const i of w.collectionOrder) {
    for (let j = 0; j < w.listLength; j++) prefill.put(`g|${keys[i]}!${j.toString(36).padStart(8, '0')}`, values[(i + j) % values.length]!)
    for (let j = 0; j < w.mapEntries; j++) prefill.put(`n|${keys[i]}#${userKeys[j]}`, values[(i + j) % values.length]!)
  }
  await prefill.write()

  let seq = 0
  const ops: AccessSubject['ops'] = {
    value: (() => {
      const next = cursor(w.order)
      return async (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          await db.put(`v|${keys[i]}`, values[i]!)
          blackhole.value = db.getSync(`v|${keys[i]}`)
        }
      }
    })(),
    'list-add': (() => {
      const next = cursor(w.order)
      return async (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          await db.put(listKey(keys[i]!, seq++), values[i]!)
        }
      }
    })(),
    'list-get': (() => {
      const next = cursor(w.collectionOrder)
      return async (n: number) => {
        for (let j = 0; j < n; j++) {
          const k = keys[next()]!
          blackhole.value = await db.values({ gte: `g|${k}!`, lt: `g|${k}"` }).all()
        }
      }
    })(),
    'map-put': (() => {
      const next = cursor(w.order)
      let u = 0
      return async (n: number) => {
        for (let j = 0; j < n; j++) {
          const i = next()
          await db.put(mapKey(keys[i]!, userKeys[u++ & 15]!), values[i]!)
        }
      }
    })(),
    'map-get': (() => {
      const next = cursor(w.collectionOrder)
      let u = 0
      return (n: number) => {
        for (let j = 0; j < n; j++) blackhole.value = db.getSync(`n|${keys[next()]}#${userKeys[u++ & 15]}`)
      }
    })(),
    'map-iterate': (() => {
      const next = cursor(w.collectionOrder)
      return async (n: number) => {
        for (let j = 0; j < n; j++) {
          const k = keys[next()]!
          blackhole.value = await db.iterator({ gte: `n|${k}#`, lt: `n|${k}$` }).all()
        }
      }
    })(),
  }
  return {
    name: 'classic-level',
    ops,
    opsPerCall: 100,
    note: 'classic-level: await put (its only write API), getSync for reads, lists as one entry per element, ranges read with iterator().all()',
    close: async () => {
      await db.close()
      tmp.remove(dir)
    },
  }
}
