// The RocksDB keyed-state backend: one column family per state, composite keys
// (key group | key | namespace [| map user key]) so each key group is one
// contiguous range, values in the canonical snapshot encoding. State access is
// synchronous, one N-API call per operation. The working directory persists
// across close/reopen; `restoreFrom` rebuilds it from snapshot handles.
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { AbstractKeyedStateBackend, type RegisteredState } from '../../state-backend/base.js'
import type { BackendStats, KeyedStateBackendOptions, StateStats } from '../../state-backend/types.js'
import { keyGroupPrefix, readVarint } from '../../encoding.js'
import { KeyedStateError } from '../../errors.js'
import { booleanOption } from '../../option-checks.js'
import { loadNative } from './native/binding.js'
import type { NativeBinding, NativeDb } from './native/types.js'
import { serializerConfig, type Serializer } from '../../serializers/serializer.js'
import { restoreFullHandles } from '../../snapshot/full/index.js'
import { memoryOpenOptions } from './memory-budget.js'
import { IncrementalSnapshotStrategy, type RestoredSstBase } from './incremental-strategy.js'
import { restoreIncrementalHandles, type IncrementalRestoreStats } from './incremental-restore.js'
import { fullLocalFallback, localFallbackReporter } from '../../snapshot/local-fallback.js'
import type {
  FullSnapshotHandle,
  FullSnapshotResources,
  KeyedStateHandle,
  LocalStateHandle,
  SnapshotOptions,
  SnapshotRun,
} from '../../snapshot/types.js'
import { checkRestoreArguments, checkSnapshotArguments } from '../../snapshot/argument-checks.js'
import type { State } from '../../state/types.js'
import { ChunkCursor, compareBytes, scanChunks, SCAN_CHUNK } from './packed-chunks.js'
import { captureFullSnapshotResources, FullSnapshotStrategy } from './full-snapshot.js'
import { InFlightRuns } from './in-flight-runs.js'
import { StateColumnFamilies } from './column-families.js'
import {
  checkReopen,
  columnFamilyOf,
  META_COLUMN_FAMILY,
  MetaStore,
  WORKING_DIR_FORMAT_VERSION,
  type BackendRecord,
} from './meta-store.js'
import { IngestingRestoreSink, nativeBlockWork, RESTORE_READ_LANES, type RestoreTarget } from './full-restore.js'
import { ScratchBuffer, ValueReader } from './reused-buffers.js'
import type { RocksDBSnapshotContext, SnapshotStrategy, StateColumnFamily } from './snapshot-strategy.js'
import {
  RocksDBAggregatingState,
  RocksDBListState,
  RocksDBMapState,
  RocksDBReducingState,
  RocksDBValueState,
  type StateHost,
} from './states.js'
import { discardDatabase, ensureWorkingDir, wipeWorkingDir, workingDirOf, type WorkingDir } from './working-dir.js'
import { compactionFilterListener } from './ttl-compaction.js'
import { compactionOpenOptions } from './compaction-options.js'
import { nowOf } from '../../ttl/config.js'
import { rocksdbTimerQueue } from './timers.js'
import type { PartitionedTimerQueue } from '../../timers/queue.js'

/** How long close() waits for cancelled snapshot runs before closing the database anyway. */
const CLOSE_WAIT_FOR_SNAPSHOTS_MS = 30_000

