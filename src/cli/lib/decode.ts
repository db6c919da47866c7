// Decoding stored bytes for humans: the built-in serializers by the id,
// version and config recorded in the snapshot's meta-info. Bytes written by a
// serializer the CLI does not know (a user's own) come out as base64.
import { decodeListElements, parseCompositeKey } from '../../encoding.js'
import { KeyedStateError } from '../../errors.js'
import { listSerializer, mapSerializer, tupleSerializer } from '../../serializers/composite.js'
import {
  booleanSerializer,
  bytesSerializer,
  float64Serializer,
  int32Serializer,
  int64Serializer,
  jsonSerializer,
  stringSerializer,
  voidNamespaceSerializer,
} from '../../serializers/primitives.js'
import type { Serializer, SerializerConfig } from '../../serializers/serializer.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { decodeTimer } from '../../timers/entry.js'
import { readTimestamp, TTL_TIMESTAMP_BYTES } from '../../ttl/value.js'

const PRIMITIVES: Record<string, Serializer<any>> = {
  string: stringSerializer,
  int32: int32Serializer,
  int64: int64Serializer,
  float64: float64Serializer,
  boolean: booleanSerializer,
  bytes: bytesSerializer,
  json: jsonSerializer,
  void: voidNamespaceSerializer,
}

export const KEY_SERIALIZER_IDS = ['string', 'int32', 'int64', 'float64', 'boolean', 'bytes', 'json'] as const

/** The built-in serializer a recorded config describes, or undefined for one the CLI cannot rebuild. */
export function serializerFor(c: SerializerConfig | undefined): Serializer<unknown> | undefined {
  if (c?.version !== 1) return undefined
  const primitive = PRIMITIVES[c.id]
  if (primitive) return c.config === undefined ? primitive : undefined
  const parts = (c.config as { parts?: SerializerConfig[] } | undefined)?.parts
  if (!Array.isArray(parts)) return undefined
  const inner = parts.map(serializerFor)
  if (inner.some((s) => s === undefined)) return undefined
  const s = inner as Serializer<unknown>[]
  if (c.id === 'list' && s.length === 1) return listSerializer(s[0]!) as Serializer<unknown>
  if (c.id === 'map' && s.length === 2) return mapSerializer(s[0]!, s[1]!) as Serializer<unknown>
  if (c.id === 'tuple') return tupleSerializer(...s) as Serializer<unknown>
  return undefined
}

export type Decoded = unknown

function raw(bytes: Uint8Array): Decoded {
  return { base64: Buffer.from(bytes).toString('base64') }
}

/** Decodes with `s`, or gives the raw bytes as base64 when there is no serializer or the bytes do not fit it. */
export function decodeWith(s: Serializer<unknown> | undefined, bytes: Uint8Array): Decoded {
  if (!s) return raw(bytes)
  try {
    return s.deserialize(bytes)
  } catch {
    return raw(bytes)
  }
}

/** Parses a key given on the command line with the chosen key serializer. */
export function parseKeyArgument(text: string, serializerId: string): Uint8Array {
  const s = PRIMITIVES[serializerId]
  if (!s || serializerId === 'void') throw new KeyedStateError('INVALID_ARGUMENT', `unknown key serializer '${serializerId}' (use one of ${KEY_SERIALIZER_IDS.join(', ')})`)
  let value: unknown
  switch (serializerId) {
    case 'string':
      value = text
      break
    case 'int32':
    case 'float64':
      value = Number(text)
      if (text.trim() === '' || Number.isNaN(value)) throw new KeyedStateError('INVALID_ARGUMENT', `--key ${JSON.stringify(text)} is not a number`)
      break
    case 'int64':
      try {
        value = BigInt(text)
      } catch {
        throw new KeyedStateError('INVALID_ARGUMENT', `--key ${JSON.stringify(text)} is not an integer`)
      }
      break
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new KeyedStateError('INVALID_ARGUMENT', `--key must be true or false for boolean keys`)
      value = text === 'true'
      break
    case 'bytes':
      value = Buffer.from(text, 'base64')
      break
    case 'json':
      try {
        value = JSON.parse(text)
      } catch {
        throw new KeyedStateError('INVALID_ARGUMENT', `--key ${JSON.stringify(text)} is not JSON`)
      }
      break
  }
  try {
    return s.serialize(value)
  } catch (e) {
    throw new KeyedStateError('INVALID_ARGUMENT', `--key ${JSON.stringify(text)}: ${(e as Error).message}`, { cause: e })
  }
}

