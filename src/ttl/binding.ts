// The TTL layer as the backend base class uses it: binding a descriptor with
// `ttl` to the storage descriptor the backend sees, wrapping the backend's
// state objects, and the snapshot transformers that drop expired entries.
// Backends stay unaware of TTL except for two optional hooks (cleanup on
// access, see AbstractKeyedStateBackend.ttlAccessListener).
import type { AnyStateDescriptor } from '../state/descriptors.js'
import type { StateMetaInfo } from '../state/meta.js'
import type { State } from '../state/types.js'
import { nowOf, resolveTtl, type ResolvedTtl } from './config.js'
import { ttlStorageDescriptor } from './descriptors.js'
import {
  TtlAggregatingState,
  TtlListState,
  TtlMapState,
  TtlReducingState,
  TtlValueState,
  type TtlStateContext,
} from './states.js'
import { ttlSnapshotTransformer } from './value.js'

export interface TtlBinding {
  /** The user's descriptor (the backend stores the state with ttlStorageDescriptor(user)). */
  readonly user: AnyStateDescriptor
  readonly config: ResolvedTtl
  /** Made on first use: the backend's access listener needs the state to exist. */
  context: TtlStateContext | undefined
}

/** The descriptor the backend stores `d` with, and its TTL binding when `d` has TTL. */
export function bindDescriptor(d: AnyStateDescriptor): { storage: AnyStateDescriptor; ttl: TtlBinding | undefined } {
  if (d.ttl === undefined) return { storage: d, ttl: undefined }
  const config = resolveTtl(d.name, d.ttl)
  return { storage: ttlStorageDescriptor(d), ttl: { user: d, config, context: undefined } }
}

export function ttlStateContext(
  binding: TtlBinding,
  onAccess: ((nowMs: number) => void) | undefined,
  currentKeyBytes: () => Uint8Array,
): TtlStateContext {
  const { config } = binding
  const stateName = binding.user.name
  return {
    ttl: config,
    stateName,
    now: onAccess === undefined
      ? () => nowOf(config, stateName)
      : () => {
          const now = nowOf(config, stateName)
          onAccess(now)
          return now
        },
    currentKeyBytes,
  }
}

/** The user-facing state object around the backend's (which stores TtlValues). */
export function wrapTtlState(binding: TtlBinding, context: TtlStateContext, inner: State): State {
  const d = binding.user
  switch (d.kind) {
    case 'value':
      return new TtlValueState(context, inner as never, d.defaultValue, d.serializer)
    case 'reducing':
      return new TtlReducingState(context, inner as never, d.reduce)
    case 'aggregating':
      return new TtlAggregatingState(context, inner as never, d.aggregate)
    case 'list':
      return new TtlListState(context, inner as never)
    case 'map':
      return new TtlMapState(context, inner as never)
  }
}

/**
 * Transformers for a full snapshot taken now: each bound TTL'd state drops
 * what expired by its own clock's time at the barrier. States restored but not
 * bound yet keep everything (their clock is unknown).
 */
export function ttlSnapshotTransformers(
  states: Iterable<{ meta: StateMetaInfo; descriptor: AnyStateDescriptor | undefined; ttl?: TtlBinding | undefined }>,
): Map<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined> | undefined {
  let out: Map<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined> | undefined
  for (const reg of states) {
    if (reg.descriptor === undefined || reg.ttl === undefined) continue
    const now = nowOf(reg.ttl.config, reg.meta.name)
    ;(out ??= new Map()).set(reg.meta.name, ttlSnapshotTransformer(reg.meta.kind, reg.ttl.config.ttlMs, now))
  }
  return out
}
