// The public edge shared by every backend: argument checks, the current key and
// its key group, state registration and compatibility checks, closed checks.
// Backends implement the small abstract methods below.
import { ClosedError, KeyedStateError, KeyGroupRangeError, StateConflictError } from '../errors.js'
import {
  keyGroupOf,
  checkKeyGroupRange,
  checkMaxParallelism,
  DEFAULT_MAX_PARALLELISM,
  formatRange,
  type KeyGroupRange,
} from '../keygroups.js'
import { serializeChecked, serializeFnOf } from '../serializers/output.js'
import { voidNamespaceSerializer } from '../serializers/primitives.js'
import type { Serializer } from '../serializers/serializer.js'
import type {
  AggregatingStateDescriptor,
  AnyStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
  ValueRead,
} from '../state/descriptors.js'
import { checkCompatible, metaInfoOf, type StateMetaInfo } from '../state/meta.js'
import type { AggregatingState, ListState, MapState, ReducingState, State, ValueState } from '../state/types.js'
import type { SnapshotOptions, SnapshotRun } from '../snapshot/types.js'
import type { BackendKind, BackendStats, KeyedStateBackend, KeyedStateBackendOptions, StateOf } from './types.js'
import { bindDescriptor, ttlSnapshotTransformers, ttlStateContext, wrapTtlState, type TtlBinding } from '../ttl/binding.js'
import type { PartitionedTimerQueue } from '../timers/queue.js'
import {
  checkStoredTimers,
  checkTimerServiceArgs,
  isReservedStateName,
  resolveTimersKind,
  timersMetaInfo,
  timerStateName,
  type TimersKind,
} from '../timers/registry.js'
import { TimerServiceImpl, type TimerHost } from '../timers/service.js'
import type { TimeDomain, TimerService, TimerServiceOptions } from '../timers/types.js'

/** A registered state: its recorded meta-info and, once the user asked for it, its descriptor. */
export interface RegisteredState {
  meta: StateMetaInfo
  descriptor: AnyStateDescriptor | undefined
  namespaceSerializer: Serializer<any> | undefined
  /** State objects by namespace bytes (latin1 string), so per-record lookups allocate nothing new. */
  objects: Map<string, State>
  /**
   * Present when the bound descriptor has TTL: `descriptor` is then the storage
   * descriptor (values wrapped with their timestamp, see src/ttl) and
   * `ttl.user` the user's descriptor.
   */
  ttl?: TtlBinding | undefined
}

/** The descriptor the user bound (not the TTL storage one), or undefined while unbound. */
function userDescriptorOf(reg: RegisteredState): AnyStateDescriptor | undefined {
  return reg.descriptor === undefined ? undefined : (reg.ttl?.user ?? reg.descriptor)
}

const EMPTY = new Uint8Array(0)

/**
 * State objects cached per state, by namespace. Windows make namespaces
 * unbounded, so the cache evicts its oldest entry; an evicted object stays
 * usable (it is a view on the state, not a holder of data).
 */
export const STATE_OBJECTS_PER_STATE_MAX = 1024

function bytesKey(b: Uint8Array): string {
  return b.length === 0 ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
}

export abstract class AbstractKeyedStateBackend<K> implements KeyedStateBackend<K> {
  abstract readonly kind: BackendKind
  readonly keySerializer: Serializer<K>
  readonly maxParallelism: number
  readonly keyGroupRange: KeyGroupRange
  /** keySerializer.serialize, its output checked (src/serializers/output.ts). */
  protected readonly serializeKey: (key: K) => Uint8Array

  protected readonly states = new Map<string, RegisteredState>()
  /** Where timer services keep their timers (option `timers`). */
  protected readonly timersKind: TimersKind
  private readonly timerServices = new Map<string, TimerServiceImpl<K, any>>()
  private closing: Promise<void> | undefined
  private isClosed = false
  /**
   * Neither closed nor closing: the one boolean assertOpen reads. Compared with
   * === (not tested for truthiness) so the check compiles to one comparison on
   * the hot path of every state access.
   */
  private usable = true

  /** The current key, its serialized bytes and its key group (valid once hasCurrentKey). */
  protected currentKey: K | undefined
  protected currentKeyBytes: Uint8Array = EMPTY
  protected currentKeyGroup = -1
  protected hasCurrentKey = false