export interface DecodedTtl {
  ttlMs: number
  /** Single values (value, map, reducing, aggregating states). */
  timestampMs?: number
  /** List states: one per element, in the order of `value`. */
  timestampsMs?: number[]
}

export interface DecodedEntry {
  keyGroup: number
  state: string
  key: Decoded
  namespace?: Decoded
  userKey?: Decoded
  value: Decoded
  /**
   * TTL states: the last-access timestamp stored with the value (with each
   * element of a list); the value expires at timestamp + ttlMs.
   */
  ttl?: DecodedTtl
  /** Timer states ('timers' kind): the timer's time; the entry's value is empty. */
  timestamp?: number
}

/** The serialized key of a stored entry: timer entries put the timestamp before the key (src/timers/entry.ts). */
export function entryKeyBytes(meta: StateMetaInfo, entryKey: Uint8Array): Uint8Array {
  return meta.kind === 'timers' ? decodeTimer(entryKey, `timer state '${meta.name}'`).keyBytes : parseCompositeKey(entryKey).key
}

export interface EntryDecoder {
  decode(keyGroup: number, compositeKey: Uint8Array, value: Uint8Array): DecodedEntry
  /** How many keys the key serializer could not read (they were given as base64). */
  readonly undecodedKeys: number
}

export function entryDecoder(meta: StateMetaInfo, keySerializerId: string): EntryDecoder {
  const keySerializer = PRIMITIVES[keySerializerId]
  let undecodedKeys = 0
  const key = (bytes: Uint8Array): Decoded => {
    if (!keySerializer) return raw(bytes)
    try {
      return keySerializer.deserialize(bytes)
    } catch {
      undecodedKeys++
      return raw(bytes)
    }
  }
  const ns = serializerFor(meta.namespaceSerializer)
  const userKey = serializerFor(meta.userKeySerializer)
  const ttlMs = meta.ttl?.ttlMs
  const value = serializerFor(meta.valueSerializer)
  const voidNamespace = meta.namespaceSerializer.id === 'void'
  if (meta.kind === 'timers') {
    return {
      get undecodedKeys() {
        return undecodedKeys
      },
      decode(keyGroup, entryKey) {
        const t = decodeTimer(entryKey, `timer state '${meta.name}'`)
        const out: DecodedEntry = { keyGroup, state: meta.name, key: key(t.keyBytes), timestamp: t.timestamp, value: null }
        if (!voidNamespace || t.namespaceBytes.length > 0) out.namespace = decodeWith(ns, t.namespaceBytes)
        return out
      },
    }
  }
  return {
    get undecodedKeys() {
      return undecodedKeys
    },
    decode(keyGroup, compositeKey, bytes) {
      const parts = parseCompositeKey(compositeKey)
      const head: Omit<DecodedEntry, 'value'> = { keyGroup, state: meta.name, key: key(parts.key) }
      if (!voidNamespace || parts.namespace.length > 0) head.namespace = decodeWith(ns, parts.namespace)
      if (meta.kind === 'map') head.userKey = decodeWith(userKey, parts.userKey)
      if (ttlMs !== undefined) return { ...head, ...decodeTtl(bytes, meta.kind === 'list', value, ttlMs) }
      if (meta.kind !== 'list') return { ...head, value: decodeWith(value, bytes) }
      const elements = listElements(bytes)
      return { ...head, value: elements ? elements.map((e) => decodeWith(value, e)) : raw(bytes) }
    },
  }
}

function listElements(bytes: Uint8Array): Uint8Array[] | undefined {
  try {
    return decodeListElements(bytes)
  } catch {
    return undefined
  }
}

/** A TTL'd value (timestamp | user bytes) or list of them, decoded; bytes that do not have that layout come out raw. */
function decodeTtl(bytes: Uint8Array, list: boolean, value: Serializer<unknown> | undefined, ttlMs: number): { value: Decoded; ttl?: DecodedTtl } {
  if (!list) {
    if (bytes.length < TTL_TIMESTAMP_BYTES) return { value: raw(bytes) }
    return { value: decodeWith(value, bytes.subarray(TTL_TIMESTAMP_BYTES)), ttl: { ttlMs, timestampMs: readTimestamp(bytes, 0) } }
  }
  const elements = listElements(bytes)
  if (!elements || elements.some((e) => e.length < TTL_TIMESTAMP_BYTES)) return { value: raw(bytes) }
  return {
    value: elements.map((e) => decodeWith(value, e.subarray(TTL_TIMESTAMP_BYTES))),
    ttl: { ttlMs, timestampsMs: elements.map((e) => readTimestamp(e, 0)) },
  }
}
