// What the heap backend keeps per state, shared by the backend, its snapshots
// and its restore path.
import type { SerializerUse } from '../../serializers/output.js'
import type { Serializer } from '../../serializers/serializer.js'
import type { AnyStateDescriptor, StateKind } from '../../state/descriptors.js'
import { valueRoleOf, valueSerializerOf } from '../../state/descriptors.js'
import { keyIdPolicy, type KeyIdPolicy } from './key-ids.js'
import type { StateTable } from './state-table.js'
import type { InternalSnapshotSource } from './timers.js'
import type { HeapTtlCleanup } from './ttl-cleanup.js'

/** How one state's objects become bytes (and back), fixed when a descriptor is bound. */
export interface StateCodec {
  readonly kind: StateKind
  readonly keys: KeyIdPolicy<unknown>
  /** value/reducing: value; list: element; map: user value; aggregating: accumulator. */
  readonly value: Serializer<unknown>
  /** How errors name `value` (its role and the state). */
  readonly valueUse: SerializerUse
  /** map only. */
  readonly userKeys: KeyIdPolicy<unknown> | undefined
}

/** Restored entries of one state, as packed chunks per key-group index, kept until a descriptor is bound. */
export type RawEntries = (Uint8Array[] | undefined)[]

export interface HeapStateData {
  readonly name: string
  table: StateTable
  /** Present while the state was restored and not yet bound to a descriptor. */
  raw: RawEntries | undefined
  codec: StateCodec | undefined
  /** Internal states (timers) whose data lives outside `table`: snapshots read it from here. */
  internal?: InternalSnapshotSource
  /** Incremental TTL cleanup of a TTL'd state, made when it is first bound with TTL. */
  ttlCleanup?: HeapTtlCleanup
}

export function codecOf(d: AnyStateDescriptor, keys: KeyIdPolicy<unknown>): StateCodec {
  return {
    kind: d.kind,
    keys,
    value: valueSerializerOf(d),
    valueUse: { role: valueRoleOf(d.kind), state: d.name },
    userKeys: d.kind === 'map' ? keyIdPolicy(d.userKeySerializer, { role: 'user key', state: d.name }) : undefined,
  }
}
