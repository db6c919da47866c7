// A worker in a child process, as the job and its CheckpointCoordinator see
// it: an OperatorInstance over IPC. snapshot() becomes a message, the abort
// signal a cancel message, the acknowledgement a reply carrying the handle
// and the source positions. When the process dies, everything it was asked
// fails at once, so the coordinator aborts the checkpoint instead of waiting
// for its timeout, and the job learns of it through `exited`.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { KeyedStateError, type ErrorCode } from '../errors.js'
import type { InstanceAck, InstanceSnapshotRequest, OperatorInstance } from '../checkpoint/instance.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { ErrorInfo, FromWorker, ToWorker, WorkerConfig, WorkerProgress } from './protocol.js'

const WORKER_PATH = fileURLToPath(new URL('./worker-process.js', import.meta.url))
/** Requests in flight per worker; the coordinator needs a handful (snapshots, notifications). */
const MAX_PENDING_REQUESTS = 64
const CLOSE_TIMEOUT_MS = 10_000

interface Pending {
  resolve: (value: unknown) => void
  reject: (e: KeyedStateError) => void
}

function toError(name: string, error: ErrorInfo): KeyedStateError {
  return new KeyedStateError(error.code as ErrorCode, `${name}: ${error.message}`)
}

/** What the job needs of a worker, wherever it runs. */
export interface WorkerHandle extends OperatorInstance {
  readonly progress: WorkerProgress
  /** Settles when the worker is gone, with why (undefined after a requested close). */
  readonly exited: Promise<KeyedStateError | undefined>
  readonly alive: boolean
  /** When the worker was last heard from (performance.now()). */
  readonly lastHeardMs: number
  /** Resolves once a poll that started after the call found nothing new. */
  caughtUp(): Promise<void>
  /** Ends the worker the hard way (it stopped answering, or a test kills it). */
  kill(): void
  /** Asks the worker to close its backend and exit; kills it if it does not in time. */
  close(): Promise<void>
}

export class ChildProcessWorker implements WorkerHandle {
  readonly progress: WorkerProgress = { processed: 0, finished: false }
  readonly exited: Promise<KeyedStateError | undefined>
  lastHeardMs = performance.now()
  restoreMs = 0

  private nextRequestId = 1
  private readonly pending = new Map<number, Pending>()
  private gone: KeyedStateError | undefined
  private closing = false
  private onReady: (() => void) | undefined

  private constructor(
    readonly config: WorkerConfig,
    private readonly child: ChildProcess,
    private readonly onChange: () => void,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const reason = new KeyedStateError('ABORTED', `${this.name} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`)
        this.gone ??= reason
        for (const p of this.pending.values()) p.reject(this.gone)
        this.pending.clear()
        resolve(this.closing && code === 0 ? undefined : this.gone)
        onChange()
      })
    })
    child.on('message', (m: FromWorker) => this.receive(m))
    // Sends to a process that just died fail asynchronously; the exit handler reports it.
    child.on('error', () => {})
  }

  /** Forks the worker and waits until its backend is open (restored) and its source is positioned. */
  static async start(config: WorkerConfig, onChange: () => void): Promise<ChildProcessWorker> {
    const child = fork(WORKER_PATH, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const worker = new ChildProcessWorker(config, child, onChange)
    const ready = new Promise<void>((resolve) => {
      worker.onReady = resolve
    })
    worker.send({ type: 'open', config })
    const outcome = await Promise.race([ready.then(() => 'ready' as const), worker.exited.then(() => 'exited' as const)])
    if (outcome === 'exited') throw worker.gone!
    return worker
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

  kill(): void {
    this.child.kill('SIGKILL')
  }

  async close(): Promise<void> {
    if (!this.alive) return
    this.closing = true
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
    this.lastHeardMs = performance.now()
    switch (m.type) {
      case 'ready':
        this.restoreMs = m.restoreMs
        this.onReady?.()
        return
      case 'heartbeat': {
        const finishedNow = m.progress.finished && !this.progress.finished
        Object.assign(this.progress, m.progress)
        if (finishedNow) this.onChange()
        return
      }
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
      case 'closed':
        return // the process exits next
    }
  }
}
