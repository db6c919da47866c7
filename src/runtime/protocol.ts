// Messages between a job's coordinator and its workers. Everything is plain
// data (handles, positions, errors as code + message), so the same messages
// travel over IPC to a child process or over NATS to a worker on another host.
import type { BackendKind, BackendStats } from '../state-backend/types.js'
import type { InstanceAck, InstanceSnapshotRequest } from '../checkpoint/instance.js'
import type { JsonValue } from '../checkpoint/metadata.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { KeyedStateHandle } from '../snapshot/types.js'
import type { SourcePosition } from './source.js'

/** How a worker opens the checkpoint storage. */
export type StorageSpec =
  | { kind: 'fs'; root: string }
  /** An object-store location (s3://bucket/prefix); credentials and endpoint from the worker's environment (AWS SDK chain). */
  | { kind: 'location'; location: string }
  /** Only the job definition's storage() knows. */
  | { kind: 'job' }

export interface WorkerConfig {
  /** For messages, e.g. 'worker 2/3 (attempt 1)'. */
  name: string
  /** URL of the module whose default export is the job definition. */
  jobModule: string
  params: JsonValue
  workerIndex: number
  parallelism: number
  backend: BackendKind
  /** RocksDB statistics tickers for the metrics (RunJobOptions.rocksdbStatistics). */
  rocksdbStatistics?: boolean
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  storage: StorageSpec
  /** RocksDB working directory; the worker picks a temporary one when absent. */
  workDir?: string
  /** Absent on a fresh start (a restore's handles and known-empty ranges must cover keyGroupRange). */
  restoreFrom?: KeyedStateHandle[]
  knownEmptyRanges?: KeyGroupRange[]
  /** [key group, position or null for the start of the partition], one per key group of the range. */
  positions: [number, SourcePosition | null][]
  heartbeatIntervalMs: number
  /**
   * The job's heartbeat timeout, which holds both ways: a remote worker that
   * hears nothing from its coordinator (pings every heartbeatIntervalMs) for
   * this long takes it for dead and ends its assignment. Absent from older
   * coordinators (10 s then).
   */
  heartbeatTimeoutMs?: number
}

export type ToWorker =
  | { type: 'open'; config: WorkerConfig }
  | { type: 'snapshot'; requestId: number; request: InstanceSnapshotRequest }
  | { type: 'cancel'; requestId: number }
  | { type: 'notify'; requestId: number; checkpointId: number; outcome: 'complete' | 'aborted' }
  /** Replies once a poll that started after this request found nothing to read (or the source finished). */
  | { type: 'caught-up'; requestId: number }
  | { type: 'close' }
  /** The coordinator is alive (to remote workers, which end an assignment whose coordinator went silent). */
  | { type: 'ping' }

export interface ErrorInfo {
  code: string
  message: string
}

export interface WorkerProgress {
  /** Events processed since the worker started. */
  processed: number
  /** A bounded source ended for this worker and its final watermark fired. */
  finished: boolean
  /** Records its source reader has still to read, as last measured (sources that can tell: SourceReader.lag). */
  lagRecords?: number
  /** Its backend's stats at the heartbeat, for the job's metrics (not in every heartbeat when reading them takes long: worker.ts). */
  stats?: BackendStats
}

export type FromWorker =
  | { type: 'ready'; restoreMs: number }
  | { type: 'heartbeat'; progress: WorkerProgress }
  | { type: 'reply'; requestId: number; ok: true; value: InstanceAck | null }
  | { type: 'reply'; requestId: number; ok: false; error: ErrorInfo }
  /** The worker failed and exits (a remote worker: ends its assignment). */
  | { type: 'failed'; error: ErrorInfo }
  /** A remote worker closed its assignment on request (a child process exits instead). */
  | { type: 'closed' }
