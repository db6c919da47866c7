// The heap backend's state objects. Each is bound to one state and one
// namespace; the current key comes from the backend (HeapContext). Values are
// kept as objects; see state-table.ts for the rules these follow: change
// entries through the table (put/remove), never mutate an entry (or a value
// inside it) made before the table's current epoch (a snapshot may hold it),
// and copy object values before handing them out or passing them to user
// functions that may mutate them.
import type { Serializer } from '../../serializers/serializer.js'
import { isBuiltInSerializer, serializeFnOf, type SerializerUse } from '../../serializers/output.js'
import {
  booleanSerializer,
  bytesSerializer,
  float64Serializer,
  int32Serializer,
  int64Serializer,
  isJsonWritableQuick,
  jsonSerializer,
  stringSerializer,
} from '../../serializers/primitives.js'
import { valueRoleOf } from '../../state/descriptors.js'
import type {
  AggregateFunction,
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../state/descriptors.js'
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../../state/types.js'
import { ttlUserSerializer, type TtlValue } from '../../ttl/value.js'
import type { KeyId, KeyIdPolicy } from './key-ids.js'
import { Entry, isEntry, isImmutable, type StateTable, type Stored } from './state-table.js'
import { checkAddValue, checkListElement, checkListElements, checkMapEntries, checkMapEntry } from '../../state/argument-checks.js'

/** What state objects read from the backend on every call. */
export interface HeapContext {
  /** Throws CLOSED or NO_CURRENT_KEY. */
  assertCurrentKey(): void
  /** Throws CLOSED once the backend is closing: iterations check it per entry, as RocksDB's iterators refuse after close. */
  assertUsable(): void
  readonly keyId: KeyId
  /** Whether keyId is the key itself (then primitive values are stored without an Entry). */
  readonly keyDirect: boolean
  readonly key: unknown
}

export function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null
}

/** A deep copy through the serializer (its output checked, see output.ts); primitives are immutable and returned as they are. */
export function copier<T>(serializer: Serializer<T>, use: SerializerUse): (v: T) => T {
  const serialize = serializeFnOf(serializer, use)
  return (v) => (isObject(v) ? serializer.deserialize(serialize(v)) : v)
}

/**
 * How the heap checks a written value without keeping its bytes: it must
 * refuse what RocksDB, which serializes every write, refuses.
 */
export interface WriteCheck<T> {
  /** Throws what serializing `v` would throw, with the same error; a no-op for a user's serializer (checked by snapshots). */
  readonly check: (v: T) => void
  /**
   * The check looks inside objects (json, list, map, tuple): a user function
   * that changes its argument in place (reduce, aggregate) is given a copy,
   * so a result the check refuses leaves the state as it was.
   */
  readonly deep: boolean
}

/**
 * The write check of `serializer`, also inside the TtlValues of a TTL'd state.
 * The built-in primitive and bytes serializers are checked by type, json by
 * a walk over plain data (else by serializing), the composites by serializing; a user's
 * serializer is not called on the write (that is what the heap saves), so its
 * values are checked when a snapshot serializes them. On failure the
 * serializer itself is called, so the error is exactly the one RocksDB raises.
 */
export function writeCheckOf<T>(serializer: Serializer<T>, use: SerializerUse): WriteCheck<T> {
  const serialize = serializeFnOf(serializer, use)
  const user = ttlUserSerializer(serializer) ?? serializer
  const quick = QUICK_CHECKS.get(user)
  const deep = user === jsonSerializer || (quick === undefined && isBuiltInSerializer(user))
  if (quick === undefined) {
    return { check: isBuiltInSerializer(user) ? (v) => void serialize(v) : () => {}, deep }
  }
  if (user !== serializer) {
    return {
      check: (v) => {
        if (!quick((v as TtlValue<unknown>).v)) serialize(v)
      },
      deep,
    }
  }
  return {
    check: (v) => {
      if (!quick(v)) serialize(v)
    },
    deep,
  }
}

const INT64_MIN = -(1n << 63n)
const INT64_LIMIT = 1n << 63n