export class RocksDBKeyedStateBackend<K> extends AbstractKeyedStateBackend<K> implements StateHost {
  readonly kind = 'rocksdb' as const
  readonly native: NativeBinding
  readonly workingDir: WorkingDir
  readonly localRecoveryDir: string | undefined
  readonly frameScratch = new ScratchBuffer(256)
  readonly inFlight = new InFlightRuns()
  private keyVersion = 0
  // Assigned by open(); the backend is only handed out after it succeeded.
  db!: NativeDb
  reader!: ValueReader
  private metaStore!: MetaStore
  private record!: BackendRecord
  /** Column family of each registered state, created in batches (column-families.ts). */
  private families!: StateColumnFamilies
  private fullStrategy!: SnapshotStrategy
  private incrementalStrategy: IncrementalSnapshotStrategy | undefined
  /** The SST set of the incremental handle this backend was restored from (base of its first checkpoint). */
  private restoredSstBase: RestoredSstBase | undefined
  /**
   * How the incremental restore that opened this backend went (which handle was opened in
   * place, what was copied from where); undefined when it did not restore incremental handles.
   */
  private restoreStats: IncrementalRestoreStats | undefined
  readonly checkpointMode: 'incremental' | 'full'
  private readonly compaction: ReturnType<typeof compactionOpenOptions>
  private readonly memory: ReturnType<typeof memoryOpenOptions>
  /** Statistics tickers for the metrics (KeyedStateBackendOptions.rocksdbStatistics). */
  private readonly statistics: boolean
  /** KeyedStateBackendOptions.rocksdbMmapReads. */
  private readonly mmapReads: boolean

  constructor(options: KeyedStateBackendOptions<K>, native: NativeBinding) {
    super(options)
    this.native = native
    this.workingDir = workingDirOf(options.dir!)
    this.localRecoveryDir = options.localRecoveryDir
    const mode = options.checkpointMode ?? 'incremental'
    if (mode !== 'incremental' && mode !== 'full') {
      throw new KeyedStateError('INVALID_ARGUMENT', `checkpointMode must be 'incremental' or 'full', got ${JSON.stringify(mode)}`)
    }
    this.checkpointMode = mode
    this.compaction = compactionOpenOptions(options.rocksdb, mode)
    this.memory = memoryOpenOptions(options.memory)
    this.statistics = booleanOption(options.rocksdbStatistics, 'rocksdbStatistics', false)
    this.mmapReads = booleanOption(options.rocksdbMmapReads, 'rocksdbMmapReads', true)
  }

  /** Lineage id of this working directory (created once; new after a restore). */
  get backendId(): string {
    return this.record.backendId
  }

  /** How the incremental restore that opened this backend went; undefined when none ran. */
  get incrementalRestoreStats(): IncrementalRestoreStats | undefined {
    return this.restoreStats
  }

  // ---- opening ----

  /** @internal Called once by openRocksDBBackend. */
  async open(options: KeyedStateBackendOptions<K>): Promise<void> {
    // restoreFrom, even without handles (an instance whose state was empty at the checkpoint:
    // knownEmptyRanges covers it), means "start from these handles": the directory's old
    // contents must not survive. Handles and known-empty ranges must cover the range.
    if (options.restoreFrom !== undefined) {
      const handles = checkRestoreArguments(options, this.maxParallelism, this.keyGroupRange)
      await this.openRestoring(handles, options)
    } else {
      await this.openWorkingDir()
    }
    this.fullStrategy = new FullSnapshotStrategy(this.snapshotContext())
    if (this.checkpointMode === 'incremental') {
      this.incrementalStrategy = new IncrementalSnapshotStrategy(this.snapshotContext(), this.restoredSstBase)
    }
    // The marker is made durable before any state is written: with the WAL off,
    // a crash loses unflushed writes, and the next open must notice that.
    this.metaStore.writeSession('open')
    this.db.flush()
  }

  private openDatabase(): void {
    this.db = this.native.open(this.workingDir.db, {
      createIfMissing: true,
      columnFamilies: [META_COLUMN_FAMILY],
      // Incremental checkpoints take the WAL (cut at the barrier) instead of
      // flushing the memtables on the event loop (native/checkpoint_async.cc);
      // full snapshots read through iterators and need no WAL.
      disableWal: this.checkpointMode !== 'incremental',
      // Universal compaction in incremental mode, merging only after many sorted runs (compaction-options.ts).
      ...this.compaction,
      // The process's shared block cache and write-buffer budget (memory-budget.ts).
      ...this.memory,
      statistics: this.statistics,
      mmapReads: this.mmapReads,
    })
    this.reader = new ValueReader(this.db)
    this.families = new StateColumnFamilies(this.db)
    this.metaStore = new MetaStore(this.db, this.db.columnFamily(META_COLUMN_FAMILY), this.workingDir.root)
  }

