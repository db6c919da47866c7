// Incremental TTL cleanup on the heap: every access of a TTL'd state also
// checks a few more of its entries, walking the state with a cursor that wraps
// around, and drops what expired (whole values, list elements, map entries).
// So expired state nobody reads again does not stay in memory forever, at a
// bounded cost per access. Writes follow the table's copy-on-write rules:
// entries are replaced through StateTable.write(), never mutated in place, so
// snapshots in flight keep what they captured.
import { isExpired } from '../../ttl/config.js'
import type { TtlValue } from '../../ttl/value.js'
import type { HeapStateData } from './data.js'
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
  private kgIndex = -1
  // Live Map iterators: they tolerate removals, and a table replaced by
  // copy-on-write only means the walk finishes on the old Map (entries are
  // always looked up again in the live table before anything is removed).
  private namespaces: Iterator<string> | undefined
  private entries: Iterator<[KeyId, Stored]> | undefined
  private nsId = ''
  private readonly layout: Layout

  constructor(
    /** Read on every run: binding a restored state replaces its table. */
    private readonly data: HeapStateData,
    layout: 'value' | 'list' | 'map',
    private readonly ttlMs: number,
    private readonly stepsPerAccess = TTL_CLEANUP_STEPS_PER_ACCESS,
  ) {
    this.layout = layout === 'list' ? Layout.List : layout === 'map' ? Layout.Map : Layout.Value
  }

  /**
   * `stepsPerAccess` units of work, each one of: check one entry, move to the
   * next namespace, move to the next key group. Written as one loop: it runs
   * on every access of the state, and nearly every entry it looks at is live.
   */
  run(nowMs: number): void {
    const table = this.data.table
    const keyGroups = table.keyGroups.length
    if (keyGroups === 0) return
    for (let i = 0; i < this.stepsPerAccess; i++) {
      const entries = this.entries
      if (entries !== undefined) {
        const next = entries.next()
        if (!next.done) {
          if (this.hasExpired(next.value[1], nowMs)) this.clean(table, next.value[0], nowMs)
          continue
        }
        this.entries = undefined
      }
      const namespaces = this.namespaces
      if (namespaces !== undefined) {
        const next = namespaces.next()
        if (!next.done) {
          this.nsId = next.value
          this.entries = table.read(this.kgIndex, next.value)?.entries.entries()
          continue
        }
        this.namespaces = undefined
      }
      this.kgIndex = (this.kgIndex + 1) % keyGroups
      this.namespaces = table.keyGroups[this.kgIndex]?.namespaces.keys()
    }
  }

  /** Whether any part of a stored item has expired; allocates nothing. `seen` may be stale. */
  private hasExpired(seen: Stored, nowMs: number): boolean {
    const { ttlMs } = this
    // A TtlValue holding a primitive is stored as it is, anything else in an Entry.
    const value = seen instanceof Entry ? seen.value : seen
    switch (this.layout) {
      case Layout.Value: {
        const ts = (value as TtlValue<unknown> | null)?.ts
        return typeof ts === 'number' && isExpired(ts, ttlMs, nowMs)
      }
      case Layout.List: {
        const list = value as TtlValue<unknown>[]
        for (let i = 0; i < list.length; i++) if (isExpired(list[i]!.ts, ttlMs, nowMs)) return true
        return false
      }
      case Layout.Map:
        for (const v of (value as Map<KeyId, TtlValue<unknown>>).values()) if (isExpired(v.ts, ttlMs, nowMs)) return true
        return false
    }
  }

  /** Drops what expired from the live table's item `keyId` (the walk's may be stale). */
  private clean(table: StateTable, keyId: KeyId, nowMs: number): void {
    const stored = table.read(this.kgIndex, this.nsId)?.entries.get(keyId)
    if (stored === undefined) return
    const value = valueOf(stored)
    const live = this.liveValue(value, nowMs)
    if (live === value) return
    const writable = table.write(this.kgIndex, this.nsId)!
    if (live === undefined) {
      writable.entries.delete(keyId)
      table.dropIfEmpty(this.kgIndex, this.nsId, writable)
    } else {
      // Only lists and maps lose part of their value, and those are always in an Entry.
      writable.entries.set(keyId, new Entry((stored as Entry).key, live, writable.id))
    }
  }

  /** The value without its expired parts: the same object when nothing expired, undefined when everything did. */
  private liveValue(value: unknown, nowMs: number): unknown {
    const { ttlMs } = this
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

export function heapTtlLayout(kind: string): 'value' | 'list' | 'map' {
  return kind === 'list' ? 'list' : kind === 'map' ? 'map' : 'value'
}
