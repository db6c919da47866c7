// The entry of a worker child process (forked by ChildProcessWorker): IPC
// messages in, one at a time and in order, to a Worker. The parent's death
// leaves nobody to talk to, so the process exits rather than linger.
import { Worker, errorInfo } from './worker.js'
import type { FromWorker, ToWorker } from './protocol.js'

function send(message: FromWorker): void {
  if (process.connected) process.send!(message)
}

function fail(e: unknown): void {
  if (!process.connected) process.exit(1)
  process.send!({ type: 'failed', error: errorInfo(e) } satisfies FromWorker, () => process.exit(1))
}

process.on('disconnect', () => process.exit(1))

let worker: Worker<unknown, unknown> | undefined
let queue: Promise<void> = Promise.resolve()
process.on('message', (message: ToWorker) => {
  // One message at a time, in order: a notification never overtakes the snapshot it is about.
  queue = queue
    .then(async () => {
      if (message.type === 'open') {
        worker = await Worker.open(message.config, send)
        void worker.run().catch(fail)
        return
      }
      if (!worker) throw new Error(`'${message.type}' before 'open'`)
      // A snapshot's asynchronous part runs alongside the source; only its synchronous part is ordered here.
      if (message.type === 'snapshot') void worker.handle(message)
      else await worker.handle(message)
      if (message.type === 'close') process.exit(0)
    })
    .catch(fail)
})
