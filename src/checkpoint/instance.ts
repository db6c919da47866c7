// How the coordinator talks to operator instances. It never touches a backend
// directly: an instance in this process wraps a KeyedStateBackend
// (LocalOperatorInstance); an instance in a child process implements the same
// interface over IPC (trigger → message, AbortSignal → cancel message, ack →
// reply carrying the handle, which is plain JSON).
import { CancelledError, KeyedStateError } from '../errors.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { KeyedStateBackend } from '../state-backend/types.js'
import type { CompressionCodec, KeyedStateHandle, LocalStateHandle, SnapshotHooks, SnapshotOptions, SnapshotRun, SnapshotType } from '../snapshot/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { JsonValue } from './metadata.js'

export interface InstanceSnapshotRequest {
  checkpointId: number
  type: SnapshotType
  /** Savepoints: the storage-relative directory every file must go under. */
  targetDir?: string
  /** See SnapshotOptions.forceFullUpload. */
  forceFullUpload?: boolean
}

/** `O`: the type of the operator state the instance acknowledges with (plain JSON). */
export interface InstanceAck<O extends JsonValue = JsonValue> {
  /** Undefined when the instance held no state. */
  handle: KeyedStateHandle | undefined
  /** The pause the instance's processing felt. */
  syncDurationMs: number
  asyncDurationMs: number
  /** Stays with the instance for local recovery; never written to `_metadata`. */
  localHandle?: LocalStateHandle
  /**
   * Non-keyed state of the instance at the barrier, e.g. the source offset it
   * had read up to. Recorded in `_metadata` next to the handle, so it becomes
   * durable exactly when the keyed state does (plain JSON, at most
   * OPERATOR_STATE_MAX_BYTES encoded).
   */
  operatorState?: O
}

export interface OperatorInstance<O extends JsonValue = JsonValue> {
  /** For messages, e.g. 'instance 1 (pid 4242)'. */
  readonly name: string
  readonly keyGroupRange: KeyGroupRange
  readonly maxParallelism: number
  /**
   * Takes the instance's part of a checkpoint or savepoint. Resolves with the
   * handle when its asynchronous part is done. When `signal` aborts, the
   * instance cancels the snapshot, deletes what it wrote and rejects.
   */
  snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck<O>>
  notifyCheckpointComplete(checkpointId: number): Promise<void>
  notifyCheckpointAborted(checkpointId: number): Promise<void>
}

export interface LocalOperatorInstanceOptions {
  name?: string
  /** Codec of full snapshots; the backend's default when omitted. */
  compression?: CompressionCodec
  /** Test hooks passed to every snapshot this instance takes (SnapshotOptions.hooks). */
  snapshotHooks?: SnapshotHooks
}

/** An operator instance in this process: its backend and the storage its snapshots go to. */
export class LocalOperatorInstance implements OperatorInstance {
  readonly name: string

  constructor(
    readonly backend: KeyedStateBackend<any>,
    private readonly storage: CheckpointStorage,
    private readonly options: LocalOperatorInstanceOptions = {},
  ) {
    this.name = options.name ?? `instance ${backend.keyGroupRange.start}..${backend.keyGroupRange.end}`
  }

  get keyGroupRange(): KeyGroupRange {
    return this.backend.keyGroupRange
  }

  get maxParallelism(): number {
    return this.backend.maxParallelism
  }

  snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck> {
    if (signal.aborted) return Promise.reject(new CancelledError(`checkpoint ${request.checkpointId} was cancelled before ${this.name} started it`))
    const options: SnapshotOptions = { type: request.type, storage: this.storage }
    if (request.targetDir !== undefined) options.targetDir = request.targetDir
    if (request.forceFullUpload) options.forceFullUpload = true
    if (this.options.compression !== undefined) options.compression = this.options.compression
    if (this.options.snapshotHooks !== undefined) options.hooks = this.options.snapshotHooks
    let run: SnapshotRun
    try {
      // The synchronous part runs here, inside the coordinator's trigger: the barrier.
      run = this.backend.snapshot(request.checkpointId, options)
    } catch (e) {
      return Promise.reject(e)
    }
    const asyncStartMs = performance.now()
    const cancel = (): void => run.cancel()
    signal.addEventListener('abort', cancel, { once: true })
    return run.done.then(
      (result) => {
        signal.removeEventListener('abort', cancel)
        const ack: InstanceAck = {
          handle: result.handle,
          syncDurationMs: run.syncDurationMs,
          asyncDurationMs: performance.now() - asyncStartMs,
        }
        if (result.localHandle) ack.localHandle = result.localHandle
        return ack
      },
      (e: unknown) => {
        signal.removeEventListener('abort', cancel)
        throw e instanceof Error ? e : new KeyedStateError('INTERNAL', `${this.name}: snapshot failed with ${String(e)}`)
      },
    )
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (!this.backend.closed) this.backend.notifyCheckpointComplete(checkpointId)
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    if (!this.backend.closed) this.backend.notifyCheckpointAborted(checkpointId)
  }
}
