// How the heap backend turns keys (state keys and map user keys) into Map keys.
//
// A key's identity is its serialized bytes: that is what RocksDB stores and
// what snapshots contain. Using the key itself as the Map key is much faster
// (no serialization, no string building) and is only correct when equal Map
// keys (SameValueZero) always have equal bytes and the other way round. Numbers,
// bigints and booleans never collide with strings, so they are always used
// directly; strings only when the serializer is the built-in string serializer
// (with json, the string '{"a":1}' and the object {a:1} have the same bytes'
// latin1 form, so strings there go through their bytes too).
import type { Serializer } from '../../serializers/serializer.js'

/** The Map key of a key: the key itself, or its serialized bytes as a latin1 string. */
export type KeyId = string | number | bigint | boolean

export interface KeyIdPolicy<K> {
  /** The id of `key`, whose serialized form is `bytes` when the caller already has it. */
  idOf(key: K, bytes?: Uint8Array): KeyId
  /** The id of a key known only by its bytes (restore). */
  idOfBytes(bytes: Uint8Array): KeyId
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

export function keyIdPolicy<K>(serializer: Serializer<K>): KeyIdPolicy<K> {
  const stringsDirect = serializer.id === 'string'
  // float64 writes -0 and 0 differently; every other built-in number serializer writes them alike.
  const negativeZeroDistinct = serializer.id === 'float64'
  const isDirect = (id: KeyId): boolean => typeof id !== 'string' || stringsDirect

  const viaBytes = (key: K, bytes: Uint8Array | undefined): string => latin1(bytes ?? serializer.serialize(key))

  return {
    idOf(key, bytes) {
      switch (typeof key) {
        case 'number':
          if (key === 0 && 1 / key < 0) return negativeZeroDistinct ? viaBytes(key, bytes) : 0
          return key
        case 'bigint':
        case 'boolean':
          return key
        case 'string':
          return stringsDirect ? key : viaBytes(key, bytes)
        default:
          return viaBytes(key, bytes)
      }
    },
    idOfBytes(bytes) {
      const key = serializer.deserialize(bytes)
      const t = typeof key
      if (t === 'number' || t === 'bigint' || t === 'boolean' || (t === 'string' && stringsDirect)) return this.idOf(key, bytes)
      return latin1(bytes)
    },
    bytesOf(id) {
      return isDirect(id) ? serializer.serialize(id as K) : latin1Bytes(id as string)
    },
    keyOf(id) {
      return isDirect(id) ? (id as K) : serializer.deserialize(latin1Bytes(id as string))
    },
  }
}
