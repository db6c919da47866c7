// Timer queues of the RocksDB backend. Timers live in their timer state's
// column family (entry key = timer, empty value; see src/timers/entry.ts), so
// full and incremental snapshots, restore and rescaling handle them like any
// state. In memory there is either a bounded cache of each key group's earliest
// timers (timers: 'rocksdb') or every timer (timers: 'heap', written through).
import { keyGroupPrefix } from '../../encoding.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeDb } from './native/types.js'
import { decodeTimer } from '../../timers/entry.js'
import { CachedKeyGroupQueue, HeapKeyGroupQueue, PartitionedTimerQueue, type KeyGroupTimerQueue, type TimerStore } from '../../timers/queue.js'
import type { TimersKind } from '../../timers/registry.js'
import { KeyedStateError } from '../../errors.js'
import { ChunkCursor } from './packed-chunks.js'

/** Earliest timers cached per key group (timers: 'rocksdb'); firing scans the store only when a key group's cache runs dry. */
export const TIMER_CACHE_PER_KEY_GROUP = 64
const SCAN_BYTES_MAX = 256 * 1024
const EMPTY = new Uint8Array(0)

export function columnFamilyTimerStore(db: NativeDb, cf: number): TimerStore {
  const cursor = new ChunkCursor(EMPTY)
  return {
    put: (entryKey) => db.put(cf, entryKey, EMPTY),
    delete: (entryKey) => db.delete(cf, entryKey),
    scan(keyGroup, from, limit) {
      const out: Uint8Array[] = []
      const it = db.iterator(cf, { gte: from ?? keyGroupPrefix(keyGroup), lt: keyGroupPrefix(keyGroup + 1), keysOnly: true })
      try {
        while (out.length < limit) {
          const chunk = it.nextChunk(Math.min(limit - out.length, 4096), SCAN_BYTES_MAX)
          if (chunk === null) break
          cursor.reset(chunk)
          while (cursor.next()) out.push(cursor.bytes.slice(cursor.keyStart, cursor.keyEnd))
        }
      } finally {
        it.close()
      }
      return out
    },
  }
}

/** Key groups of `range` holding at least one entry in `cf`: one seek per non-empty key group. */
function nonEmptyKeyGroups(db: NativeDb, cf: number, range: KeyGroupRange): Set<number> {
  const found = new Set<number>()
  const cursor = new ChunkCursor(EMPTY)
  const it = db.iterator(cf, { gte: keyGroupPrefix(range.start), lt: keyGroupPrefix(range.end + 1), keysOnly: true })
  try {
    for (;;) {
      const chunk = it.nextChunk(1, 1)
      if (chunk === null) break
      cursor.reset(chunk)
      if (!cursor.next()) break
      const kg = cursor.keyGroup()
      found.add(kg)
      if (kg >= range.end) break
      it.seek(keyGroupPrefix(kg + 1))
    }
  } finally {
    it.close()
  }
  return found
}

export function rocksdbTimerQueue(db: NativeDb, cf: number, range: KeyGroupRange, kind: TimersKind, stateName: string): PartitionedTimerQueue {
  const store = columnFamilyTimerStore(db, cf)
  const nonEmpty = nonEmptyKeyGroups(db, cf, range)
  const where = `timer state '${stateName}'`
  const queues: KeyGroupTimerQueue[] = []
  for (let kg = range.start; kg <= range.end; kg++) {
    if (kind === 'rocksdb') {
      queues.push(new CachedKeyGroupQueue(kg, store, TIMER_CACHE_PER_KEY_GROUP, where, !nonEmpty.has(kg)))
      continue
    }
    const queue = new HeapKeyGroupQueue(store)
    if (nonEmpty.has(kg)) {
      for (const bytes of store.scan(kg, undefined, Number.MAX_SAFE_INTEGER)) {
        const entry = decodeTimer(bytes, where)
        if (entry.keyGroup !== kg) {
          throw new KeyedStateError('CORRUPTION', `${where}: a timer of key group ${entry.keyGroup} is stored in key group ${kg}`, { state: stateName, keyGroup: kg })
        }
        queue.insert(entry)
      }
    }
    queues.push(queue)
  }
  return new PartitionedTimerQueue(range, queues)
}
