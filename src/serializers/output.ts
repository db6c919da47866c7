// What a serializer returns is checked once, where it is called. A serializer is
// user code, and a value that is not a Uint8Array would otherwise be coerced
// without a word: a string copied into a byte array becomes zeros, an object
// with a `length` of 1e9 makes a billion-byte loop, and a number as a key has
// no length, so every key lands on the same composite key on RocksDB.
//
// The built-in serializers always return a Uint8Array (the composites check
// what their element serializers return), so their output skips the
// `instanceof`; everything else pays one `instanceof Uint8Array` per call.
// Errors from a serializer, thrown or found here, become KeyedStateErrors that
// name the serializer and, where one is involved, the state.
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import type { Serializer } from './serializer.js'

const builtIns = new WeakSet<Serializer<any>>()

/** Marks a serializer made by this library: its output is a Uint8Array without a check. */
export function builtInSerializer<T>(s: Serializer<T>): Serializer<T> {
  builtIns.add(s)
  return s
}

/** Whether `s` was made by this library (primitives, composites, the TTL wrapper). */
export function isBuiltInSerializer(s: Serializer<any>): boolean {
  return builtIns.has(s)
}

/** What a serializer is used for, to name it in errors: e.g. { role: 'value', state: 'counts' }. */
export interface SerializerUse {
  /** 'key', 'namespace', 'user key', or a value role (valueRoleOf: 'value', 'element', 'user value', 'accumulator'). */
  readonly role: string
  /** The state it serializes for, when there is one. */
  readonly state?: string | undefined
  /** Where else it is used, when not for a state (e.g. "timer service 'windows'"). */
  readonly owner?: string | undefined
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`
  return typeof v === 'undefined' ? 'undefined' : `a ${typeof v}`
}

function label(serializer: Serializer<any>, use: SerializerUse): string {
  const of = use.state !== undefined ? ` of state '${use.state}'` : use.owner !== undefined ? ` of ${use.owner}` : ''
  return `${use.role} serializer '${String(serializer.id)}'${of}`
}

/** `bytes`, which `serializer` returned, when it is a Uint8Array; else a typed error naming the serializer. */
export function checkedBytes(bytes: unknown, serializer: Serializer<any>, use?: SerializerUse): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes
  const who = use === undefined ? `serializer '${String(serializer.id)}'` : label(serializer, use)
  return notBytes(who, bytes, use?.state)
}

function notBytes(who: string, bytes: unknown, state: string | undefined): never {
  throw new KeyedStateError('INVALID_ARGUMENT', `${who} returned ${describeValue(bytes)}, not a Uint8Array`, state === undefined ? {} : { state })
}

/** An error thrown by `serializer`, as a KeyedStateError that names the state (and the serializer, when it was not ours). */
function serializeError(e: unknown, serializer: Serializer<any>, use: SerializerUse): KeyedStateError {
  const state = use.state
  if (isKeyedStateError(e)) {
    if (e.state !== undefined || state === undefined) return e
    return new KeyedStateError(e.code, `state '${state}': ${e.message}`, { state, cause: e })
  }
  const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  return new KeyedStateError('INVALID_ARGUMENT', `${label(serializer, use)} failed: ${reason}`, state === undefined ? { cause: e } : { state, cause: e })
}

/** `serializer.serialize(value)` for one use: checked bytes; every error it raises is typed and names the use. */
export function serializeChecked<T>(serializer: Serializer<T>, value: T, use: SerializerUse): Uint8Array {
  let bytes: unknown
  try {
    bytes = serializer.serialize(value)
  } catch (e) {
    throw serializeError(e, serializer, use)
  }
  if (bytes instanceof Uint8Array) return bytes
  return notBytes(label(serializer, use), bytes, use.state)
}

/**
 * The fast path of a built-in serializer that can write straight into the
 * caller's buffer (the string serializer): writes the bytes of `value` at `pos`
 * and returns where they end, or a negative number −(1 + n) when `out` may be too
 * small, n being a number of bytes at `pos` that always fits. Throws what
 * `serialize` throws. Only this library's serializers have one.
 */
export type SerializeInto<T> = (value: T, out: Uint8Array, pos: number) => number

const intoPaths = new WeakMap<Serializer<any>, SerializeInto<any>>()

/** Gives a built-in serializer its write-into-a-buffer path. */
export function withSerializeInto<T>(s: Serializer<T>, into: SerializeInto<T>): Serializer<T> {
  builtIns.add(s)
  intoPaths.set(s, into)
  return s
}

/**
 * `serializer`'s write-into-a-buffer path for one use (errors typed and naming
 * the use, as serializeFnOf's), or undefined when it has none.
 */
export function serializeIntoFnOf<T>(serializer: Serializer<T>, use: SerializerUse): SerializeInto<T> | undefined {
  const into = intoPaths.get(serializer) as SerializeInto<T> | undefined
  if (into === undefined) return undefined
  return (value, out, pos) => {
    try {
      return into(value, out, pos)
    } catch (e) {
      throw serializeError(e, serializer, use)
    }
  }
}

/**
 * serializeChecked bound to one serializer and use, made once per state
 * object: a built-in serializer's output skips the check.
 */
export function serializeFnOf<T>(serializer: Serializer<T>, use: SerializerUse): (value: T) => Uint8Array {
  if (!isBuiltInSerializer(serializer)) return (value) => serializeChecked(serializer, value, use)
  return (value) => {
    try {
      return serializer.serialize(value)
    } catch (e) {
      throw serializeError(e, serializer, use)
    }
  }
}