  private newRecord(): BackendRecord {
    return {
      formatVersion: WORKING_DIR_FORMAT_VERSION,
      backendId: randomUUID(),
      maxParallelism: this.maxParallelism,
      keyGroupRange: { start: this.keyGroupRange.start, end: this.keyGroupRange.end },
      keySerializer: serializerConfig(this.keySerializer),
    }
  }

  private async openWorkingDir(): Promise<void> {
    await ensureWorkingDir(this.workingDir)
    this.openDatabase()
    try {
      const stored = this.metaStore.readBackend()
      if (stored === undefined) {
        this.record = this.newRecord()
        this.metaStore.writeBackend(this.record)
        return
      }
      checkReopen(stored, this, this.workingDir.root)
      if (this.metaStore.readSession() === 'open') {
        throw new KeyedStateError(
          'ABORTED',
          `cannot reopen ${this.workingDir.root}: it was not closed cleanly (the process ended without close(), or ` +
            'close() failed), and the working database runs without a write-ahead log, so its latest writes may be ' +
            'lost. Restore from a checkpoint (restoreFrom), or delete the directory to start empty',
          { file: this.workingDir.root },
        )
      }
      this.record = stored
      for (const r of this.metaStore.readStates()) {
        if (r.columnFamily !== columnFamilyOf(r.meta.name)) {
          throw new KeyedStateError('CORRUPTION', `state '${r.meta.name}' maps to unexpected column family '${r.columnFamily}'`, {
            state: r.meta.name,
            file: this.workingDir.root,
          })
        }
        this.registerRestoredMetaInfo(r.meta)
      }
      // Families of states registered but never used before the last close were never created.
      this.families.createPending()
    } catch (e) {
      this.db.close()
      throw e
    }
  }

  private async openRestoring(handles: readonly KeyedStateHandle[], options: KeyedStateBackendOptions<K>): Promise<void> {
    const incremental = handles.filter((h) => h.type === 'incremental')
    if (incremental.length > 0) {
      await this.openRestoringIncremental(handles, options)
      return
    }
    await wipeWorkingDir(this.workingDir)
    this.openDatabase()
    this.record = this.newRecord()
    this.metaStore.writeBackend(this.record)
    if (handles.length === 0) return
    const sink = new IngestingRestoreSink(this.restoreTarget())
    try {
      const local = (options.localRestoreFrom ?? []).filter((l): l is LocalStateHandle => l?.type === 'local-full')
      await restoreFullHandles(handles as readonly FullSnapshotHandle[], options.storage!, this.keyGroupRange, sink, local, {
        maxParallelism: this.maxParallelism,
        keySerializer: this.keySerializer as Serializer<unknown>,
        onLocalFallback: fullLocalFallback(localFallbackReporter(options.onLocalFallback)),
        readLanes: RESTORE_READ_LANES,
        blockWork: nativeBlockWork(this.native),
        ...(options.restoreHooks?.readLaneMinBytes !== undefined ? { readLaneMinBytes: options.restoreHooks.readLaneMinBytes } : {}),
        ...(options.knownEmptyRanges ? { knownEmptyRanges: options.knownEmptyRanges } : {}),
      })
      await sink.flushRestore()
    } catch (e) {
      // SST files may still be written on the thread pool: they settle before anything is removed.
      await sink.discard()
      this.db.close()
      await discardDatabase(this.workingDir)
      throw e
    } finally {
      await sink.discard()
    }
  }

