// The heap backend's storage of one state: per namespace, one Map from key id
// to what is stored, over all key groups of the backend. A state access is one
// Map operation: no key group is needed on the hot path (V8 caches a string's
// hash in the string; the key group is a murmur3 hash of the key's bytes).
//
// Snapshots: the synchronous part of a snapshot starts a Capture (O(1)). From
// then on, every change to the table first records the value it replaces (or
// that the key was absent) in the capture's undo log, once per key. When the
// snapshot reads the state, it walks the live table and takes the undo log's
// value where there is one, so it sees the table as it was at its barrier;
// then the capture stops recording and is dropped. Captured values are shared,
// never copied: they must not change in place afterwards (see Entry.owner).
//
// The walk may span many turns of the event loop while the job goes on
// writing. A Map iterator visits every key still in the Map once, in insertion
// order, but a key deleted and added again moves to the end. So while any
// capture records, nothing leaves the Maps: a removed key keeps its place with
// the value undefined (what get() returns for a missing key anyway), and
// emptied namespace tables stay; both are dropped when the last capture ends.
// Every key present at a barrier is then visited exactly once.
//
// What a namespace table maps a key id to (Stored):
//   - an immutable value, as it is, when the key id is the key itself: a
//     primitive, or the TtlValue of a TTL'd state holding a primitive (the TTL
//     layer never changes a TtlValue, it stores a new one). The common case
//     costs one Map lookup and no object per entry;
//   - otherwise an Entry: mutable values (objects, including list arrays and
//     map-state Maps), and any value of a key known only by its bytes (the
//     Entry keeps the original key object for keys()).
import { TtlValue } from '../../ttl/value.js'
import type { KeyId } from './key-ids.js'

export class Entry<V = unknown> {
  /**
   * An iteration started over `value` (a map state's Map) and may still be
   * running: the value is then replaced by a copy before anything changes it.
   */
  iterated = false

  constructor(
    /** The original key object. */
    readonly key: unknown,
    public value: V,
    /**
     * The table's epoch when this entry was made. An entry may be changed in
     * place (value and what it holds) only while that is still the table's
     * epoch: every capture starts a new epoch, so what a capture may hold is
     * replaced, never mutated.
     */
    readonly owner: number,
  ) {}
}

type Primitive = string | number | bigint | boolean | null

/** An Entry, or an immutable value stored as it is (under a direct key id only). */
export type Stored = Entry | Primitive | TtlValue<Primitive>

export function isEntry(s: Stored | undefined): s is Entry {
  return s instanceof Entry
}

/**
 * Whether `value` may be stored without an Entry (under a direct key id):
 * nothing can change it, so the live table and snapshots may share it.
 */
export function isImmutable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true
  return value instanceof TtlValue && (typeof value.v !== 'object' || value.v === null)
}

/** The value of a stored item. */
export function valueOf(s: Stored): unknown {
  return s instanceof Entry ? s.value : s
}

/** The key of a stored item with id `keyId` (an immutable value is only stored under a direct key id). */
export function keyOfStored(keyId: KeyId, s: Stored): unknown {
  return s instanceof Entry ? s.key : keyId
}

export class NamespaceTable {
  /** Keys removed while a capture recorded, still in `entries` with the value undefined. */
  removed = 0

  constructor(
    readonly nsId: string,
    readonly namespaceBytes: Uint8Array,
    /** undefined: removed, see the top of this file. */
    readonly entries: Map<KeyId, Stored | undefined>,
  ) {}

  get isEmpty(): boolean {
    return this.entries.size === this.removed
  }
}

/** Recorded for a key that had no value at the barrier. */
const ABSENT: unique symbol = Symbol('absent')

interface UndoLog {
  readonly namespaceBytes: Uint8Array
  /** Value at the barrier of every key changed since, recorded before its first change. */
  readonly old: Map<KeyId, Stored | typeof ABSENT>
}

/** Called with one item of a captured state: what `keyId` held in the namespace at the barrier. */
export type CapturedItemVisitor = (namespaceBytes: Uint8Array, keyId: KeyId, stored: Stored) => void

/** The table as it was at a snapshot's barrier, readable once (see StateTable.capture). */
export class Capture {
  private readonly undo = new Map<string, UndoLog>()
  private done = false
  private namespaces: Iterator<NamespaceTable> | undefined
  private current: { nt: NamespaceTable; entries: IterableIterator<[KeyId, Stored | undefined]> } | undefined

  constructor(private readonly table: StateTable) {}

  /** Before `nt`'s value for `keyId` changes. */
  record(nt: NamespaceTable, keyId: KeyId): void {
    let log = this.undo.get(nt.nsId)
    if (log === undefined) {
      log = { namespaceBytes: nt.namespaceBytes, old: new Map() }
      this.undo.set(nt.nsId, log)
    }
    if (log.old.has(keyId)) return
    const old = nt.entries.get(keyId)
    log.old.set(keyId, old === undefined ? ABSENT : old)
  }

