import type { KeyGroupRange } from '../keygroups.js'
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
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { KeyedStateHandle, LocalRecoveryFallback, LocalStateHandle, RestoreHooks, SnapshotOptions, SnapshotRun } from '../snapshot/types.js'

export type { LocalRecoveryFallback } from '../snapshot/types.js'
import type { TimerService, TimerServiceOptions } from '../timers/types.js'

export type BackendKind = 'heap' | 'rocksdb'


export interface KeyedStateBackendOptions<K> {
  kind: BackendKind
  keySerializer: Serializer<K>
  /** Number of key groups; 1..32768, default 128. Must be the same across restores. */
  maxParallelism?: number
  /** Key groups this instance owns; default: all of them. */
  keyGroupRange?: KeyGroupRange
  /** RocksDB: the working directory of the database (created if missing). */
  dir?: string
  /** Storage that `restoreFrom` handles refer to (paths in handles are relative to its root). */
  storage?: CheckpointStorage
  /** Handles to restore from (one or many, any key-group ranges that together cover keyGroupRange). */
  restoreFrom?: readonly KeyedStateHandle[]
  /**
   * Key-group ranges known to hold no state in the snapshot restored from: the
   * ranges of instances whose snapshot was empty and wrote no handle (the
   * checkpoint's `_metadata` records them; see restoreAssignment). They count
   * as covered when checking that `restoreFrom` covers keyGroupRange.
   */
  knownEmptyRanges?: readonly KeyGroupRange[]
  /** Local copies to try before storage (see local recovery). */
  localRestoreFrom?: readonly LocalStateHandle[]
  /**
   * Told about every local recovery file that failed verification (or that
   * RocksDB refused to open) and was taken from checkpoint storage instead.
   * Default: a process warning (`process.emitWarning`, code KEYED_STATE_LOCAL_FALLBACK).
   */
  onLocalFallback?: (fallback: LocalRecoveryFallback) => void
  /** Directory for local recovery copies of checkpoints. */
  localRecoveryDir?: string
  /** RocksDB: 'incremental' (default) or 'full' checkpoints. Savepoints are always full. */
  checkpointMode?: 'incremental' | 'full'
  /**
   * Where timer services keep their timers: 'heap' (every timer in memory) or
   * 'rocksdb' (in a column family, the earliest timers of each key group cached).
   * Default: the backend's kind. The heap backend supports 'heap' only.
   */
  timers?: 'heap' | 'rocksdb'
  /** RocksDB: compaction tuning (see RocksDBCompactionOptions); the defaults suit the checkpoint mode. */
  rocksdb?: RocksDBCompactionOptions
  /** RocksDB: the process's memory budget (see MemoryOptions). */
  memory?: MemoryOptions
  /**
   * RocksDB: keep statistics tickers for the metrics (block cache hits, misses
   * and hit ratio, write stall time). Off by default, as in Flink: recording
   * them costs about 6% of the CPU time of a state read from SST files and
   * 1% of an update (bench/notes/metrics-statistics.md).
   */
  rocksdbStatistics?: boolean
  /**
   * RocksDB: read SST files through a memory map (RocksDB's allow_mmap_reads).
   * Default true: a block the block cache misses is read from the page cache
   * without a syscall and a copy, about 1.5x the random reads of a state larger
   * than the cache (bench/RESULTS.md). Block checksums are verified either way.
   * With it, an I/O error of the disk under a state file kills the process
   * (SIGBUS; the job restarts from its last checkpoint) instead of failing the
   * read with IO_ERROR, and the file pages it touched count in its RSS (page
   * cache the kernel can reclaim). Set false to trade that speed for errors.
   */
  rocksdbMmapReads?: boolean
  /** Named points in the restore, for tests (see RestoreHooks). */
  restoreHooks?: RestoreHooks
}

/**
 * One memory budget per process, shared by every RocksDB backend in it (like
 * Flink's managed memory): one block cache of `budgetBytes` for all of them,
 * with index and filter blocks and every state's memtables charged to it (the
 * largest memtable is flushed once memtables take half).
 */
export interface MemoryOptions {
  /**
   * Default 256 MiB, or the budget the process already has when a backend
   * named one. Naming a different budget while backends of the process still
   * use another is INVALID_ARGUMENT. At least 1 MiB.
   */
  budgetBytes?: number
}

/**
 * How the RocksDB backend compacts. An incremental checkpoint uploads every SST
 * file written since the last one, flushes and compaction output alike, so
 * compaction decides how much each checkpoint uploads. Every field is optional;
 * bad values are refused with INVALID_ARGUMENT.
 */
