// The heap keyed-state backend: state lives as JavaScript objects in Maps,
// one per state and namespace. Reads and writes are plain Map operations;
// snapshots capture the tables (later changes record what they replace, see
// state-table.ts) and serialize them in the canonical full-snapshot layout,
// byte-identical to what the RocksDB backend stores, so savepoints move
// between the two.
//
// Object values are handed out by reference, as with any heap state backend:
// a value read from state may be mutated and written back, and the backend
// copies values that a snapshot still shares before handing them out. Objects
// passed to update()/add()/put() are kept as they are, so do not keep mutating
// them after the call without calling the state again.
import { performance } from 'node:perf_hooks'
import { AbstractKeyedStateBackend, type RegisteredState } from '../../state-backend/base.js'
import type { BackendStats, KeyedStateBackend, StateStats, KeyedStateBackendOptions } from '../../state-backend/types.js'
import { KeyedStateError, KeyGroupRangeError } from '../../errors.js'
import { keyGroupOf, formatRange, rangeSize } from '../../keygroups.js'
import { int32Serializer, stringSerializer } from '../../serializers/primitives.js'
import { serializerConfig, type Serializer } from '../../serializers/serializer.js'
import { keyGroupOfAscii, keyGroupOfInt32 } from './key-hash.js'
import { restoreFullHandles, runFullSnapshot } from '../../snapshot/full/index.js'
import { fullLocalFallback, localFallbackReporter } from '../../snapshot/local-fallback.js'
import type { FullSnapshotHandle, RestoreSink, SnapshotOptions, SnapshotRun } from '../../snapshot/types.js'
import { checkRestoreArguments, checkSnapshotArguments } from '../../snapshot/argument-checks.js'
import type { State } from '../../state/types.js'
import { assertValidMetaInfo, type StateMetaInfo } from '../../state/meta.js'
import { codecOf, type HeapStateData } from './state-data.js'
import { keyIdPolicy, latin1, type KeyId, type KeyIdPolicy } from './key-ids.js'
import { addRawChunk, materialize, rawKeys } from './full-restore.js'
import { HeapSnapshotResources } from './full-snapshot.js'
import { heapTimerQueue } from './timers.js'
import { HeapTtlCleanup } from './ttl-cleanup.js'
import type { PartitionedTimerQueue } from '../../timers/queue.js'
import { keyOfStored, StateTable } from './state-table.js'
import {
  HeapAggregatingState,
  HeapListState,
  HeapMapState,
  HeapReducingState,
  HeapValueState,
  type HeapContext,
} from './states.js'

// Numbers, not strings: compared on every setCurrentKey.
const enum DirectKeys {
  None,
  Strings,
  Int32,
}

/** Stands in for the current key's group until currentKeyGroupNow() computes it. */
const KEY_GROUP_PENDING = -1

/** Stands in for the current key's bytes until currentKeyBytesNow() builds them. */
const PENDING_KEY_BYTES = new Uint8Array(0)

interface InFlightSnapshot {
  readonly checkpointId: number
  readonly resources: HeapSnapshotResources
  run: SnapshotRun | undefined
}

export class HeapKeyedStateBackend<K> extends AbstractKeyedStateBackend<K> implements HeapContext {
  readonly kind = 'heap' as const

  // HeapContext: what state objects read on every call, kept in sync with the current key.
  keyId: KeyId = 0

  keyDirect = true

  private readonly keyIds: KeyIdPolicy<K>
  /** Key types whose key group setCurrentKey hashes without serializing (built-in serializers only). */
  private readonly directKeys: DirectKeys
  private readonly rangeStart: number
  private readonly rangeEnd: number
  /** The range holds every key group: no key can be outside it. */
  private readonly wholeRange: boolean
  private readonly data = new Map<string, HeapStateData>()
  /** Restored meta-info per state, to fall back to when binding a descriptor fails. */
  private readonly restoredMeta = new Map<string, StateMetaInfo>()
  private readonly inFlight = new Set<InFlightSnapshot>()
  private readonly localRecoveryDir: string | undefined

  constructor(options: KeyedStateBackendOptions<K>) {
    super(options)
    if (options.checkpointMode === 'incremental') {
      throw new KeyedStateError('INVALID_ARGUMENT', "the heap backend takes full snapshots only: drop checkpointMode or set it to 'full'")
    }
    this.keyIds = keyIdPolicy(this.keySerializer)
    this.rangeStart = this.keyGroupRange.start
    this.rangeEnd = this.keyGroupRange.end
    this.wholeRange = this.rangeStart === 0 && this.rangeEnd === this.maxParallelism - 1
    this.directKeys =
      this.keySerializer === (stringSerializer as Serializer<unknown>)
        ? DirectKeys.Strings
        : this.keySerializer === (int32Serializer as Serializer<unknown>)
          ? DirectKeys.Int32
          : DirectKeys.None
    this.localRecoveryDir = options.localRecoveryDir
  }

