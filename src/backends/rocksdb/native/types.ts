// The contract of the C++ addon (native/). Mechanism only: every policy lives
// in TypeScript. All keys and values are bytes. Errors thrown by the addon are
// Error objects with `code` set to one of NativeErrorCode and a message that
// includes the RocksDB status text; the loader (binding.ts) turns them into
// NativeError (src/errors.ts).

export type NativeErrorCode =
  | 'NOT_FOUND'
  | 'CORRUPTION'
  | 'NOT_SUPPORTED'
  | 'INVALID_ARGUMENT'
  | 'IO_ERROR'
  | 'BUSY'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'INCOMPLETE'
  | 'SHUTDOWN_IN_PROGRESS'
  | 'TRY_AGAIN'
  | 'DISK_FULL'
  | 'CLOSED'
  | 'INTERNAL'

export interface NativeOpenOptions {
  /** Default true; parent directories are created too. false and no DB there: NOT_FOUND. */
  createIfMissing?: boolean
  /** Column families to open (besides 'default'); existing ones on disk are always opened too. */
  columnFamilies?: string[]
  /** Block cache size of this DB alone; default 64 MiB. Not with memoryBudgetBytes. */
  blockCacheBytes?: number
  /**
   * Share the process's memory budget instead (native/memory_budget.h): one block cache of this
   * size for every DB opened with it, memtables charged to it. At least 1 MiB. A different budget
   * while DBs still use one is INVALID_ARGUMENT, unless memoryBudgetIsDefault (then it is joined).
   */
  memoryBudgetBytes?: number
  memoryBudgetIsDefault?: boolean
  /** Keep statistics tickers (tickers()); default false: about 6% of the CPU time of a state read. */
  statistics?: boolean
  /** Read SST files through a memory map (RocksDB allow_mmap_reads); default true (KeyedStateBackendOptions.rocksdbMmapReads). */
  mmapReads?: boolean
  /** Memtable size per column family; default 64 MiB, at least 64 KiB. */
  writeBufferBytes?: number
  /**
   * Disable the WAL; default true. A crashed working DB is discarded either way (restore from a checkpoint); with the
   * WAL on (buffered: manual_wal_flush), checkpointAsync takes the WAL instead of flushing the memtables at the barrier.
   */
  disableWal?: boolean
  /** Snappy/LZ4 etc.: 'none' | 'snappy' | 'lz4' | 'zstd'; default 'lz4' when available else 'snappy' else 'none'. */
  compression?: string
  /**
   * RocksDB compaction style; default 'level'. 'universal' rewrites far fewer
   * SST files per flush, so incremental checkpoints upload far less.
   */
  compactionStyle?: 'level' | 'universal'
  /** No background compactions (a checkpoint opened only to read it); default false. */
  disableAutoCompactions?: boolean
  // Compaction tuning, RocksDB's option names; each absent one keeps RocksDB's default.
  // Out-of-range values and write triggers below the compaction trigger: INVALID_ARGUMENT.
  /** level0_file_num_compaction_trigger: sorted runs (universal) or L0 files (level) that start a compaction; 1..65536 (RocksDB: 4). */
  level0FileNumCompactionTrigger?: number
  /** level0_slowdown_writes_trigger; not below the compaction trigger (RocksDB: 20, raised to the trigger). */
  level0SlowdownWritesTrigger?: number
  /** level0_stop_writes_trigger; not below the slowdown trigger (RocksDB: 36). */
  level0StopWritesTrigger?: number
  /** target_file_size_base: size of compaction output files; at least 64 KiB (RocksDB: 64 MiB). */
  targetFileSizeBytes?: number
  /** compaction_options_universal.size_ratio, percent; 0..100000 (RocksDB: 1). */
  universalSizeRatio?: number
  /** compaction_options_universal.min_merge_width; 2..65536 (RocksDB: 2). */
  universalMinMergeWidth?: number
  /** compaction_options_universal.max_merge_width; 2..65536 (RocksDB: unlimited). */
  universalMaxMergeWidth?: number
  /** compaction_options_universal.max_size_amplification_percent; 1..1000000 (RocksDB: 200). */
  universalMaxSizeAmplificationPercent?: number
  /** compaction_options_universal.stop_style (RocksDB: 'total-size'). */
  universalStopStyle?: 'total-size' | 'similar-size'
}

