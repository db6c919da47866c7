// Timer queues. Timers are partitioned by key group (like all keyed state), so
// a queue is one small queue per key group plus an index of the key groups
// ordered by their earliest timer: firing looks at the index's head only, and
// a change in one key group costs O(log keyGroups).
//
// Two key-group queue implementations share this frame:
//   HeapKeyGroupQueue    every timer in memory: a binary heap plus a Map for
//                        de-duplication (optionally writing through to a store);
//   CachedKeyGroupQueue  timers in a store (a RocksDB column family) with only
//                        the earliest few of each key group cached in memory.
import { KeyedStateError } from '../errors.js'
import type { KeyGroupRange } from '../keygroups.js'
import { compareInKeyGroup, compareTimers, decodeTimer, type TimerEntry } from './entry.js'

export interface KeyGroupTimerQueue {
  /** The earliest timer of the key group, or undefined. */
  peek(): TimerEntry | undefined
  /** Adds a timer; a timer already present stays as it is (registrations de-duplicate). */
  add(entry: TimerEntry): void
  /** Removes a timer when present. */
  remove(entry: TimerEntry): void
}

/** Where a persistent queue keeps its timers (entry key, empty value). */
export interface TimerStore {
  put(entryKey: Uint8Array): void
  delete(entryKey: Uint8Array): void
  /** Up to `limit` entry keys of `keyGroup` in ascending order, from `from` (inclusive) or from the key group's start. */
  scan(keyGroup: number, from: Uint8Array | undefined, limit: number): Uint8Array[]
}

// ---- heap ----

export class HeapKeyGroupQueue implements KeyGroupTimerQueue {
  private readonly heap: TimerEntry[] = []
  private readonly byId = new Map<string, TimerEntry>()
  /** A copy of `heap` for snapshots, kept until the next change (unchanged key groups cost nothing). */
  private snapshotCopy: TimerEntry[] | undefined

  constructor(private readonly store?: TimerStore) {}

  get size(): number {
    return this.heap.length
  }

  peek(): TimerEntry | undefined {
    return this.heap[0]
  }

  add(entry: TimerEntry): void {
    if (this.byId.has(entry.id)) return
    this.store?.put(entry.bytes)
    this.insert(entry)
  }

  /** Adds a timer that is already stored (loading a restored queue). */
  insert(entry: TimerEntry): void {
    if (this.byId.has(entry.id)) return
    this.byId.set(entry.id, entry)
    entry.heapIndex = this.heap.length
    this.heap.push(entry)
    this.siftUp(entry.heapIndex)
    this.snapshotCopy = undefined
  }

  remove(entry: TimerEntry): void {
    const held = this.byId.get(entry.id)
    if (held === undefined) return
    this.store?.delete(held.bytes)
    this.byId.delete(held.id)
    const last = this.heap.pop()!
    if (last !== held) {
      const i = held.heapIndex
      this.heap[i] = last
      last.heapIndex = i
      this.siftDown(i)
      this.siftUp(last.heapIndex)
    }
    held.heapIndex = -1
    this.snapshotCopy = undefined
  }

  /** Every timer of the key group, unsorted; the array must not be modified. */
  entriesForSnapshot(): readonly TimerEntry[] {
    return (this.snapshotCopy ??= this.heap.slice())
  }

  private siftUp(i: number): void {
    const heap = this.heap
    const e = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (compareInKeyGroup(e, p) >= 0) break
      heap[i] = p
      p.heapIndex = i
      i = parent
    }
    heap[i] = e
    e.heapIndex = i
  }

  private siftDown(i: number): void {
    const heap = this.heap
    const n = heap.length
    const e = heap[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && compareInKeyGroup(heap[child + 1]!, heap[child]!) < 0) child++
      const c = heap[child]!
      if (compareInKeyGroup(c, e) >= 0) break
      heap[i] = c
      c.heapIndex = i
      i = child
    }
    heap[i] = e
    e.heapIndex = i
  }
}

// ---- store with a bounded cache ----

