// The stored form of a TTL'd value: its last-access timestamp and the user's
// value. In bytes (RocksDB, snapshots) it is i64be timestamp (ms) | user bytes;
// list state stores that per element, map state per entry value. The heap
// backend keeps TtlValue objects and writes the same bytes into snapshots, so
// TTL'd state moves between backends like any other.
import { decodeListElements, encodeListElements } from '../encoding.js'
import { KeyedStateError } from '../errors.js'
import { builtInSerializer, checkedBytes } from '../serializers/output.js'
import type { Serializer } from '../serializers/serializer.js'
import { isExpired } from './config.js'

export const TTL_TIMESTAMP_BYTES = 8

export class TtlValue<T> {
  constructor(
    readonly ts: number,
    readonly v: T,
  ) {}
}

const TWO_POW_32 = 2 ** 32

/** Writes `ms` (a safe integer, possibly negative) as a two's-complement i64be. */
export function writeTimestamp(out: Uint8Array, pos: number, ms: number): void {
  const hi = Math.floor(ms / TWO_POW_32)
  const lo = ms - hi * TWO_POW_32
  const dv = new DataView(out.buffer, out.byteOffset + pos, TTL_TIMESTAMP_BYTES)
  dv.setInt32(0, hi, false)
  dv.setUint32(4, lo, false)
}

export function readTimestamp(bytes: Uint8Array, pos: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + pos, TTL_TIMESTAMP_BYTES)
  return dv.getInt32(0, false) * TWO_POW_32 + dv.getUint32(4, false)
}

/** The user's serializer of each serializer made by ttlValueSerializer. */
const userSerializers = new WeakMap<Serializer<any>, Serializer<any>>()

/**
 * The user's serializer inside `s` when `s` stores TtlValues (made by
 * ttlValueSerializer), else undefined: a backend that checks values without
 * serializing them (heap) checks the user's value inside the TtlValue.
 */
export function ttlUserSerializer(s: Serializer<any>): Serializer<unknown> | undefined {
  return userSerializers.get(s)
}

/** The serializer of stored TtlValues around the user's serializer. Never recorded in meta-info (that keeps the user's). */
export function ttlValueSerializer<T>(inner: Serializer<T>): Serializer<TtlValue<T>> {
  const serializer: Serializer<TtlValue<T>> = builtInSerializer({
    id: `ttl(${inner.id})`,
    version: inner.version,
    serialize(value) {
      const user = checkedBytes(inner.serialize(value.v), inner)
      const out = new Uint8Array(TTL_TIMESTAMP_BYTES + user.length)
      writeTimestamp(out, 0, value.ts)
      out.set(user, TTL_TIMESTAMP_BYTES)
      return out
    },
    deserialize(bytes) {
      if (bytes.length < TTL_TIMESTAMP_BYTES) {
        throw new KeyedStateError('CORRUPTION', `a TTL value needs at least ${TTL_TIMESTAMP_BYTES} bytes (its timestamp), got ${bytes.length}`)
      }
      return new TtlValue(readTimestamp(bytes, 0), inner.deserialize(bytes.subarray(TTL_TIMESTAMP_BYTES)))
    },
  })
  userSerializers.set(serializer, inner)
  return serializer
}

/** How a state kind lays out TTL'd bytes: one timestamped value per entry, or a list of timestamped elements. */
export type TtlLayout = 'value' | 'list'

export function ttlLayoutOf(kind: string): TtlLayout {
  return kind === 'list' ? 'list' : 'value'
}

/**
 * Drops expired data from one stored entry: returns `value` itself when
 * nothing expired, undefined when everything did, or a rewritten list value.
 * Bytes too short to hold a timestamp are kept: reading them is the state's
 * business, and it reports them with the state's name.
 */
export function withoutExpired(layout: TtlLayout, value: Uint8Array, ttlMs: number, nowMs: number): Uint8Array | undefined {
  if (layout === 'value') {
    if (value.length < TTL_TIMESTAMP_BYTES) return value
    return isExpired(readTimestamp(value, 0), ttlMs, nowMs) ? undefined : value
  }
  let elements: Uint8Array[]
  try {
    elements = decodeListElements(value)
  } catch {
    return value
  }
  const live = elements.filter((e) => e.length < TTL_TIMESTAMP_BYTES || !isExpired(readTimestamp(e, 0), ttlMs, nowMs))
  if (live.length === elements.length) return value
  return live.length === 0 ? undefined : encodeListElements(live)
}

/** The full-snapshot transformer of a TTL'd state at `nowMs` (see FullSnapshotContext.transformers). */
export function ttlSnapshotTransformer(kind: string, ttlMs: number, nowMs: number): (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined {
  const layout = ttlLayoutOf(kind)
  return (_key, value) => withoutExpired(layout, value, ttlMs, nowMs)
}
