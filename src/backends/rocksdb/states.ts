// State objects of the RocksDB backend. Each object is bound to one state
// (column family) and one namespace; every call is one synchronous N-API call
// on the hot path (value get, put, merge, delete).
//
// The composite-key prefix (key group | key | namespace) is built into the
// object's own buffer once per current key and reused until the key changes
// (the backend bumps a key version on every setCurrentKey that may change it).
//
// A state registered since the last use of any state has no column family yet
// (they are created in batches, column-families.ts): its object starts with cf
// -1 and asks the host for the id when it builds its first prefix. So every
// method computes the key (prefix, prefixWith, bounds) before it reads this.cf.
import { encodeListElements, decodeListElements, prefixUpperBound, varintLength, writeVarint } from '../../encoding.js'
import { KeyedStateError, isKeyedStateError } from '../../errors.js'
import type { NativeDb } from './native/types.js'
import { serializeFnOf, serializeIntoFnOf, type SerializeInto } from '../../serializers/output.js'
import type { Serializer } from '../../serializers/serializer.js'
import { valueRoleOf } from '../../state/descriptors.js'
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../state/descriptors.js'
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../../state/types.js'
import { ChunkCursor, scanChunks, SCAN_CHUNK } from './packed-chunks.js'
import { ScratchBuffer, type ValueReader } from './reused-buffers.js'
import { checkAddValue, checkListElement, checkMapEntries, checkMapEntry, invalidStateArgument } from '../../state/argument-checks.js'

/** What state objects need from the backend. */
export interface StateHost {
  readonly db: NativeDb
  readonly reader: ValueReader
  /** Shared scratch for the value bytes of one write (list element frames, values serialized in place). */
  readonly frameScratch: ScratchBuffer
  /** A number that changes whenever the current key may have changed; throws CLOSED / NO_CURRENT_KEY. */
  currentKeyVersionOrThrow(): number
  /** Serialized current key (call after currentKeyVersionOrThrow). */
  currentKeyBytesUnchecked(): Uint8Array
  /** Key group of the current key (call after currentKeyVersionOrThrow). */
  currentKeyGroupUnchecked(): number
  /** Throws CLOSED once the backend is closing: lazy iterations check it per entry. */
  assertUsable(): void
  /** The state's column family id, creating it (with every other waiting one) when it does not exist yet. */
  columnFamilyId(stateName: string): number
}

/** Deletes are sent in batches of at most this many keys (map clear). */
const DELETE_BATCH_KEYS_MAX = 4096
const KEY_BUFFER_INITIAL_BYTES = 64

/** Attaches the state name to decoding errors so the message says which state holds the bad bytes. */
function decodeError(e: unknown, state: string): KeyedStateError {
  if (isKeyedStateError(e)) {
    if (e.state !== undefined) return e
    return new KeyedStateError(e.code, `state '${state}': ${e.message}`, { state, cause: e })
  }
  return new KeyedStateError('SERIALIZER_MISMATCH', `state '${state}': stored bytes cannot be deserialized: ${String(e)}`, {
    state,
    cause: e,
  })
}

abstract class RocksDBState {
  protected readonly db: NativeDb
  private readonly keyBuffer = new ScratchBuffer(KEY_BUFFER_INITIAL_BYTES)
  private prefixLength = 0
  private prefixView: Buffer = Buffer.alloc(0)
  private prefixVersion = -1

  constructor(
    protected readonly host: StateHost,
    /** -1 until the first prefix() asks the host for it (see the header). */
    protected cf: number,
    protected readonly stateName: string,
    private readonly namespaceBytes: Uint8Array,
  ) {
    this.db = host.db
  }

  /** The composite key prefix of the current key and this namespace. */
  protected prefix(): Buffer {
    const version = this.host.currentKeyVersionOrThrow()
    if (version !== this.prefixVersion) {
      if (this.cf < 0) this.cf = this.host.columnFamilyId(this.stateName)
      this.buildPrefix(this.host.currentKeyBytesUnchecked(), this.host.currentKeyGroupUnchecked())
      this.prefixVersion = version
    }
    return this.prefixView
  }

