// The coordinator's side of remote workers: the idle workers that offered
// themselves over NATS, and RemoteWorker, a WorkerHandle (an OperatorInstance
// for the CheckpointCoordinator) whose messages travel over NATS. A remote
// worker cannot be killed from here: when it stops answering, the job
// declares it gone (kill()), tells it to close in case it is still there,
// and restarts with whatever workers offer themselves.
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { KeyedStateError } from '../errors.js'
import { checkToken, decodeMessage, encodeMessage, REGISTER_INTERVAL_MS, subjects } from './nats-subjects.js'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js'
import { errorFromWorker, MessageWorker } from './worker-handle.js'

/** An offer older than this is stale (the worker offers every REGISTER_INTERVAL_MS while idle). */
const OFFER_FRESH_MS = 3 * REGISTER_INTERVAL_MS
const CLOSE_TIMEOUT_MS = 10_000

export interface RemoteWorkersOptions {
  /** e.g. nats://host:4222 */
  connect: string
  /** Names the job on the NATS server; workers join with `--job-id` set to it. */
  jobId: string
  /** How long a start waits for enough workers to offer themselves and open (default 60 s). */
  startTimeoutMs?: number
}

export class RemoteWorkerPool {
  private readonly offers = new Map<string, number>()
  private readonly busy = new Set<string>()
  private waiters: (() => void)[] = []

  private constructor(
    readonly options: RemoteWorkersOptions,
    private readonly nc: NatsConnection,
    private readonly sub: Subscription,
  ) {}

  static async open(options: RemoteWorkersOptions): Promise<RemoteWorkerPool> {
    checkToken('workers.jobId', options.jobId)
    const { connect } = await import('@nats-io/transport-node')
    const nc = await connect({ servers: options.connect })
    let pool: RemoteWorkerPool | undefined
    const sub = nc.subscribe(subjects.register(options.jobId), {
      callback: (err, msg) => {
        if (err || !pool) return
        const { workerId } = decodeMessage<{ workerId: string }>(msg.data)
        if (typeof workerId !== 'string') return
        pool.offers.set(workerId, performance.now())
        msg.respond(encodeMessage({ ok: true }))
        for (const wake of pool.waiters.splice(0)) wake()
      },
    })
    pool = new RemoteWorkerPool(options, nc, sub)
    return pool
  }

  /** Starts `config` on an idle worker: waits for an offer, sends open, waits for ready. */
  async start(config: WorkerConfig, onChange: () => void): Promise<RemoteWorker> {
    const deadline = performance.now() + (this.options.startTimeoutMs ?? 60_000)
    for (;;) {
      const now = performance.now()
      const fresh = [...this.offers].filter(([id, at]) => now - at < OFFER_FRESH_MS && !this.busy.has(id))
      if (fresh.length > 0) {
        const [workerId] = fresh.sort((a, b) => b[1] - a[1])[0]!
        this.offers.delete(workerId)
        this.busy.add(workerId)
        const worker = new RemoteWorker(this.nc, this.options.jobId, workerId, config, onChange, () => this.busy.delete(workerId))
        try {
          await worker.open(Math.max(1000, deadline - performance.now()))
          return worker
        } catch (e) {
          worker.kill()
          if (performance.now() > deadline) throw e
          continue // that worker went away meanwhile: take another
        }
      }
      if (now > deadline) {
        throw new KeyedStateError('ABORTED', `${config.name}: no remote worker offered itself for job ${this.options.jobId} at ${this.options.connect} in time ` +
          `(start one with: keyed-state worker <job module> --connect ${this.options.connect} --job-id ${this.options.jobId})`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REGISTER_INTERVAL_MS)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  async close(): Promise<void> {
    this.sub.unsubscribe()
    await this.nc.drain().catch(() => {})
  }
}

export class RemoteWorker extends MessageWorker {
  readonly exited: Promise<KeyedStateError | undefined>
  private resolveExited!: (reason: KeyedStateError | undefined) => void
  private ended = false
  private readonly sub: Subscription
  private onReady: ((e?: KeyedStateError) => void) | undefined
  private readonly pinger: NodeJS.Timeout

  constructor(
    private readonly nc: NatsConnection,
    private readonly jobId: string,
    readonly workerId: string,
    config: WorkerConfig,
    onChange: () => void,
    private readonly release: () => void,
  ) {
    super(config, onChange)
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve
    })
    // Heartbeats both ways: the worker ends its assignment when these stop for the job's heartbeat timeout.
    this.pinger = setInterval(() => this.send({ type: 'ping' }), config.heartbeatIntervalMs)
    this.sub = nc.subscribe(subjects.from(jobId, workerId), {
      callback: (err, msg) => {
        if (!err) this.receive(decodeMessage<FromWorker>(msg.data))
      },
    })
  }

  get name(): string {
    return `${this.config.name} on remote worker ${this.workerId}`
  }

  get alive(): boolean {
    return this.gone === undefined && !this.ended
  }

  async open(timeoutMs: number): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      this.onReady = (e) => (e ? reject(e) : resolve())
    })
    this.send({ type: 'open', config: this.config })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KeyedStateError('ABORTED', `${this.name} did not open within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      await Promise.race([ready, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Declares the worker gone (it stopped answering); tells it to close in case it is still there. */
  kill(): void {
    this.send({ type: 'close' })
    this.end(new KeyedStateError('ABORTED', `${this.name} stopped answering`))
  }

  async close(): Promise<void> {
    if (!this.alive) return
    this.send({ type: 'close' })
    const timer = setTimeout(() => this.end(new KeyedStateError('ABORTED', `${this.name} did not close within ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS)
    await this.exited
    clearTimeout(timer)
  }

  private end(reason: KeyedStateError | undefined): void {
    if (this.ended) return
    this.ended = true
    clearInterval(this.pinger)
    if (reason) this.gone ??= reason
    const failure = this.gone ?? new KeyedStateError('CLOSED', `${this.name} closed`)
    this.failPending(failure)
    this.onReady?.(failure)
    this.sub.unsubscribe()
    this.release()
    this.resolveExited(this.gone)
    this.onChange()
  }

  protected send(message: ToWorker): void {
    if (this.nc.isClosed()) return
    this.nc.publish(subjects.to(this.jobId, this.workerId), encodeMessage(message))
  }

  private receive(m: FromWorker): void {
    if (this.ended || this.receiveCommon(m)) return
    switch (m.type) {
      case 'ready':
        this.onReady?.()
        this.onReady = undefined
        return
      case 'failed':
        this.end(errorFromWorker(this.name, m.error))
        return
      case 'closed':
        this.end(undefined)
        return
    }
  }
}