export interface RocksDBCompactionOptions {
  /** Default 'universal' with incremental checkpoints (rewrites few files per flush), 'level' with full ones. */
  compactionStyle?: 'universal' | 'level'
  /**
   * Sorted runs (universal) or level-0 files (level) that start a compaction.
   * Default 16 with universal compaction in incremental mode (RocksDB's own 4
   * otherwise): more runs between merges means fewer rewritten files uploaded,
   * for a few more bloom-filter probes per point read. Write slowdown and stop
   * triggers follow it.
   */
  compactionTrigger?: number
  /**
   * Universal: starting from the newest run, the next older run joins a merge
   * while it is at most (100 + sizeRatioPercent) % of the runs picked so far
   * (RocksDB's size_ratio; default 1).
   */
  sizeRatioPercent?: number
  /** Universal: fewest runs merged by a size-ratio compaction (default 2). */
  minMergeWidth?: number
  /** Universal: most runs merged by one compaction (default unlimited). */
  maxMergeWidth?: number
  /** Universal: a full merge runs when all but the oldest run exceed this % of the oldest (default 200). */
  maxSizeAmplificationPercent?: number
  /** Universal: when a size-ratio merge stops taking older runs (default 'total-size'). */
  stopStyle?: 'total-size' | 'similar-size'
  /** Size of compaction output files (default 64 MiB). */
  targetFileSizeBytes?: number
}

export type StateOf<D> = D extends ValueStateDescriptor<infer T, infer Default>
  ? ValueState<T, ValueRead<T, Default>>
  : D extends ListStateDescriptor<infer T>
    ? ListState<T>
    : D extends MapStateDescriptor<infer K, infer V>
      ? MapState<K, V>
      : D extends ReducingStateDescriptor<infer T>
        ? ReducingState<T>
        : D extends AggregatingStateDescriptor<infer IN, any, infer OUT>
          ? AggregatingState<IN, OUT>
          : never

/** Size of one state, read when asked (metrics read it on every scrape). */
export interface StateStats {
  state: string
  /** Heap: (key, namespace) entries held. RocksDB: its estimate of the keys in the state's column family. */
  estimatedEntries: number
  /** RocksDB: bytes of the live SST files of the state's column family. */
  liveSstBytes?: number
  /** RocksDB: bytes in the state's memtables. */
  memtableBytes?: number
  /** RocksDB: bytes compaction estimates it still has to rewrite. */
  pendingCompactionBytes?: number
  /**
   * States with TTL: expired entries (values, list elements, map entries) the
   * backend's cleanup dropped since it opened — heap incremental cleanup, the
   * RocksDB compaction filter. Not counted: expired values a read removes, and
   * what full snapshots leave out (the state keeps those).
   */
  ttlCleanedEntries?: number
}

export interface BackendStats {
  kind: BackendKind
  states: StateStats[]
  /** RocksDB only: the whole database. */
  rocksdb?: {
    blockCacheUsageBytes?: number
    /** Writes are stopped (too many sorted runs or pending compaction bytes). */
    writeStopped: boolean
    /** Bytes per second writes are slowed to; 0 when they are not slowed. */
    delayedWriteRateBytesPerSecond: number
    /** Opened with rocksdbStatistics: block reads the block cache answered / did not answer since the DB opened (its own counts, also with a shared cache). */
    blockCacheHits?: number
    blockCacheMisses?: number
    /** Opened with rocksdbStatistics: microseconds writes were stalled or slowed since the DB opened. */
    writeStallMicros?: number
  }
}

export interface KeyedStateBackend<K> {
  readonly kind: BackendKind
  readonly keySerializer: Serializer<K>
  readonly maxParallelism: number
  readonly keyGroupRange: KeyGroupRange
  readonly closed: boolean

  /** Sets the key that every state object reads and writes. Throws KeyGroupRangeError outside keyGroupRange. */
  setCurrentKey(key: K): void
  getCurrentKey(): K
  getCurrentKeyGroup(): number

  /** value() is typed `T` when the descriptor has a default value, else `T | undefined`. */
  getState<T, D extends T | undefined = T | undefined>(descriptor: ValueStateDescriptor<T, D>): ValueState<T, ValueRead<T, D>>
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV>
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>
  /** A state object bound to `namespace` (e.g. a window). */
  getPartitionedState<N, D extends AnyStateDescriptor>(namespace: N, namespaceSerializer: Serializer<N>, descriptor: D): StateOf<D>

  /** Keys that have state `stateName` (in `namespace`, when given). */
  keys<N = undefined>(stateName: string, namespace?: N, namespaceSerializer?: Serializer<N>): IterableIterator<K>
  /** Names of every registered or restored state. */
  stateNames(): string[]
  /** Sizes of the user states (not timers' internal ones), read now. */
  stats(): BackendStats

  /** A named timer service of this operator (see src/timers/types.ts); the same object for every call with the same name. */
  timerService<N = undefined>(name: string, options: TimerServiceOptions<K, N>): TimerService<K, N>

  /** Starts a snapshot: returns after the synchronous part. */
  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun
  notifyCheckpointComplete(checkpointId: number): void
  notifyCheckpointAborted(checkpointId: number): void

  /** Idempotent; waits for in-flight snapshots' synchronous resources to be released. */
  close(): Promise<void>
}