  private buildPrefix(key: Uint8Array, keyGroup: number): void {
    const ns = this.namespaceBytes
    const size = 2 + varintLength(key.length) + key.length + varintLength(ns.length) + ns.length
    const out = this.keyBuffer.ensure(size)
    out[0] = keyGroup >>> 8
    out[1] = keyGroup & 0xff
    let pos = writeVarint(out, 2, key.length)
    out.set(key, pos)
    pos = writeVarint(out, pos + key.length, ns.length)
    out.set(ns, pos)
    this.prefixLength = pos + ns.length
    // The view is an object: keep it while the buffer and the length stay (keys of one length, the common case).
    if (this.prefixView.length !== this.prefixLength || this.prefixView.buffer !== out.buffer || this.prefixView.byteOffset !== out.byteOffset) {
      this.prefixView = out.subarray(0, this.prefixLength)
    }
  }

  /** prefix + user key (map state), in the same buffer. */
  protected prefixWith(userKey: Uint8Array): Buffer {
    this.prefix()
    const size = this.prefixLength + userKey.length
    const out = this.growKeyBuffer(size)
    out.set(userKey, this.prefixLength)
    return this.keyBuffer.view(size)
  }

  /**
   * prefix + the user key `key` serialized in place after it with the
   * serializer's write-into path; undefined when it has none or the key is too
   * large for it (the caller then uses prefixWith).
   */
  protected prefixWithInPlace<UK>(into: SerializeInto<UK> | undefined, key: UK): Buffer | undefined {
    if (into === undefined) return undefined
    this.prefix()
    const before = this.keyBuffer.bytes
    const end = this.keyBuffer.writeWith(into, key, this.prefixLength)
    if (this.keyBuffer.bytes !== before) this.prefixView = this.keyBuffer.bytes.subarray(0, this.prefixLength)
    return end < 0 ? undefined : this.keyBuffer.view(end)
  }

  private growKeyBuffer(sizeBytes: number): Buffer {
    const before = this.keyBuffer.bytes
    const out = this.keyBuffer.ensure(sizeBytes, this.prefixLength)
    // Growing moved the prefix into a new buffer; the cached view must follow it.
    if (out !== before) this.prefixView = out.subarray(0, this.prefixLength)
    return out
  }

  /**
   * The bytes of `value`, serialized in place into the host's shared scratch
   * when the serializer can (a view valid until the next write of any state),
   * else by `serialize`.
   */
  protected valueBytes<V>(value: V, serialize: (value: V) => Uint8Array, into: SerializeInto<V> | undefined): Uint8Array {
    if (into !== undefined) {
      const end = this.host.frameScratch.writeWith(into, value, 0)
      if (end >= 0) return this.host.frameScratch.view(end)
    }
    return serialize(value)
  }

  protected read(key: Uint8Array): Uint8Array | undefined {
    return this.host.reader.read(this.cf, key)
  }

  protected decode<T>(serializer: Serializer<T>, bytes: Uint8Array): T {
    try {
      return serializer.deserialize(bytes)
    } catch (e) {
      throw decodeError(e, this.stateName)
    }
  }

  clear(): void {
    const key = this.prefix()
    this.db.delete(this.cf, key)
  }
}

export class RocksDBValueState<T> extends RocksDBState implements ValueState<T> {
  private readonly serializer: Serializer<T>
  private readonly serialize: (value: T) => Uint8Array
  private readonly serializeInto: SerializeInto<T> | undefined
  private readonly defaultValue: T | undefined
  private readonly defaultBytes: Uint8Array | undefined

