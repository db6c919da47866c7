// State objects with time-to-live, wrapped around the backend's own state
// objects (which store TtlValues, see descriptors.ts). The semantics follow
// Flink's TTL state:
//  - writes stamp the value (element, map entry) with the state clock's time;
//    with 'onReadAndWrite' a read of a live value stamps it again;
//  - a value is expired once timestamp + ttlMs <= now;
//  - a read that finds expired data removes it, and returns it only with
//    'returnExpiredIfNotCleanedUp' (so at most once);
//  - expired data nobody reads is removed by the backend's cleanup (full
//    snapshots, heap incremental cleanup, RocksDB compaction filter).
import { serializeChecked } from '../serializers/output.js'
import type { Serializer } from '../serializers/serializer.js'
import type { AggregateFunction } from '../state/descriptors.js'
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/types.js'
import { isExpired, type ResolvedTtl } from './config.js'
import { TtlValue } from './value.js'
import { checkAddValue, checkListElement, checkListElements, checkMapEntries, checkMapValue } from '../state/argument-checks.js'

/** What the wrappers need from the backend. */
export interface TtlStateContext {
  readonly ttl: ResolvedTtl
  readonly stateName: string
  /** The state clock's time; also tells the backend that the state was accessed. */
  now(): number
  /** The serialized current key; the same array while the key stays the same. */
  currentKeyBytes(): Uint8Array
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null
}

/** A default value handed out as a fresh copy when it is an object, as the backends do without TTL. */
function defaultSupplier<T>(value: T | undefined, serializer: Serializer<T>, stateName: string): () => T | undefined {
  if (!isObject(value)) return () => value
  const bytes = serializeChecked(serializer, value, { role: 'value', state: stateName })
  return () => serializer.deserialize(bytes)
}

/**
 * Reads a TtlValue through the visibility and update rules; returns the user
 * value to hand out or undefined.
 */
function readValue<T>(ctx: TtlStateContext, inner: ValueState<TtlValue<T>>): T | undefined {
  const stored = inner.value()
  // Every access reads the clock, also a miss: that is what drives the backend's cleanup.
  const now = ctx.now()
  if (stored === undefined) return undefined
  if (isExpired(stored.ts, ctx.ttl.ttlMs, now)) {
    inner.clear()
    return ctx.ttl.returnExpired ? stored.v : undefined
  }
  if (ctx.ttl.updateOnRead) inner.update(new TtlValue(now, stored.v))
  return stored.v
}

export class TtlValueState<T> implements ValueState<T> {
  private readonly defaultValue: () => T | undefined

  constructor(
    private readonly ctx: TtlStateContext,
    private readonly inner: ValueState<TtlValue<T>>,
    defaultValue: T | undefined,
    serializer: Serializer<T>,
  ) {
    this.defaultValue = defaultSupplier(defaultValue, serializer, ctx.stateName)
  }

  value(): T | undefined {
    const v = readValue(this.ctx, this.inner)
    return v === undefined ? this.defaultValue() : v
  }

  update(value: T | undefined): void {
    if (value === undefined) return this.inner.clear()
    this.inner.update(new TtlValue(this.ctx.now(), value))
  }

  clear(): void {
    this.inner.clear()
  }
}

export class TtlReducingState<T> implements ReducingState<T> {
  constructor(
    private readonly ctx: TtlStateContext,
    private readonly inner: ValueState<TtlValue<T>>,
    private readonly reduce: (a: T, b: T) => T,
  ) {}

  get(): T | undefined {
    return readValue(this.ctx, this.inner)
  }

  add(value: T): void {
    checkAddValue(this.ctx.stateName, value)
    const stored = this.inner.value()
    const now = this.ctx.now()
    const live = stored !== undefined && (this.ctx.ttl.returnExpired || !isExpired(stored.ts, this.ctx.ttl.ttlMs, now))
    this.inner.update(new TtlValue(now, live ? this.reduce(stored.v, value) : value))
  }

  clear(): void {
    this.inner.clear()
  }
}

export class TtlAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  constructor(
    private readonly ctx: TtlStateContext,
    private readonly inner: ValueState<TtlValue<ACC>>,
    private readonly aggregate: AggregateFunction<IN, ACC, OUT>,
  ) {}

  get(): OUT | undefined {
    const acc = readValue(this.ctx, this.inner)
    return acc === undefined ? undefined : this.aggregate.getResult(acc)
  }

  add(value: IN): void {
    const stored = this.inner.value()
    const now = this.ctx.now()
    const live = stored !== undefined && (this.ctx.ttl.returnExpired || !isExpired(stored.ts, this.ctx.ttl.ttlMs, now))
    const acc = live ? stored.v : this.aggregate.createAccumulator()
    this.inner.update(new TtlValue(now, this.aggregate.add(value, acc)))
  }

  clear(): void {
    this.inner.clear()
  }
}

