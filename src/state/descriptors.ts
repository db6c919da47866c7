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

export class ValueStateDescriptor<T> extends StateDescriptorBase {
  readonly kind = 'value' as const
  constructor(
    name: string,
    readonly serializer: Serializer<T>,
    /** Returned by value() when no value is set. */
    readonly defaultValue?: T,
  ) {
    super(name)
  }
}

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
