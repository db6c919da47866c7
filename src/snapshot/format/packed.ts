// Packed entries: repeated (u32le keyLength | key | u32le valueLength | value),
// the unit the backends hand to the writer and the reader hands to the backends.
import { KeyedStateError } from '../../errors.js'

/** Chunks a backend packs stay near this size, so the writer's buffers stay bounded. */
export const CHUNK_TARGET_BYTES = 1 << 20

export type PackedEntry = readonly [key: Uint8Array, value: Uint8Array]

/**
 * Returns the end offset of the entry starting at `pos`, or -1 when the entry
 * does not fit in `bytes` (a malformed chunk).
 */
export function packedEntryEnd(bytes: Uint8Array, pos: number, end = bytes.length): number {
  if (pos + 4 > end) return -1
  const valuePos = pos + 4 + readU32le(bytes, pos)
  if (valuePos + 4 > end) return -1
  const entryEnd = valuePos + 4 + readU32le(bytes, valuePos)
  return entryEnd > end ? -1 : entryEnd
}

/** Calls `visit` for every entry of a chunk (views into it); throws CORRUPTION naming `where` on bad framing. */
export function forEachPacked(chunk: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void, where: string): void {
  for (let pos = 0; pos < chunk.length; ) {
    const end = packedEntryEnd(chunk, pos)
    if (end < 0) throw truncated(where, pos)
    const keyEnd = pos + 4 + readU32le(chunk, pos)
    visit(chunk.subarray(pos + 4, keyEnd), chunk.subarray(keyEnd + 4, end))
    pos = end
  }
}

/** The entries of a packed chunk, as views into it (no copies). */
export function unpackEntries(chunk: Uint8Array, where = 'packed entries'): PackedEntry[] {
  const entries: PackedEntry[] = []
  forEachPacked(chunk, (key, value) => entries.push([key, value]), where)
  return entries
}

/**
 * Packs entries (in the given order) into chunks of about `targetBytes`; an
 * entry larger than that gets a chunk of its own. No entries, no chunks.
 */
export function* packEntries(entries: readonly PackedEntry[], targetBytes = CHUNK_TARGET_BYTES): Generator<Uint8Array> {
  let i = 0
  while (i < entries.length) {
    let size = 0
    let end = i
    for (; end < entries.length; end++) {
      const [key, value] = entries[end]!
      const entrySize = 8 + key.length + value.length
      if (end > i && size + entrySize > targetBytes) break
      size += entrySize
    }
    const chunk = new Uint8Array(size)
    for (let pos = 0; i < end; i++) {
      const [key, value] = entries[i]!
      writeU32le(chunk, pos, key.length)
      chunk.set(key, pos + 4)
      pos += 4 + key.length
      writeU32le(chunk, pos, value.length)
      chunk.set(value, pos + 4)
      pos += 4 + value.length
    }
    yield chunk
  }
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

function truncated(where: string, offset: number): KeyedStateError {
  return new KeyedStateError('CORRUPTION', `${where}: packed entry at chunk offset ${offset} runs past the end of the chunk`, { offset })
}
