// The coordinator's view of a worker, whatever carries its messages: the
// WorkerHandle contract the job relies on, and MessageWorker, its common part
// (requests paired with replies by id, snapshot/cancel, notifications,
// heartbeats) under ChildProcessWorker (IPC) and RemoteWorker (NATS).
import { KeyedStateError, type ErrorCode } from '../errors.js'
import type { InstanceAck, InstanceSnapshotRequest, OperatorInstance } from '../checkpoint/instance.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { ErrorInfo, FromWorker, ToWorker, WorkerConfig, WorkerProgress } from './protocol.js'

/** Requests in flight per worker; the coordinator needs a handful (snapshots, notifications). */
const MAX_PENDING_REQUESTS = 64

/** What the job needs of a worker, wherever it runs. */
export interface WorkerHandle extends OperatorInstance {
  readonly progress: WorkerProgress
  /** Settles when the worker is gone, with why (undefined after a requested close). */
  readonly exited: Promise<KeyedStateError | undefined>
  readonly alive: boolean
  /** The worker reported a failure of its own (it threw) before it went away. */
  readonly reportedFailure: boolean
  /** When the worker was last heard from (performance.now()). */
  readonly lastHeardMs: number
  /** Resolves once a poll that started after the call found nothing new. */
  caughtUp(): Promise<void>
  /** Ends the worker the hard way (it stopped answering, or a test kills it). */
  kill(): void
  /** Asks the worker to close its backend and exit; kills it if it does not in time. */
  close(): Promise<void>
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (e: KeyedStateError) => void
}

export function errorFromWorker(name: string, error: ErrorInfo): KeyedStateError {
  return new KeyedStateError(error.code as ErrorCode, `${name}: ${error.message}`)
}

export abstract class MessageWorker implements WorkerHandle {
  readonly progress: WorkerProgress = { processed: 0, finished: false }
  lastHeardMs = performance.now()
  reportedFailure = false
  /** Why the worker is gone, once it is. */
  protected gone: KeyedStateError | undefined
  private nextRequestId = 1
  private readonly pending = new Map<number, Pending>()

  abstract readonly exited: Promise<KeyedStateError | undefined>
  abstract readonly alive: boolean
  abstract readonly name: string
  abstract kill(): void
  abstract close(): Promise<void>
  /** Delivers a message to the worker; drops it when the worker is gone. */
  protected abstract send(message: ToWorker): void

  constructor(
    readonly config: WorkerConfig,
    protected readonly onChange: () => void,
  ) {}

  get keyGroupRange(): KeyGroupRange {
    return this.config.keyGroupRange
  }

  get maxParallelism(): number {
    return this.config.maxParallelism
  }

  snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck> {
    if (signal.aborted) return Promise.reject(new KeyedStateError('CANCELLED', `${this.name}: checkpoint ${request.checkpointId} was cancelled before it started`))
    const { requestId, promise } = this.request<InstanceAck>((id) => ({ type: 'snapshot', requestId: id, request }))
    const cancel = (): void => this.send({ type: 'cancel', requestId })
    signal.addEventListener('abort', cancel, { once: true })
    return promise.finally(() => signal.removeEventListener('abort', cancel))
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    await this.request((id) => ({ type: 'notify', requestId: id, checkpointId, outcome: 'complete' })).promise
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    await this.request((id) => ({ type: 'notify', requestId: id, checkpointId, outcome: 'aborted' })).promise
  }

  async caughtUp(): Promise<void> {
    await this.request((id) => ({ type: 'caught-up', requestId: id })).promise
  }

  private request<T>(build: (requestId: number) => ToWorker): { requestId: number; promise: Promise<T> } {
    const requestId = this.nextRequestId++
    if (!this.alive) return { requestId, promise: Promise.reject(this.gone ?? new KeyedStateError('CLOSED', `${this.name} is closed`)) }
    if (this.pending.size >= MAX_PENDING_REQUESTS) {
      return { requestId, promise: Promise.reject(new KeyedStateError('BUSY', `${this.name}: ${MAX_PENDING_REQUESTS} requests in flight`)) }
    }
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, { resolve: resolve as (v: unknown) => void, reject })
    })
    this.send(build(requestId))
    return { requestId, promise }
  }

  /** Everything asked and not answered fails with `reason` (the worker is gone). */
  protected failPending(reason: KeyedStateError): void {
    for (const p of this.pending.values()) p.reject(reason)
    this.pending.clear()
  }

  /** Handles the messages every transport shares (heartbeats, replies); false for the others. */
  protected receiveCommon(m: FromWorker): boolean {
    this.lastHeardMs = performance.now()
    // Also handled by the transport (how the worker ends differs).
    if (m.type === 'failed') this.reportedFailure = true
    if (m.type === 'heartbeat') {
      const finishedNow = m.progress.finished && !this.progress.finished
      Object.assign(this.progress, m.progress)
      if (finishedNow) this.onChange()
      return true
    }
    if (m.type === 'reply') {
      const p = this.pending.get(m.requestId)
      if (p) {
        this.pending.delete(m.requestId)
        if (m.ok) p.resolve(m.value)
        else p.reject(errorFromWorker(this.name, m.error))
      }
      return true
    }
    return false
  }
}