  constructor(options: KeyedStateBackendOptions<K>) {
    if (!options.keySerializer || typeof options.keySerializer.serialize !== 'function') {
      throw new KeyedStateError('INVALID_ARGUMENT', 'keySerializer is required')
    }
    this.keySerializer = options.keySerializer
    this.serializeKey = serializeFnOf(this.keySerializer, { role: 'key' })
    this.maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM
    checkMaxParallelism(this.maxParallelism)
    this.keyGroupRange = options.keyGroupRange ?? { start: 0, end: this.maxParallelism - 1 }
    checkKeyGroupRange(this.keyGroupRange, this.maxParallelism)
    this.timersKind = resolveTimersKind(options.kind, options.timers)
  }

  get closed(): boolean {
    return !this.usable
  }

  protected assertOpen(): void {
    if (this.usable !== true) throw new ClosedError(`${this.kind} keyed-state backend`)
  }

  /** For state objects: throws CLOSED once the backend is closing (lazy iterations check it per entry). */
  assertUsable(): void {
    this.assertOpen()
  }

  setCurrentKey(key: K): void {
    this.assertOpen()
    // Object.is, not ===: -0 and 0 are different keys for serializers that write them differently (float64).
    if (this.hasCurrentKey && Object.is(key, this.currentKey) && typeof key !== 'object') return
    const bytes = this.serializeKey(key)
    const keyGroup = keyGroupOf(bytes, this.maxParallelism)
    if (keyGroup < this.keyGroupRange.start || keyGroup > this.keyGroupRange.end) {
      throw new KeyGroupRangeError(
        `key ${String(key)} is in key group ${keyGroup}, outside this backend's range ${formatRange(this.keyGroupRange)}`,
        { keyGroup },
      )
    }
    this.currentKey = key
    this.currentKeyBytes = bytes
    this.currentKeyGroup = keyGroup
    this.hasCurrentKey = true
  }

  /**
   * The serialized current key. Read it through this method rather than the
   * field: a backend may fill the field lazily (the heap backend does not
   * serialize keys whose key group it can hash directly).
   */
  protected currentKeyBytesNow(): Uint8Array {
    return this.currentKeyBytes
  }

  getCurrentKey(): K {
    this.assertCurrentKey()
    return this.currentKey as K
  }

  getCurrentKeyGroup(): number {
    this.assertCurrentKey()
    return this.currentKeyGroupNow()
  }

  /** The current key's group; a backend that computes it lazily overrides this. */
  protected currentKeyGroupNow(): number {
    return this.currentKeyGroup
  }

  /** For state objects: throws unless the backend is open and a current key is set. */
  assertCurrentKey(): void {
    if (this.hasCurrentKey !== true) {
      this.assertOpen()
      throw new KeyedStateError('NO_CURRENT_KEY', 'no current key: call setCurrentKey(key) before using keyed state')
    }
  }

