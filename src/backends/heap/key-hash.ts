// murmur3 (x86, 32-bit, seed 0) of a key's serialized bytes, computed from the
// key itself for the two most common key types, without building the bytes.
// Serializing a string key (TextEncoder) costs more than the whole heap state
// access, and the heap backend needs only the key group, not the bytes.
// Must equal murmur3_32(serializer.serialize(key)) exactly (tested).

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

function mixK(k: number): number {
  k = Math.imul(k, C1)
  k = (k << 15) | (k >>> 17)
  return Math.imul(k, C2)
}

function mixH(h: number, k: number): number {
  h ^= mixK(k)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

function finish(h: number, length: number): number {
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The hash of the UTF-8 bytes of `s` when `s` is ASCII (then UTF-8 bytes = char codes); -1 otherwise. */
export function murmur3Ascii(s: string): number {
  const length = s.length
  const blocks = length & ~3
  let h = 0
  for (let i = 0; i < blocks; i += 4) {
    const a = s.charCodeAt(i)
    const b = s.charCodeAt(i + 1)
    const c = s.charCodeAt(i + 2)
    const d = s.charCodeAt(i + 3)
    if ((a | b | c | d) > 0x7f) return -1
    h = mixH(h, a | (b << 8) | (c << 16) | (d << 24))
  }
  const tail = length & 3
  if (tail > 0) {
    let k = 0
    for (let i = tail - 1; i >= 0; i--) {
      const c = s.charCodeAt(blocks + i)
      if (c > 0x7f) return -1
      k |= c << (8 * i)
    }
    h ^= mixK(k)
  }
  return finish(h, length)
}

/** The hash of the 4 big-endian bytes the int32 serializer writes for `v` (an int32). */
export function murmur3Int32BE(v: number): number {
  const k = ((v >>> 24) & 0xff) | (((v >>> 16) & 0xff) << 8) | (((v >>> 8) & 0xff) << 16) | ((v & 0xff) << 24)
  return finish(mixH(0, k), 4)
}
