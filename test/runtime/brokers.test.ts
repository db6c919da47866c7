// The runtime on real brokers, NATS JetStream and Redis Streams, each server
// started by the test on 127.0.0.1 at an ephemeral port: while a producer
// keeps writing, a worker gets SIGKILL, the job rescales 2 → 3 → 1, and (in a
// coordinator process) the coordinator alone and then everything gets
// SIGKILL. At the end every key's state equals what the producer wrote (and
// the job's metrics count the restart and rescales; NATS's lag drains to 0).
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { runJob } from '../../src/runtime/job.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { natsJetStreamProducer } from '../../src/sources/nats-jetstream.js'
import { redisStreamsProducer } from '../../src/sources/redis-streams.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { isInstalled, startNatsServer, startRedisServer, type LocalServer } from '../../examples/brokers/local-servers.js'
import { eventAt, type CountEvent, type CountingParams } from './counting-job.js'
import { assertExactlyOnce, countsIn, options, until, withStorage } from './helpers.js'
import { sample, scrapeUntil } from '../metrics/scrape.js'

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url))
/** SOAK=1 writes ten times as much, so that more checkpoints, kills and rescales overlap the writing. */
const EVENTS = process.env.SOAK ? 120_000 : 12_000
const KEYS = 300
/** Events per second the producer writes: the job's failures and rescales happen while it writes. */
const PRODUCE_RATE = process.env.SOAK ? 10_000 : 4000

interface Broker {
  kind: 'nats' | 'redis'
  binary: string
  start(): Promise<LocalServer>
  params(url: string): CountingParams['broker']
  producer(url: string, broker: CountingParams['broker']): Promise<{ send(e: CountEvent): Promise<unknown>; close(): Promise<void> }>
}

const routing = { keyOf: (e: CountEvent) => e.key, keySerializer: stringSerializer, maxParallelism: 16 }
const BROKERS: Broker[] = [
  {
    kind: 'nats',
    binary: 'nats-server',
    start: startNatsServer,
    params: (url) => ({ kind: 'nats', url, stream: 'counts' }),
    producer: (url) => natsJetStreamProducer<CountEvent, string>({ servers: url, stream: 'counts', ...routing }),
  },
  {
    kind: 'redis',
    binary: 'redis-server',
    start: startRedisServer,
    params: (url) => ({ kind: 'redis', url, prefix: 'counts' }),
    producer: (url) => redisStreamsProducer<CountEvent, string>({ url, prefix: 'counts', ...routing }),
  },
]

/** Writes offsets 0..EVENTS-1 at about PRODUCE_RATE per second, a few in flight at once. */
async function produce(producer: { send(e: CountEvent): Promise<unknown> }): Promise<void> {
  const startedMs = performance.now()
  const inFlight = 32
  for (let o = 0; o < EVENTS; o += inFlight) {
    const due = startedMs + (o / PRODUCE_RATE) * 1000
    if (due > performance.now()) await sleep(due - performance.now())
    await Promise.all(Array.from({ length: Math.min(inFlight, EVENTS - o) }, (_, i) => producer.send(eventAt(KEYS, o + i))))
  }
}

/** Skips where the server cannot be installed (not root, not Debian); CI always has it (scripts/setup.mjs). */
function skipWithout(t: TestContext, binary: string): boolean {
  if (isInstalled(binary) || process.env.CI) return false
  t.skip(`${binary} is not installed (scripts/setup.mjs installs it as root on Debian)`)
  return true
}

async function withBroker(b: Broker, fn: (server: LocalServer) => Promise<void>): Promise<void> {
  const server = await b.start()
  try {
    await fn(server)
  } finally {
    await server.stop()
  }
}

