// Packed entry chunks, the unit the full-snapshot writer and reader exchange
// with backends: repeated (u32le keyLength | key | u32le valueLength | value).
import { KeyedStateError } from '../../errors.js'

/** Chunks stay near this size so the writer's buffers stay bounded. */
export const CHUNK_TARGET_BYTES = 1 << 20

export type PackedEntry = readonly [key: Uint8Array, value: Uint8Array]

/** Packs entries (in the given order) into chunks of about `targetBytes` (one larger entry gets its own chunk). */
export function* packEntries(entries: readonly PackedEntry[], targetBytes = CHUNK_TARGET_BYTES): Generator<Uint8Array> {
  let i = 0
  while (i < entries.length) {
    let size = 0
    let end = i
    while (end < entries.length) {
      const [k, v] = entries[end]!
      const entrySize = 8 + k.length + v.length
      if (end > i && size + entrySize > targetBytes) break
      size += entrySize
      end++
    }
    const chunk = new Uint8Array(size)
    const dv = new DataView(chunk.buffer)
    let pos = 0
    for (; i < end; i++) {
      const [k, v] = entries[i]!
      dv.setUint32(pos, k.length, true)
      chunk.set(k, pos + 4)
      pos += 4 + k.length
      dv.setUint32(pos, v.length, true)
      chunk.set(v, pos + 4)
      pos += 4 + v.length
    }
    yield chunk
  }
}

/** Calls `visit` for every entry of a chunk (views into it); throws CORRUPTION on bad framing. */
export function forEachPacked(chunk: Uint8Array, visit: (key: Uint8Array, value: Uint8Array) => void, where: string): void {
  const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  let pos = 0
  while (pos < chunk.length) {
    const start = pos
    if (pos + 4 > chunk.length) throw truncated(where, start)
    const keyLength = dv.getUint32(pos, true)
    pos += 4
    if (pos + keyLength + 4 > chunk.length) throw truncated(where, start)
    const key = chunk.subarray(pos, pos + keyLength)
    pos += keyLength
    const valueLength = dv.getUint32(pos, true)
    pos += 4
    if (pos + valueLength > chunk.length) throw truncated(where, start)
    visit(key, chunk.subarray(pos, pos + valueLength))
    pos += valueLength
  }
}

function truncated(where: string, offset: number): KeyedStateError {
  return new KeyedStateError('CORRUPTION', `${where}: packed entry at chunk offset ${offset} runs past the end of the chunk`, { offset })
}