/** Built-in serializers whose values are immutable primitives (their writes are checked, see writeCheckOf). */
const PRIMITIVE_SERIALIZERS: ReadonlySet<Serializer<unknown>> = new Set<Serializer<any>>([
  stringSerializer,
  int32Serializer,
  int64Serializer,
  float64Serializer,
  booleanSerializer,
])

/** Whether a built-in serializer would write a value, without serializing it. */
const QUICK_CHECKS = new Map<Serializer<any>, (v: unknown) => boolean>([
  [stringSerializer, (v) => typeof v === 'string'],
  [int32Serializer, (v) => typeof v === 'number' && (v | 0) === v],
  [int64Serializer, (v) => typeof v === 'bigint' && v >= INT64_MIN && v < INT64_LIMIT],
  [float64Serializer, (v) => typeof v === 'number'],
  [booleanSerializer, (v) => typeof v === 'boolean'],
  [bytesSerializer, (v) => v instanceof Uint8Array],
  // Plain JSON data passes without a JSON.stringify; anything else is serialized (see isJsonWritableQuick).
  [jsonSerializer, isJsonWritableQuick],
])

abstract class HeapState {
  /** Whether this object is bound to the void namespace (plain, not partitioned state): its table is read directly on the hot path. */
  private readonly isVoid: boolean

  constructor(
    protected readonly ctx: HeapContext,
    protected readonly table: StateTable,
    protected readonly nsId: string,
    protected readonly nsBytes: Uint8Array,
    protected readonly stateName: string,
  ) {
    this.isVoid = nsId.length === 0
  }

  /** What is stored for the current key, for reading; an Entry may be shared with a snapshot. */
  protected peek(): Stored | undefined {
    const nt = this.isVoid === true ? this.table.voidNamespace : this.table.read(this.nsId)
    return nt === undefined ? undefined : nt.entries.get(this.ctx.keyId)
  }

  /** Whether `s` (from peek) may be changed in place: made since the last snapshot's barrier. */
  protected isOwned(s: Stored): s is Entry {
    return s instanceof Entry && s.owner === this.table.epoch
  }

  /**
   * The current key's Entry, made mutable by this state (its value copied with
   * `copy` when a snapshot may share it). Call only when peek() returned an Entry.
   */
  protected own(copy: (v: any) => unknown): Entry {
    const table = this.table
    const nt = table.read(this.nsId)!
    const keyId = this.ctx.keyId
    const e = nt.entries.get(keyId) as Entry
    if (e.owner === table.epoch) return e
    const owned = new Entry(e.key, copy(e.value), table.epoch)
    table.put(nt, keyId, owned)
    return owned
  }

  /** Stores `value` for the current key, replacing (never mutating) an Entry a snapshot may share. */
  protected set(value: unknown): void {
    // Kept small enough to be inlined: a primitive under a direct key in the void namespace, no snapshot recording.
    const table = this.table
    const nt = this.isVoid === true ? table.voidNamespace : undefined
    const ctx = this.ctx
    // Booleans compared with ===: a truthiness test compiles to a check of every falsy kind of value.
    if (nt !== undefined && table.recording === false && ctx.keyDirect === true && (typeof value !== 'object' || value === null)) {
      nt.entries.set(ctx.keyId, value as Stored)
      return
    }
    this.setSlow(value)
  }

  private setSlow(value: unknown): void {
    const ctx = this.ctx
    const table = this.table
    const nt = table.write(this.nsId, this.nsBytes)!
    if (ctx.keyDirect && isImmutable(value)) {
      table.put(nt, ctx.keyId, value as Stored)
      return
    }
    const s = nt.entries.get(ctx.keyId)
    if (isEntry(s) && s.owner === table.epoch) s.value = value
    else table.put(nt, ctx.keyId, new Entry(isEntry(s) ? s.key : ctx.key, value, table.epoch))
  }

  protected removeEntry(): void {
    const nt = this.table.read(this.nsId)
    if (nt !== undefined) this.table.remove(nt, this.ctx.keyId)
  }

  clear(): void {
    this.ctx.assertCurrentKey()
    this.removeEntry()
  }
}

export class HeapValueState<T> extends HeapState implements ValueState<T> {
  private readonly copy: (v: T) => T
  private readonly check: (v: T) => void
  private readonly defaultValue: T | undefined

