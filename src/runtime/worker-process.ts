// The entry of a worker child process (forked by ChildProcessWorker): IPC
// messages in, to a WorkerSession. The parent's death leaves nobody to talk
// to, so the process exits rather than linger.
import type { FromWorker, ToWorker } from './protocol.js'
import { WorkerSession } from './worker-session.js'

let lastSent: Promise<void> = Promise.resolve()
function send(message: FromWorker): void {
  if (!process.connected) return
  lastSent = new Promise((resolve) => process.send!(message, () => resolve()))
}

process.on('disconnect', () => process.exit(1))

// Exits once the last message (a reply, or the failure) has left.
const session = new WorkerSession(send, (failed) => void lastSent.then(() => process.exit(failed ? 1 : 0)))
process.on('message', (message: ToWorker) => session.deliver(message))