/** A packed chunk: repeated (u32le keyLength | key | u32le valueLength | value). */
export type PackedChunk = Buffer

export interface NativeIteratorOptions {
  /** Inclusive lower bound. */
  gte?: Uint8Array
  /** Exclusive upper bound. */
  lt?: Uint8Array
  snapshot?: NativeSnapshot
  /** Only keys, value lengths 0 in chunks. */
  keysOnly?: boolean
}

export interface NativeIterator {
  /** Positions at the first key >= target (within bounds). */
  seek(target: Uint8Array): void
  /**
   * Next entries packed into one buffer, at most `maxEntries` entries and about
   * `maxBytes` bytes (at least one entry); null once exhausted. With `until`,
   * the chunk ends before the first key >= until (null when that is the next
   * key) and the iterator stays on that key, so a later call with a higher
   * `until` (or none) goes on from it.
   */
  nextChunk(maxEntries: number, maxBytes: number, until?: Uint8Array): PackedChunk | null
  /**
   * nextChunk read on the libuv thread pool, so the caller can work on one
   * chunk while the next is read. While it is in flight every other call on
   * this iterator (seek, nextChunk, nextChunkAsync, close) throws BUSY: await
   * it first. A DB close meanwhile waits for the chunk being read; the promise
   * then resolves or rejects with CLOSED. Errors reject with the codes of nextChunk.
   */
  nextChunkAsync(maxEntries: number, maxBytes: number, until?: Uint8Array): Promise<PackedChunk | null>
  /** Idempotent; a no-op once the DB closed (which closed the iterator). */
  close(): void
}

export interface NativeSnapshot {
  /** Releases the RocksDB snapshot; idempotent, and a no-op once the DB closed. */
  release(): void
}

export interface NativeBatch {
  put(cf: number, key: Uint8Array, value: Uint8Array): void
  merge(cf: number, key: Uint8Array, value: Uint8Array): void
  delete(cf: number, key: Uint8Array): void
  deleteRange(cf: number, start: Uint8Array, end: Uint8Array): void
  clear(): void
  readonly count: number
}

export interface NativeLiveFile {
  /** File name relative to the DB directory, e.g. '000012.sst'. */
  name: string
  columnFamily: string
  sizeBytes: number
  level: number
  smallestKey: Buffer
  largestKey: Buffer
}

export interface NativeDb {
  /** Column family handle id for `name`, or -1 when it does not exist. 'default' is 0. */
  columnFamily(name: string): number
  listColumnFamilies(): string[]
  createColumnFamily(name: string): number
  /**
   * Creates every family of `names` in one RocksDB call and returns their ids in
   * the same order. RocksDB rewrites (and re-reads) its OPTIONS file, which has a
   * section per family, once per call: creating n families one at a time costs
   * O(n^2). INVALID_ARGUMENT, before anything is created, for an empty,
   * repeated or existing name.
   */
  createColumnFamilies(names: readonly string[]): number[]
  dropColumnFamily(name: string): void

  /** The value copied into a new Buffer, or undefined. */
  get(cf: number, key: Uint8Array, snapshot?: NativeSnapshot): Buffer | undefined
  /**
   * Copies the value into `scratch` and returns its length, -1 when not found.
   * When the value is larger than scratch, returns -(length + 2) and copies nothing.
   */
  getInto(cf: number, key: Uint8Array, scratch: Uint8Array): number
  put(cf: number, key: Uint8Array, value: Uint8Array): void
  merge(cf: number, key: Uint8Array, value: Uint8Array): void
  delete(cf: number, key: Uint8Array): void
  /** Deletes [start, end); start > end is INVALID_ARGUMENT (checked before RocksDB sees it). */
  deleteRange(cf: number, start: Uint8Array, end: Uint8Array): void
  batch(): NativeBatch
  /** Applies the batch atomically. INVALID_ARGUMENT when it was made by another DB or writes to a dropped column family. */
  write(batch: NativeBatch): void

