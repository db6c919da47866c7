// The heap backend's storage of one state: per key group, per namespace, a Map
// from key id to entry, with copy-on-write so that a snapshot's synchronous
// part only has to pin the key-group tables (O(key groups)), not copy data.
//
// Sharing is tracked with reference counts at two levels:
//   KeyGroupTable.refs = 1 for the live state + 1 per snapshot holding it;
//   NamespaceTable.refs = number of key-group tables (live or pinned) holding it.
// A table may be written only when its count is 1. The first write after a
// barrier copies the key-group table (its namespace Map only) and then the one
// namespace table written to (its entry Map only).
//
// What a namespace table maps a key id to (Stored):
//   - an immutable value, as it is, when the key id is the key itself: a
//     primitive, or the TtlValue of a TTL'd state holding a primitive (the TTL
//     layer never changes a TtlValue, it stores a new one). The common case
//     costs one Map lookup and no object per entry;
//   - otherwise an Entry: mutable values (objects, including list arrays and
//     map-state Maps), and any value of a key known only by its bytes (the
//     Entry keeps the original key object for keys()).
// Entries stay shared between a table and its copy; an Entry may be mutated in
// place only by the namespace table that created it (`owner`), so the first
// write to an entry after a barrier replaces it, and mutable values are copied
// before anything mutates them. Immutable values are shared freely.
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
    /** Id of the only namespace table allowed to mutate this entry in place. */
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
  refs = 1
  constructor(
    readonly id: number,
    readonly namespaceBytes: Uint8Array,
    readonly entries: Map<KeyId, Stored>,
  ) {}
}

export class KeyGroupTable {
  refs = 1
  /**
   * namespaces.get(''): most state has no namespace, and skipping that Map
   * lookup is a large part of a heap access.
   */
  voidNamespace: NamespaceTable | undefined
  constructor(readonly namespaces: Map<string, NamespaceTable>) {
    this.voidNamespace = namespaces.get('')
  }

  get(nsId: string): NamespaceTable | undefined {
    return nsId === '' ? this.voidNamespace : this.namespaces.get(nsId)
  }

  set(nsId: string, nt: NamespaceTable): void {
    this.namespaces.set(nsId, nt)
    if (nsId === '') this.voidNamespace = nt
  }

  delete(nsId: string): void {
    this.namespaces.delete(nsId)
    if (nsId === '') this.voidNamespace = undefined
  }
}

let nextTableId = 1

export type PinnedTables = readonly (KeyGroupTable | undefined)[]

export class StateTable {
  /** Index: key group - keyGroupStart. */
  readonly keyGroups: (KeyGroupTable | undefined)[]
  /**
   * keyGroups[i]?.voidNamespace, and the same only while writable (both counts
   * 1): the common no-namespace access then costs one array read and one Map
   * lookup. pin() clears the writable copies.
   */
  readonly voidNamespaces: (NamespaceTable | undefined)[]
  readonly writableVoidNamespaces: (NamespaceTable | undefined)[]

  constructor(size: number) {
    this.keyGroups = new Array<KeyGroupTable | undefined>(size).fill(undefined)
    this.voidNamespaces = new Array<NamespaceTable | undefined>(size).fill(undefined)
    this.writableVoidNamespaces = new Array<NamespaceTable | undefined>(size).fill(undefined)
  }

  /** The namespace table for reading, or undefined. Never copies. */
  read(kgIndex: number, nsId: string): NamespaceTable | undefined {
    if (nsId.length === 0) return this.voidNamespaces[kgIndex]
    const kt = this.keyGroups[kgIndex]
    return kt === undefined ? undefined : kt.get(nsId)
  }

  /**
   * The namespace table for writing: exclusive to the live state, so its Map may
   * be changed. Created when missing if `namespaceBytes` is given; otherwise
   * undefined when there is nothing to write to.
   */
  write(kgIndex: number, nsId: string, namespaceBytes?: Uint8Array): NamespaceTable | undefined {
    if (nsId.length === 0) {
      const writable = this.writableVoidNamespaces[kgIndex]
      if (writable !== undefined) return writable
    }
    let kt = this.keyGroups[kgIndex]
    if (kt === undefined) {
      if (namespaceBytes === undefined) return undefined
      kt = new KeyGroupTable(new Map())
      this.keyGroups[kgIndex] = kt
    } else if (kt.refs > 1) {
      kt = this.unshareKeyGroup(kgIndex, kt)
    }
    let nt = kt.get(nsId)
    if (nt === undefined) {
      if (namespaceBytes === undefined) return undefined
      nt = new NamespaceTable(nextTableId++, namespaceBytes, new Map())
      kt.set(nsId, nt)
    } else if (nt.refs > 1) {
      nt.refs--
      nt = new NamespaceTable(nextTableId++, nt.namespaceBytes, new Map(nt.entries))
      kt.set(nsId, nt)
    }
    if (nsId.length === 0) {
      this.voidNamespaces[kgIndex] = nt
      this.writableVoidNamespaces[kgIndex] = nt
    }
    return nt
  }

  /** After a write emptied `nt` (obtained from write()), drops it from the live state. */
  dropIfEmpty(kgIndex: number, nsId: string, nt: NamespaceTable): void {
    if (nt.entries.size !== 0) return
    const kt = this.keyGroups[kgIndex]!
    kt.delete(nsId)
    nt.refs--
    if (nsId.length === 0) {
      this.voidNamespaces[kgIndex] = undefined
      this.writableVoidNamespaces[kgIndex] = undefined
    }
    if (kt.namespaces.size === 0) {
      kt.refs--
      this.keyGroups[kgIndex] = undefined
    }
  }

  /**
   * Stores a value during restore (tables are exclusive then); `direct` says
   * whether the key id is the key itself, so an immutable value may be stored as it is.
   */
  insert(kgIndex: number, nsId: string, namespaceBytes: Uint8Array, keyId: KeyId, direct: boolean, key: unknown, value: unknown): void {
    const nt = this.write(kgIndex, nsId, namespaceBytes)!
    nt.entries.set(keyId, direct && isImmutable(value) ? (value as Stored) : new Entry(key, value, nt.id))
  }

  /** Pins the current key-group tables for a snapshot: O(key groups). */
  pin(): PinnedTables {
    this.writableVoidNamespaces.fill(undefined)
    const pinned = this.keyGroups.slice()
    for (const kt of pinned) if (kt !== undefined) kt.refs++
    return pinned
  }

  isEmpty(): boolean {
    return this.keyGroups.every((kt) => kt === undefined)
  }

  private unshareKeyGroup(kgIndex: number, shared: KeyGroupTable): KeyGroupTable {
    shared.refs--
    const copy = new KeyGroupTable(new Map(shared.namespaces))
    for (const nt of copy.namespaces.values()) nt.refs++
    this.keyGroups[kgIndex] = copy
    return copy
  }
}

/** Releases tables pinned by pin(); idempotence is the caller's job. */
export function unpin(pinned: PinnedTables): void {
  for (const kt of pinned) {
    if (kt === undefined) continue
    kt.refs--
    if (kt.refs === 0) for (const nt of kt.namespaces.values()) nt.refs--
  }
}