  constructor(ctx: HeapContext, table: StateTable, nsId: string, nsBytes: Uint8Array, d: ValueStateDescriptor<T>) {
    super(ctx, table, nsId, nsBytes, d.name)
    const use = { role: valueRoleOf(d.kind), state: d.name }
    this.copy = copier(d.serializer, use)
    this.check = writeCheckOf(d.serializer, use).check
    this.defaultValue = d.defaultValue
  }

  value(): T | undefined {
    this.ctx.assertCurrentKey()
    const s = this.peek()
    // A fresh copy of an object default, so a caller mutating it cannot change the default for other keys.
    if (s === undefined) return this.copy(this.defaultValue as T)
    if (!isEntry(s)) return s as T
    // The caller may mutate what it gets: hand out objects only from an entry no snapshot shares.
    return isObject(s.value) ? (this.own(this.copy).value as T) : (s.value as T)
  }

  update(value: T | undefined): void {
    this.ctx.assertCurrentKey()
    if (value === undefined) return this.removeEntry()
    this.check(value)
    this.set(value)
  }
}

export class HeapReducingState<T> extends HeapState implements ReducingState<T> {
  private readonly copy: (v: T) => T
  private readonly written: WriteCheck<T>
  private readonly reduce: (a: T, b: T) => T

  constructor(ctx: HeapContext, table: StateTable, nsId: string, nsBytes: Uint8Array, d: ReducingStateDescriptor<T>) {
    super(ctx, table, nsId, nsBytes, d.name)
    const use = { role: valueRoleOf(d.kind), state: d.name }
    this.copy = copier(d.serializer, use)
    this.written = writeCheckOf(d.serializer, use)
    this.reduce = d.reduce
  }

  get(): T | undefined {
    this.ctx.assertCurrentKey()
    const s = this.peek()
    if (!isEntry(s)) return s as T | undefined
    return isObject(s.value) ? (this.own(this.copy).value as T) : (s.value as T)
  }

  // What is stored is checked, as RocksDB serializes what it stores: the value, or what reduce made of it.
  add(value: T): void {
    this.ctx.assertCurrentKey()
    checkAddValue(this.stateName, value)
    const { check, deep } = this.written
    const s = this.peek()
    if (s === undefined) {
      check(value)
      return this.set(value)
    }
    if (!isEntry(s)) {
      const reduced = this.reduce(s as T, value)
      check(reduced)
      return this.set(reduced)
    }
    // reduce may mutate its first argument, so it only ever sees an owned value (or a copy of one, see WriteCheck.deep).
    const e = this.own(this.copy)
    const reduced = this.reduce(deep ? this.copy(e.value as T) : (e.value as T), value)
    check(reduced)
    e.value = reduced
  }
}

export class HeapAggregatingState<IN, ACC, OUT> extends HeapState implements AggregatingState<IN, OUT> {
  private readonly copy: (v: ACC) => ACC
  private readonly written: WriteCheck<ACC>
  private readonly aggregate: AggregateFunction<IN, ACC, OUT>

  constructor(ctx: HeapContext, table: StateTable, nsId: string, nsBytes: Uint8Array, d: AggregatingStateDescriptor<IN, ACC, OUT>) {
    super(ctx, table, nsId, nsBytes, d.name)
    const use = { role: valueRoleOf(d.kind), state: d.name }
    this.copy = copier(d.accumulatorSerializer, use)
    this.written = writeCheckOf(d.accumulatorSerializer, use)
    this.aggregate = d.aggregate
  }

  get(): OUT | undefined {
    this.ctx.assertCurrentKey()
    const s = this.peek()
    if (s === undefined) return undefined
    if (!isEntry(s)) return this.aggregate.getResult(s as ACC)
    return this.aggregate.getResult(isObject(s.value) ? (this.own(this.copy).value as ACC) : (s.value as ACC))
  }

