// A worker on another host (`keyed-state worker <job module> --connect
// nats://host:4222 --job-id <id>`): it offers itself to the job's coordinator
// over NATS while idle, takes one assignment at a time (open … close, or a
// failure), and offers itself again afterwards, so that restarts and
// rescales reuse it. Its RocksDB working directory is local and temporary;
// checkpoint storage is what the job definition's storage() opens.
import { randomBytes } from 'node:crypto'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { jobModuleUrl } from './job-module.js'
import { checkToken, decodeMessage, encodeMessage, REGISTER_INTERVAL_MS, subjects } from './nats-subjects.js'
import type { FromWorker, ToWorker } from './protocol.js'
import { PING_INTERVAL_MS } from './remote-pool.js'
import { WorkerSession } from './worker-session.js'

/** Silence from the coordinator that ends an assignment: several missed pings. */
const COORDINATOR_SILENCE_MS = 10 * PING_INTERVAL_MS

export interface RemoteWorkerOptions {
  /** The job module on this host (its default export is the job definition). */
  job: string | URL
  /** e.g. nats://host:4222 */
  connect: string
  jobId: string
  /** Logs what the worker does (default: stderr). */
  log?: (line: string) => void
}

export interface RemoteWorkerHandle {
  readonly workerId: string
  /** Stops offering and ends the current assignment's connection. */
  close(): Promise<void>
}

export async function serveRemoteWorker(options: RemoteWorkerOptions): Promise<RemoteWorkerHandle> {
  checkToken('jobId', options.jobId)
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const jobModule = jobModuleUrl(options.job)
  const workerId = randomBytes(6).toString('hex')
  const { connect } = await import('@nats-io/transport-node')
  const nc: NatsConnection = await connect({ servers: options.connect })
  const to = subjects.to(options.jobId, workerId)
  const from = subjects.from(options.jobId, workerId)
  const send = (m: FromWorker): void => nc.publish(from, encodeMessage(m))
  let session: WorkerSession | undefined
  let closed = false
  let lastFromCoordinatorMs = performance.now()
  // A coordinator that went silent (its process died) leaves the assignment to nobody: end it and offer again.
  const watchdog = setInterval(() => {
    if (session && performance.now() - lastFromCoordinatorMs > COORDINATOR_SILENCE_MS) {
      log(`worker ${workerId}: no word from the coordinator for ${COORDINATOR_SILENCE_MS} ms, ending the assignment`)
      session.deliver({ type: 'close' })
    }
  }, 1000)

  const offer = async (): Promise<void> => {
    while (!closed && !session) {
      try {
        await nc.request(subjects.register(options.jobId), encodeMessage({ workerId }), { timeout: REGISTER_INTERVAL_MS })
      } catch {
        // No coordinator yet (or it is busy): offer again.
      }
      await new Promise((resolve) => setTimeout(resolve, REGISTER_INTERVAL_MS))
    }
  }

  const sub: Subscription = nc.subscribe(to, {
    callback: (err, msg) => {
      if (err || closed) return
      lastFromCoordinatorMs = performance.now()
      const m = decodeMessage<ToWorker>(msg.data)
      if (m.type === 'open') {
        if (session) return // already assigned; the coordinator will time this open out
        log(`worker ${workerId}: ${m.config.name}, key groups ${m.config.keyGroupRange.start}..${m.config.keyGroupRange.end}`)
        session = new WorkerSession(send, (failed) => {
          log(`worker ${workerId}: assignment ${failed ? 'failed' : 'closed'}`)
          if (!failed) send({ type: 'closed' })
          session = undefined
          void offer()
        })
        // This host's copy of the job module, wherever the coordinator's is, and a local working directory.
        const { workDir: _coordinatorsPath, ...config } = m.config
        session.deliver({ ...m, config: { ...config, jobModule } })
        return
      }
      session?.deliver(m)
    },
  })
  log(`worker ${workerId}: offering itself to job ${options.jobId} at ${options.connect}`)
  void offer()
  return {
    workerId,
    close: async () => {
      closed = true
      clearInterval(watchdog)
      sub.unsubscribe()
      await nc.drain().catch(() => {})
    },
  }
}
