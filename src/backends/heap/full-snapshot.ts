// The heap backend's side of a full snapshot. The synchronous part starts a
// capture of every state's table (state-table.ts: O(1), later changes record
// what they replace); the first read of a state sorts its items at the
// barrier into key groups (the tables are keyed by key alone), and each
// (state, key group) is then serialized sorted by composite key bytes, exactly
// as RocksDB would hold the same state.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { KEY_GROUP_PREFIX_BYTES } from '../../encoding.js'
import { isKeyedStateError, KeyedStateError } from '../../errors.js'
import { keyGroupOf, rangeSize, type KeyGroupRange } from '../../keygroups.js'
import { int32Serializer, stringSerializer } from '../../serializers/primitives.js'
import type { Serializer } from '../../serializers/serializer.js'
import type { FullSnapshotResources } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { HeapStateData, RawEntries, StateCodec } from './state-data.js'
import type { KeyId, KeyIdPolicy } from './key-ids.js'
import { ByteWriter, keyWriterOf, valueWriterOf } from './byte-writer.js'
import { keyGroupOfAscii, keyGroupOfInt32 } from './key-hash.js'
import { CHUNK_TARGET_BYTES } from '../../snapshot/format/packed.js'
import { valueOf, type Capture, type CapturedItemVisitor, type Stored } from './state-table.js'
import type { CapturedInternalState } from './timers.js'

/** A state as the snapshot holds it: restored chunks not yet bound, timers, or a capture of its table. */
type SnapshotState =
  | { readonly meta: StateMetaInfo; readonly raw: RawEntries }
  | { readonly meta: StateMetaInfo; readonly internal: CapturedInternalState }
  | CapturedState

interface CapturedState {
  readonly meta: StateMetaInfo
  readonly codec: StateCodec
  readonly capture: Capture
  /** The table was empty at the barrier. */
  readonly empty: boolean
  /** Reads the capture, into the items at the barrier grouped by key group. */
  reader: CaptureReader | undefined
}

/** Capture items read per turn of the event loop by the asynchronous path. */
const CAPTURE_ITEMS_PER_TURN = 16384

/** Reads a state's capture (in as many steps as the caller likes) and groups its items by key group. */
class CaptureReader {
  /** Set once the capture is read. */
  items: CapturedItems | undefined
  private readonly namespaces: Uint8Array[] = []
  private readonly keyIds: KeyId[] = []
  private readonly stored: Stored[] = []
  /** Key-group index of each item. */
  private indices = new Uint16Array(1024)
  /** offsets[i + 1]: items of key-group index i, then the prefix sums of those. */
  private readonly offsets: Uint32Array
  private readonly visit: CapturedItemVisitor

  constructor(
    private readonly state: CapturedState,
    range: KeyGroupRange,
    maxParallelism: number,
  ) {
    const size = rangeSize(range)
    this.offsets = new Uint32Array(size + 1)
    const groupOf = keyGroupOfId(state.codec.keys, maxParallelism)
    const { start, end } = range
    this.visit = (namespaceBytes, keyId, s) => {
      const index = groupOf(keyId) - start
      if (index < 0 || index >= size) {
        // setCurrentKey refuses such keys and restore drops them: the table is broken.
        throw new KeyedStateError('INTERNAL', `state '${state.meta.name}' holds key ${String(keyId)} outside the key-group range ${start}-${end}`, {
          state: state.meta.name,
        })
      }
      const n = this.keyIds.length
      if (n === this.indices.length) {
        const grown = new Uint16Array(n * 2)
        grown.set(this.indices)
        this.indices = grown
      }
      this.indices[n] = index
      this.offsets[index + 1]!++
      this.namespaces.push(namespaceBytes)
      this.keyIds.push(keyId)
      this.stored.push(s)
    }
  }

  readSome(maxItems: number): boolean {
    if (this.items !== undefined) return true
    if (!this.state.capture.readSome(this.visit, maxItems)) return false
    this.items = this.grouped()
    return true
  }