  /**
   * Hands up to `maxItems` more items of the table as it was at the barrier to
   * `visit` (in no particular order) and says whether that was the last of
   * them; then the capture stops recording. The table may change in between.
   */
  readSome(visit: CapturedItemVisitor, maxItems: number): boolean {
    if (this.done) throw new Error('a capture is read once')
    try {
      this.namespaces ??= this.table.namespaces.values()
      let budget = maxItems
      while (budget > 0) {
        let current = this.current
        if (current === undefined) {
          const next = this.namespaces.next()
          if (next.done === true) {
            this.end()
            return true
          }
          const nt = next.value
          current = this.current = { nt, entries: nt.entries.entries() }
        }
        const { nt, entries } = current
        // Looked up on every call: a namespace's log may start after its walk did.
        const log = this.undo.get(nt.nsId)
        let finished = true
        // for-of over the iterator (not next()): the compiler then allocates no result objects.
        // Map iterators have no return(), so leaving the loop keeps the position for the next call.
        for (const [keyId, stored] of entries) {
          const old = log?.old.get(keyId)
          if (old === undefined) {
            // Unchanged since the barrier (undefined: removed and recorded, or added later and removed).
            if (stored !== undefined) visit(nt.namespaceBytes, keyId, stored)
          } else if (old !== ABSENT) {
            visit(nt.namespaceBytes, keyId, old)
          }
          if (--budget === 0) {
            finished = false
            break
          }
        }
        if (finished) this.current = undefined
      }
      return false
    } catch (e) {
      this.end()
      throw e
    }
  }

  /** Stops recording (after reading, or when the snapshot is released unread). */
  end(): void {
    if (this.done) return
    this.done = true
    this.undo.clear()
    this.namespaces = undefined
    this.current = undefined
    this.table.endCapture(this)
  }
}

export class StateTable {
  readonly namespaces = new Map<string, NamespaceTable>()
  /** namespaces.get(''): most state has no namespace, and this skips that lookup. */
  voidNamespace: NamespaceTable | undefined
  /** See Entry.owner. */
  epoch = 1
  /** Captures still recording (usually none, or the one of the snapshot in flight). */
  private captures: Capture[] = []
  /** captures.length > 0, read on every write. */
  recording = false

  /** The namespace table for reading, or undefined. */
  read(nsId: string): NamespaceTable | undefined {
    return nsId.length === 0 ? this.voidNamespace : this.namespaces.get(nsId)
  }

  /** The namespace table to write to, created when missing if `namespaceBytes` is given. */
  write(nsId: string, namespaceBytes?: Uint8Array): NamespaceTable | undefined {
    const nt = this.read(nsId)
    if (nt !== undefined || namespaceBytes === undefined) return nt
    const created = new NamespaceTable(nsId, namespaceBytes, new Map())
    this.namespaces.set(nsId, created)
    if (nsId.length === 0) this.voidNamespace = created
    return created
  }

  /** Stores `s` for `keyId`; every change goes through here or remove(). */
  put(nt: NamespaceTable, keyId: KeyId, s: Stored): void {
    if (this.recording) {
      this.record(nt, keyId)
      if (nt.removed !== 0 && nt.entries.get(keyId) === undefined && nt.entries.has(keyId)) nt.removed--
    }
    nt.entries.set(keyId, s)
  }

  /** Removes `keyId`, and `nt` from the table when that leaves it empty (both later while a capture records). */
  remove(nt: NamespaceTable, keyId: KeyId): void {
    if (nt.entries.get(keyId) === undefined) return
    if (this.recording) {
      this.record(nt, keyId)
      nt.entries.set(keyId, undefined)
      nt.removed++
      this.removedWhileRecording.push(nt, keyId)
      return
    }
    nt.entries.delete(keyId)
    if (nt.entries.size === 0) this.drop(nt)
  }

  /** Pairs (namespace table, key id) of keys removed while a capture recorded. */
  private removedWhileRecording: (NamespaceTable | KeyId)[] = []

  private drop(nt: NamespaceTable): void {
    if (this.namespaces.get(nt.nsId) !== nt) return
    this.namespaces.delete(nt.nsId)
    if (nt.nsId.length === 0) this.voidNamespace = undefined
  }

  private record(nt: NamespaceTable, keyId: KeyId): void {
    for (const c of this.captures) c.record(nt, keyId)
  }

  /**
   * Stores a value during restore (nothing is captured then); `direct` says
   * whether the key id is the key itself, so an immutable value may be stored as it is.
   */
  insert(nsId: string, namespaceBytes: Uint8Array, keyId: KeyId, direct: boolean, key: unknown, value: unknown): void {
    const nt = this.write(nsId, namespaceBytes)!
    nt.entries.set(keyId, direct && isImmutable(value) ? (value as Stored) : new Entry(key, value, this.epoch))
  }

  /** The synchronous part of a snapshot: O(1), nothing copied. */
  capture(): Capture {
    const c = new Capture(this)
    this.captures.push(c)
    this.recording = true
    this.epoch++
    return c
  }

  endCapture(c: Capture): void {
    this.captures = this.captures.filter((x) => x !== c)
    this.recording = this.captures.length > 0
    if (this.recording) return
    // Nothing walks the Maps any more: what was removed meanwhile may go now.
    const removed = this.removedWhileRecording
    this.removedWhileRecording = []
    for (let i = 0; i < removed.length; i += 2) {
      const nt = removed[i] as NamespaceTable
      const keyId = removed[i + 1] as KeyId
      if (nt.entries.get(keyId) !== undefined || !nt.entries.delete(keyId)) continue
      nt.removed--
      if (nt.entries.size === 0) this.drop(nt)
    }
  }

  /** Captures still recording (tests: none once every snapshot is read or released). */
  get activeCaptures(): number {
    return this.captures.length
  }

  isEmpty(): boolean {
    for (const nt of this.namespaces.values()) if (!nt.isEmpty) return false
    return true
  }
}