  constructor(host: StateHost, cf: number, d: ValueStateDescriptor<T>, ns: Uint8Array) {
    super(host, cf, d.name, ns)
    this.serializer = d.serializer
    this.serialize = serializeFnOf(d.serializer, { role: valueRoleOf(d.kind), state: d.name })
    this.serializeInto = serializeIntoFnOf(d.serializer, { role: valueRoleOf(d.kind), state: d.name })
    this.defaultValue = d.defaultValue
    // A mutable default (object) is handed out as a fresh copy so callers cannot change it for everyone.
    if (d.defaultValue !== null && typeof d.defaultValue === 'object') this.defaultBytes = this.serialize(d.defaultValue)
  }

  value(): T | undefined {
    const raw = this.read(this.prefix())
    if (raw === undefined) {
      return this.defaultBytes === undefined ? this.defaultValue : this.serializer.deserialize(this.defaultBytes)
    }
    return this.decode(this.serializer, raw)
  }

  update(value: T | undefined): void {
    if (value === undefined) return this.clear()
    const bytes = this.valueBytes(value, this.serialize, this.serializeInto)
    const key = this.prefix()
    this.db.put(this.cf, key, bytes)
  }
}

export class RocksDBListState<T> extends RocksDBState implements ListState<T> {
  private readonly serializer: Serializer<T>
  private readonly serialize: (element: T) => Uint8Array
  private readonly serializeInto: SerializeInto<T> | undefined

  constructor(host: StateHost, cf: number, d: ListStateDescriptor<T>, ns: Uint8Array) {
    super(host, cf, d.name, ns)
    this.serializer = d.elementSerializer
    this.serialize = serializeFnOf(d.elementSerializer, { role: valueRoleOf(d.kind), state: d.name })
    this.serializeInto = serializeIntoFnOf(d.elementSerializer, { role: valueRoleOf(d.kind), state: d.name })
  }

  get(): T[] {
    const raw = this.read(this.prefix())
    if (raw === undefined) return []
    let elements: Uint8Array[]
    try {
      elements = decodeListElements(raw)
    } catch (e) {
      throw decodeError(e, this.stateName)
    }
    const out = new Array<T>(elements.length)
    for (let i = 0; i < elements.length; i++) out[i] = this.decode(this.serializer, elements[i]!)
    return out
  }

  /** Appends with the addon's concatenation merge operator: no read of the existing list. */
  add(value: T): void {
    checkListElement(this.stateName, value)
    const frame = this.frame(value)
    const key = this.prefix()
    this.db.merge(this.cf, key, frame)
  }

  /** One element frame (u32be length | element) in the host's scratch, the element serialized in place when it can be. */
  private frame(value: T): Uint8Array {
    const scratch = this.host.frameScratch
    const end = this.serializeInto === undefined ? -1 : scratch.writeWith(this.serializeInto, value, 4)
    if (end >= 0) {
      scratch.bytes.writeUInt32BE(end - 4, 0)
      return scratch.view(end)
    }
    const bytes = this.serialize(value)
    const frame = scratch.ensure(4 + bytes.length)
    frame.writeUInt32BE(bytes.length, 0)
    frame.set(bytes, 4)
    return scratch.view(4 + bytes.length)
  }

  addAll(values: readonly T[]): void {
    if (!Array.isArray(values)) throw invalidStateArgument(this.stateName, 'expected an array of elements')
    if (values.length === 0) {
      this.prefix() // still refuses calls without a current key or after close
      return
    }
    const key = this.prefix()
    this.db.merge(this.cf, key, this.encode(values))
  }

  update(values: readonly T[]): void {
    if (!Array.isArray(values)) throw invalidStateArgument(this.stateName, 'expected an array of elements')
    if (values.length === 0) return this.clear()
    const key = this.prefix()
    this.db.put(this.cf, key, this.encode(values))
  }

  private encode(values: readonly T[]): Uint8Array {
    const parts = new Array<Uint8Array>(values.length)
    for (let i = 0; i < values.length; i++) {
      checkListElement(this.stateName, values[i])
      parts[i] = this.serialize(values[i]!)
    }
    return encodeListElements(parts)
  }
}