  // The accumulator add() returns is checked before it is stored, as RocksDB serializes it.
  add(value: IN): void {
    this.ctx.assertCurrentKey()
    const { check, deep } = this.written
    const s = this.peek()
    if (!isEntry(s)) {
      const acc = this.aggregate.add(value, s === undefined ? this.aggregate.createAccumulator() : (s as ACC))
      check(acc)
      return this.set(acc)
    }
    // add may mutate the accumulator, so it only ever sees an owned one (or a copy of one, see WriteCheck.deep).
    const e = this.own(this.copy)
    const acc = this.aggregate.add(value, deep ? this.copy(e.value as ACC) : (e.value as ACC))
    check(acc)
    e.value = acc
  }
}

export class HeapListState<T> extends HeapState implements ListState<T> {
  private readonly copyList: (v: T[]) => T[]
  private readonly check: (v: T) => void
  /** Elements are primitives (checked on every write): a copy of the array needs no owned entry. */
  private readonly primitiveElements: boolean

  constructor(ctx: HeapContext, table: StateTable, nsId: string, nsBytes: Uint8Array, d: ListStateDescriptor<T>) {
    super(ctx, table, nsId, nsBytes, d.name)
    const use = { role: valueRoleOf(d.kind), state: d.name }
    const copyElement = copier(d.elementSerializer, use)
    this.copyList = (list) => list.map(copyElement)
    this.check = writeCheckOf(d.elementSerializer, use).check
    this.primitiveElements = PRIMITIVE_SERIALIZERS.has(d.elementSerializer as Serializer<unknown>)
  }

  get(): T[] {
    this.ctx.assertCurrentKey()
    const s = this.peek()
    if (s === undefined) return []
    if (this.primitiveElements) return ((s as Entry).value as T[]).slice()
    // A copy of the array, so pushing to the result does not change the state.
    return (this.own(this.copyList).value as T[]).slice()
  }

  add(value: T): void {
    this.ctx.assertCurrentKey()
    checkListElement(this.stateName, value)
    this.check(value)
    const s = this.peek()
    if (s === undefined) this.set([value])
    else if (this.isOwned(s)) (s.value as T[]).push(value)
    else (this.own(this.copyList).value as T[]).push(value)
  }

  addAll(values: readonly T[]): void {
    this.ctx.assertCurrentKey()
    this.checkElements(values)
    if (values.length === 0) return
    if (this.peek() === undefined) {
      this.set(values.slice())
    } else {
      const list = this.own(this.copyList).value as T[]
      for (const v of values) list.push(v)
    }
  }

  update(values: readonly T[]): void {
    this.ctx.assertCurrentKey()
    this.checkElements(values)
    if (values.length === 0) this.removeEntry()
    else this.set(values.slice())
  }

  private checkElements(values: readonly T[]): void {
    checkListElements(this.stateName, values)
    for (const v of values) this.check(v)
  }
}

export class HeapMapState<UK, UV> extends HeapState implements MapState<UK, UV> {
  private readonly copyMap: (m: Map<KeyId, UV>) => Map<KeyId, UV>
  private readonly check: (v: UV) => void

  constructor(
    ctx: HeapContext,
    table: StateTable,
    nsId: string,
    nsBytes: Uint8Array,
    d: MapStateDescriptor<UK, UV>,
    private readonly userKeys: KeyIdPolicy<UK>,
  ) {
    super(ctx, table, nsId, nsBytes, d.name)
    const use = { role: valueRoleOf(d.kind), state: d.name }
    const copyValue = copier(d.userValueSerializer, use)
    this.check = writeCheckOf(d.userValueSerializer, use).check
    this.copyMap = (m) => {
      const out = new Map<KeyId, UV>()
      for (const [k, v] of m) out.set(k, copyValue(v))
      return out
    }
  }

  private readMap(): Map<KeyId, UV> | undefined {
    const e = this.peek() as Entry | undefined
    return e === undefined ? undefined : (e.value as Map<KeyId, UV>)
  }

  /** Call only when readMap() returned a map. */
  private ownedMap(): Map<KeyId, UV> {
    return this.own(this.copyMap).value as Map<KeyId, UV>
  }

  get(key: UK): UV | undefined {
    this.ctx.assertCurrentKey()
    // The id first, also for an empty map: a key the serializer refuses is refused whatever is stored, as on RocksDB.
    const id = this.userKeys.idOf(key)
    const m = this.readMap()
    if (m === undefined) return undefined
    const v = m.get(id)
    return isObject(v) ? this.ownedMap().get(id) : v
  }

