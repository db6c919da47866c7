// Messages between the job (parent) and an operator instance's process.
// Handles and offsets are plain data, so a checkpoint acknowledgement crosses
// the process boundary as it is.
import type { BackendKind, InstanceAck, InstanceSnapshotRequest, KeyedStateHandle, KeyGroupRange } from '../../src/index.js'
import type { StreamConfig } from './events.js'
import type { KeyResult } from './operator.js'
import type { OffsetRun } from './source-position.js'

export interface WorkerConfig {
  name: string
  backend: BackendKind
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  /** Checkpoint storage root. */
  /** Checkpoint storage location: a directory or s3://bucket/prefix (S3 settings come from the environment). */
  storageLocation: string
  /** RocksDB working directory (unused by the heap backend). */
  workDir: string
  /** Absent on a fresh start; a restore's handles and known-empty ranges must cover keyGroupRange. */
  restoreFrom?: KeyedStateHandle[]
  knownEmptyRanges?: KeyGroupRange[]
  resumeFrom: OffsetRun[]
  stream: StreamConfig
}

export type ToWorker =
  | { type: 'open'; config: WorkerConfig }
  | { type: 'snapshot'; requestId: number; request: InstanceSnapshotRequest }
  | { type: 'cancel'; requestId: number }
  | { type: 'notify'; requestId: number; checkpointId: number; outcome: 'complete' | 'aborted' }
  /** End of input: fire every window, then report every key's state. */
  | { type: 'drain'; requestId: number }
  | { type: 'close' }

export interface ErrorInfo {
  code: string
  message: string
}

export type FromWorker =
  | { type: 'ready'; restoreMs: number; startOffset: number }
  | { type: 'progress'; nextOffset: number; applied: number }
  | { type: 'finished'; applied: number }
  | { type: 'reply'; requestId: number; ok: true; value: InstanceAck | [string, KeyResult][] | null }
  | { type: 'reply'; requestId: number; ok: false; error: ErrorInfo }
  /** The instance failed and exits. */
  | { type: 'failed'; error: ErrorInfo }