export class RocksDBMapState<UK, UV> extends RocksDBState implements MapState<UK, UV> {
  private readonly keySerializer: Serializer<UK>
  private readonly valueSerializer: Serializer<UV>
  private readonly serializeKey: (key: UK) => Uint8Array
  private readonly serializeValue: (value: UV) => Uint8Array
  private readonly serializeKeyInto: SerializeInto<UK> | undefined
  private readonly serializeValueInto: SerializeInto<UV> | undefined

  constructor(host: StateHost, cf: number, d: MapStateDescriptor<UK, UV>, ns: Uint8Array) {
    super(host, cf, d.name, ns)
    this.keySerializer = d.userKeySerializer
    this.valueSerializer = d.userValueSerializer
    this.serializeKey = serializeFnOf(d.userKeySerializer, { role: 'user key', state: d.name })
    this.serializeValue = serializeFnOf(d.userValueSerializer, { role: valueRoleOf(d.kind), state: d.name })
    this.serializeKeyInto = serializeIntoFnOf(d.userKeySerializer, { role: 'user key', state: d.name })
    this.serializeValueInto = serializeIntoFnOf(d.userValueSerializer, { role: valueRoleOf(d.kind), state: d.name })
  }

  /** The composite key of user key `key` under the current key, its bytes written in place when they can be. */
  private entryKey(key: UK): Buffer {
    return this.prefixWithInPlace(this.serializeKeyInto, key) ?? this.prefixWith(this.serializeKey(key))
  }

  get(key: UK): UV | undefined {
    const raw = this.read(this.entryKey(key))
    return raw === undefined ? undefined : this.decode(this.valueSerializer, raw)
  }

  put(key: UK, value: UV): void {
    checkMapEntry(this.stateName, key, value)
    const composite = this.entryKey(key)
    const bytes = this.valueBytes(value, this.serializeValue, this.serializeValueInto)
    this.db.put(this.cf, composite, bytes)
  }

  putAll(entries: Iterable<readonly [UK, UV]> | Map<UK, UV>): void {
    this.prefix()
    const batch = this.db.batch()
    for (const [k, v] of checkMapEntries(this.stateName, entries)) {
      const userKey = this.serializeKey(k)
      const bytes = this.serializeValue(v)
      const composite = this.prefixWith(userKey)
      batch.put(this.cf, composite, bytes)
    }
    if (batch.count > 0) this.db.write(batch)
  }

  remove(key: UK): void {
    const composite = this.prefixWith(this.serializeKey(key))
    this.db.delete(this.cf, composite)
  }

  contains(key: UK): boolean {
    return this.read(this.prefixWith(this.serializeKey(key))) !== undefined
  }

  isEmpty(): boolean {
    const { gte, lt } = this.bounds()
    const it = this.db.iterator(this.cf, { gte, lt, keysOnly: true })
    try {
      return it.nextChunk(1, 1) === null
    } finally {
      it.close()
    }
  }

  /**
   * Point deletes rather than one delete-range: RocksDB 7.x re-fragments the
   * memtable's range tombstones on every read, so a tombstone per cleared map
   * would slow down every later get.
   */
  override clear(): void {
    const { gte, lt } = this.bounds()
    const cursor = new ChunkCursor(new Uint8Array(0))
    let batch = this.db.batch()
    for (const chunk of scanChunks(this.db, this.cf, { gte, lt, keysOnly: true }, SCAN_CHUNK)) {
      cursor.reset(chunk)
      while (cursor.next()) {
        batch.delete(this.cf, cursor.key())
        if (batch.count >= DELETE_BATCH_KEYS_MAX) {
          this.db.write(batch)
          batch = this.db.batch()
        }
      }
    }
    if (batch.count > 0) this.db.write(batch)
  }

  // The key is chosen when the method is called, not on the first next(): the
  // current key may change before the caller starts iterating.
  entries(): IterableIterator<[UK, UV]> {
    const bounds = this.bounds()
    return this.scan(bounds, (k, v) => [this.decode(this.keySerializer, k), this.decode(this.valueSerializer, v)] as [UK, UV], false)
  }

