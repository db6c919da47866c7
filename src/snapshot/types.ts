// The snapshot API shared by every backend and strategy. Handles are plain
// JSON so a coordinator can store them in `_metadata` and hand them to any
// process for restore.
import type { KeyGroupRange } from '../keygroups.js'
import type { StateMetaInfo } from '../state/meta.js'
import type { CheckpointStorage } from '../storage/types.js'

export type SnapshotType = 'checkpoint' | 'savepoint'
export type CompressionCodec = 'none' | 'snappy'

export interface SnapshotOptions {
  type: SnapshotType
  storage: CheckpointStorage
  /** Full snapshot codec; default 'snappy'. */
  compression?: CompressionCodec
  /** Savepoints are always written self-contained under this storage-relative directory when given. */
  targetDir?: string
  /**
   * Incremental checkpoints: upload every SST again and reuse no previously
   * uploaded shared file. The coordinator sets it after a 'no-claim' restore,
   * until the first checkpoint of the new job completes, so that the new job
   * never depends on files owned by the snapshot it was restored from.
   * Full snapshots ignore it (they never share files).
   */
  forceFullUpload?: boolean
  /** Named points in the asynchronous part, for tests (see SnapshotHooks). */
  hooks?: SnapshotHooks
}

/**
 * Named points in a snapshot's asynchronous part where tests pause, cancel or
 * fail a run (the sync points of RocksDB's test builds), passed per snapshot
 * in SnapshotOptions. A hook may be async; a hook that throws fails the run.
 * Full snapshots: afterSyncPart, afterKeyGroup, beforeCommit. Incremental
 * checkpoints: afterSyncPart, afterUpload, beforeMetaFile.
 */
export type SnapshotHookName = 'afterSyncPart' | 'afterKeyGroup' | 'beforeCommit' | 'afterUpload' | 'beforeMetaFile'

export interface SnapshotHookInfo {
  run: SnapshotRun
  checkpointId: number
  /** afterKeyGroup: the key group just written. */
  keyGroup?: number
  /** Full: the storage path of the file being written (once created). afterUpload: where the file went. */
  path?: string
  /** afterUpload: the RocksDB file name. */
  name?: string
}

export type SnapshotHooks = { [K in SnapshotHookName]?: (info: SnapshotHookInfo) => void | Promise<void> }

/** Named points in a restore, for tests; passed in the backend option `restoreHooks`. */
export interface RestoreHooks {
  /**
   * RocksDB incremental restore: the files of a handle are placed in `dir` (from `local`, a local
   * recovery copy, or from storage when undefined) and RocksDB has not opened them yet.
   */
  afterPlaced?: (dir: string, local: LocalStateHandle | undefined) => void | Promise<void>
  /**
   * RocksDB restore of full handles: the fewest stored bytes a read lane gets
   * (default READ_LANE_MIN_BYTES, 16 MiB), so tests read small handles in
   * several lanes at once.
   */
  readLaneMinBytes?: number
}

/** A file in checkpoint storage, by path relative to the storage root. */
export interface StoredFile {
  path: string
  sizeBytes: number
  /** crc32c-free: CRC-32 (zlib polynomial) of the whole file, as unsigned decimal. */
  crc32: number
}

export interface FullSnapshotHandle {
  type: 'full'
  formatVersion: number
  checkpointId: number
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  file: StoredFile
  /** Byte offset of each key group's block in `file`, index i = keyGroupRange.start + i; -1 when the key group is empty. */
  keyGroupOffsets: number[]
}

export interface IncrementalSnapshotHandle {
  type: 'incremental'
  formatVersion: number
  backendId: string
  checkpointId: number
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  /** SST files, shareable between checkpoints: file name in the RocksDB directory -> stored file. */
  sharedFiles: Record<string, StoredFile>
  /** MANIFEST, CURRENT, OPTIONS, ...: uploaded with every checkpoint. */
  privateFiles: Record<string, StoredFile>
  /** JSON with the state meta-info and the column family of each state. */
  metaFile: StoredFile
}

export type KeyedStateHandle = FullSnapshotHandle | IncrementalSnapshotHandle

/** A handle to a local copy kept for local recovery (absolute paths on this machine). */
export interface LocalStateHandle {
  type: 'local-full' | 'local-incremental'
  checkpointId: number
  directory: string
  handle: KeyedStateHandle
}

/** A local recovery file that a restore did not use (checkpoint storage was read instead): which one, and why. */
export interface LocalRecoveryFallback {
  checkpointId: number
  /** Absolute path of the bad local file (or of the local copy's directory when RocksDB refused the copy as a whole). */
  file: string
  /** Why it was not used, for humans. */
  reason: string
  error?: unknown
}

export interface SnapshotResult {
  /** Undefined when the backend held no state: nothing was written. */
  handle: KeyedStateHandle | undefined
  localHandle?: LocalStateHandle
}

export interface SnapshotRun {
  readonly checkpointId: number
  /** Duration of the synchronous part: the pause the job feels. */
  readonly syncDurationMs: number
  readonly done: Promise<SnapshotResult>
  /** Cancels the async part: `done` rejects with CancelledError and every file it wrote is deleted. */
  cancel(): void
}

/**
 * What a backend exposes to the full-snapshot writer, captured in the
 * synchronous part: the meta-info and a consistent read view of the data.
 */
export interface FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  readonly keyGroupRange: KeyGroupRange
  /**
   * Entries of state `stateIndex` in `keyGroup`, as chunks packed as repeated
   * (u32le keyLength | key | u32le valueLength | value), keys being full
   * composite keys (see encoding.ts) in ascending byte order.
   */
  keyGroupChunks(stateIndex: number, keyGroup: number): Iterable<Uint8Array>
  /**
   * Optional: every entry of state `stateIndex` in the whole key-group range,
   * packed as above, in ascending key order (so key group after key group;
   * chunks may span key groups). One pass, read at most once per snapshot.
   * Writers prefer it to one keyGroupChunks read per key group.
   */
  stateChunks?(stateIndex: number): Iterable<Uint8Array>
  /**
   * Optional: stateChunks read off the event loop (the RocksDB backend reads
   * the next chunk on the thread pool while the writer works on this one).
   * Writers prefer it to stateChunks. Reading may start as soon as the
   * iterator is made. Ending it early with `return()` waits for the reads in flight.
   */
  stateChunksAsync?(stateIndex: number): AsyncIterable<Uint8Array>
  /** Whether any state holds any entry (an empty backend writes no file). */
  isEmpty(): boolean
  release(): void
}

/** What a backend accepts from a full-snapshot reader during restore. */
export interface RestoreSink {
  /** Registers the restored states (called once, before any entries). */
  restoreMetaInfos(metaInfos: readonly StateMetaInfo[]): void
  /**
   * Entries of one state in one key group, packed as in FullSnapshotResources.
   * `lane` (0 when the reader reads one stream) names the reader's stream: a
   * reader with several streams (FullRestoreOptions.readLanes) delivers the
   * key groups of one lane in ascending order, the lanes interleaved. A
   * promise asks the reader to wait before the next chunk (the sink is behind).
   */
  restoreChunk(stateName: string, keyGroup: number, chunk: Uint8Array, lane?: number): void | Promise<void>
  /** Called after the last chunk of a handle. */
  flushRestore?(): Promise<void> | void
}
