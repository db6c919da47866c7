// What user code holds: state objects scoped to the backend's current key (and
// the namespace they were obtained for). All calls are synchronous.

export interface State {
  /** Removes the value for the current key and namespace. */
  clear(): void
}

/**
 * `Read` is what value() answers: `T | undefined`, or `T` when the
 * descriptor has a default value (getState works it out from the descriptor).
 */
export interface ValueState<T, Read extends T | undefined = T | undefined> extends State {
  /** The value, or the descriptor's default value when none is set. */
  value(): Read
  update(value: T | undefined): void
}

export interface ListState<T> extends State {
  /** The elements in insertion order; an empty array when none. */
  get(): T[]
  add(value: T): void
  addAll(values: readonly T[]): void
  update(values: readonly T[]): void
}

export interface MapState<K, V> extends State {
  get(key: K): V | undefined
  put(key: K, value: V): void
  putAll(entries: Iterable<readonly [K, V]> | Map<K, V>): void
  remove(key: K): void
  contains(key: K): boolean
  entries(): IterableIterator<[K, V]>
  keys(): IterableIterator<K>
  values(): IterableIterator<V>
  isEmpty(): boolean
}

export interface ReducingState<T> extends State {
  get(): T | undefined
  add(value: T): void
}

export interface AggregatingState<IN, OUT> extends State {
  get(): OUT | undefined
  add(value: IN): void
}
