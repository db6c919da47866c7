// Incremental TTL cleanup on the heap: every access of a TTL'd state also
// checks a few more of its entries, walking the state with a cursor that wraps
// around, and drops what expired (whole values, list elements, map entries).
// So expired state nobody reads again does not stay in memory forever, at a
// bounded cost per access. Entries are replaced or removed through the table
// (StateTable.put/remove), never mutated in place, so snapshots in flight
// keep what they captured.
//
// Most accesses find nothing to clean: the walk keeps a lower bound of every
// timestamp in the state and does not run while even that is not expired.
// Every timestamp is a clock time first passed to run() (the TTL layer stamps
// values with the time of the access that wrote them), except those of
// restored entries, which are unknown until a full pass of the walk saw them.
import { isExpired } from '../../ttl/config.js'
import type { TtlValue } from '../../ttl/value.js'
import type { HeapStateData } from './state-data.js'
import type { KeyId } from './key-ids.js'
import { Entry, valueOf, type StateTable, type Stored } from './state-table.js'

/** Entries (or empty key groups / namespaces) looked at per state access (Flink's default is 5 too). */
export const TTL_CLEANUP_STEPS_PER_ACCESS = 5

// Numbers, not strings: switched on for every entry the walk looks at.
const enum Layout {
  Value,
  List,
  Map,
}

export class HeapTtlCleanup {
  /** Expired values, list elements and map entries dropped so far (a metric). */
  cleanedEntries = 0
  /** No timestamp in the state is below this (-Infinity: unknown). */
  private oldestMs: number
  /** The same bound for what the current pass of the walk has seen so far, and the times it ran at. */
  private passOldestMs = Infinity
  // Live Map iterators: they tolerate removals, and a namespace table dropped
  // and made again only means the walk finishes on the old Map (entries are
  // always looked up again in the live table before anything is removed).
  private namespaces: Iterator<string> | undefined
  private entries: Iterator<[KeyId, Stored | undefined]> | undefined
  private nsId = ''
  private readonly layout: Layout

  /**
   * One per state, shared by every TTL binding of it (a state may be bound
   * again with another ttlMs, and objects of the old binding stay usable):
   * the bound must see the times of all writes.
   */
  constructor(
    /** Read on every run: binding a restored state replaces its table. */
    private readonly data: HeapStateData,
    /** The state's kind (meta-info): how its values hold timestamps. */
    kind: string,
    private readonly stepsPerAccess = TTL_CLEANUP_STEPS_PER_ACCESS,
  ) {
    this.layout = kind === 'list' ? Layout.List : kind === 'map' ? Layout.Map : Layout.Value
    this.oldestMs = data.table.isEmpty() && data.raw === undefined ? Infinity : -Infinity
  }

  /** Called on every access of the state with the state clock's time and the binding's ttlMs. */
  run(nowMs: number, ttlMs: number): void {
    if (nowMs < this.oldestMs) this.oldestMs = nowMs
    if (nowMs < this.passOldestMs) this.passOldestMs = nowMs
    // Nothing can have expired yet.
    if (!isExpired(this.oldestMs, ttlMs, nowMs)) return
    this.walk(nowMs, ttlMs)
  }

