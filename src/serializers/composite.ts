// The built-in composite serializers: lists, maps and tuples of values that
// other serializers write.
import { KeyedStateError } from '../errors.js'
import { readVarint, varintLength, writeVarint } from '../encoding.js'
import { builtInSerializer, checkedBytes } from './output.js'
import { serializerCanRead, serializerConfig, type Serializer, type SerializerConfig } from './serializer.js'

// Composite values are length-prefixed parts (LEB128 varint lengths), so any
// element serializer works, including ones that are not self-delimiting.

/** What an element serializer returned, checked (it may be a user's serializer). */
function part<T>(serializer: Serializer<T>, value: T): Uint8Array {
  return checkedBytes(serializer.serialize(value), serializer)
}

function encodeParts(parts: Uint8Array[], countPrefix: boolean): Uint8Array {
  let size = countPrefix ? varintLength(parts.length) : 0
  for (const p of parts) size += varintLength(p.length) + p.length
  const out = new Uint8Array(size)
  let pos = countPrefix ? writeVarint(out, 0, parts.length) : 0
  for (const p of parts) {
    pos = writeVarint(out, pos, p.length)
    out.set(p, pos)
    pos += p.length
  }
  return out
}

function decodeParts(id: string, bytes: Uint8Array, expected?: number): Uint8Array[] {
  let pos = 0
  let count: number
  if (expected === undefined) {
    const c = readVarint(bytes, pos)
    count = c.value
    pos = c.next
  } else {
    count = expected
  }
  const parts: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const len = readVarint(bytes, pos)
    pos = len.next
    if (pos + len.value > bytes.length) {
      throw new KeyedStateError('SERIALIZER_MISMATCH', `${id} serializer: part ${i} runs past the end (${bytes.length} bytes)`)
    }
    parts.push(bytes.subarray(pos, pos + len.value))
    pos += len.value
  }
  if (pos !== bytes.length) {
    throw new KeyedStateError('SERIALIZER_MISMATCH', `${id} serializer: ${bytes.length - pos} trailing bytes`)
  }
  return parts
}

function nestedCanRead(current: Serializer<unknown>[], previous: SerializerConfig): boolean {
  const prevParts = (previous.config as { parts?: SerializerConfig[] } | undefined)?.parts
  return (
    Array.isArray(prevParts) &&
    prevParts.length === current.length &&
    current.every((s, i) => serializerCanRead(s, prevParts[i]!))
  )
}

export function listSerializer<T>(element: Serializer<T>): Serializer<T[]> {
  return builtInSerializer({
    id: 'list',
    version: 1,
    config: { parts: [serializerConfig(element)] },
    serialize: (v) => {
      if (!Array.isArray(v)) throw new KeyedStateError('INVALID_ARGUMENT', 'list serializer expects an array')
      return encodeParts(v.map((e) => part(element, e)), true)
    },
    deserialize: (b) => decodeParts('list', b).map((p) => element.deserialize(p)),
    canRead(prev) {
      return prev.id === 'list' && prev.version === 1 && nestedCanRead([element as Serializer<unknown>], prev)
    },
  })
}

export function mapSerializer<K, V>(key: Serializer<K>, value: Serializer<V>): Serializer<Map<K, V>> {
  return builtInSerializer({
    id: 'map',
    version: 1,
    config: { parts: [serializerConfig(key), serializerConfig(value)] },
    serialize: (m) => {
      if (!(m instanceof Map)) throw new KeyedStateError('INVALID_ARGUMENT', 'map serializer expects a Map')
      const parts: Uint8Array[] = []
      for (const [k, v] of m) parts.push(part(key, k), part(value, v))
      return encodeParts(parts, true)
    },
    deserialize: (b) => {
      const parts = decodeParts('map', b)
      if (parts.length % 2 !== 0) throw new KeyedStateError('SERIALIZER_MISMATCH', 'map serializer: odd number of parts')
      const m = new Map<K, V>()
      for (let i = 0; i < parts.length; i += 2) m.set(key.deserialize(parts[i]!), value.deserialize(parts[i + 1]!))
      return m
    },
    canRead(prev) {
      return prev.id === 'map' && prev.version === 1 && nestedCanRead([key, value] as Serializer<unknown>[], prev)
    },
  })
}

type Unwrapped<T extends readonly Serializer<any>[]> = { -readonly [I in keyof T]: T[I] extends Serializer<infer U> ? U : never }

export function tupleSerializer<const T extends readonly Serializer<any>[]>(...elements: T): Serializer<Unwrapped<T>> {
  return builtInSerializer({
    id: 'tuple',
    version: 1,
    config: { parts: elements.map((e) => serializerConfig(e)) },
    serialize: (v) => {
      if (!Array.isArray(v) || v.length !== elements.length) {
        throw new KeyedStateError('INVALID_ARGUMENT', `tuple serializer expects an array of ${elements.length} elements`)
      }
      return encodeParts(v.map((e, i) => part(elements[i]!, e)), false)
    },
    deserialize: (b) => decodeParts('tuple', b, elements.length).map((p, i) => elements[i]!.deserialize(p)) as Unwrapped<T>,
    canRead(prev) {
      return prev.id === 'tuple' && prev.version === 1 && nestedCanRead(elements as unknown as Serializer<unknown>[], prev)
    },
  })
}