  /**
   * Serializing the key costs more than the heap state access itself, so string
   * keys (string serializer) and int32 keys (int32 serializer) are used as they
   * are and their bytes are only built when asked for (currentKeyBytesNow).
   * The tables are keyed by key alone, so the key group (a murmur3 hash of the
   * bytes) is only needed to refuse keys outside the range: a backend holding
   * every key group skips it until something asks (currentKeyGroupNow).
   */
  override setCurrentKey(key: K): void {
    if (typeof key === 'string') {
      if (this.directKeys === DirectKeys.Strings) {
        if (this.wholeRange) return this.setDirectKey(key, key, KEY_GROUP_PENDING)
        // Hashed straight from the characters when they are ASCII (UTF-8 bytes = char codes).
        const keyGroup = keyGroupOfAscii(key, this.maxParallelism)
        if (keyGroup >= 0) return this.setDirectKey(key, key, keyGroup)
      }
    } else if (typeof key === 'number' && this.directKeys === DirectKeys.Int32 && (key | 0) === key) {
      // int32 writes -0 as 0.
      return this.setDirectKey(key, key === 0 ? 0 : key, this.wholeRange ? KEY_GROUP_PENDING : keyGroupOfInt32(key, this.maxParallelism))
    }
    super.setCurrentKey(key)
    const id = this.keyIds.idOf(key, this.currentKeyBytes)
    this.keyId = id
    this.keyDirect = this.keyIds.isDirect(id)
  }

  private setDirectKey(key: K, keyId: KeyId, keyGroup: number): void {
    this.assertOpen()
    if (keyGroup !== KEY_GROUP_PENDING && (keyGroup < this.rangeStart || keyGroup > this.rangeEnd)) {
      throw new KeyGroupRangeError(
        `key ${String(key)} is in key group ${keyGroup}, outside this backend's range ${formatRange(this.keyGroupRange)}`,
        { keyGroup },
      )
    }
    this.currentKey = key
    this.currentKeyBytes = PENDING_KEY_BYTES
    this.currentKeyGroup = keyGroup
    this.hasCurrentKey = true
    this.keyId = keyId
    this.keyDirect = true
  }

  protected override currentKeyGroupNow(): number {
    if (this.currentKeyGroup === KEY_GROUP_PENDING && this.hasCurrentKey) {
      this.currentKeyGroup = keyGroupOf(this.currentKeyBytesNow(), this.maxParallelism)
    }
    return this.currentKeyGroup
  }

  /** HeapContext: the current key object (kept with entries for keys()). */
  get key(): unknown {
    return this.currentKey
  }

  protected override currentKeyBytesNow(): Uint8Array {
    if (this.currentKeyBytes === PENDING_KEY_BYTES) this.currentKeyBytes = this.serializeKey(this.currentKey as K)
    return this.currentKeyBytes
  }

  // ---- registration ----

  protected onStateCreated(reg: RegisteredState): void {
    const size = rangeSize(this.keyGroupRange)
    this.data.set(reg.meta.name, {
      name: reg.meta.name,
      table: new StateTable(),
      raw: reg.descriptor === undefined ? new Array(size).fill(undefined) : undefined,
      codec: undefined,
    })
    if (reg.descriptor === undefined) this.restoredMeta.set(reg.meta.name, reg.meta)
  }

  protected override onStateBound(reg: RegisteredState): void {
    const data = this.data.get(reg.meta.name)!
    const descriptor = reg.descriptor!
    const codec = codecOf(descriptor, this.keyIds as KeyIdPolicy<unknown>)
    if (data.raw !== undefined) {
      try {
        data.table = materialize(data, data.raw, codec, this.keySerializer as never, this.keyGroupRange)
      } catch (e) {
        this.unbind(reg)
        throw e
      }
      data.raw = undefined
    }
    data.codec = codec
  }

  /** TTL: each access of the state also cleans a few entries (ttl-cleanup.ts). */
  protected override ttlAccessListener(reg: RegisteredState): (nowMs: number) => void {
    const data = this.data.get(reg.meta.name)!
    const cleanup = (data.ttlCleanup ??= new HeapTtlCleanup(data, reg.meta.kind))
    const { ttlMs } = reg.ttl!.config
    return (nowMs) => cleanup.run(nowMs, ttlMs)
  }