  /** Incremental handles (possibly mixed with full ones): see incremental-restore.ts. */
  private async openRestoringIncremental(handles: readonly KeyedStateHandle[], options: KeyedStateBackendOptions<K>): Promise<void> {
    await wipeWorkingDir(this.workingDir)
    try {
      const restored = await restoreIncrementalHandles(
        handles,
        options.storage!,
        {
          native: this.native,
          workingDir: this.workingDir,
          keyGroupRange: this.keyGroupRange,
          maxParallelism: this.maxParallelism,
          keySerializer: this.keySerializer as never,
          reportLocalFallback: localFallbackReporter(options.onLocalFallback),
          ...(options.restoreHooks?.afterPlaced ? { afterPlaced: options.restoreHooks.afterPlaced } : {}),
          openDatabase: () => {
            this.openDatabase()
            return this.restoreTarget()
          },
        },
        options.localRestoreFrom?.filter((l): l is LocalStateHandle => l !== undefined && l !== null),
        options.knownEmptyRanges,
      )
      this.record = { ...this.newRecord(), backendId: restored.backendId ?? randomUUID() }
      this.metaStore.writeBackend(this.record)
      this.restoredSstBase = restored.base
      this.restoreStats = restored.stats
    } catch (e) {
      if (this.db && !this.db.closed) this.db.close()
      await discardDatabase(this.workingDir)
      throw e
    }
  }

  private restoreTarget(): RestoreTarget {
    return {
      native: this.native,
      db: this.db,
      keyGroupRange: this.keyGroupRange,
      stagingDir: this.workingDir.staging,
      registerRestoredStates: (metas) => {
        for (const m of metas) this.registerRestoredMetaInfo(m)
        this.families.createPending()
      },
      columnFamilyHandle: (name) => this.families.id(name),
    }
  }

  // ---- states ----

  /**
   * A new state's column family is created with the next batch (column-families.ts):
   * registering many states before using them costs one OPTIONS-file rewrite, not one each.
   */
  protected onStateCreated(reg: RegisteredState): void {
    this.families.add(reg.meta.name)
    this.metaStore.writeState({ meta: reg.meta, columnFamily: this.families.nameOf(reg.meta.name) })
  }

  protected override onStateBound(reg: RegisteredState): void {
    // The meta-info now describes the user's serializers; remember that on disk.
    this.metaStore.writeState({ meta: reg.meta, columnFamily: this.families.nameOf(reg.meta.name) })
  }

  /** TTL: the compaction filter of the state's column family follows the state's clock (ttl-compaction.ts). */
  protected override ttlAccessListener(reg: RegisteredState): (nowMs: number) => void {
    const name = reg.meta.name
    const listener = compactionFilterListener(this.native, this.db, () => this.families.id(name), reg.meta, reg.ttl!.config.ttlMs)
    // A family that waits for its batch holds nothing to compact yet; the state's first access sends the time.
    if (this.families.idIfCreated(name) >= 0) listener(nowOf(reg.ttl!.config, name))
    return listener
  }

  /** Timers live in the timer state's column family (timers.ts). */
  protected override createTimerQueue(reg: RegisteredState): PartitionedTimerQueue {
    return rocksdbTimerQueue(this.db, this.families.id(reg.meta.name), this.keyGroupRange, this.timersKind, reg.meta.name)
  }

  /** Registered states with their column families (all created), in registration order, with their current meta-info. */
  private stateColumnFamilies(): StateColumnFamily[] {
    this.families.createPending()
    const out: StateColumnFamily[] = []
    for (const reg of this.states.values()) {
      const name = reg.meta.name
      out.push({ meta: reg.meta, columnFamily: this.families.nameOf(name), cf: this.families.id(name) })
    }
    return out
  }

  /** @internal StateHost: the state's column family id, created (with every waiting one) if need be. */
  columnFamilyId(stateName: string): number {
    return this.families.id(stateName)
  }

  /** The state object may get a column family that is not created yet (-1); it asks columnFamilyId on first use. */
  protected createStateObject(reg: RegisteredState, _namespace: unknown, namespaceBytes: Uint8Array): State {
    const d = reg.descriptor!
    const cf = this.families.idIfCreated(d.name)
    switch (d.kind) {
      case 'value':
        return new RocksDBValueState(this, cf, d, namespaceBytes)
      case 'list':
        return new RocksDBListState(this, cf, d, namespaceBytes)
      case 'map':
        return new RocksDBMapState(this, cf, d, namespaceBytes)
      case 'reducing':
        return new RocksDBReducingState(this, cf, d, namespaceBytes)
      case 'aggregating':
        return new RocksDBAggregatingState(this, cf, d, namespaceBytes)
    }
  }

