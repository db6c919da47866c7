// An operator instance in a child process, as the CheckpointCoordinator sees
// it: OperatorInstance over IPC. snapshot() becomes a message, the abort
// signal a cancel message, the acknowledgement a reply carrying the handle
// and the source offsets. When the process dies, everything it was asked
// fails at once, so the coordinator aborts the checkpoint instead of waiting
// for its timeout.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  KeyedStateError,
  type ErrorCode,
  type InstanceAck,
  type InstanceSnapshotRequest,
  type KeyGroupRange,
  type OperatorInstance,
} from '../../src/index.js'
import type { KeyResult } from './operator.js'
import type { ErrorInfo, FromWorker, ToWorker, WorkerConfig } from './protocol.js'

const WORKER_PATH = fileURLToPath(new URL('./worker.js', import.meta.url))
/** Requests in flight per instance; the coordinator needs a handful (snapshots, notifications). */
const MAX_PENDING_REQUESTS = 64
const CLOSE_TIMEOUT_MS = 10_000

export interface InstanceProgress {
  /** The next source offset the instance reads. */
  nextOffset: number
  /** Events applied to keyed state since it started. */
  applied: number
  finished: boolean
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (e: KeyedStateError) => void
}

function toError(name: string, error: ErrorInfo): KeyedStateError {
  return new KeyedStateError(error.code as ErrorCode, `${name}: ${error.message}`)
}

export class ChildProcessInstance implements OperatorInstance {
  readonly progress: InstanceProgress = { nextOffset: 0, applied: 0, finished: false }
  /** Settles when the process is gone, with how it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** How long opening (and restoring) the backend took inside the process. */
  restoreMs = 0
  startOffset = 0

  private nextRequestId = 1
  private readonly pending = new Map<number, Pending>()
  private gone: KeyedStateError | undefined
  private onReady: (() => void) | undefined
  private onProgressListener: ((p: InstanceProgress) => void) | undefined

  private constructor(
    readonly config: WorkerConfig,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.gone ??= new KeyedStateError('ABORTED', `${this.name} exited (${signal ?? `code ${code}`})`)
        for (const p of this.pending.values()) p.reject(this.gone)
        this.pending.clear()
        resolve({ code, signal })
      })
    })
    child.on('message', (m: FromWorker) => this.receive(m))
    // Sends to a process that just died fail asynchronously; the exit handler reports it.
    child.on('error', () => {})
  }

  /** Forks the worker and waits until its backend is open (restored, when the config says so). */
  static async start(config: WorkerConfig, onProgress?: (p: InstanceProgress) => void): Promise<ChildProcessInstance> {
    const child = fork(WORKER_PATH, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const instance = new ChildProcessInstance(config, child)
    if (onProgress) instance.onProgressListener = onProgress
    const ready = new Promise<void>((resolve) => {
      instance.onReady = resolve
    })
    instance.send({ type: 'open', config })
    const outcome = await Promise.race([ready.then(() => 'ready' as const), instance.exited.then(() => 'exited' as const)])
    if (outcome === 'exited') throw instance.gone!
    return instance
  }

  get name(): string {
    return this.config.name
  }

  get keyGroupRange(): KeyGroupRange {
    return this.config.keyGroupRange
  }

  get maxParallelism(): number {
    return this.config.maxParallelism
  }

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return this.gone === undefined
  }

  /** Why the process is gone (its own error when it reported one), once it is. */
  get failure(): KeyedStateError | undefined {
    return this.gone
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

  /** End of input: the instance closes every window and reports its state for every key. */
  async drain(): Promise<[string, KeyResult][]> {
    return this.request<[string, KeyResult][]>((id) => ({ type: 'drain', requestId: id })).promise
  }

  /** Kills the process the hard way: no cleanup, no goodbye (a machine or process failure). */
  kill(): void {
    this.child.kill('SIGKILL')
  }

  /** Asks the instance to close its backend and exit; kills it if it does not within CLOSE_TIMEOUT_MS. */
  async close(): Promise<void> {
    if (!this.alive) return
    this.send({ type: 'close' })
    const timer = setTimeout(() => this.kill(), CLOSE_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  private request<T>(build: (requestId: number) => ToWorker): { requestId: number; promise: Promise<T> } {
    const requestId = this.nextRequestId++
    if (this.gone) return { requestId, promise: Promise.reject(this.gone) }
    if (this.pending.size >= MAX_PENDING_REQUESTS) {
      return { requestId, promise: Promise.reject(new KeyedStateError('BUSY', `${this.name}: ${MAX_PENDING_REQUESTS} requests in flight`)) }
    }
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, { resolve: resolve as (v: unknown) => void, reject })
    })
    this.send(build(requestId))
    return { requestId, promise }
  }

  private send(message: ToWorker): void {
    if (this.gone || !this.child.connected) return
    this.child.send(message)
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        this.restoreMs = m.restoreMs
        this.startOffset = m.startOffset
        this.progress.nextOffset = m.startOffset
        this.onReady?.()
        return
      case 'progress':
        this.progress.nextOffset = m.nextOffset
        this.progress.applied = m.applied
        this.onProgressListener?.(this.progress)
        return
      case 'finished':
        this.progress.finished = true
        this.progress.applied = m.applied
        this.onProgressListener?.(this.progress)
        return
      case 'reply': {
        const p = this.pending.get(m.requestId)
        if (!p) return
        this.pending.delete(m.requestId)
        if (m.ok) p.resolve(m.value)
        else p.reject(toError(this.name, m.error))
        return
      }
      case 'failed':
        this.gone = toError(this.name, m.error)
        return
    }
  }
}
