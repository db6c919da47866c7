// A worker on another host (`keyed-state worker <job module> --connect
// nats://host:4222 --job-id <id>`): it offers itself to the job's coordinator
// over NATS while idle, takes one assignment at a time (open … close, or a
// failure), and offers itself again afterwards, so that restarts and
// rescales reuse it. Its RocksDB working directory is local and temporary;
// checkpoint storage is what the job definition's storage() opens.
// It outlives its coordinator, as a Flink TaskManager outlives its
// JobManager: when the coordinator's pings stop for the job's heartbeat
// timeout, the worker drops its assignment and its local state (the latest
// checkpoint holds what counts) and offers itself to whichever coordinator of
// the job comes next (e.g. one started with restoreFrom: 'latest').
import { randomBytes } from 'node:crypto'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { jobModuleUrl } from './job-module.js'
import { checkToken, decodeMessage, encodeMessage, REGISTER_INTERVAL_MS, subjects } from './nats-subjects.js'
import type { FromWorker, ToWorker } from './protocol.js'
import { WorkerSession } from './worker-session.js'

/** Silence from the coordinator that ends an assignment when the coordinator did not say (an older one). */
const DEFAULT_COORDINATOR_SILENCE_MS = 10_000
/** How often the silence is checked. */
const WATCHDOG_INTERVAL_MS = 100

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
  let assignment = ''
  let silenceMs = DEFAULT_COORDINATOR_SILENCE_MS
  /** The session being ended because its coordinator went silent (said once). */
  let abandoned: WorkerSession | undefined
  let closed = false
  let lastFromCoordinatorMs = performance.now()
  // A coordinator that went silent (its process or host died) leaves the assignment to nobody: end it,
  // which drops the local state, and offer again to the next coordinator.
  const watchdog = setInterval(() => {
    if (session && session !== abandoned && performance.now() - lastFromCoordinatorMs > silenceMs) {
      abandoned = session
      log(`worker ${workerId}: no word from the coordinator of job ${options.jobId} for ${silenceMs} ms (its heartbeat timeout): ` +
        `taking it for dead, dropping ${assignment} and its local state, then waiting for a new coordinator`)
      session.deliver({ type: 'close' })
    }
  }, WATCHDOG_INTERVAL_MS)

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
        assignment = m.config.name
        silenceMs = m.config.heartbeatTimeoutMs ?? DEFAULT_COORDINATOR_SILENCE_MS
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