  /** The items moved into key-group order (a counting sort, as Flink's KeyGroupPartitioner does). */
  private grouped(): CapturedItems {
    const { offsets, indices, namespaces, keyIds, stored } = this
    const size = offsets.length - 1
    for (let i = 1; i <= size; i++) offsets[i]! += offsets[i - 1]!
    const count = keyIds.length
    const next = offsets.slice(0, size)
    const sortedNamespaces = new Array<Uint8Array>(count)
    const sortedKeyIds = new Array<KeyId>(count)
    const sortedStored = new Array<Stored>(count)
    for (let n = 0; n < count; n++) {
      const at = next[indices[n]!]!++
      sortedNamespaces[at] = namespaces[n]!
      sortedKeyIds[at] = keyIds[n]!
      sortedStored[at] = stored[n]!
    }
    return { namespaces: sortedNamespaces, keyIds: sortedKeyIds, stored: sortedStored, offsets }
  }
}

/**
 * Every item of a captured state, grouped by key group (a counting sort, as
 * Flink's KeyGroupPartitioner does): the items of key-group index i are at
 * offsets[i] ... offsets[i + 1] - 1 of the arrays.
 */
export interface CapturedItems {
  readonly namespaces: readonly Uint8Array[]
  readonly keyIds: readonly KeyId[]
  readonly stored: readonly Stored[]
  readonly offsets: Uint32Array
}

/** The items of one state in one key group: [from, to) of `items`' arrays, in no particular order. */
export interface KeyGroupItems {
  readonly items: CapturedItems
  readonly from: number
  readonly to: number
}

export class HeapSnapshotResources implements FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  private readonly states: SnapshotState[]
  private released = false
  /** keyGroupChunks' working space (see KeyGroupScratch). */
  private readonly scratch = new KeyGroupScratch()

  /** The synchronous part: O(states), no data copied. */
  constructor(
    readonly keyGroupRange: KeyGroupRange,
    private readonly maxParallelism: number,
    states: readonly { meta: StateMetaInfo; data: HeapStateData }[],
    private readonly onRelease?: () => void,
  ) {
    this.states = states.map(({ meta, data }): SnapshotState => {
      if (data.raw !== undefined) return { meta, raw: data.raw.slice() }
      if (data.internal !== undefined) return { meta, internal: data.internal.capture() }
      return { meta, codec: data.codec!, capture: data.table.capture(), empty: data.table.isEmpty(), reader: undefined }
    })
    this.metaInfos = this.states.map((p) => p.meta)
  }

  keyGroupChunks(stateIndex: number, keyGroup: number): Iterable<Uint8Array> {
    if (this.released) throw new KeyedStateError('INTERNAL', 'heap snapshot resources used after release')
    const state = this.states[stateIndex]
    if (state === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `no state with index ${stateIndex} in this snapshot`)
    const index = keyGroup - this.keyGroupRange.start
    if (index < 0 || keyGroup > this.keyGroupRange.end) return []
    if ('raw' in state) return state.raw[index] ?? []
    if ('internal' in state) return state.internal.chunks(index)
    const items = this.itemsOf(state)
    const from = items.offsets[index]!
    const to = items.offsets[index + 1]!
    if (from === to) return []
    return keyGroupChunks(state.meta.name, state.codec, keyGroup, { items, from, to }, CHUNK_TARGET_BYTES, this.scratch)
  }

  /** The state's items at the barrier, reading what is left of its capture now. */
  private itemsOf(state: CapturedState): CapturedItems {
    const reader = this.readerOf(state)
    while (!reader.readSome(Infinity));
    return reader.items!
  }

  private readerOf(state: CapturedState): CaptureReader {
    return (state.reader ??= new CaptureReader(state, this.keyGroupRange, this.maxParallelism))
  }

  /**
   * Reads the capture of state `stateIndex` a little further (about
   * `maxItems` items) and says whether it is read: the asynchronous reading
   * does this between turns of the event loop. Exposed for tests.
   */
  readCaptureSome(stateIndex: number, maxItems: number): boolean {
    const state = this.states[stateIndex]
    if (state === undefined || !('capture' in state)) return true
    if (this.released) throw new KeyedStateError('INTERNAL', 'heap snapshot resources used after release')
    return this.readerOf(state).readSome(maxItems)
  }

  /**
   * The writer's path: the capture is read in slices between turns of the
   * event loop (walking a 1 GB state takes seconds, and the job keeps
   * processing meanwhile), then each key group is sorted and packed when the
   * writer asks for the next chunk.
   */
  async *stateChunksAsync(stateIndex: number): AsyncIterable<Uint8Array> {
    while (!this.readCaptureSome(stateIndex, CAPTURE_ITEMS_PER_TURN)) await yieldToEventLoop()
    for (let kg = this.keyGroupRange.start; kg <= this.keyGroupRange.end; kg++) yield* this.keyGroupChunks(stateIndex, kg)
  }

  isEmpty(): boolean {
    return this.states.every((p) =>
      'raw' in p
        ? p.raw.every((chunks) => chunks === undefined || chunks.length === 0)
        : 'internal' in p
          ? p.internal.isEmpty()
          : p.empty,
    )
  }

  release(): void {
    if (this.released) return
    this.released = true
    for (const p of this.states) {
      if (!('capture' in p)) continue
      p.capture.end()
      p.reader = undefined
    }
    this.onRelease?.()
  }
}