  /** Timers stay in memory; restored timer entries are loaded now (timers.ts). */
  protected override createTimerQueue(reg: RegisteredState): PartitionedTimerQueue {
    const data = this.data.get(reg.meta.name)!
    const { queue, snapshots } = heapTimerQueue(data.raw, this.keyGroupRange, reg.meta.name)
    data.raw = undefined
    data.internal = snapshots
    return queue
  }

  /** Undoes the base class's binding after a failed bind, so a later attempt binds again. */
  private unbind(reg: RegisteredState): void {
    const restored = this.restoredMeta.get(reg.meta.name)
    if (restored === undefined) {
      this.states.delete(reg.meta.name)
      this.data.delete(reg.meta.name)
      return
    }
    reg.descriptor = undefined
    reg.namespaceSerializer = undefined
    reg.meta = restored
    reg.objects.clear()
  }

  protected createStateObject(reg: RegisteredState, _namespace: unknown, namespaceBytes: Uint8Array): State {
    const data = this.data.get(reg.meta.name)!
    const d = reg.descriptor!
    const nsId = latin1(namespaceBytes)
    switch (d.kind) {
      case 'value':
        return new HeapValueState(this, data.table, nsId, namespaceBytes, d)
      case 'list':
        return new HeapListState(this, data.table, nsId, namespaceBytes, d)
      case 'map':
        return new HeapMapState(this, data.table, nsId, namespaceBytes, d, data.codec!.userKeys!)
      case 'reducing':
        return new HeapReducingState(this, data.table, nsId, namespaceBytes, d)
      case 'aggregating':
        return new HeapAggregatingState(this, data.table, nsId, namespaceBytes, d)
    }
  }

  // ---- stats ----

  protected statsOf(stateNames: string[]): BackendStats {
    const states = stateNames.map((state) => {
      let entries = 0
      const data = this.data.get(state)
      for (const nt of data?.table.namespaces.values() ?? []) entries += nt.entries.size - nt.removed
      const out: StateStats = { state, estimatedEntries: entries }
      if (this.states.get(state)?.ttl !== undefined) out.ttlCleanedEntries = data?.ttlCleanup?.cleanedEntries ?? 0
      return out
    })
    return { kind: this.kind, states }
  }

  // ---- keys ----

  protected keysOf(reg: RegisteredState, namespaceBytes: Uint8Array | undefined): IterableIterator<K> {
    const data = this.data.get(reg.meta.name)!
    if (data.raw !== undefined) return rawKeys(data.raw, this.keySerializer, namespaceBytes, reg.meta.name)
    return this.tableKeys(data.table, namespaceBytes === undefined ? undefined : latin1(namespaceBytes))
  }

  /**
   * The keys present when the loop starts (the first next()), each once,
   * whatever the loop writes, as RocksDB's iterator reads from a snapshot: a
   * Map iterator would visit a key that is removed and added again a second
   * time (it moves to the end), so a loop that clears and re-adds each key
   * would never end. The keys are copied when the loop starts, as Flink's heap
   * backend does for applyToAllKeys.
   */
  private *tableKeys(table: StateTable, nsId: string | undefined): Generator<K, void, undefined> {
    for (const key of keysOfTable<K>(table, nsId)) {
      // As on RocksDB, a loop that goes on after close() fails.
      this.assertOpen()
      yield key
    }
  }

  // ---- snapshots ----

  /** The synchronous part of a full snapshot: pins every state's tables. Exposed for tests. */
  captureSnapshotResources(onRelease?: () => void): HeapSnapshotResources {
    this.assertOpen()
    const states = [...this.states.values()].map((reg) => ({ meta: reg.meta, data: this.data.get(reg.meta.name)! }))
    return new HeapSnapshotResources(this.keyGroupRange, this.maxParallelism, states, onRelease)
  }

  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun {
    this.assertOpen()
    checkSnapshotArguments(checkpointId, options)
    const startMs = performance.now()
    const resources = this.captureSnapshotResources()
    const syncDurationMs = performance.now() - startMs
    const tracked: InFlightSnapshot = { checkpointId, resources, run: undefined }
    this.inFlight.add(tracked)
    try {
      tracked.run = runFullSnapshot(checkpointId, resources, options, {
        maxParallelism: this.maxParallelism,
        keySerializer: serializerConfig(this.keySerializer),
        transformers: this.ttlSnapshotTransformers(),
        // Savepoints are self-contained and never kept for local recovery.
        ...(options.type === 'checkpoint' && this.localRecoveryDir !== undefined ? { localRecoveryDir: this.localRecoveryDir } : {}),
        onSettled: () => {
          this.inFlight.delete(tracked)
          resources.release()
        },
      }, syncDurationMs)
    } catch (e) {
      this.inFlight.delete(tracked)
      resources.release()
      throw e
    }
    return tracked.run
  }