function lowerBound(cache: readonly TimerEntry[], entry: TimerEntry): number {
  let lo = 0
  let hi = cache.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (compareInKeyGroup(cache[mid]!, entry) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * A key group's timers in a store, with its `capacity` earliest ones cached.
 * Invariant: the cache holds exactly the smallest timers of the key group
 * (a prefix of the stored order), and `complete` says whether it holds all of
 * them. So peek() never scans while the cache has entries, and an add or remove
 * beyond the cached prefix touches the store only.
 */
export class CachedKeyGroupQueue implements KeyGroupTimerQueue {
  private cache: TimerEntry[] = []
  private complete: boolean
  /** Every stored timer below this key was removed by us: refills start here instead of wading through tombstones. */
  private scanFrom: Uint8Array | undefined

  constructor(
    private readonly keyGroup: number,
    private readonly store: TimerStore,
    private readonly capacity: number,
    private readonly where: string,
    /** The caller knows the key group holds no timer (no scan needed). */
    knownEmpty: boolean,
  ) {
    this.complete = knownEmpty
  }

  peek(): TimerEntry | undefined {
    if (this.cache.length === 0 && !this.complete) this.refill()
    return this.cache[0]
  }

  add(entry: TimerEntry): void {
    if (this.scanFrom !== undefined && Buffer.compare(entry.bytes, this.scanFrom) < 0) this.scanFrom = undefined
    const cache = this.cache
    const i = lowerBound(cache, entry)
    if (i < cache.length && cache[i]!.id === entry.id) return
    this.store.put(entry.bytes)
    // Unknown contents (empty cache, more in the store): the next peek() loads it.
    if (!this.complete && cache.length === 0) return
    if (!this.complete && i === cache.length) return // beyond the cached prefix
    cache.splice(i, 0, entry)
    if (cache.length > this.capacity) {
      cache.pop()
      this.complete = false
    }
  }

  remove(entry: TimerEntry): void {
    const cache = this.cache
    const i = lowerBound(cache, entry)
    if (i < cache.length && cache[i]!.id === entry.id) {
      this.store.delete(entry.bytes)
      cache.splice(i, 1)
      if (i === 0) this.scanFrom = entry.bytes
      return
    }
    // Not cached: stored beyond the prefix, or absent. A complete cache knows it is absent.
    if (!this.complete) this.store.delete(entry.bytes)
  }

  private refill(): void {
    const rows = this.store.scan(this.keyGroup, this.scanFrom, this.capacity + 1)
    this.complete = rows.length <= this.capacity
    const n = Math.min(rows.length, this.capacity)
    const cache = new Array<TimerEntry>(n)
    for (let i = 0; i < n; i++) {
      const e = decodeTimer(rows[i]!, this.where)
      if (e.keyGroup !== this.keyGroup) {
        throw new KeyedStateError('CORRUPTION', `${this.where}: a timer of key group ${e.keyGroup} is stored in key group ${this.keyGroup}`, {
          keyGroup: this.keyGroup,
        })
      }
      cache[i] = e
    }
    this.cache = cache
  }
}

// ---- the partitioned queue ----

/** All timers of one (timer service, time domain) across the backend's key groups. */
export class PartitionedTimerQueue<Q extends KeyGroupTimerQueue = KeyGroupTimerQueue> {
  readonly queues: readonly Q[]
  /** Key-group indexes as a binary heap ordered by their earliest timer (none = last). */
  private readonly order: Int32Array
  /** Position of each key-group index in `order`. */
  private readonly position: Int32Array
  private readonly heads: (TimerEntry | undefined)[]

  constructor(
    readonly keyGroupRange: KeyGroupRange,
    queues: readonly Q[],
  ) {
    const n = keyGroupRange.end - keyGroupRange.start + 1
    if (queues.length !== n) throw new KeyedStateError('INTERNAL', `timer queue: ${queues.length} key-group queues for ${n} key groups`)
    this.queues = queues
    this.order = new Int32Array(n)
    this.position = new Int32Array(n)
    this.heads = new Array<TimerEntry | undefined>(n)
    for (let i = 0; i < n; i++) {
      this.order[i] = i
      this.position[i] = i
      this.heads[i] = queues[i]!.peek()
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  peek(): TimerEntry | undefined {
    return this.order.length === 0 ? undefined : this.heads[this.order[0]!]
  }

  add(entry: TimerEntry): void {
    const index = this.indexOf(entry)
    this.queues[index]!.add(entry)
    const head = this.heads[index]
    if (head === undefined || compareInKeyGroup(entry, head) < 0) this.refresh(index)
  }

  remove(entry: TimerEntry): void {
    const index = this.indexOf(entry)
    this.queues[index]!.remove(entry)
    if (this.heads[index]?.id === entry.id) this.refresh(index)
  }

  /** Removes and returns the earliest timer. */
  poll(): TimerEntry | undefined {
    const head = this.peek()
    if (head !== undefined) this.remove(head)
    return head
  }

  private indexOf(entry: TimerEntry): number {
    const index = entry.keyGroup - this.keyGroupRange.start
    if (index < 0 || entry.keyGroup > this.keyGroupRange.end) {
      throw new KeyedStateError('INTERNAL', `timer of key group ${entry.keyGroup} outside the queue's range`, { keyGroup: entry.keyGroup })
    }
    return index
  }

  private refresh(index: number): void {
    this.heads[index] = this.queues[index]!.peek()
    const pos = this.position[index]!
    this.siftUp(pos)
    this.siftDown(this.position[index]!)
  }

  private less(a: number, b: number): boolean {
    const ha = this.heads[a]
    const hb = this.heads[b]
    if (ha === undefined) return false
    if (hb === undefined) return true
    return compareTimers(ha, hb) < 0
  }

  private place(pos: number, index: number): void {
    this.order[pos] = index
    this.position[index] = pos
  }

  private siftUp(pos: number): void {
    const index = this.order[pos]!
    while (pos > 0) {
      const parent = (pos - 1) >> 1
      const p = this.order[parent]!
      if (!this.less(index, p)) break
      this.place(pos, p)
      pos = parent
    }
    this.place(pos, index)
  }

  private siftDown(pos: number): void {
    const n = this.order.length
    const index = this.order[pos]!
    for (;;) {
      let child = 2 * pos + 1
      if (child >= n) break
      if (child + 1 < n && this.less(this.order[child + 1]!, this.order[child]!)) child++
      const c = this.order[child]!
      if (!this.less(c, index)) break
      this.place(pos, c)
      pos = child
    }
    this.place(pos, index)
  }
}