/** The key group of a key id, hashed straight from string and int32 keys (as setCurrentKey does). */
export function keyGroupOfId(keys: KeyIdPolicy<unknown>, maxParallelism: number): (keyId: KeyId) => number {
  const serializer = keys.serializer as Serializer<unknown>
  const strings = serializer === stringSerializer
  const int32s = serializer === int32Serializer
  return (keyId) => {
    if (strings && typeof keyId === 'string') {
      const keyGroup = keyGroupOfAscii(keyId, maxParallelism)
      if (keyGroup >= 0) return keyGroup
    } else if (int32s && typeof keyId === 'number') {
      return keyGroupOfInt32(keyId, maxParallelism)
    }
    return keyGroupOf(keys.bytesOf(keyId), maxParallelism)
  }
}

/** Room for one more entry past the chunk target, so most entries never make the buffer grow. */
const CHUNK_SLACK_BYTES = 64 << 10

/**
 * Every entry of one state in one key group in the canonical layout, ascending
 * by composite key bytes, packed into chunks of about `targetBytes` (one larger
 * entry gets its own chunk, as packEntries does). The composite keys are
 * written into one buffer and an index array is sorted over it; values are
 * serialized straight into the chunks.
 */
export function keyGroupChunks(
  stateName: string,
  codec: StateCodec,
  keyGroup: number,
  items: KeyGroupItems,
  targetBytes = CHUNK_TARGET_BYTES,
  /** Working space, free again when this returns (the chunks are buffers of their own). */
  scratch = new KeyGroupScratch(),
): Uint8Array[] {
  let keyId: KeyId | undefined
  const keys = scratch.keys
  keys.pos = 0
  // Filled by index, not pushed: the arrays keep their size from key group to key group.
  const { starts, values, ids } = scratch
  let count = 0
  try {
    const writeKey = keyWriterOf(codec.keys)
    const writeUserKey = codec.kind === 'map' ? keyWriterOf(codec.userKeys!) : undefined
    const hi = keyGroup >>> 8
    const lo = keyGroup & 0xff
    const { namespaces, keyIds, stored: storedItems } = items.items
    for (let item = items.from; item < items.to; item++) {
      const ns = namespaces[item]!
      const id = keyIds[item]!
      const stored = storedItems[item]!
      keyId = id
      const value = valueOf(stored)
      const start = keys.pos
      keys.reserve(2)
      keys.buf[keys.pos++] = hi
      keys.buf[keys.pos++] = lo
      writeKey(keys, id, true)
      keys.varint(ns.length)
      keys.bytes(ns)
      if (writeUserKey === undefined) {
        starts[count] = start
        values[count] = value
        ids[count++] = id
        continue
      }
      // One composite key per map entry: the (key, namespace) prefix again for each.
      const prefixEnd = keys.pos
      let first = true
      for (const [userKeyId, userValue] of value as Map<KeyId, unknown>) {
        if (!first) {
          const copyStart = keys.pos
          keys.copyFrom(keys.buf, start, prefixEnd)
          starts[count] = copyStart
        } else {
          starts[count] = start
        }
        first = false
        writeUserKey(keys, userKeyId, false)
        values[count] = userValue
        ids[count++] = id
      }
      // An empty map is never stored, but if one were, its prefix must not stay in the buffer as a key.
      if (first) keys.pos = start
    }
    // Keys are contiguous: each ends where the next begins.
    scratch.reserve(count)
    const begins = scratch.begins.subarray(0, count)
    const ends = scratch.ends.subarray(0, count)
    for (let i = 0; i < count; i++) begins[i] = starts[i]!
    for (let i = 0; i < count; i++) ends[i] = i + 1 < count ? begins[i + 1]! : keys.pos
    const order = sortedOrder(keys.buf, begins, ends, scratch)
    const packing = { index: -1 }
    try {
      return packSorted(keys.buf, begins, ends, order, values, codec, targetBytes, packing)
    } catch (e) {
      keyId = ids[packing.index]
      throw e
    }
  } catch (e) {
    throw new KeyedStateError(
      isKeyedStateError(e) ? e.code : 'INVALID_ARGUMENT',
      `state '${stateName}', key group ${keyGroup}: cannot serialize the value of key ${String(keyId)}: ${(e as Error)?.message ?? e}`,
      { state: stateName, keyGroup, cause: e },
    )
  }
}

