// One assignment of a worker, whatever carries its messages (IPC to a child
// process, NATS to a worker on another host): messages are handled one at a
// time and in order, so a notification never overtakes the snapshot it is
// about; only a snapshot's asynchronous part runs alongside what follows.
import { Worker, errorInfo } from './worker.js'
import type { FromWorker, ToWorker } from './protocol.js'

export class WorkerSession {
  private worker: Worker<unknown, unknown> | undefined
  private queue: Promise<void> = Promise.resolve()
  private ended = false

  constructor(
    private readonly send: (m: FromWorker) => void,
    /** The session is over: closed on request (`failed` false) or after a failure it reported. */
    private readonly onEnd: (failed: boolean) => void,
  ) {}

  deliver(message: ToWorker): void {
    this.queue = this.queue
      .then(async () => {
        if (this.ended) return
        if (message.type === 'open') {
          this.worker = await Worker.open(message.config, this.send)
          void this.worker.run().catch((e: unknown) => this.fail(e))
          return
        }
        if (!this.worker) throw new Error(`'${message.type}' before 'open'`)
        if (message.type === 'snapshot') void this.worker.handle(message)
        else await this.worker.handle(message)
        if (message.type === 'close') this.end(false)
      })
      .catch((e: unknown) => this.fail(e))
  }

  private fail(e: unknown): void {
    if (this.ended) return
    this.send({ type: 'failed', error: errorInfo(e) })
    void (this.worker?.close() ?? Promise.resolve()).catch(() => {}).finally(() => this.end(true))
  }

  private end(failed: boolean): void {
    if (this.ended) return
    this.ended = true
    this.onEnd(failed)
  }
}
