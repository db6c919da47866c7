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

/** The final mix, as a signed 32-bit integer (the unsigned hash is `>>> 0` of it). */
function finish(h: number, length: number): number {
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * (hash >>> 0) % maxParallelism in small-integer arithmetic: the unsigned hash
 * does not fit a small integer, and a floating-point modulo costs as much as
 * the hash itself. Needs maxParallelism <= 2^15.
 */
function modulo(h: number, maxParallelism: number): number {
  // Powers of two (the default 128 among them): the low bits, no division at all.
  if ((maxParallelism & (maxParallelism - 1)) === 0) return h & (maxParallelism - 1)
  return ((((h >>> 16) % maxParallelism) << 16) + (h & 0xffff)) % maxParallelism
}

/** The key group of an ASCII string key (string serializer: UTF-8 bytes = char codes); -1 when not ASCII. */
export function keyGroupOfAscii(s: string, maxParallelism: number): number {
  const h = murmur3AsciiSigned(s)
  return h === NOT_ASCII ? -1 : modulo(h, maxParallelism)
}

/** The key group of an int32 key (int32 serializer: 4 bytes, big-endian). */
export function keyGroupOfInt32(v: number, maxParallelism: number): number {
  return modulo(murmur3Int32Signed(v), maxParallelism)
}

/** The unsigned hash of the UTF-8 bytes of an ASCII string; -1 otherwise. */
export function murmur3Ascii(s: string): number {
  const h = murmur3AsciiSigned(s)
  return h === NOT_ASCII ? -1 : h >>> 0
}

/** The unsigned hash of the 4 big-endian bytes the int32 serializer writes for `v`. */
export function murmur3Int32BE(v: number): number {
  return murmur3Int32Signed(v) >>> 0
}

/** Outside the int32 range, so it never equals a hash. */
const NOT_ASCII = 2 ** 32

// Written out by hand: it runs for every record.
function murmur3AsciiSigned(s: string): number {
  const length = s.length
  const blocks = length & ~3
  let h = 0
  let i = 0
  for (; i < blocks; i += 4) {
    const a = s.charCodeAt(i)
    const b = s.charCodeAt(i + 1)
    const c = s.charCodeAt(i + 2)
    const d = s.charCodeAt(i + 3)
    if ((a | b | c | d) > 0x7f) return NOT_ASCII
    const w = a | (b << 8) | (c << 16) | (d << 24)
    let k = Math.imul(w, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (i < length) {
    let k = 0
    for (let j = length - 1; j >= i; j--) {
      const c = s.charCodeAt(j)
      if (c > 0x7f) return NOT_ASCII
      k = (k << 8) | c
    }
    h ^= mixK(k)
  }
  return finish(h, length)
}

function murmur3Int32Signed(v: number): number {
  const k = ((v >>> 24) & 0xff) | (((v >>> 16) & 0xff) << 8) | (((v >>> 8) & 0xff) << 16) | ((v & 0xff) << 24)
  return finish(mixH(0, k), 4)
}