/**
 * What keyGroupChunks works in, reused from key group to key group by a
 * snapshot: fresh buffers and arrays per key group allocated about as much
 * again as the snapshot writes, in large ArrayBuffers that drive V8 into full
 * GCs over the whole (large) heap.
 */
export class KeyGroupScratch {
  readonly keys = new ByteWriter(64 << 10)
  readonly starts: number[] = []
  readonly values: unknown[] = []
  /** The key id of each entry, for error messages. */
  readonly ids: KeyId[] = []
  begins = new Int32Array(0)
  ends = new Int32Array(0)
  order = new Uint32Array(0)
  keyed = new Float64Array(0)

  /** Makes the typed arrays hold at least `count` entries. */
  reserve(count: number): void {
    if (this.begins.length >= count) return
    const capacity = Math.max(count, this.begins.length * 2, 1024)
    this.begins = new Int32Array(capacity)
    this.ends = new Int32Array(capacity)
    this.order = new Uint32Array(capacity)
    this.keyed = new Float64Array(capacity)
  }
}

/** Sorting by a numeric key packs the entry index into its low bits: up to this many entries (2^21). */
const PACKED_INDEX_LIMIT = 1 << 21
const PREFIX_BYTES = 4

/**
 * Entry indices in ascending order of their key bytes [begins[i], ends[i]) in `buf`.
 * Keys of one key group tend to share a long prefix (the key-group bytes,
 * often the key length and its first characters), so the first 4 bytes after
 * the prefix all keys share make a number that orders nearly every pair; the
 * numbers (with the index in their low bits) sort natively, without calling a
 * comparator, and only runs of equal numbers are sorted byte by byte.
 */
function sortedOrder(buf: Buffer, begins: Int32Array, ends: Int32Array, scratch: KeyGroupScratch): Uint32Array {
  const count = begins.length
  const order = scratch.order.subarray(0, count)
  for (let i = 0; i < count; i++) order[i] = i
  if (count < 2) return order
  const common = commonPrefixLength(buf, begins, ends)
  if (count > PACKED_INDEX_LIMIT) {
    order.sort(compareFrom(buf, begins, ends, common))
    return order
  }
  const keyed = scratch.keyed.subarray(0, count)
  for (let i = 0; i < count; i++) keyed[i] = prefixNumber(buf, begins[i]! + common, ends[i]!) * PACKED_INDEX_LIMIT + i
  keyed.sort()
  let runStart = 0
  let runPrefix = Math.floor(keyed[0]! / PACKED_INDEX_LIMIT)
  for (let i = 0; i <= count; i++) {
    const prefix = i < count ? Math.floor(keyed[i]! / PACKED_INDEX_LIMIT) : -1
    if (i < count) order[i] = keyed[i]! - prefix * PACKED_INDEX_LIMIT
    if (prefix === runPrefix) continue
    // Keys padded with zeros to 4 bytes tie with longer keys: the byte-wise sort settles those too.
    if (i - runStart > 1) order.subarray(runStart, i).sort(compareFrom(buf, begins, ends, common + PREFIX_BYTES))
    runStart = i
    runPrefix = prefix
  }
  return order
}

