// The built-in serializers of single values. Each checks the type of what it
// is given and refuses (INVALID_ARGUMENT) what it cannot write without loss.
import { KeyedStateError } from '../errors.js'
import { builtInSerializer, withSerializeInto } from './output.js'
import type { Serializer } from './serializer.js'
import { decodeWtf8, encodeWtf8, encodeWtf8Into, WTF8_MAX_BYTES_PER_UNIT } from './wtf8.js'

const encoder = new TextEncoder()
// ignoreBOM: a leading U+FEFF is a character of the text, not a marker to drop.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function expectLength(id: string, bytes: Uint8Array, n: number): void {
  if (bytes.length !== n) {
    throw new KeyedStateError('SERIALIZER_MISMATCH', `${id} serializer expects ${n} bytes, got ${bytes.length}`)
  }
}

function decodeUtf8(id: string, bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes)
  } catch (e) {
    throw new KeyedStateError('SERIALIZER_MISMATCH', `${id} serializer: ${bytes.length} bytes are not valid UTF-8`, { cause: e })
  }
}

/** "a number (1)", "a bigint (5n)", "a string", "null": what a serializer was given, for its refusal. */
function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return `a number (${String(v)})`
    case 'bigint':
      return `a bigint (${String(v)}n)`
    case 'boolean':
      return `a boolean (${String(v)})`
    case 'string':
      return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)})`
    case 'undefined':
      return 'undefined'
    default:
      return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * WTF-8 (wtf8.ts): UTF-8, and a lone surrogate as the 3-byte form of its code
 * point, so every JavaScript string round-trips and different strings have
 * different bytes.
 */
function expectString(v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new KeyedStateError('INVALID_ARGUMENT', `string serializer expects a string, got ${describeValue(v)}`)
}

export const stringSerializer: Serializer<string> = withSerializeInto(
  {
    id: 'string',
    version: 1,
    serialize: (v) => {
      expectString(v)
      return encodeWtf8(v)
    },
    deserialize: (b) => {
      const s = decodeWtf8(b)
      if (s === undefined) throw new KeyedStateError('SERIALIZER_MISMATCH', `string serializer: ${b.length} bytes are not UTF-8 (WTF-8)`)
      return s
    },
  },
  // The RocksDB hot path writes values straight into its reused buffers (no array per call).
  (v, out, pos) => {
    expectString(v)
    const end = encodeWtf8Into(v, out, pos)
    return end >= 0 ? end : -1 - v.length * WTF8_MAX_BYTES_PER_UNIT
  },
)

export const int32Serializer: Serializer<number> = builtInSerializer({
  id: 'int32',
  version: 1,
  serialize: (v) => {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new KeyedStateError('INVALID_ARGUMENT', `int32 serializer expects an integer number from -2147483648 to 2147483647, got ${describeValue(v)}`)
    }
    // Byte by byte rather than through a DataView: no second object per key on the hot path.
    const out = new Uint8Array(4)
    out[0] = v >>> 24
    out[1] = v >>> 16
    out[2] = v >>> 8
    out[3] = v
    return out
  },
  deserialize: (b) => {
    expectLength('int32', b, 4)
    return view(b).getInt32(0, false)
  },
})

export const int64Serializer: Serializer<bigint> = builtInSerializer({
  id: 'int64',
  version: 1,
  serialize: (v) => {
    if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 63n) {
      throw new KeyedStateError('INVALID_ARGUMENT', `int64 serializer expects a bigint from -(2n ** 63n) to 2n ** 63n - 1n, got ${describeValue(v)}`)
    }
    const out = new Uint8Array(8)
    view(out).setBigInt64(0, v, false)
    return out
  },
  deserialize: (b) => {
    expectLength('int64', b, 8)
    return view(b).getBigInt64(0, false)
  },
})

export const float64Serializer: Serializer<number> = builtInSerializer({
  id: 'float64',
  version: 1,
  serialize: (v) => {
    if (typeof v !== 'number') throw new KeyedStateError('INVALID_ARGUMENT', `float64 serializer expects a number, got ${describeValue(v)}`)
    const out = new Uint8Array(8)
    view(out).setFloat64(0, v, false)
    return out
  },
  deserialize: (b) => {
    expectLength('float64', b, 8)
    return view(b).getFloat64(0, false)
  },
})

export const booleanSerializer: Serializer<boolean> = builtInSerializer({
  id: 'boolean',
  version: 1,
  serialize: (v) => {
    if (typeof v !== 'boolean') throw new KeyedStateError('INVALID_ARGUMENT', `boolean serializer expects a boolean, got ${describeValue(v)}`)
    return Uint8Array.of(v ? 1 : 0)
  },
  deserialize: (b) => {
    expectLength('boolean', b, 1)
    if (b[0]! > 1) throw new KeyedStateError('SERIALIZER_MISMATCH', `boolean serializer got byte ${b[0]}`)
    return b[0] === 1
  },
})

export const bytesSerializer: Serializer<Uint8Array> = builtInSerializer({
  id: 'bytes',
  version: 1,
  serialize: (v) => {
    if (!(v instanceof Uint8Array)) throw new KeyedStateError('INVALID_ARGUMENT', 'bytes serializer expects a Uint8Array')
    return v
  },
  deserialize: (b) => Uint8Array.prototype.slice.call(b),
})

/**
 * The JSON text of `v`, or INVALID_ARGUMENT for what JSON.stringify refuses
 * (bigint, circular structures) or turns into nothing (a function, a symbol).
 * The text is well-formed (lone surrogates are escaped), so its UTF-8 is lossless.
 */
export function jsonText(v: unknown): string {
  let text: string | undefined
  try {
    text = JSON.stringify(v)
  } catch (e) {
    throw new KeyedStateError('INVALID_ARGUMENT', `json serializer cannot encode the value: ${(e as Error)?.message ?? e}`, { cause: e })
  }
  if (text === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `json serializer cannot encode ${typeof v}`)
  return text
}

/** Nesting depth isJsonWritableQuick follows; deeper values, and cycles, are left to JSON.stringify. */
const JSON_QUICK_DEPTH_MAX = 32

/**
 * A quick, conservative answer to "does jsonText accept `v`?" for a backend
 * that checks values without serializing them (heap): true only for strings,
 * numbers, booleans, null, and arrays and plain objects of those (no toJSON),
 * nested at most JSON_QUICK_DEPTH_MAX deep. Anything else (a bigint, a
 * function, a Date, a class instance, a hole, a cycle, a getter that throws)
 * answers false, and the caller asks jsonText, which decides exactly. So true
 * is always right, and false only costs a JSON.stringify.
 */
export function isJsonWritableQuick(v: unknown): boolean {
  try {
    return isPlainJson(v, 0)
  } catch {
    return false
  }
}

function isPlainJson(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
      return true
    case 'object': {
      if (v === null) return true
      if (depth === JSON_QUICK_DEPTH_MAX || (v as { toJSON?: unknown }).toJSON !== undefined) return false
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      // for-in (own and inherited enumerable string keys) visits at least what JSON.stringify writes.
      for (const key in v) if (!isPlainJson((v as Record<string, unknown>)[key], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

/** JSON text (UTF-8). bigint is not JSON: use int64Serializer or a tuple for those. */
export const jsonSerializer: Serializer<any> = builtInSerializer({
  id: 'json',
  version: 1,
  serialize: (v) => encoder.encode(jsonText(v)),
  deserialize: (b) => {
    const text = decodeUtf8('json', b)
    try {
      return JSON.parse(text)
    } catch (e) {
      throw new KeyedStateError('SERIALIZER_MISMATCH', `json serializer: ${b.length} bytes are not JSON (${(e as Error).message})`, { cause: e })
    }
  },
})

/** The namespace of state that is not partitioned further (no window etc.): zero bytes. */
export const voidNamespaceSerializer: Serializer<undefined> = builtInSerializer({
  id: 'void',
  version: 1,
  serialize: () => new Uint8Array(0),
  deserialize: () => undefined,
})