  getState<T, D extends T | undefined = T | undefined>(descriptor: ValueStateDescriptor<T, D>): ValueState<T, ValueRead<T, D>> {
    return this.getPartitionedState(undefined, voidNamespaceSerializer, descriptor)
  }
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.getPartitionedState(undefined, voidNamespaceSerializer, descriptor)
  }
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.getPartitionedState(undefined, voidNamespaceSerializer, descriptor)
  }
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.getPartitionedState(undefined, voidNamespaceSerializer, descriptor)
  }
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.getPartitionedState(undefined, voidNamespaceSerializer, descriptor)
  }

  getPartitionedState<N, D extends AnyStateDescriptor>(namespace: N, namespaceSerializer: Serializer<N>, descriptor: D): StateOf<D> {
    this.assertOpen()
    // Every argument is checked before the state is registered: a refused call changes nothing.
    if (descriptor === null || typeof descriptor !== 'object' || typeof (descriptor as { name?: unknown }).name !== 'string') {
      throw new KeyedStateError('INVALID_ARGUMENT', 'getPartitionedState needs a state descriptor (e.g. new ValueStateDescriptor(name, serializer))')
    }
    if (namespaceSerializer === null || typeof namespaceSerializer !== 'object' || typeof namespaceSerializer.serialize !== 'function' || typeof namespaceSerializer.deserialize !== 'function') {
      throw new KeyedStateError('INVALID_ARGUMENT', `state '${descriptor.name}': the namespace serializer must be a serializer ({ id, version, serialize, deserialize }), got ${namespaceSerializer === null ? 'null' : typeof namespaceSerializer}`, { state: descriptor.name })
    }
    const nsBytes = serializeChecked(namespaceSerializer, namespace, { role: 'namespace', state: descriptor.name })
    const reg = this.register(descriptor, namespaceSerializer)
    const id = bytesKey(nsBytes)
    let obj = reg.objects.get(id)
    if (!obj) {
      obj = this.createStateObject(reg, namespace, nsBytes)
      if (reg.ttl !== undefined) obj = wrapTtlState(reg.ttl, this.ttlContextOf(reg, reg.ttl), obj)
      if (reg.objects.size >= STATE_OBJECTS_PER_STATE_MAX) reg.objects.delete(reg.objects.keys().next().value!)
      reg.objects.set(id, obj)
    }
    return obj as StateOf<D>
  }

  private register(descriptor: AnyStateDescriptor, namespaceSerializer: Serializer<any>): RegisteredState {
    const existing = this.states.get(descriptor.name)
    if (existing) {
      const bound = userDescriptorOf(existing)
      if (bound === descriptor && existing.namespaceSerializer === namespaceSerializer) return existing
      checkCompatible(existing.meta, descriptor, namespaceSerializer)
      if (bound && bound !== descriptor && bound.kind !== descriptor.kind) {
        throw new StateConflictError('STATE_CONFLICT', `state '${descriptor.name}' is already registered as ${bound.kind} state`, {
          state: descriptor.name,
        })
      }
      const { storage, ttl } = bindDescriptor(descriptor)
      const wasBound = existing.descriptor !== undefined
      existing.descriptor = storage
      existing.ttl = ttl
      existing.namespaceSerializer = namespaceSerializer
      // The stored meta-info now describes the serializers in use (they can read the old bytes).
      existing.meta = metaInfoOf(descriptor, namespaceSerializer)
      if (!wasBound) this.onStateBound(existing)
      else existing.objects.clear()
      return existing
    }
    const { storage, ttl } = bindDescriptor(descriptor)
    const reg: RegisteredState = {
      meta: metaInfoOf(descriptor, namespaceSerializer),
      descriptor: storage,
      namespaceSerializer,
      objects: new Map(),
      ttl,
    }
    this.states.set(descriptor.name, reg)
    this.onStateCreated(reg)
    this.onStateBound(reg)
    return reg
  }

  /** Registers states known from a restored snapshot, before the user asks for them. */
  protected registerRestoredMetaInfo(meta: StateMetaInfo): RegisteredState {
    const existing = this.states.get(meta.name)
    if (existing) {
      if (existing.meta.kind !== meta.kind) {
        throw new StateConflictError('STATE_CONFLICT', `restored state '${meta.name}' is ${meta.kind} state in one handle and ${existing.meta.kind} in another`, {
          state: meta.name,
        })
      }
      return existing
    }
    const reg: RegisteredState = { meta, descriptor: undefined, namespaceSerializer: undefined, objects: new Map() }
    this.states.set(meta.name, reg)
    this.onStateCreated(reg)
    return reg
  }

  stateNames(): string[] {
    this.assertOpen()
    return [...this.states.keys()].filter((name) => !isReservedStateName(name))
  }

  stats(): BackendStats {
    this.assertOpen()
    return this.statsOf(this.stateNames())
  }

  keys<N = undefined>(stateName: string, namespace?: N, namespaceSerializer?: Serializer<N>): IterableIterator<K> {
    this.assertOpen()
    const reg = isReservedStateName(stateName) ? undefined : this.states.get(stateName)
    if (!reg) throw new KeyedStateError('UNKNOWN_STATE', `unknown state '${stateName}'`, { state: stateName })
    const nsSer = namespaceSerializer ?? reg.namespaceSerializer
    let nsBytes: Uint8Array | undefined
    if (namespace !== undefined || (nsSer && nsSer.id === 'void')) {
      if (!nsSer) throw new KeyedStateError('INVALID_ARGUMENT', `keys('${stateName}', namespace): pass the namespace serializer`, { state: stateName })
      nsBytes = serializeChecked(nsSer, namespace, { role: 'namespace', state: stateName })
    }
    return this.keysOf(reg, nsBytes)
  }

  // ---- TTL ----

  private ttlContextOf(reg: RegisteredState, binding: TtlBinding) {
    binding.context ??= ttlStateContext(binding, this.ttlAccessListener(reg), () => this.currentKeyBytesNow())
    return binding.context
  }

  /**
   * Transformers that drop expired entries of TTL'd states, for a full
   * snapshot whose synchronous part runs now (FullSnapshotContext.transformers).
   */
  protected ttlSnapshotTransformers(): ReadonlyMap<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined> | undefined {
    return ttlSnapshotTransformers(this.states.values())
  }

  // ---- timers ----

  /**
   * The timer service `name` (created on first call; the same object for
   * later calls with the same namespace serializer and onTimer). Its timers
   * are kept in the backend, snapshotted and restored with the keyed state.
   */
  timerService<N = undefined>(name: string, options: TimerServiceOptions<K, N>): TimerService<K, N> {
    this.assertOpen()
    checkTimerServiceArgs(name, options)
    const namespaceSerializer = (options.namespaceSerializer ?? voidNamespaceSerializer) as Serializer<N>
    const existing = this.timerServices.get(name)
    if (existing !== undefined) {
      if (existing.namespaceSerializer === namespaceSerializer && existing.onTimer === options.onTimer) return existing
      throw new StateConflictError('STATE_CONFLICT', `timer service '${name}' already exists with another namespace serializer or onTimer`)
    }
    const queue = (domain: TimeDomain) => this.createTimerQueue(this.registerTimerState(name, domain, namespaceSerializer))
    const service = new TimerServiceImpl<K, N>(this.timerHost(), name, namespaceSerializer, options.onTimer, queue('event'), queue('processing'))
    this.timerServices.set(name, service)
    return service
  }

  private registerTimerState(service: string, domain: TimeDomain, namespaceSerializer: Serializer<any>): RegisteredState {
    const meta = timersMetaInfo(timerStateName(service, domain), namespaceSerializer)
    const existing = this.states.get(meta.name)
    if (existing !== undefined) {
      checkStoredTimers(existing.meta, service, namespaceSerializer)
      existing.meta = meta
      existing.namespaceSerializer = namespaceSerializer
      return existing
    }
    const reg: RegisteredState = { meta, descriptor: undefined, namespaceSerializer, objects: new Map() }
    this.states.set(meta.name, reg)
    this.onStateCreated(reg)
    return reg
  }

  private timerHost(): TimerHost<K> {
    return {
      keySerializer: this.keySerializer,
      currentKey: () => {
        this.assertCurrentKey()
        return { key: this.currentKey as K, bytes: this.currentKeyBytesNow(), keyGroup: this.currentKeyGroupNow() }
      },
      currentKeyIfSet: () => (this.hasCurrentKey ? { key: this.currentKey as K } : undefined),
      setCurrentKey: (key) => this.setCurrentKey(key),
      assertOpen: () => this.assertOpen(),
    }
  }

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    this.usable = false
    this.closing ??= (async () => {
      try {
        await this.closeBackend()
      } finally {
        this.isClosed = true
        this.hasCurrentKey = false
      }
    })()
    return this.closing
  }

  // ---- what each backend implements ----

  /** Creates storage for a new state (e.g. a column family). */
  protected abstract onStateCreated(reg: RegisteredState): void
  /** The user bound a descriptor to the state (restored or new). */
  protected onStateBound(_reg: RegisteredState): void {}
  /**
   * A TTL'd state was bound: the returned function (if any) is called on every
   * access with the state clock's time, e.g. for incremental cleanup (heap) or
   * to refresh the compaction filter's time (RocksDB).
   */
  protected ttlAccessListener(_reg: RegisteredState): ((nowMs: number) => void) | undefined {
    return undefined
  }
  /** The queue of one timer state (registered with onStateCreated before), kept as `this.timersKind` says. */
  protected createTimerQueue(_reg: RegisteredState): PartitionedTimerQueue {
    throw new KeyedStateError('NOT_SUPPORTED', `the ${this.kind} backend does not support timers`)
  }
  protected abstract createStateObject(reg: RegisteredState, namespace: unknown, namespaceBytes: Uint8Array): State
  /** Keys with state in `reg`, restricted to `namespaceBytes` when given. */
  protected abstract keysOf(reg: RegisteredState, namespaceBytes: Uint8Array | undefined): IterableIterator<K>
  protected abstract statsOf(stateNames: string[]): BackendStats
  abstract snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun
  abstract notifyCheckpointComplete(checkpointId: number): void
  abstract notifyCheckpointAborted(checkpointId: number): void
  protected abstract closeBackend(): Promise<void>
}