  override setCurrentKey(key: K): void {
    const previous = this.currentKey
    const had = this.hasCurrentKey
    super.setCurrentKey(key)
    // The base skips an unchanged primitive key. Anything else may be a new key
    // even when the serializer hands back the same array (bytesSerializer
    // returns its input, which a caller may reuse), so state objects must rebuild
    // their cached key prefix.
    if (!had || !Object.is(previous, key) || typeof key === 'object') this.keyVersion++
  }

  /** @internal StateHost: changes whenever the current key may have changed; throws CLOSED / NO_CURRENT_KEY. */
  currentKeyVersionOrThrow(): number {
    if (!this.hasCurrentKey) this.assertCurrentKey()
    return this.keyVersion
  }

  /** @internal StateHost: the serialized current key (after currentKeyVersionOrThrow). */
  currentKeyBytesUnchecked(): Uint8Array {
    return this.currentKeyBytes
  }

  /** @internal StateHost. */
  currentKeyGroupUnchecked(): number {
    return this.currentKeyGroup
  }

  /**
   * Keys with an entry in the state (in `namespaceBytes`, when given), each
   * once, in key-group then key-byte order. Entries of one key are adjacent
   * (namespaces and map user keys come after the key), so skipping repeats of
   * the previous key removes every duplicate.
   */
  // ---- stats ----

  /** A numeric RocksDB property; undefined when RocksDB does not know it (e.g. no block cache). */
  private numericProperty(cf: number, name: string): number | undefined {
    const v = this.db.getProperty(cf, name)
    if (v === undefined || v.trim() === '') return undefined
    const n = Number(v)
    return Number.isFinite(n) ? n : undefined
  }

  protected statsOf(stateNames: string[]): BackendStats {
    const states: StateStats[] = stateNames.map((state) => {
      // A state whose column family is not created yet (created in batches on first write) holds nothing.
      const cf = this.families.idIfCreated(state)
      if (cf < 0) return { state, estimatedEntries: 0 }
      const out: StateStats = { state, estimatedEntries: this.numericProperty(cf, 'rocksdb.estimate-num-keys') ?? 0 }
      const live = this.numericProperty(cf, 'rocksdb.live-sst-files-size')
      const mem = this.numericProperty(cf, 'rocksdb.cur-size-all-mem-tables')
      const pending = this.numericProperty(cf, 'rocksdb.estimate-pending-compaction-bytes')
      if (live !== undefined) out.liveSstBytes = live
      if (mem !== undefined) out.memtableBytes = mem
      if (pending !== undefined) out.pendingCompactionBytes = pending
      if (this.states.get(state)?.ttl !== undefined) out.ttlCleanedEntries = this.native.ttlCleanedEntries(this.db, cf)
      return out
    })
    const meta = this.db.columnFamily(META_COLUMN_FAMILY)
    const blockCache = this.numericProperty(meta, 'rocksdb.block-cache-usage')
    const tickers = this.db.tickers()
    return {
      kind: this.kind,
      states,
      rocksdb: {
        ...(blockCache !== undefined ? { blockCacheUsageBytes: blockCache } : {}),
        writeStopped: this.numericProperty(meta, 'rocksdb.is-write-stopped') === 1,
        delayedWriteRateBytesPerSecond: this.numericProperty(meta, 'rocksdb.actual-delayed-write-rate') ?? 0,
        ...(tickers
          ? { blockCacheHits: tickers.blockCacheHits, blockCacheMisses: tickers.blockCacheMisses, writeStallMicros: tickers.stallMicros }
          : {}),
      },
    }
  }

