// A worker in a child process, as the job and its CheckpointCoordinator see
// it: an OperatorInstance over IPC. When the process dies, everything it was
// asked fails at once, so the coordinator aborts the checkpoint instead of
// waiting for its timeout, and the job learns of it through `exited`.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { KeyedStateError } from '../errors.js'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js'
import { errorFromWorker, MessageWorker } from './worker-handle.js'

const WORKER_PATH = fileURLToPath(new URL('./worker-process.js', import.meta.url))
const CLOSE_TIMEOUT_MS = 10_000

export class ChildProcessWorker extends MessageWorker {
  readonly exited: Promise<KeyedStateError | undefined>
  restoreMs = 0
  private closing = false
  private onReady: (() => void) | undefined

  private constructor(
    config: WorkerConfig,
    private readonly child: ChildProcess,
    onChange: () => void,
  ) {
    super(config, onChange)
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.gone ??= new KeyedStateError('ABORTED', `${this.name} (pid ${child.pid}) exited (${signal ?? `code ${code}`})`)
        this.failPending(this.gone)
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

  get pid(): number {
    return this.child.pid!
  }

  get alive(): boolean {
    return this.gone === undefined
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

  protected send(message: ToWorker): void {
    if (this.gone || !this.child.connected) return
    this.child.send(message)
  }

  private receive(m: FromWorker): void {
    if (this.receiveCommon(m)) return
    switch (m.type) {
      case 'ready':
        this.restoreMs = m.restoreMs
        this.onReady?.()
        return
      case 'failed':
        this.gone = errorFromWorker(this.name, m.error)
        return
      case 'closed':
        return // the process exits next
    }
  }
}
