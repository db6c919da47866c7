// Strings as bytes without loss. A JavaScript string is UTF-16 code units and
// may hold a lone surrogate ('\uD800'), which UTF-8 cannot express: TextEncoder
// writes U+FFFD for it, so '\uD800' and '\uDC00' would become the same key.
// WTF-8 (https://simonsapin.github.io/wtf-8/) is UTF-8 plus one rule: a lone
// surrogate is written as the 3-byte form UTF-8 would give its code point.
// Well-formed strings have exactly their UTF-8 bytes, so only strings with a
// lone surrogate take the slow paths here; the fast paths are the platform's
// UTF-8 codec. (Java's modified UTF-8, which Flink's string serializer uses,
// keeps lone surrogates the same way.)
//
// Decoding refuses what WTF-8 refuses: a surrogate pair written as two 3-byte
// forms (its only form is the 4-byte one), so two byte strings never read as
// the same string. A byte-order mark is kept as the character it is.

declare global {
  // Node 20 has it (ES2024); the ES2022 lib this project compiles against does not declare it.
  interface String {
    isWellFormed(): boolean
  }
}

const encoder = new TextEncoder()
// ignoreBOM: a leading U+FEFF is part of the string, not a marker to drop ('\uFEFFa' is not 'a').
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Strings up to this length are tried as ASCII in a JS loop first: keys and
 * short values are mostly ASCII, and the loop needs no call into the platform's
 * encoder, whose result is a new off-heap ArrayBuffer (an allocation and a GC
 * sweep each); a Uint8Array this small lives on the V8 heap. (bench/notes/profiles.md, hot path)
 */
const ASCII_LOOP_MAX_CHARS = 64
/** encodeWtf8Into tries ASCII in a JS loop up to this length, then the platform's encodeInto. */
const ASCII_INTO_MAX_CHARS = 512
/** The most bytes WTF-8 writes for one UTF-16 code unit (a pair of units writes 4 bytes for 2). */
export const WTF8_MAX_BYTES_PER_UNIT = 3

/** The WTF-8 bytes of `s` (its UTF-8 bytes when `s` is well-formed). */
export function encodeWtf8(s: string): Uint8Array {
  const n = s.length
  if (n <= ASCII_LOOP_MAX_CHARS) {
    const out = new Uint8Array(n)
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      out[i] = c
    }
    if (i === n) return out
  }
  return s.isWellFormed() ? encoder.encode(s) : encodeWithLoneSurrogates(s)
}

/**
 * Writes the WTF-8 bytes of `s` into `out` at `pos` and returns where they end,
 * or -1 when they may not fit: the caller then makes room for
 * WTF8_MAX_BYTES_PER_UNIT × s.length bytes at `pos`, which always fits, and calls
 * again. What was written past `pos` by a call that returned -1 is garbage.
 */
export function encodeWtf8Into(s: string, out: Uint8Array, pos: number): number {
  const n = s.length
  if (pos + n > out.length) return -1
  if (n <= ASCII_INTO_MAX_CHARS) {
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      out[pos + i] = c
    }
    if (i === n) return pos + n
  }
  if (pos + n * WTF8_MAX_BYTES_PER_UNIT > out.length) return -1
  if (!s.isWellFormed()) {
    const bytes = encodeWithLoneSurrogates(s)
    out.set(bytes, pos)
    return pos + bytes.length
  }
  return pos + encoder.encodeInto(s, out.subarray(pos)).written
}

function encodeWithLoneSurrogates(s: string): Uint8Array {
  const parts: Uint8Array[] = []
  let runStart = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    if (c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    parts.push(encoder.encode(s.slice(runStart, i)), Uint8Array.of(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)))
    runStart = i + 1
  }
  parts.push(encoder.encode(s.slice(runStart)))
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

/** The string of WTF-8 `bytes`, or undefined when they are not WTF-8. */
export function decodeWtf8(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes)
  } catch {
    return decodeWithLoneSurrogates(bytes)
  }
}

function utf8Run(bytes: Uint8Array, start: number, end: number): string | undefined {
  try {
    return decoder.decode(bytes.subarray(start, end))
  } catch {
    return undefined
  }
}

/**
 * Bytes that are not UTF-8: runs of UTF-8 between 3-byte surrogate forms
 * (ED A0..BF xx). 0xED is always a lead byte (never a continuation byte), so
 * finding it followed by A0..BF is finding a surrogate form.
 */
function decodeWithLoneSurrogates(bytes: Uint8Array): string | undefined {
  const parts: string[] = []
  let runStart = 0
  /** Where the last high surrogate's form ended: a low one starting there would make a pair. */
  let highEnd = -1
  for (let i = 0; i + 2 < bytes.length; i++) {
    const second = bytes[i + 1]!
    if (bytes[i] !== 0xed || second < 0xa0 || second > 0xbf) continue
    const third = bytes[i + 2]!
    if ((third & 0xc0) !== 0x80) return undefined
    const unit = 0xd000 | ((second & 0x3f) << 6) | (third & 0x3f)
    if (unit >= 0xdc00 && highEnd === i) return undefined
    const run = utf8Run(bytes, runStart, i)
    if (run === undefined) return undefined
    parts.push(run, String.fromCharCode(unit))
    i += 2
    runStart = i + 1
    if (unit < 0xdc00) highEnd = runStart
  }
  const last = utf8Run(bytes, runStart, bytes.length)
  if (last === undefined) return undefined
  parts.push(last)
  return parts.join('')
}
