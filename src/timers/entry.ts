// How a timer is stored: one entry per (key, namespace, timestamp) with an
// empty value, keyed
//
//   u16be keyGroup | u64be (timestamp with the sign bit flipped) | varint keyLen | key | varint nsLen | namespace
//
// The key-group prefix keeps every timer inside its key group's key range, so
// timers are snapshotted, restored, clipped and rescaled exactly like keyed
// state. The flipped sign bit makes byte order equal numeric order for
// negative timestamps too, so inside a key group RocksDB (and a sorted
// snapshot) hold timers in firing order.
import { KEY_GROUP_PREFIX_BYTES, readVarint, varintLength, writeVarint } from '../encoding.js'
import { KeyedStateError } from '../errors.js'

export const TIMESTAMP_BYTES = 8
const TWO_POW_32 = 2 ** 32

export class TimerEntry {
  /** Position in the binary heap holding it (heap queues only). */
  heapIndex = -1
  /** The key object when the timer was registered in this process: firing then needs no deserialization. */
  key: unknown = undefined

  constructor(
    readonly keyGroup: number,
    readonly timestamp: number,
    readonly keyBytes: Uint8Array,
    readonly namespaceBytes: Uint8Array,
    /** The stored entry key (layout above). */
    readonly bytes: Uint8Array,
    /** `bytes` as a latin1 string: the identity used for de-duplication. */
    readonly id: string,
  ) {}
}

export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

export function encodeTimer(keyGroup: number, timestamp: number, keyBytes: Uint8Array, namespaceBytes: Uint8Array): TimerEntry {
  const size =
    KEY_GROUP_PREFIX_BYTES + TIMESTAMP_BYTES + varintLength(keyBytes.length) + keyBytes.length +
    varintLength(namespaceBytes.length) + namespaceBytes.length
  const out = new Uint8Array(size)
  out[0] = keyGroup >>> 8
  out[1] = keyGroup & 0xff
  const hi = Math.floor(timestamp / TWO_POW_32)
  const flippedHi = (hi ^ 0x80000000) >>> 0
  const lo = timestamp - hi * TWO_POW_32
  out[2] = flippedHi >>> 24
  out[3] = (flippedHi >>> 16) & 0xff
  out[4] = (flippedHi >>> 8) & 0xff
  out[5] = flippedHi & 0xff
  out[6] = lo >>> 24
  out[7] = (lo >>> 16) & 0xff
  out[8] = (lo >>> 8) & 0xff
  out[9] = lo & 0xff
  const keyStart = writeVarint(out, 10, keyBytes.length)
  out.set(keyBytes, keyStart)
  const nsStart = writeVarint(out, keyStart + keyBytes.length, namespaceBytes.length)
  out.set(namespaceBytes, nsStart)
  return new TimerEntry(
    keyGroup,
    timestamp,
    out.subarray(keyStart, keyStart + keyBytes.length),
    out.subarray(nsStart, nsStart + namespaceBytes.length),
    out,
    latin1(out),
  )
}

/** Parses a stored entry key; throws CORRUPTION (naming `where`) on anything but the exact layout. */
export function decodeTimer(bytes: Uint8Array, where: string): TimerEntry {
  const bad = (why: string): KeyedStateError => new KeyedStateError('CORRUPTION', `${where}: timer entry of ${bytes.length} bytes: ${why}`)
  if (bytes.length < KEY_GROUP_PREFIX_BYTES + TIMESTAMP_BYTES + 2) throw bad('too short')
  const keyGroup = (bytes[0]! << 8) | bytes[1]!
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const hi = (dv.getUint32(2, false) ^ 0x80000000) | 0
  const timestamp = hi * TWO_POW_32 + dv.getUint32(6, false)
  let k: { value: number; next: number }
  let n: { value: number; next: number }
  try {
    k = readVarint(bytes, 10)
    n = readVarint(bytes, Math.min(k.next + k.value, bytes.length))
  } catch (e) {
    throw bad((e as Error).message)
  }
  if (k.next + k.value > bytes.length) throw bad('key length runs past the end')
  if (n.next + n.value !== bytes.length) throw bad('namespace length does not end the entry')
  if (!Number.isSafeInteger(timestamp)) throw bad(`timestamp ${timestamp} is not a safe integer`)
  const own = Uint8Array.prototype.slice.call(bytes) as Uint8Array
  return new TimerEntry(keyGroup, timestamp, own.subarray(k.next, k.next + k.value), own.subarray(n.next, n.next + n.value), own, latin1(own))
}

/**
 * The firing order: timestamp, then key group, then key and namespace bytes.
 * Deterministic, and the same for every queue implementation.
 */
export function compareTimers(a: TimerEntry, b: TimerEntry): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1
  if (a.keyGroup !== b.keyGroup) return a.keyGroup - b.keyGroup
  return Buffer.compare(a.bytes, b.bytes)
}

/** Order inside one key group: the stored byte order. */
export function compareInKeyGroup(a: TimerEntry, b: TimerEntry): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1
  return Buffer.compare(a.bytes, b.bytes)
}