/** Bytes every key starts with (at least the key-group prefix). */
function commonPrefixLength(buf: Buffer, begins: Int32Array, ends: Int32Array): number {
  const first = begins[0]!
  let common = ends[0]! - first
  for (let i = 1; i < begins.length && common > KEY_GROUP_PREFIX_BYTES; i++) {
    const begin = begins[i]!
    const limit = Math.min(common, ends[i]! - begin)
    let j = KEY_GROUP_PREFIX_BYTES
    while (j < limit && buf[first + j] === buf[begin + j]) j++
    common = j
  }
  return Math.max(common, KEY_GROUP_PREFIX_BYTES)
}

/** Bytes [from, from + 4) as a big-endian number, zeros past `end`. */
function prefixNumber(buf: Buffer, from: number, end: number): number {
  let n = 0
  for (let k = 0; k < PREFIX_BYTES; k++) n = n * 256 + (from + k < end ? buf[from + k]! : 0)
  return n
}

/** Compares keys by their bytes from `skip` on (the bytes before are equal). */
function compareFrom(buf: Buffer, begins: Int32Array, ends: Int32Array, skip: number): (a: number, b: number) => number {
  return (a, b) => {
    let i = begins[a]! + skip
    let j = begins[b]! + skip
    const endA = ends[a]!
    const endB = ends[b]!
    while (i < endA && j < endB) {
      const d = buf[i++]! - buf[j++]!
      if (d !== 0) return d
    }
    // Both may have ended inside the skipped bytes (keys padded with zeros): compare lengths.
    return endA - begins[a]! - (endB - begins[b]!)
  }
}

function packSorted(
  keys: Buffer,
  begins: Int32Array,
  ends: Int32Array,
  order: Uint32Array,
  values: unknown[],
  codec: StateCodec,
  targetBytes: number,
  /** The entry being written, for error messages. */
  packing: { index: number },
): Uint8Array[] {
  const chunks: Uint8Array[] = []
  const writeValue = valueWriterOf(codec.value, codec.valueUse)
  const isList = codec.kind === 'list'
  let out = new ByteWriter(targetBytes + CHUNK_SLACK_BYTES)
  for (let n = 0; n < order.length; n++) {
    const i = order[n]!
    packing.index = i
    const entryStart = out.pos
    out.u32le(ends[i]! - begins[i]!)
    out.copyFrom(keys, begins[i]!, ends[i]!)
    const valueLengthAt = out.pos
    out.u32le(0)
    const value = values[i]
    if (isList) {
      for (const element of value as unknown[]) {
        const elementLengthAt = out.pos
        out.u32le(0)
        writeValue(out, element)
        out.buf.writeUInt32BE(out.pos - elementLengthAt - 4, elementLengthAt)
      }
    } else {
      writeValue(out, value)
    }
    out.buf.writeUInt32LE(out.pos - valueLengthAt - 4, valueLengthAt)
    if (out.pos > targetBytes && entryStart > 0) {
      // The entry goes to the next chunk, as packEntries would place it.
      const next = new ByteWriter(Math.max(targetBytes, out.pos - entryStart) + CHUNK_SLACK_BYTES)
      next.copyFrom(out.buf, entryStart, out.pos)
      chunks.push(out.buf.subarray(0, entryStart))
      out = next
    }
  }
  if (out.pos > 0) chunks.push(out.buf.subarray(0, out.pos))
  return chunks
}
