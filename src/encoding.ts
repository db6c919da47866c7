// Byte layouts shared by the RocksDB backend, the heap backend's snapshots and
// the canonical snapshot format (docs/FORMAT.md):
//
//   composite key = u16be keyGroup | varint keyLen | key | varint nsLen | namespace [| userKey]
//   list value    = repeated (u32be elementLen | element)
//
// The key-group prefix makes all data of a key group contiguous in RocksDB, so a
// key group can be iterated, snapshotted or clipped with one range. Lengths make
// (key, namespace) prefixes unambiguous for any serializer.
import { KeyedStateError } from './errors.js'

export const KEY_GROUP_PREFIX_BYTES = 2

export function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** Writes `n` (unsigned, < 2^53) as LEB128 at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  out[pos++] = n
  return pos
}

export function readVarint(bytes: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (pos >= bytes.length) throw new KeyedStateError('CORRUPTION', `varint runs past the end at offset ${pos}`, { offset: pos })
    const b = bytes[pos++]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return { value, next: pos }
    scale *= 128
  }
  throw new KeyedStateError('CORRUPTION', `varint too long at offset ${pos}`, { offset: pos })
}

/** kg prefix + key + namespace (+ optional user key), the layout of every stored entry key. */
export function compositeKey(keyGroup: number, key: Uint8Array, namespace: Uint8Array, userKey?: Uint8Array): Uint8Array {
  const size =
    KEY_GROUP_PREFIX_BYTES + varintLength(key.length) + key.length + varintLength(namespace.length) + namespace.length +
    (userKey ? userKey.length : 0)
  const out = new Uint8Array(size)
  out[0] = keyGroup >>> 8
  out[1] = keyGroup & 0xff
  let pos = writeVarint(out, 2, key.length)
  out.set(key, pos)
  pos = writeVarint(out, pos + key.length, namespace.length)
  out.set(namespace, pos)
  pos += namespace.length
  if (userKey) out.set(userKey, pos)
  return out
}

export interface CompositeKeyParts {
  keyGroup: number
  key: Uint8Array
  namespace: Uint8Array
  /** Bytes after the namespace: the map user key, empty for other kinds. */
  userKey: Uint8Array
}

export function parseCompositeKey(bytes: Uint8Array): CompositeKeyParts {
  if (bytes.length < KEY_GROUP_PREFIX_BYTES + 2) {
    throw new KeyedStateError('CORRUPTION', `entry key of ${bytes.length} bytes is too short`)
  }
  const keyGroup = (bytes[0]! << 8) | bytes[1]!
  const k = readVarint(bytes, 2)
  const keyEnd = k.next + k.value
  if (keyEnd > bytes.length) throw new KeyedStateError('CORRUPTION', 'entry key: key length runs past the end')
  const n = readVarint(bytes, keyEnd)
  const nsEnd = n.next + n.value
  if (nsEnd > bytes.length) throw new KeyedStateError('CORRUPTION', 'entry key: namespace length runs past the end')
  return {
    keyGroup,
    key: bytes.subarray(k.next, keyEnd),
    namespace: bytes.subarray(n.next, nsEnd),
    userKey: bytes.subarray(nsEnd),
  }
}

export function keyGroupPrefix(keyGroup: number): Uint8Array {
  return Uint8Array.of(keyGroup >>> 8, keyGroup & 0xff)
}

/** Encodes list elements as repeated (u32be length | bytes). */
export function encodeListElements(elements: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const e of elements) size += 4 + e.length
  const out = new Uint8Array(size)
  const dv = new DataView(out.buffer)
  let pos = 0
  for (const e of elements) {
    dv.setUint32(pos, e.length, false)
    out.set(e, pos + 4)
    pos += 4 + e.length
  }
  return out
}

export function decodeListElements(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  while (pos < bytes.length) {
    if (pos + 4 > bytes.length) throw new KeyedStateError('CORRUPTION', `list value: truncated length at offset ${pos}`, { offset: pos })
    const len = dv.getUint32(pos, false)
    if (pos + 4 + len > bytes.length) throw new KeyedStateError('CORRUPTION', `list value: element at offset ${pos} runs past the end`, { offset: pos })
    out.push(bytes.subarray(pos + 4, pos + 4 + len))
    pos += 4 + len
  }
  return out
}

/** The smallest key greater than every key that starts with `prefix` (undefined if none exists). */
export function prefixUpperBound(prefix: Uint8Array): Uint8Array | undefined {
  const out = Uint8Array.prototype.slice.call(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i]!++
      return out.subarray(0, i + 1)
    }
  }
  return undefined
}