  // Heap snapshots hold nothing beyond their own run, so confirmations need no bookkeeping.
  // They are accepted after close too: a coordinator may confirm while the job shuts down.
  notifyCheckpointComplete(_checkpointId: number): void {}
  notifyCheckpointAborted(_checkpointId: number): void {}

  // ---- restore ----

  /** What the full-snapshot reader writes into. Exposed for tests. */
  restoreSink(): RestoreSink {
    return {
      restoreMetaInfos: (metaInfos) => {
        for (const meta of metaInfos) {
          assertValidMetaInfo(meta, 'the restored snapshot')
          this.registerRestoredMetaInfo(meta)
        }
      },
      restoreChunk: (stateName, keyGroup, chunk) => {
        const data = this.data.get(stateName)
        if (data === undefined) {
          throw new KeyedStateError('CORRUPTION', `restored entries for state '${stateName}', which the snapshot's meta-info does not list`, {
            state: stateName,
            keyGroup,
          })
        }
        if (data.raw === undefined) {
          throw new KeyedStateError('INTERNAL', `state '${stateName}' is already in use; restore happens before the backend is returned`, {
            state: stateName,
          })
        }
        addRawChunk(data.raw, this.keyGroupRange, stateName, keyGroup, chunk)
      },
    }
  }

  // ---- close ----

  protected async closeBackend(): Promise<void> {
    const runs = [...this.inFlight]
    for (const s of runs) s.run?.cancel()
    await Promise.allSettled(runs.map((s) => s.run?.done))
    for (const s of runs) s.resources.release()
    this.inFlight.clear()
    this.data.clear()
  }
}

/** The keys with state in `table` (in namespace `nsId` when given), each once. */
function keysOfTable<K>(table: StateTable, nsId: string | undefined): K[] {
  const keys: K[] = []
  // undefined: removed while a snapshot reads the table (state-table.ts).
  if (nsId !== undefined || table.namespaces.size <= 1) {
    const tables = nsId !== undefined ? [table.read(nsId)] : table.namespaces.values()
    for (const nt of tables) if (nt !== undefined) for (const [id, s] of nt.entries) if (s !== undefined) keys.push(keyOfStored(id, s) as K)
    return keys
  }
  const seen = new Set<KeyId>()
  for (const nt of table.namespaces.values()) {
    for (const [id, s] of nt.entries) {
      if (s === undefined || seen.has(id)) continue
      seen.add(id)
      keys.push(keyOfStored(id, s) as K)
    }
  }
  return keys
}

/** Opens a heap backend, restoring from full snapshot handles when given. */
export async function openHeapBackend<K>(options: KeyedStateBackendOptions<K>): Promise<KeyedStateBackend<K>> {
  const backend = new HeapKeyedStateBackend(options)
  if (options.restoreFrom === undefined) return backend
  try {
    const handles = checkRestoreArguments(options, backend.maxParallelism, backend.keyGroupRange)
    const full: FullSnapshotHandle[] = []
    for (const h of handles) {
      if (h?.type !== 'full') {
        throw new KeyedStateError(
          'NOT_SUPPORTED',
          `the heap backend restores full snapshots only (savepoints or full checkpoints); got a ${String(h?.type)} handle` +
            (h && 'checkpointId' in h ? ` of checkpoint ${h.checkpointId}` : ''),
        )
      }
      full.push(h)
    }
    if (full.length === 0) return backend
    await restoreFullHandles(full, options.storage!, backend.keyGroupRange, backend.restoreSink(), options.localRestoreFrom, {
      maxParallelism: backend.maxParallelism,
      keySerializer: backend.keySerializer as Serializer<unknown>,
      onLocalFallback: fullLocalFallback(localFallbackReporter(options.onLocalFallback)),
      ...(options.knownEmptyRanges ? { knownEmptyRanges: options.knownEmptyRanges } : {}),
    })
  } catch (e) {
    await backend.close()
    throw e
  }
  return backend
}