export class TtlListState<T> implements ListState<T> {
  constructor(
    private readonly ctx: TtlStateContext,
    private readonly inner: ListState<TtlValue<T>>,
  ) {}

  get(): T[] {
    const stored = this.inner.get()
    const now = this.ctx.now()
    if (stored.length === 0) return []
    const { ttlMs, updateOnRead, returnExpired } = this.ctx.ttl
    const live: TtlValue<T>[] = []
    for (const e of stored) if (!isExpired(e.ts, ttlMs, now)) live.push(e)
    if (live.length < stored.length || updateOnRead) {
      // Rewrites once: expired elements go, and live ones get the read's time when reads renew.
      this.inner.update(updateOnRead ? live.map((e) => new TtlValue(now, e.v)) : live)
    }
    return (returnExpired ? stored : live).map((e) => e.v)
  }

  add(value: T): void {
    checkListElement(this.ctx.stateName, value)
    this.inner.add(new TtlValue(this.ctx.now(), value))
  }

  addAll(values: readonly T[]): void {
    this.inner.addAll(this.wrap(values))
  }

  update(values: readonly T[]): void {
    this.inner.update(this.wrap(values))
  }

  clear(): void {
    this.inner.clear()
  }

  private wrap(values: readonly T[]): TtlValue<T>[] {
    checkListElements(this.ctx.stateName, values)
    if (values.length === 0) return []
    const now = this.ctx.now()
    return values.map((v) => new TtlValue(now, v))
  }
}

export class TtlMapState<UK, UV> implements MapState<UK, UV> {
  constructor(
    private readonly ctx: TtlStateContext,
    private readonly inner: MapState<UK, TtlValue<UV>>,
  ) {}

  get(key: UK): UV | undefined {
    const stored = this.inner.get(key)
    const now = this.ctx.now()
    if (stored === undefined) return undefined
    if (isExpired(stored.ts, this.ctx.ttl.ttlMs, now)) {
      this.inner.remove(key)
      return this.ctx.ttl.returnExpired ? stored.v : undefined
    }
    if (this.ctx.ttl.updateOnRead) this.inner.put(key, new TtlValue(now, stored.v))
    return stored.v
  }

  put(key: UK, value: UV): void {
    checkMapValue(this.ctx.stateName, value)
    this.inner.put(key, new TtlValue(this.ctx.now(), value))
  }

  putAll(entries: Iterable<readonly [UK, UV]> | Map<UK, UV>): void {
    const all = checkMapEntries(this.ctx.stateName, entries)
    const now = this.ctx.now()
    this.inner.putAll(all.map(([k, v]) => [k, new TtlValue(now, v)] as const))
  }

  remove(key: UK): void {
    this.inner.remove(key)
    this.ctx.now()
  }

  contains(key: UK): boolean {
    return this.get(key) !== undefined
  }

  isEmpty(): boolean {
    const it = this.entries()
    try {
      return it.next().done === true
    } finally {
      it.return?.()
    }
  }

  clear(): void {
    this.inner.clear()
  }

  entries(): IterableIterator<[UK, UV]> {
    return this.visible((k, v) => [k, v] as [UK, UV])
  }

  keys(): IterableIterator<UK> {
    return this.visible((k) => k)
  }

  values(): IterableIterator<UV> {
    return this.visible((_k, v) => v)
  }

  /**
   * The visible entries, removing expired ones (and renewing live ones with
   * 'onReadAndWrite') as the caller reads them. Those writes go to the key the
   * iteration started on, so they stop if the caller changes the current key
   * before finishing: cleanup is then left to the backend.
   */
  private visible<R>(map: (key: UK, value: UV) => R): IterableIterator<R> {
    // Obtained now, not on the first next(): the current key may change before the caller starts.
    const source = this.inner.entries()
    const keyBytes = this.ctx.currentKeyBytes()
    return this.filter(source, keyBytes, this.ctx.now(), map)
  }

  /** `now` is read once, when the iteration starts. */
  private *filter<R>(
    source: IterableIterator<[UK, TtlValue<UV>]>,
    keyBytes: Uint8Array,
    now: number,
    map: (key: UK, value: UV) => R,
  ): Generator<R, void, undefined> {
    const { ttlMs, updateOnRead, returnExpired } = this.ctx.ttl
    for (const [k, stored] of source) {
      const expired = isExpired(stored.ts, ttlMs, now)
      if (this.sameKey(keyBytes)) {
        if (expired) this.inner.remove(k)
        else if (updateOnRead) this.inner.put(k, new TtlValue(now, stored.v))
      }
      if (!expired || returnExpired) yield map(k, stored.v)
    }
  }

  private sameKey(keyBytes: Uint8Array): boolean {
    const current = this.ctx.currentKeyBytes()
    return current === keyBytes || Buffer.compare(current, keyBytes) === 0
  }
}