  snapshot(): NativeSnapshot
  iterator(cf: number, options?: NativeIteratorOptions): NativeIterator

  flush(): void
  compactRange(cf: number, start?: Uint8Array, end?: Uint8Array): void
  getProperty(cf: number, name: string): string | undefined
  /** RocksDB statistics tickers of this DB, counted since it opened; undefined when opened without `statistics`. */
  tickers(): NativeTickers | undefined
  /** Native checkpoint (hard links) into `dir`, which must not exist. Flushes memtables first. */
  checkpoint(dir: string): void
  /**
   * Native checkpoint into `dir` (which must not exist) of the state at this
   * call, without waiting for a memtable flush when the WAL is on: the call
   * captures the live files and the WAL's size, and switches the memtables;
   * the promise resolves once the thread pool has linked and copied the files
   * into `dir` and fsynced it: with 'flushed' when the barrier's memtables
   * were flushed into SSTs in time (no WAL in `dir`), 'wal' when `dir` holds
   * the WAL cut at the call instead. With the WAL off the call flushes the
   * memtables first, as checkpoint() does ('wal', with empty WAL files).
   * close() waits for a directory being written.
   */
  checkpointAsync(dir: string): Promise<'flushed' | 'wal'>
  /**
   * Where the last checkpointAsync call that started a checkpoint spent its time, per phase: wall and
   * thread-CPU milliseconds (CPU below wall: the thread waited for a CPU or was
   * blocked). null before the first call. For bench/tools/checkpoint-pause.ts.
   */
  lastBarrierTimings(): NativeBarrierTimings | null
  liveFiles(): NativeLiveFile[]
  /** Ingests external SST files into `cf`. move=true hard-links/moves instead of copying. */
  ingest(cf: number, files: string[], options?: { move?: boolean }): void
  /**
   * Ingests into several column families with one RocksDB call (one MANIFEST
   * write for all, not one per family). Groups without files are skipped; two
   * groups of one family are INVALID_ARGUMENT.
   */
  ingestAll(groups: ReadonlyArray<{ cf: number; files: string[] }>, options?: { move?: boolean }): void

  /**
   * Closes iterators and snapshots still open, flushes the memtables, then
   * closes the DB. Idempotent. Afterwards every method of the DB and of its
   * iterators, snapshots and batches throws CLOSED (close/release excepted).
   */
  close(): void
  readonly closed: boolean
}

export interface NativeSstWriter {
  /** Keys must be added in strictly ascending order. */
  put(key: Uint8Array, value: Uint8Array): void
  /** Adds every entry of a packed chunk (keys ascending). */
  putChunk(chunk: Uint8Array): void
  /** Finishes the file; returns its size, 0 when no entry was added (then no file exists). */
  finish(): number
  /**
   * Adds the entries of the packed chunks on the thread pool, holding the
   * chunks (not copied: they must not change until the promise settles); with
   * key-group bounds, an entry whose key's u16be key group is outside them is
   * refused (INVALID_ARGUMENT naming its offset). Every other call on this
   * writer is refused (BUSY) until the promise settles.
   */
  putChunksAsync(chunks: readonly Uint8Array[], minKeyGroup?: number, maxKeyGroup?: number): Promise<void>
  /** finish() on the thread pool. */
  finishAsync(): Promise<number>
  /** Drops an unfinished file's writer (the caller removes the file); idempotent. */
  abort(): void
  readonly entries: number
}

/**
 * TTL compaction filter settings of one column family: stored values start
 * with an i64be last-access timestamp (ms); 'list' values hold such elements
 * framed as (u32be length | element). Entries whose timestamp + ttlMs <= nowMs
 * are dropped during compactions (list values are rewritten without expired
 * elements). Without nowMs nothing is dropped.
 */