  /**
   * `stepsPerAccess` units of work, each one of: check one entry, move to the
   * next namespace (or start the next pass). Written as one loop: it runs
   * on every access of the state, and nearly every entry it looks at is live.
   */
  private walk(nowMs: number, ttlMs: number): void {
    const table = this.data.table
    for (let i = 0; i < this.stepsPerAccess; i++) {
      const entries = this.entries
      if (entries !== undefined) {
        const next = entries.next()
        if (!next.done) {
          const seen = next.value[1]
          // Removed while a snapshot reads the table (state-table.ts).
          if (seen === undefined) continue
          const oldest = this.oldestOf(seen)
          if (isExpired(oldest, ttlMs, nowMs)) {
            this.clean(table, next.value[0], nowMs, ttlMs)
            // What is left of a list or map is live: stamped after nowMs - ttlMs.
            if (this.layout !== Layout.Value && nowMs - ttlMs < this.passOldestMs) this.passOldestMs = nowMs - ttlMs
          } else if (oldest < this.passOldestMs) {
            this.passOldestMs = oldest
          }
          continue
        }
        this.entries = undefined
      }
      const namespaces = this.namespaces
      if (namespaces !== undefined) {
        const next = namespaces.next()
        if (!next.done) {
          this.nsId = next.value
          this.entries = table.read(next.value)?.entries.entries()
          continue
        }
        // A full pass saw every entry, or its writer passed its time here.
        this.oldestMs = this.passOldestMs
        this.passOldestMs = nowMs
      }
      this.namespaces = table.namespaces.keys()
    }
  }

  /** The oldest timestamp in a stored item (Infinity when it has none); allocates nothing. `seen` may be stale. */
  private oldestOf(seen: Stored): number {
    // A TtlValue holding a primitive is stored as it is, anything else in an Entry.
    const value = seen instanceof Entry ? seen.value : seen
    switch (this.layout) {
      case Layout.Value: {
        const ts = (value as TtlValue<unknown> | null)?.ts
        return typeof ts === 'number' ? ts : Infinity
      }
      case Layout.List: {
        const list = value as TtlValue<unknown>[]
        let oldest = Infinity
        for (let i = 0; i < list.length; i++) if (list[i]!.ts < oldest) oldest = list[i]!.ts
        return oldest
      }
      case Layout.Map: {
        let oldest = Infinity
        for (const v of (value as Map<KeyId, TtlValue<unknown>>).values()) if (v.ts < oldest) oldest = v.ts
        return oldest
      }
    }
  }

  /** Drops what expired from the live table's item `keyId` (the walk's may be stale). */
  private clean(table: StateTable, keyId: KeyId, nowMs: number, ttlMs: number): void {
    const nt = table.read(this.nsId)
    const stored = nt?.entries.get(keyId)
    if (stored === undefined) return
    const value = valueOf(stored)
    const live = this.liveValue(value, nowMs, ttlMs)
    if (live === value) return
    this.cleanedEntries += this.entriesOf(value) - (live === undefined ? 0 : this.entriesOf(live))
    if (live === undefined) table.remove(nt!, keyId)
    // Only lists and maps lose part of their value, and those are always in an Entry.
    else table.put(nt!, keyId, new Entry((stored as Entry).key, live, table.epoch))
  }

  /** Entries in a stored value: 1 for a value, its elements for a list, its entries for a map. */
  private entriesOf(value: unknown): number {
    switch (this.layout) {
      case Layout.Value:
        return 1
      case Layout.List:
        return (value as unknown[]).length
      case Layout.Map:
        return (value as Map<unknown, unknown>).size
    }
  }

  /** The value without its expired parts: the same object when nothing expired, undefined when everything did. */
  private liveValue(value: unknown, nowMs: number, ttlMs: number): unknown {
    switch (this.layout) {
      case Layout.Value: {
        const ts = (value as TtlValue<unknown> | undefined)?.ts
        return typeof ts === 'number' && isExpired(ts, ttlMs, nowMs) ? undefined : value
      }
      case Layout.List: {
        const list = value as TtlValue<unknown>[]
        if (!list.some((e) => isExpired(e.ts, ttlMs, nowMs))) return value
        const live = list.filter((e) => !isExpired(e.ts, ttlMs, nowMs))
        return live.length === 0 ? undefined : live
      }
      case Layout.Map: {
        const map = value as Map<KeyId, TtlValue<unknown>>
        let live: Map<KeyId, TtlValue<unknown>> | undefined
        for (const [k, v] of map) {
          if (!isExpired(v.ts, ttlMs, nowMs)) continue
          live ??= new Map(map)
          live.delete(k)
        }
        if (live === undefined) return value
        return live.size === 0 ? undefined : live
      }
    }
  }
}