for (const b of BROKERS) {
  test(`${b.kind}: SIGKILL of a worker and rescale 2 → 3 → 1 while the producer writes; every key's state is what was written`, async (t) => {
    if (skipWithout(t, b.binary)) return
    await withBroker(b, async (server) =>
      withStorage(async (storage) => {
        const params: CountingParams = { events: EVENTS, keys: KEYS, broker: b.params(server.url) }
        const producer = await b.producer(server.url, params.broker)
        try {
          const producing = produce(producer)
          const job = await runJob(options(storage, params))
          await until('a checkpoint', () => job.latestSnapshot !== undefined)
          const before = job.latestSnapshot!.checkpointId
          process.kill((job.workers[0] as unknown as { pid: number }).pid, 'SIGKILL')
          await until('the restart and a checkpoint after it', () => job.restarts === 1 && job.state === 'RUNNING' && job.latestSnapshot!.checkpointId > before + 1)
          await job.rescale(3)
          await sleep(300)
          await job.rescale(1)
          await producing
          await job.waitUntilCaughtUp()
          // The job's metrics tell the same story: NATS reports its lag (none left once caught up), Redis cannot.
          const lag = 'keyed_state_source_lag_records{worker="0"}'
          const text = await scrapeUntil(job.metrics, 'no lag left', (text) => b.kind !== 'nats' || sample(text, lag) === 0)
          if (b.kind === 'redis') assert.equal(sample(text, lag), undefined)
          assert.equal(sample(text, 'keyed_state_job_restarts_total{cause="worker-exit"}'), 1)
          assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="restore"}'), 1)
          assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="rescale"}'), 2)
          const { snapshot } = await job.stop({ savepoint: true })
          assert.equal(snapshot!.parallelism, 1)
          assertExactlyOnce(await countsIn(storage, snapshot!), params)
        } finally {
          await producer.close()
        }
      }),
    )
  })

  test(`${b.kind}: SIGKILL of the coordinator, then of everything, while the producer writes; every key's state is what was written`, async (t) => {
    if (skipWithout(t, b.binary)) return
    await withBroker(b, async (server) => {
      const root = await mkdtemp(join(tmpdir(), 'ks-broker-crash-'))
      const running: ChildProcess[] = []
      const params: CountingParams = { events: EVENTS, keys: KEYS, broker: b.params(server.url) }
      const producer = await b.producer(server.url, params.broker)
      try {
        const storageDir = join(root, 'storage')
        await mkdir(storageDir)
        const base = { storage: storageDir, localDir: join(root, 'local'), params, parallelism: 2 }
        const producing = produce(producer)
        const start = (args: object) => {
          const child = spawn(process.execPath, [DRIVER, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true })
          running.push(child)
          const lines: { type: string; dir?: string; state?: string; restoredFrom?: number | null }[] = []
          createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)))
          const next = async (type: string, after = 0) => {
            await until(`driver line '${type}'`, () => lines.filter((l) => l.type === type).length > after || child.exitCode !== null)
            const found = lines.filter((l) => l.type === type)[after]
            if (!found) throw new Error(`driver exited before '${type}'`)
            return found
          }
          return { child, next }
        }
        const first = start(base)
        await first.next('checkpoint')
        first.child.kill('SIGKILL')
        const second = start({ ...base, parallelism: 3, restoreFrom: 'latest' })
        assert.notEqual((await second.next('started')).restoredFrom, null)
        await second.next('checkpoint', 1)
        process.kill(-second.child.pid!, 'SIGKILL')
        const third = start({ ...base, parallelism: 2, restoreFrom: 'latest' })
        assert.notEqual((await third.next('started')).restoredFrom, null)
        await producing
        third.child.stdin!.write('stop\n')
        const done = await third.next('done')
        assert.equal(done.state, 'STOPPED')
        const storage = new FileSystemCheckpointStorage(storageDir)
        assertExactlyOnce(await countsIn(storage, await readMetadata(storage, done.dir!)), params)
      } finally {
        await producer.close()
        for (const c of running) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL')
        await rm(root, { recursive: true, force: true })
      }
    })
  })
}