export interface NativeTtlConfig {
  kind: 'value' | 'list' | 'map'
  ttlMs: number
  /** The state's current time; send it again as it advances (a stale time only keeps more). */
  nowMs?: number
}

export interface NativeTickers {
  /** Block reads answered by the block cache (BLOCK_CACHE_HIT). */
  blockCacheHits: number
  /** Block reads the cache did not hold (BLOCK_CACHE_MISS). */
  blockCacheMisses: number
  /** Microseconds writes were stalled or slowed (STALL_MICROS). */
  stallMicros: number
}

export interface NativeBinding {
  open(path: string, options?: NativeOpenOptions): NativeDb
  /** Sets (or with null removes) the TTL compaction filter of column family `cf`. */
  setColumnFamilyTtl(db: NativeDb, cf: number, config: NativeTtlConfig | null): void
  /** Entries (values, map entries, list elements) the TTL compaction filter dropped from column family `cf` since the DB opened. */
  ttlCleanedEntries(db: NativeDb, cf: number): number
  /** A writer of one SST file; `compression` of its blocks defaults to the DB's default (LZ4 when the library has it). */
  sstWriter(path: string, options?: { compression?: 'none' | 'snappy' | 'lz4' | 'zstd' | undefined }): NativeSstWriter
  /** The length `sample` (at most 1 MiB) compresses to with snappy: how compressible the data is. */
  snappyCompressedLength(sample: Uint8Array): number
  /**
   * Decompresses a raw snappy block that must announce `rawLength` bytes
   * (CORRUPTION otherwise, or when it does not decompress) into a new Buffer.
   */
  snappyUncompress(stored: Uint8Array, rawLength: number): Buffer
  /** snappyUncompress on the thread pool; `stored` must not change until it settles. */
  snappyUncompressAsync(stored: Uint8Array, rawLength: number): Promise<Buffer>
  /** CRC-32 (zlib's polynomial) of `bytes` continuing from `initial` (0), on the calling thread. */
  crc32(bytes: Uint8Array, initial?: number): number
  /** Which CRC-32 code the addon was built with: 'libdeflate' (carry-less multiply) or 'zlib'. */
  readonly crc32Implementation: 'libdeflate' | 'zlib'
  /** crc32 of `bytes` on the thread pool; `bytes` must not change until it settles. */
  crc32Async(bytes: Uint8Array): Promise<number>
  /** Removes a DB directory (RocksDB DestroyDB). */
  destroy(path: string): void
  /** RocksDB version string. */
  readonly rocksdbVersion: string
}

/** The bench-only addon (binding.gyp keyed_state_bench, built by `npm run bench`): the same binding plus a raw C++ loop. */
export interface NativeBenchBinding extends NativeBinding {
  /** Raw C++ loop for benchmarks: n put+get ops on `cf`, returns elapsed nanoseconds. */
  benchRawLoop(db: NativeDb, cf: number, n: number, valueBytes: number): number
  /**
   * Raw C++ loop over the caller's keys: n ops (0 put, 1 get, 2 merge of `value`) on the keys packed in
   * `keys` (key i ends at keyEnds[i]), visited in `order` (cycled); returns elapsed nanoseconds.
   */
  benchRawOps(db: NativeDb, cf: number, op: 0 | 1 | 2, keys: Uint8Array, keyEnds: Uint32Array, order: Uint32Array, value: Uint8Array, n: number): number
}

export interface NativeBarrierPhase {
  wallMs: number
  cpuMs: number
}

/** db.lastBarrierTimings(): the WAL buffer write, the live-file capture, the memtable switch, the rest (arguments, the thread-pool work). */
export interface NativeBarrierTimings {
  walFlush: NativeBarrierPhase
  capture: NativeBarrierPhase
  memtableSwitch: NativeBarrierPhase
  other: NativeBarrierPhase
  wallMs: number
  cpuMs: number
}
