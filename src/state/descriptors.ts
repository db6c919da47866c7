// State descriptors name a state and say how its values are serialized. The
// same descriptor works on every backend.
import { KeyedStateError } from '../errors.js'
import type { Serializer } from '../serializers/serializer.js'
import type { StateTtlConfig } from './ttl.js'

export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating'

const NAME_PATTERN = /^[A-Za-z0-9_.\-:]{1,200}$/

abstract class StateDescriptorBase {
  abstract readonly kind: StateKind
  ttl: StateTtlConfig | undefined
  constructor(readonly name: string) {
    // Names become column-family names and file-format strings; keep them printable.
    if (typeof name !== 'string' || !NAME_PATTERN.test(name) || name.startsWith('_')) {
      throw new KeyedStateError(
        'INVALID_ARGUMENT',
        `state name ${JSON.stringify(name)} must be 1-200 characters of [A-Za-z0-9_.-:] and not start with '_' (reserved)`,
      )
    }
  }
  /** Enables time-to-live for this state (see StateTtlConfig). */
  enableTimeToLive(ttl: StateTtlConfig): this {
    this.ttl = ttl
    return this
  }
}

/**
 * `D` is the type of the default value, inferred from the constructor: when
 * one is given (and cannot be undefined), value() of the state is typed `T`
 * rather than `T | undefined` (see ValueRead).
 */
export class ValueStateDescriptor<T, D extends T | undefined = T | undefined> extends StateDescriptorBase {
  readonly kind = 'value' as const
  /** Returned by value() when no value is set. */
  readonly defaultValue: D | undefined
  constructor(name: string, serializer: Serializer<T>)
  // Not optional here: an optional parameter would infer D without `undefined` from a `T | undefined` argument.
  constructor(name: string, serializer: Serializer<T>, defaultValue: D)
  constructor(
    name: string,
    readonly serializer: Serializer<T>,
    defaultValue?: D,
  ) {
    super(name)
    this.defaultValue = defaultValue
  }
}

/** What value() answers for a descriptor whose default value has type `D`: `T` when a default is always there. */
export type ValueRead<T, D> = undefined extends D ? T | undefined : T

export class ListStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'list' as const
  constructor(name: string, readonly elementSerializer: Serializer<T>) {
    super(name)
  }
}

export class MapStateDescriptor<K, V> extends StateDescriptorBase {
  readonly kind = 'map' as const
  constructor(name: string, readonly userKeySerializer: Serializer<K>, readonly userValueSerializer: Serializer<V>) {
    super(name)
  }
}

export class ReducingStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'reducing' as const
  constructor(name: string, readonly reduce: (a: T, b: T) => T, readonly serializer: Serializer<T>) {
    super(name)
  }
}

export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC
  add(value: IN, accumulator: ACC): ACC
  getResult(accumulator: ACC): OUT
}

export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptorBase {
  readonly kind = 'aggregating' as const
  constructor(
    name: string,
    readonly aggregate: AggregateFunction<IN, ACC, OUT>,
    readonly accumulatorSerializer: Serializer<ACC>,
  ) {
    super(name)
  }
}

export type AnyStateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | MapStateDescriptor<any, any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>

/** The serializer of the stored value bytes (element for lists, user value for maps). */
export function valueSerializerOf(d: AnyStateDescriptor): Serializer<any> {
  switch (d.kind) {
    case 'value':
    case 'reducing':
      return d.serializer
    case 'list':
      return d.elementSerializer
    case 'map':
      return d.userValueSerializer
    case 'aggregating':
      return d.accumulatorSerializer
  }
}

/** What valueSerializerOf's serializer is called in errors ("element serializer 'x' of state 'l'"). */
export function valueRoleOf(kind: StateKind): string {
  switch (kind) {
    case 'value':
    case 'reducing':
      return 'value'
    case 'list':
      return 'element'
    case 'map':
      return 'user value'
    case 'aggregating':
      return 'accumulator'
  }
}
