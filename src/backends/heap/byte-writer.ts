// Writing serialized keys and values straight into one growing buffer, for the
// heap backend's snapshots. Serializing each value on its own (serialize()
// returns a fresh Uint8Array) allocated millions of small ArrayBuffers per
// snapshot, and their external-memory accounting drove V8 into back-to-back
// full GCs; the built-in serializers are written here byte for byte the same
// way without allocating, and any other serializer goes through serialize().
import { writeVarint } from '../../encoding.js'
import { serializeFnOf, type SerializerUse } from '../../serializers/output.js'
import { int32Serializer, stringSerializer } from '../../serializers/primitives.js'
import type { Serializer } from '../../serializers/serializer.js'
import { encodeWtf8 } from '../../serializers/wtf8.js'
import { TtlValue, ttlUserSerializer } from '../../ttl/value.js'
import type { KeyId, KeyIdPolicy } from './key-ids.js'

/** Strings up to this length are written by a JS loop; longer ones by Buffer's native UTF-8 writer. */
const SHORT_STRING_CHARS = 48
const TWO_POW_32 = 2 ** 32

/** A byte buffer written front to back that grows (by copying) when a write needs more room. */
export class ByteWriter {
  buf: Buffer
  pos = 0

  constructor(capacityBytes: number) {
    this.buf = Buffer.allocUnsafe(capacityBytes)
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(grown, 0, 0, this.pos)
    this.buf = grown
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Copies bytes [start, end) of `from`'s buffer. */
  copyFrom(from: Buffer, start: number, end: number): void {
    const n = end - start
    this.reserve(n)
    const buf = this.buf
    let pos = this.pos
    if (n <= 32) {
      for (let i = start; i < end; i++) buf[pos++] = from[i]!
    } else {
      from.copy(buf, pos, start, end)
      pos += n
    }
    this.pos = pos
  }

  varint(n: number): void {
    this.reserve(10)
    this.pos = writeVarint(this.buf, this.pos, n)
  }

  u32le(n: number): void {
    this.reserve(4)
    this.buf.writeUInt32LE(n, this.pos)
    this.pos += 4
  }

  /** `ms` as the TTL layer writes timestamps (writeTimestamp): a two's-complement i64be, without its DataView. */
  timestamp(ms: number): void {
    this.reserve(8)
    const hi = Math.floor(ms / TWO_POW_32)
    this.buf.writeInt32BE(hi, this.pos)
    this.buf.writeUInt32BE(ms - hi * TWO_POW_32, this.pos + 4)
    this.pos += 8
  }

  int32BE(v: number): void {
    this.reserve(4)
    this.buf.writeInt32BE(v, this.pos)
    this.pos += 4
  }

  /** The bytes stringSerializer writes for `s` (UTF-8, or WTF-8 with a lone surrogate), with a varint length first when asked. */
  utf8(s: string, withLength: boolean): void {
    const length = s.length
    if (length <= SHORT_STRING_CHARS && this.ascii(s, withLength)) return
    // Buffer's UTF-8 writer would write U+FFFD for a lone surrogate, as TextEncoder does.
    if (!s.isWellFormed()) {
      const bytes = encodeWtf8(s)
      if (withLength) this.varint(bytes.length)
      this.bytes(bytes)
      return
    }
    if (!withLength) {
      // At most 3 bytes per UTF-16 unit; measuring first (Buffer.byteLength) costs as much as writing.
      this.reserve(3 * length)
      this.pos += this.buf.utf8Write(s, this.pos, 3 * length)
      return
    }
    const byteLength = Buffer.byteLength(s, 'utf8')
    this.varint(byteLength)
    this.reserve(byteLength)
    this.pos += this.buf.utf8Write(s, this.pos, byteLength)
  }

  /** Writes an ASCII string by hand; false (nothing written) when it is not ASCII. */
  private ascii(s: string, withLength: boolean): boolean {
    const length = s.length
    this.reserve(length + 1)
    const buf = this.buf
    const start = this.pos
    // A varint below 128 is one byte, and SHORT_STRING_CHARS is below that.
    let pos = withLength ? start + 1 : start
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) return false
      buf[pos++] = c
    }
    if (withLength) buf[start] = length
    this.pos = pos
    return true
  }

  /** Each char code of `s` as one byte (key ids of keys known by their bytes are latin1 strings). */
  latin1(s: string, withLength: boolean): void {
    const length = s.length
    if (withLength) this.varint(length)
    this.reserve(length)
    if (length <= SHORT_STRING_CHARS) {
      const buf = this.buf
      let pos = this.pos
      for (let i = 0; i < length; i++) buf[pos++] = s.charCodeAt(i)
      this.pos = pos
    } else {
      this.pos += this.buf.latin1Write(s, this.pos, length)
    }
  }
}

declare global {
  // Node's Buffer has had these since v0.x; @types/node does not declare them.
  interface Buffer {
    utf8Write(s: string, offset: number, length: number): number
    latin1Write(s: string, offset: number, length: number): number
  }
}

/** Writes `value` as `serializer.serialize(value)` would, into `out`. */
export type ValueWriter = (out: ByteWriter, value: unknown) => void

/**
 * The writer of a serializer: direct for the built-in string and int32
 * serializers (also inside TtlValues), serialize() otherwise, its output
 * checked (src/serializers/output.ts); `use` names it in errors.
 */
export function valueWriterOf(serializer: Serializer<unknown>, use: SerializerUse): ValueWriter {
  const serialize = serializeFnOf(serializer, use)
  const ttlUser = ttlUserSerializer(serializer)
  if (ttlUser !== undefined) {
    const user = valueWriterOf(ttlUser, use)
    return (out, value) => {
      if (!(value instanceof TtlValue)) return out.bytes(serialize(value))
      out.timestamp(value.ts)
      user(out, value.v)
    }
  }
  if (serializer === (stringSerializer as Serializer<unknown>)) {
    return (out, value) => {
      if (typeof value === 'string') out.utf8(value, false)
      else out.bytes(serialize(value))
    }
  }
  if (serializer === (int32Serializer as Serializer<unknown>)) {
    return (out, value) => {
      if (typeof value !== 'number' || (value | 0) !== value) return out.bytes(serialize(value))
      out.int32BE(value)
    }
  }
  return (out, value) => out.bytes(serialize(value))
}

/** Writes the serialized key of key id `id` (see key-ids.ts), with a varint length first when asked. */
export type KeyWriter = (out: ByteWriter, id: KeyId, withLength: boolean) => void

export function keyWriterOf(policy: KeyIdPolicy<unknown>): KeyWriter {
  const serializer = policy.serializer
  const direct: KeyWriter =
    serializer === (stringSerializer as Serializer<unknown>)
      ? (out, id, withLength) => out.utf8(id as string, withLength)
      : serializer === (int32Serializer as Serializer<unknown>)
        ? (out, id, withLength) => {
            // Direct int32 ids are int32 numbers (key-ids.ts), -0 already made 0.
            if (withLength) out.varint(4)
            out.int32BE(id as number)
          }
        : (out, id, withLength) => {
          const bytes = policy.bytesOf(id)
          if (withLength) out.varint(bytes.length)
          out.bytes(bytes)
        }
  return (out, id, withLength) => {
    if (policy.isDirect(id)) direct(out, id, withLength)
    else out.latin1(id as string, withLength)
  }
}
