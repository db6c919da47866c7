// How the heap backend turns keys (state keys and map user keys) into Map keys.
//
// A key's identity is its serialized bytes: that is what RocksDB stores and
// what snapshots contain. Using the key itself as the Map key is much faster
// (no serialization, no string building) but only correct when equal Map keys
// (SameValueZero) have equal bytes and the other way round, and when the
// serializer would accept the key (the heap backend must refuse what RocksDB
// refuses). So keys are used directly only for the built-in serializers whose
// behaviour is known; everything else is keyed by its bytes as a latin1 string.
// Numbers, bigints and booleans never equal a string, so the two kinds of ids
// cannot collide; strings are direct only for the string serializer (with json,
// the string '{"a":1}' and the object {a:1} would have the same latin1 id).
import { serializeFnOf, type SerializerUse } from '../../serializers/output.js'
import type { Serializer } from '../../serializers/serializer.js'

/** The Map key of a key: the key itself, or its serialized bytes as a latin1 string. */
export type KeyId = string | number | bigint | boolean

export interface KeyIdPolicy<K> {
  readonly serializer: Serializer<K>
  /** The id of `key`, whose serialized form is `bytes` when the caller already has it. */
  idOf(key: K, bytes?: Uint8Array): KeyId
  /** The id of a key known only by its bytes (restore). */
  idOfBytes(bytes: Uint8Array): KeyId
  /** Whether `id` is the key itself (not its bytes). */
  isDirect(id: KeyId): boolean
  /** The serialized bytes of the key with this id. */
  bytesOf(id: KeyId): Uint8Array
  /** The key of an id (map user keys are stored without their key object). */
  keyOf(id: KeyId): K
}

export function latin1(bytes: Uint8Array): string {
  return bytes.length === 0 ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

export function latin1Bytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1')
}

const INT64_MIN = -(1n << 63n)
const INT64_LIMIT = 1n << 63n

type NumberRule = 'none' | 'int32' | 'float64' | 'finite'

/** `use` names the serializer in errors: the backend's key serializer, or a map state's user key serializer. */
export function keyIdPolicy<K>(serializer: Serializer<K>, use: SerializerUse = { role: 'key' }): KeyIdPolicy<K> {
  const serialize = serializeFnOf(serializer, use)
  const id = serializer.id
  const strings = id === 'string'
  const numbers: NumberRule = id === 'int32' ? 'int32' : id === 'float64' ? 'float64' : id === 'json' ? 'finite' : 'none'
  const bigints = id === 'int64'
  const booleans = id === 'boolean' || id === 'json'
  const isDirect = (keyId: KeyId): boolean => typeof keyId !== 'string' || strings

  const policy: KeyIdPolicy<K> = {
    serializer,
    idOf(key, bytes) {
      switch (typeof key) {
        case 'string':
          if (strings) return key
          break
        case 'number':
          if (numbers === 'none' || (numbers === 'int32' ? (key | 0) !== key : numbers === 'finite' && !Number.isFinite(key))) break
          // -0 is written as 0 by int32 and json, but as its own bytes by float64.
          if (key === 0 && 1 / key < 0) {
            if (numbers === 'float64') break
            return 0
          }
          return key
        case 'bigint':
          if (bigints && key >= INT64_MIN && key < INT64_LIMIT) return key
          break
        case 'boolean':
          if (booleans) return key
          break
      }
      return latin1(bytes ?? serialize(key))
    },
    isDirect,
    idOfBytes(bytes) {
      return policy.idOf(serializer.deserialize(bytes), bytes)
    },
    bytesOf(keyId) {
      return isDirect(keyId) ? serialize(keyId as K) : latin1Bytes(keyId as string)
    },
    keyOf(keyId) {
      return isDirect(keyId) ? (keyId as K) : serializer.deserialize(latin1Bytes(keyId as string))
    },
  }
  return policy
}