  keys(): IterableIterator<UK> {
    return this.scan(this.bounds(), (k) => this.decode(this.keySerializer, k), true)
  }

  values(): IterableIterator<UV> {
    return this.scan(this.bounds(), (_k, v) => this.decode(this.valueSerializer, v), false)
  }

  /** Bounds of the current key's entries; copies, because the key buffer is reused by later calls. */
  private bounds(): { gte: Uint8Array; lt: Uint8Array } {
    const gte = Uint8Array.prototype.slice.call(this.prefix())
    // The key-group prefix is < 0x8000, so an upper bound always exists.
    return { gte, lt: prefixUpperBound(gte)! }
  }

  /**
   * Iterates the entries present when the iteration starts (the native iterator
   * reads from an implicit snapshot), in user-key byte order.
   */
  private *scan<R>(
    { gte, lt }: { gte: Uint8Array; lt: Uint8Array },
    map: (userKey: Uint8Array, value: Uint8Array) => R,
    keysOnly: boolean,
  ): Generator<R, void, undefined> {
    const prefixLength = gte.length
    const cursor = new ChunkCursor(new Uint8Array(0))
    for (const chunk of scanChunks(this.db, this.cf, { gte, lt, keysOnly }, SCAN_CHUNK)) {
      cursor.reset(chunk)
      const bytes = cursor.bytes
      while (cursor.next()) {
        this.host.assertUsable()
        yield map(bytes.subarray(cursor.keyStart + prefixLength, cursor.keyEnd), bytes.subarray(cursor.valueStart, cursor.valueEnd))
      }
    }
  }
}

export class RocksDBReducingState<T> extends RocksDBState implements ReducingState<T> {
  private readonly serializer: Serializer<T>
  private readonly serialize: (value: T) => Uint8Array
  private readonly reduce: (a: T, b: T) => T

  constructor(host: StateHost, cf: number, d: ReducingStateDescriptor<T>, ns: Uint8Array) {
    super(host, cf, d.name, ns)
    this.serializer = d.serializer
    this.serialize = serializeFnOf(d.serializer, { role: valueRoleOf(d.kind), state: d.name })
    this.reduce = d.reduce
  }

  get(): T | undefined {
    const raw = this.read(this.prefix())
    return raw === undefined ? undefined : this.decode(this.serializer, raw)
  }

  add(value: T): void {
    checkAddValue(this.stateName, value)
    const raw = this.read(this.prefix())
    const next = raw === undefined ? value : this.reduce(this.decode(this.serializer, raw), value)
    const bytes = this.serialize(next)
    const key = this.prefix()
    this.db.put(this.cf, key, bytes)
  }
}

export class RocksDBAggregatingState<IN, ACC, OUT> extends RocksDBState implements AggregatingState<IN, OUT> {
  private readonly serializer: Serializer<ACC>
  private readonly serialize: (accumulator: ACC) => Uint8Array
  private readonly aggregate: AggregatingStateDescriptor<IN, ACC, OUT>['aggregate']

  constructor(host: StateHost, cf: number, d: AggregatingStateDescriptor<IN, ACC, OUT>, ns: Uint8Array) {
    super(host, cf, d.name, ns)
    this.serializer = d.accumulatorSerializer
    this.serialize = serializeFnOf(d.accumulatorSerializer, { role: valueRoleOf(d.kind), state: d.name })
    this.aggregate = d.aggregate
  }

  get(): OUT | undefined {
    const raw = this.read(this.prefix())
    return raw === undefined ? undefined : this.aggregate.getResult(this.decode(this.serializer, raw))
  }

  add(value: IN): void {
    const raw = this.read(this.prefix())
    const acc = raw === undefined ? this.aggregate.createAccumulator() : this.decode(this.serializer, raw)
    const bytes = this.serialize(this.aggregate.add(value, acc))
    const key = this.prefix()
    this.db.put(this.cf, key, bytes)
  }
}
