// Timer services as reserved states: each (service, time domain) is a state
// named `_timers:<service>:<domain>` of kind 'timers', whose entries are the
// timers (entry.ts). As a state it gets a column family on RocksDB, appears in
// full snapshots (canonical format: heap timers restore into RocksDB and back),
// in incremental checkpoints, and is clipped and rescaled by key group.
import { KeyedStateError, StateConflictError } from '../errors.js'
import { voidNamespaceSerializer } from '../serializers/primitives.js'
import { describeSerializer, serializerCanRead, serializerConfig, type Serializer } from '../serializers/serializer.js'
import type { StateMetaInfo } from '../state/meta.js'
import type { TimeDomain, TimerServiceOptions } from './types.js'

export type TimersKind = 'heap' | 'rocksdb'

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,180}$/
const TIMER_STATE_PREFIX = '_timers:'

export function timerStateName(service: string, domain: TimeDomain): string {
  return `${TIMER_STATE_PREFIX}${service}:${domain}`
}

/** Names starting with '_' are internal (timer services); users never see them as states. */
export function isReservedStateName(name: string): boolean {
  return name.startsWith('_')
}

export function timersMetaInfo(stateName: string, namespaceSerializer: Serializer<any>): StateMetaInfo {
  return {
    name: stateName,
    kind: 'timers',
    namespaceSerializer: serializerConfig(namespaceSerializer),
    valueSerializer: serializerConfig(voidNamespaceSerializer),
  }
}

export function checkTimerServiceArgs(name: string, options: TimerServiceOptions<any, any>): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `timer service name ${JSON.stringify(name)} must be 1-180 characters of [A-Za-z0-9_.-]`)
  }
  if (options === null || typeof options !== 'object' || typeof options.onTimer !== 'function') {
    throw new KeyedStateError('INVALID_ARGUMENT', `timer service '${name}': options need an onTimer(timer) function`)
  }
  for (const key of Object.keys(options)) {
    if (key !== 'onTimer' && key !== 'namespaceSerializer') {
      throw new KeyedStateError('INVALID_ARGUMENT', `timer service '${name}': unknown option '${key}' (known: onTimer, namespaceSerializer)`)
    }
  }
  const ns = options.namespaceSerializer
  if (ns !== undefined && (ns === null || typeof ns.serialize !== 'function' || typeof ns.deserialize !== 'function')) {
    throw new KeyedStateError('INVALID_ARGUMENT', `timer service '${name}': namespaceSerializer must be a serializer`)
  }
}

/** Throws unless a stored (restored) timer state can be used by service `service` with `namespaceSerializer`. */
export function checkStoredTimers(stored: StateMetaInfo, service: string, namespaceSerializer: Serializer<any>): void {
  if (stored.kind !== 'timers') {
    throw new StateConflictError('STATE_CONFLICT', `state '${stored.name}' of timer service '${service}' is stored as ${stored.kind} state`, {
      state: stored.name,
    })
  }
  if (!serializerCanRead(namespaceSerializer, stored.namespaceSerializer)) {
    throw new StateConflictError(
      'SERIALIZER_MISMATCH',
      `timer service '${service}': the namespace serializer ${describeSerializer(serializerConfig(namespaceSerializer))} cannot read ` +
        `the stored timers' namespaces written with ${describeSerializer(stored.namespaceSerializer)}`,
      { state: stored.name },
    )
  }
}

export function resolveTimersKind(backendKind: string, option: unknown): TimersKind {
  if (option === undefined) return backendKind === 'heap' ? 'heap' : 'rocksdb'
  if (option !== 'heap' && option !== 'rocksdb') {
    throw new KeyedStateError('INVALID_ARGUMENT', `option timers must be 'heap' or 'rocksdb', got ${JSON.stringify(option)}`)
  }
  if (backendKind === 'heap' && option === 'rocksdb') {
    throw new KeyedStateError('INVALID_ARGUMENT', "the heap backend keeps its timers on the heap: drop option timers or set it to 'heap'")
  }
  return option
}
