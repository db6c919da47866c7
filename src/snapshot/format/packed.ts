// Packed entries: repeated (u32le keyLength | key | u32le valueLength | value),
// the unit the backends hand to the writer and the reader hands to the backends.
import { KeyedStateError } from '../../errors.js'

export interface PackedEntry {
  key: Uint8Array
  value: Uint8Array
}

/**
 * Returns the end offset of the entry starting at `pos`, or -1 when the entry
 * does not fit in `bytes` (a malformed chunk).
 */
export function packedEntryEnd(bytes: Uint8Array, pos: number, end = bytes.length): number {
  if (pos + 4 > end) return -1
  const keyLength = (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>> 0
  const valuePos = pos + 4 + keyLength
  if (valuePos + 4 > end) return -1
  const valueLength = (bytes[valuePos]! | (bytes[valuePos + 1]! << 8) | (bytes[valuePos + 2]! << 16) | (bytes[valuePos + 3]! << 24)) >>> 0
  const entryEnd = valuePos + 4 + valueLength
  return entryEnd > end ? -1 : entryEnd
}

/** The entries of a packed chunk, as views into it (no copies). */
export function* unpackEntries(chunk: Uint8Array): Generator<PackedEntry> {
  let pos = 0
  while (pos < chunk.length) {
    const end = packedEntryEnd(chunk, pos)
    if (end < 0) throw new KeyedStateError('CORRUPTION', `packed entries: entry at offset ${pos} runs past the end of the chunk`, { offset: pos })
    const keyLength = readU32le(chunk, pos)
    const key = chunk.subarray(pos + 4, pos + 4 + keyLength)
    const value = chunk.subarray(pos + 8 + keyLength, end)
    yield { key, value }
    pos = end
  }
}

export function packedEntryBytes(key: Uint8Array, value: Uint8Array): number {
  return 8 + key.length + value.length
}

/** Writes one entry at `pos` of `out`; returns the position after it. */
export function writePackedEntry(out: Uint8Array, pos: number, key: Uint8Array, value: Uint8Array): number {
  writeU32le(out, pos, key.length)
  out.set(key, pos + 4)
  pos += 4 + key.length
  writeU32le(out, pos, value.length)
  out.set(value, pos + 4)
  return pos + 4 + value.length
}

export function packEntries(entries: Iterable<PackedEntry>): Buffer {
  const list = [...entries]
  let size = 0
  for (const e of list) size += packedEntryBytes(e.key, e.value)
  const out = Buffer.allocUnsafe(size)
  let pos = 0
  for (const e of list) pos = writePackedEntry(out, pos, e.key, e.value)
  return out
}

export function readU32le(bytes: Uint8Array, pos: number): number {
  return (bytes[pos]! | (bytes[pos + 1]! << 8) | (bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 24)) >>> 0
}

export function writeU32le(out: Uint8Array, pos: number, n: number): void {
  out[pos] = n & 0xff
  out[pos + 1] = (n >>> 8) & 0xff
  out[pos + 2] = (n >>> 16) & 0xff
  out[pos + 3] = (n >>> 24) & 0xff
}