  protected *keysOf(reg: RegisteredState, namespaceBytes: Uint8Array | undefined): Generator<K, void, undefined> {
    const cf = this.families.id(reg.meta.name)
    const gte = keyGroupPrefix(this.keyGroupRange.start)
    const lt = keyGroupPrefix(this.keyGroupRange.end + 1)
    const cursor = new ChunkCursor(new Uint8Array(0))
    let previous: Uint8Array = new Uint8Array(0)
    for (const chunk of scanChunks(this.db, cf, { gte, lt, keysOnly: true }, SCAN_CHUNK)) {
      cursor.reset(chunk)
      const bytes = cursor.bytes
      while (cursor.next()) {
        this.assertOpen()
        const k = readVarint(bytes, cursor.keyStart + 2)
        const keyEnd = k.next + k.value
        if (namespaceBytes !== undefined) {
          const n = readVarint(bytes, keyEnd)
          if (compareBytes(bytes, n.next, n.next + n.value, namespaceBytes, 0, namespaceBytes.length) !== 0) continue
        }
        // Compare key group and key together: the same key bytes never repeat across key groups, but be exact.
        if (compareBytes(bytes, cursor.keyStart, keyEnd, previous, 0, previous.length) === 0) continue
        previous = bytes.slice(cursor.keyStart, keyEnd)
        yield this.keySerializer.deserialize(bytes.subarray(k.next, keyEnd))
      }
    }
  }

  // ---- snapshots ----

  private snapshotContext(): RocksDBSnapshotContext {
    return {
      native: this.native,
      db: this.db,
      workingDir: this.workingDir,
      backendId: this.record.backendId,
      maxParallelism: this.maxParallelism,
      keyGroupRange: this.keyGroupRange,
      keySerializer: serializerConfig(this.keySerializer),
      localRecoveryDir: this.localRecoveryDir,
      inFlight: this.inFlight,
      states: () => this.stateColumnFamilies(),
      ttlTransformers: () => this.ttlSnapshotTransformers(),
    }
  }

  /** The strategy for a snapshot type. Savepoints are always full and canonical. */
  protected strategyFor(options: SnapshotOptions): SnapshotStrategy {
    if (options.type === 'checkpoint' && this.incrementalStrategy) return this.incrementalStrategy
    return this.fullStrategy
  }

  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun {
    this.assertOpen()
    checkSnapshotArguments(checkpointId, options)
    return this.strategyFor(options).snapshot(checkpointId, options)
  }

  /**
   * @internal The synchronous part of a full snapshot, for strategies and
   * tests: later writes are not visible through the result. The caller must
   * release() it.
   */
  captureFullSnapshotResources(): FullSnapshotResources {
    this.assertOpen()
    return captureFullSnapshotResources(this.db, this.stateColumnFamilies(), this.keyGroupRange)
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.assertOpen()
    this.fullStrategy.notifyCheckpointComplete(checkpointId)
    this.incrementalStrategy?.notifyCheckpointComplete(checkpointId)
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.assertOpen()
    this.fullStrategy.notifyCheckpointAborted(checkpointId)
    this.incrementalStrategy?.notifyCheckpointAborted(checkpointId)
  }

  // ---- closing ----

  protected async closeBackend(): Promise<void> {
    // State objects check the current key first: this makes every one of them throw CLOSED from now on.
    this.hasCurrentKey = false
    await this.inFlight.cancelAll(CLOSE_WAIT_FOR_SNAPSHOTS_MS)
    await this.fullStrategy.dispose?.()
    await this.incrementalStrategy?.dispose()
    try {
      // Names only: a family never used needs no creating now (reopen creates it).
      for (const reg of this.states.values()) this.metaStore.writeState({ meta: reg.meta, columnFamily: this.families.nameOf(reg.meta.name) })
      // Data first, then the clean-close marker: the marker is never durable without the data.
      this.db.flush()
      this.metaStore.writeSession('closed')
      this.db.flush()
    } finally {
      this.db.close()
      await rm(this.workingDir.staging, { recursive: true, force: true })
    }
  }
}

/** Opens (or reopens, or restores) a RocksDB keyed-state backend in `options.dir`. */
export async function openRocksDBBackend<K>(options: KeyedStateBackendOptions<K>): Promise<RocksDBKeyedStateBackend<K>> {
  if (typeof options.dir !== 'string' || options.dir.length === 0) {
    throw new KeyedStateError('INVALID_ARGUMENT', "the rocksdb backend needs options.dir: the directory of its working database")
  }
  const backend = new RocksDBKeyedStateBackend(options, loadNative())
  await backend.open(options)
  return backend
}
