// The argument checks of state calls, written once for every state
// implementation (heap, RocksDB, the TTL layer above both): what a list element,
// a map key or a map value may not be, and the one wording of each refusal.
// Each check is a comparison that V8 inlines; the error is built only when it
// fails, so the hot path costs what the copies it replaces cost.
import { KeyedStateError } from '../errors.js'

/** INVALID_ARGUMENT naming the state. */
export function invalidStateArgument(state: string, what: string): KeyedStateError {
  return new KeyedStateError('INVALID_ARGUMENT', `state '${state}': ${what}`, { state })
}

/** A list element: anything the serializer takes, but never undefined (it could not be read back). */
export function checkListElement(state: string, value: unknown): void {
  if (value === undefined) throw invalidStateArgument(state, 'list elements cannot be undefined')
}

/** The argument of ListState.addAll/update: an array of elements, none undefined. */
export function checkListElements(state: string, values: readonly unknown[]): void {
  if (!Array.isArray(values)) throw invalidStateArgument(state, 'expected an array of elements')
  for (let i = 0; i < values.length; i++) if (values[i] === undefined) throw invalidStateArgument(state, 'list elements cannot be undefined')
}

/** A map key: never undefined. */
export function checkMapKey(state: string, key: unknown): void {
  if (key === undefined) throw invalidStateArgument(state, 'map keys cannot be undefined')
}

/** A map value: never undefined (remove() is how an entry goes). */
export function checkMapValue(state: string, value: unknown): void {
  if (value === undefined) throw invalidStateArgument(state, 'map values cannot be undefined (use remove)')
}

/** The value of ReducingState/AggregatingState.add: never undefined. */
export function checkAddValue(state: string, value: unknown): void {
  if (value === undefined) throw invalidStateArgument(state, 'add(undefined)')
}

/**
 * The argument of MapState.putAll: a Map or an iterable of [key, value] pairs,
 * as an array of checked pairs (all are checked before any is written).
 */
export function checkMapEntries<K, V>(state: string, entries: Iterable<readonly [K, V]> | Map<K, V>): (readonly [K, V])[] {
  if (entries === null || typeof entries !== 'object' || typeof (entries as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidStateArgument(state, `putAll expects a Map or an iterable of [key, value] pairs, got ${entries === null ? 'null' : typeof entries}`)
  }
  const all = [...entries]
  for (const entry of all) {
    if (!Array.isArray(entry) || entry.length !== 2) throw invalidStateArgument(state, 'putAll expects [key, value] pairs')
    checkMapEntry(state, entry[0], entry[1])
  }
  return all
}

/** One entry of MapState.put/putAll. */
export function checkMapEntry(state: string, key: unknown, value: unknown): void {
  checkMapKey(state, key)
  checkMapValue(state, value)
}