  put(key: UK, value: UV): void {
    this.ctx.assertCurrentKey()
    this.putChecked(this.checkedId(key, value), value)
  }

  putAll(entries: Iterable<readonly [UK, UV]> | Map<UK, UV>): void {
    this.ctx.assertCurrentKey()
    // All or nothing, as on RocksDB (one write batch): check every entry first.
    const checked = checkMapEntries(this.stateName, entries).map(([k, v]) => [this.checkedId(k, v), v] as const)
    for (const [id, v] of checked) this.putChecked(id, v)
  }

  /** The id of `key`, after refusing what the serializers could not write. */
  private checkedId(key: UK, value: UV): KeyId {
    checkMapEntry(this.stateName, key, value)
    this.check(value)
    return this.userKeys.idOf(key)
  }

  private putChecked(id: KeyId, value: UV): void {
    const s = this.peek()
    if (s === undefined) this.set(new Map([[id, value]]))
    else this.mutableMap(this.isOwned(s) ? s : this.own(this.copyMap)).set(id, value)
  }

  /**
   * The owned map, to be changed in place: replaced by a copy first while an
   * iteration started on it may still be running, so iterations see the map as
   * it was when they started (as RocksDB's iterators see their snapshot).
   */
  private mutableMap(e: Entry = this.own(this.copyMap)): Map<KeyId, UV> {
    const m = e.value as Map<KeyId, UV>
    if (!e.iterated) return m
    const copy = new Map(m)
    e.value = copy
    e.iterated = false
    return copy
  }

  remove(key: UK): void {
    this.ctx.assertCurrentKey()
    const id = this.userKeys.idOf(key)
    if (this.readMap()?.has(id) !== true) return
    const m = this.mutableMap()
    m.delete(id)
    if (m.size === 0) this.removeEntry()
  }

  contains(key: UK): boolean {
    this.ctx.assertCurrentKey()
    const id = this.userKeys.idOf(key)
    return this.readMap()?.has(id) === true
  }

  isEmpty(): boolean {
    this.ctx.assertCurrentKey()
    return this.peek() === undefined
  }

  // The map is chosen when the method is called, not on the first next(): the
  // current key may change before the caller starts iterating.
  entries(): IterableIterator<[UK, UV]> {
    return mapEntries(this.iterationMap(), this.userKeys, this.ctx)
  }

  keys(): IterableIterator<UK> {
    return mapKeys(this.iterationMap(), this.userKeys, this.ctx)
  }

  values(): IterableIterator<UV> {
    return mapValues(this.iterationMap(), this.ctx)
  }

  /** The map to iterate: owned (values may be mutated by the caller) or empty; from now on changed only by copying. */
  private iterationMap(): Map<KeyId, UV> {
    this.ctx.assertCurrentKey()
    if (this.peek() === undefined) return new Map()
    // The mark stays after the iteration ends (an iterator may be abandoned
    // without finishing): it costs at most one copy, and the copy is unmarked.
    const e = this.own(this.copyMap)
    e.iterated = true
    return e.value as Map<KeyId, UV>
  }
}

// Each checks that the backend is open when it starts and before every entry: an iteration that starts or goes
// on after close() fails, as on RocksDB.
function* mapEntries<UK, UV>(m: Map<KeyId, UV>, userKeys: KeyIdPolicy<UK>, ctx: HeapContext): IterableIterator<[UK, UV]> {
  ctx.assertUsable()
  for (const [id, v] of m) {
    ctx.assertUsable()
    yield [userKeys.keyOf(id), v]
  }
}

function* mapKeys<UK>(m: Map<KeyId, unknown>, userKeys: KeyIdPolicy<UK>, ctx: HeapContext): IterableIterator<UK> {
  ctx.assertUsable()
  for (const id of m.keys()) {
    ctx.assertUsable()
    yield userKeys.keyOf(id)
  }
}

function* mapValues<UV>(m: Map<KeyId, UV>, ctx: HeapContext): IterableIterator<UV> {
  ctx.assertUsable()
  for (const v of m.values()) {
    ctx.assertUsable()
    yield v
  }
}
