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

type Layout = 'value' | 'list' | 'map'

export class HeapTtlCleanup {
  private kgIndex = -1
  // Live Map iterators: they tolerate removals, and a table replaced by
  // copy-on-write only means the walk finishes on the old Map (entries are
  // always looked up again in the live table before anything is removed).
  private namespaces: Iterator<string> | undefined
  private entries: Iterator<[KeyId, Stored]> | undefined
  private nsId = ''

  constructor(
    /** Read on every run: binding a restored state replaces its table. */
    private readonly data: HeapStateData,
    private readonly layout: Layout,
    private readonly ttlMs: number,
    private readonly stepsPerAccess = TTL_CLEANUP_STEPS_PER_ACCESS,
  ) {}

  run(nowMs: number): void {
    const table = this.data.table
    if (table.keyGroups.length === 0) return
    for (let i = 0; i < this.stepsPerAccess; i++) this.step(table, nowMs)
  }

  /** One unit of work: check one entry, or move to the next namespace or key group. */
  private step(table: StateTable, nowMs: number): void {
    if (this.entries !== undefined) {
      const next = this.entries.next()
      if (!next.done) return this.check(table, next.value[0], next.value[1], nowMs)
      this.entries = undefined
    }
    if (this.namespaces !== undefined) {
      const next = this.namespaces.next()
      if (!next.done) {
        this.nsId = next.value
        this.entries = table.read(this.kgIndex, this.nsId)?.entries.entries()
        return
      }
      this.namespaces = undefined
    }
    this.kgIndex = (this.kgIndex + 1) % table.keyGroups.length
    this.namespaces = table.keyGroups[this.kgIndex]?.namespaces.keys()
  }

  /** `seen` comes from the walk and may be stale: only the live table's entry is ever changed. */
  private check(table: StateTable, keyId: KeyId, seen: Stored, nowMs: number): void {
    // A TtlValue holding a primitive is stored as it is, anything else in an Entry.
    const seenValue = valueOf(seen)
    if (this.liveValue(seenValue, nowMs) === seenValue) return
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
      case 'value': {
        const ts = (value as TtlValue<unknown> | undefined)?.ts
        return typeof ts === 'number' && isExpired(ts, ttlMs, nowMs) ? undefined : value
      }
      case 'list': {
        const list = value as TtlValue<unknown>[]
        if (!list.some((e) => isExpired(e.ts, ttlMs, nowMs))) return value
        const live = list.filter((e) => !isExpired(e.ts, ttlMs, nowMs))
        return live.length === 0 ? undefined : live
      }
      case 'map': {
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

export function heapTtlLayout(kind: string): Layout {
  return kind === 'list' ? 'list' : kind === 'map' ? 'map' : 'value'
}
