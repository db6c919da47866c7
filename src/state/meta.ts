// State meta-info: what a snapshot records about each state so that a restore
// can check that the user's serializers can read the stored bytes.
import { KeyedStateError, StateConflictError } from '../errors.js'
import {
  describeSerializer,
  serializerCanRead,
  serializerConfig,
  type Serializer,
  type SerializerConfig,
} from '../serializers/serializer.js'
import type { AnyStateDescriptor, StateKind } from './descriptors.js'

export interface StateMetaInfo {
  readonly name: string
  /** 'timers': the reserved (name starting with '_') state of a timer service, see src/timers/. */
  readonly kind: StateKind | 'timers'
  readonly namespaceSerializer: SerializerConfig
  /** value/reducing: value; list: element; map: userValue; aggregating: accumulator. */
  readonly valueSerializer: SerializerConfig
  /** map only. */
  readonly userKeySerializer?: SerializerConfig
  /** Present when TTL is enabled: stored values carry an 8-byte timestamp prefix. */
  readonly ttl?: { readonly ttlMs: number }
}

export function metaInfoOf(d: AnyStateDescriptor, namespaceSerializer: Serializer<any>): StateMetaInfo {
  const base = {
    name: d.name,
    kind: d.kind,
    namespaceSerializer: serializerConfig(namespaceSerializer),
  }
  const ttl = d.ttl ? { ttl: { ttlMs: d.ttl.ttlMs } } : {}
  switch (d.kind) {
    case 'value':
    case 'reducing':
      return { ...base, valueSerializer: serializerConfig(d.serializer), ...ttl }
    case 'list':
      return { ...base, valueSerializer: serializerConfig(d.elementSerializer), ...ttl }
    case 'map':
      return {
        ...base,
        valueSerializer: serializerConfig(d.userValueSerializer),
        userKeySerializer: serializerConfig(d.userKeySerializer),
        ...ttl,
      }
    case 'aggregating':
      return { ...base, valueSerializer: serializerConfig(d.accumulatorSerializer), ...ttl }
  }
}

function check(ok: boolean, state: string, what: string, stored: SerializerConfig | undefined, given: Serializer<any>): void {
  if (!ok) {
    throw new StateConflictError(
      'SERIALIZER_MISMATCH',
      `state '${state}': the ${what} serializer ${describeSerializer(serializerConfig(given))} cannot read the stored ` +
        `${what} bytes written with ${stored ? describeSerializer(stored) : 'none'}`,
      { state },
    )
  }
}

/**
 * Throws unless `d` (with `namespaceSerializer`) can use the state recorded in
 * `stored`: same kind, serializers that can read the stored bytes, and the same
 * TTL layout.
 */
export function checkCompatible(stored: StateMetaInfo, d: AnyStateDescriptor, namespaceSerializer: Serializer<any>): void {
  const state = stored.name
  if (stored.kind !== d.kind) {
    throw new StateConflictError(
      'STATE_CONFLICT',
      `state '${state}' exists as ${stored.kind} state and cannot be used as ${d.kind} state`,
      { state },
    )
  }
  check(serializerCanRead(namespaceSerializer, stored.namespaceSerializer), state, 'namespace', stored.namespaceSerializer, namespaceSerializer)
  const given = metaInfoOf(d, namespaceSerializer)
  switch (d.kind) {
    case 'value':
    case 'reducing':
      check(serializerCanRead(d.serializer, stored.valueSerializer), state, 'value', stored.valueSerializer, d.serializer)
      break
    case 'list':
      check(serializerCanRead(d.elementSerializer, stored.valueSerializer), state, 'element', stored.valueSerializer, d.elementSerializer)
      break
    case 'map':
      check(serializerCanRead(d.userKeySerializer, stored.userKeySerializer!), state, 'map key', stored.userKeySerializer, d.userKeySerializer)
      check(serializerCanRead(d.userValueSerializer, stored.valueSerializer), state, 'map value', stored.valueSerializer, d.userValueSerializer)
      break
    case 'aggregating':
      check(serializerCanRead(d.accumulatorSerializer, stored.valueSerializer), state, 'accumulator', stored.valueSerializer, d.accumulatorSerializer)
      break
  }
  if (Boolean(stored.ttl) !== Boolean(given.ttl)) {
    throw new StateConflictError(
      'STATE_CONFLICT',
      `state '${state}' was stored ${stored.ttl ? 'with' : 'without'} TTL and is now requested ${given.ttl ? 'with' : 'without'} TTL; ` +
        'the stored values differ in layout (a TTL value carries a timestamp), so they cannot be read the other way. ' +
        `Keep the TTL setting the state was stored with, or register a state under a new name with the new setting ` +
        `and copy the values into it in your job (reading '${state}' with its old descriptor), then stop using '${state}'`,
      { state },
    )
  }
}

export function assertValidMetaInfo(m: unknown, where: string): asserts m is StateMetaInfo {
  const o = m as Partial<StateMetaInfo> | null
  const kinds = ['value', 'list', 'map', 'reducing', 'aggregating', 'timers']
  if (!o || typeof o.name !== 'string' || !kinds.includes(o.kind as string) || !o.namespaceSerializer || !o.valueSerializer ||
      (o.kind === 'map' && !o.userKeySerializer)) {
    throw new KeyedStateError('CORRUPTION', `invalid state meta-info in ${where}: ${JSON.stringify(m)?.slice(0, 200)}`)
  }
}
