// The runtime on real brokers, NATS JetStream and Redis Streams, each server
// started by the test on 127.0.0.1 at an ephemeral port, with checkpoints on
// the file system or on S3 (the tests' S3 server, test/s3/server.ts). While a
// producer keeps writing, one coordinator process (driver.ts) loses a worker
// to SIGKILL and rescales 2 → 3; then the coordinator alone gets SIGKILL, then
// the next one with all its workers; the third rescales 3 → 1 and stops with
// a savepoint once everything written was read. Every step waits for what it
// needs (a start, a checkpoint at the new parallelism), never for time, and
// the producer writes until the last rescale is done, so every failure and
// rescale happens while it writes. At the end every key's state equals what
// the producer wrote. On NATS the first coordinator's workers read with one
// consumer per key group, the later ones with the default.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { natsJetStreamProducer } from '../../src/sources/nats-jetstream.js'
import { redisStreamsProducer } from '../../src/sources/redis-streams.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { isInstalled, startNatsServer, startRedisServer, type LocalServer } from '../../examples/brokers/local-servers.js'
import { eventAt, type BrokerParams, type CountEvent } from '../../examples/counting-job.js'
import { startS3Server } from '../s3/server.js'
import { killDrivers, startDriver, type Driver } from './driver-client.js'
import { assertExactlyOnce, countsIn } from './helpers.js'
import { sample, sumOf } from '../metrics/scrape.js'

const KEYS = 300
/**
 * Events per second the producer writes (SOAK=1: more, so that every restart has more to catch up on).
 * It writes until the last rescale is done, so a run on a slow machine writes more: the job must keep up.
 */
const PRODUCE_RATE = process.env.SOAK ? 5000 : 1000

interface Producer {
  send(e: CountEvent): Promise<unknown>
  close(): Promise<void>
}

interface Broker {
  kind: 'nats' | 'redis'
  binary: string
  start(): Promise<LocalServer>
  params(url: string): BrokerParams
  producer(url: string): Promise<Producer>
}

const routing = { keyOf: (e: CountEvent) => e.key, keySerializer: stringSerializer, maxParallelism: 16 }
const NATS: Broker = {
  kind: 'nats',
  binary: 'nats-server',
  start: startNatsServer,
  params: (url) => ({ kind: 'nats', url, stream: 'counts' }),
  producer: (url) => natsJetStreamProducer<CountEvent, string>({ servers: url, stream: 'counts', ...routing }),
}
const REDIS: Broker = {
  kind: 'redis',
  binary: 'redis-server',
  start: startRedisServer,
  params: (url) => ({ kind: 'redis', url, prefix: 'counts' }),
  producer: (url) => redisStreamsProducer<CountEvent, string>({ url, prefix: 'counts', ...routing }),
}

/** Where the checkpoints go: a location the coordinator processes open, the environment they need, and the test's own client. */
interface StorageUnderTest {
  location: string
  env: NodeJS.ProcessEnv
  storage: CheckpointStorage
  close(): Promise<void>
}

const STORAGES = {
  'the file system': async (root: string): Promise<StorageUnderTest> => {
    const dir = join(root, 'storage')
    return { location: dir, env: process.env, storage: new FileSystemCheckpointStorage(dir), close: async () => {} }
  },
  S3: async (): Promise<StorageUnderTest> => {
    const server = await startS3Server()
    const prefix = `runtime-${process.pid}`
    const storage = server.storage(prefix)
    return {
      location: `s3://${server.bucket}/${prefix}`,
      env: server.childEnv(),
      storage,
      close: async () => {
        storage.close()
        await server.stop()
      },
    }
  },
}

/** Writes offsets 0, 1, 2, ... at about PRODUCE_RATE per second until stop(), which resolves to how many were written. */
function produce(producer: Producer): { stop(): Promise<number> } {
  let stopping = false
  const inFlight = 32
  const writing = (async () => {
    const startedMs = performance.now()
    let o = 0
    while (!stopping) {
      const due = startedMs + (o / PRODUCE_RATE) * 1000
      if (due > performance.now()) await sleep(due - performance.now())
      await Promise.all(Array.from({ length: inFlight }, (_, i) => producer.send(eventAt(KEYS, o + i))))
      o += inFlight
    }
    return o
  })()
  return {
    stop: () => {
      stopping = true
      return writing
    },
  }
}

/** Skips where the server cannot be installed (not root, not Debian); CI always has it (scripts/setup.mjs). */
function skipWithout(t: TestContext, binary: string): boolean {
  if (isInstalled(binary) || process.env.CI) return false
  t.skip(`${binary} is not installed (scripts/setup.mjs installs it as root on Debian)`)
  return true
}

async function killEverythingAndRescale(b: Broker, openStorage: (root: string) => Promise<StorageUnderTest>): Promise<void> {
  const server = await b.start()
  const root = await mkdtemp(join(tmpdir(), 'ks-broker-crash-'))
  const s = await openStorage(root)
  const drivers: Driver[] = []
  const producer = await b.producer(server.url)
  try {
    const base = { storage: s.location, localDir: join(root, 'local'), params: { events: 0, keys: KEYS, broker: b.params(server.url) } }
    const start = (args: { parallelism: number; restoreFrom?: 'latest'; params?: object }): Driver => {
      const d = startDriver({ ...base, ...args }, s.env)
      drivers.push(d)
      return d
    }
    const producing = produce(producer)

    // A worker gets SIGKILL: the job restarts from its latest checkpoint; then it rescales 2 → 3.
    // The first coordinator's NATS workers read with one consumer per key group (by default only from a quarter
    // of the key groups down); the next ones with the default, one whole-stream consumer: both readers go
    // through failures and rescales, and a switch between them resumes every key group where its state says.
    const broker = b.params(server.url)
    const first = start({ parallelism: 2, params: { ...base.params, broker: broker.kind === 'nats' ? { ...broker, perKeyGroupConsumers: true } : broker } })
    const { pids } = await first.next('started')
    await first.next('checkpoint')
    process.kill(pids[0]!, 'SIGKILL')
    assert.match((await first.next('failure')).message, /SIGKILL/)
    assert.notEqual((await first.next('started', (l) => l.attempt === 2)).restoredFrom, null)
    await first.next('checkpoint')
    first.command('rescale 3')
    await first.next('rescaled')
    await first.next('checkpoint', (l) => l.parallelism === 3)
    // The coordinator alone gets SIGKILL (its workers exit with it); a new one resumes from the latest checkpoint.
    first.kill('coordinator')
    const second = start({ parallelism: 3, restoreFrom: 'latest' })
    assert.notEqual((await second.next('started')).restoredFrom, null)
    await second.next('checkpoint')
    // Everything gets SIGKILL: the coordinator and its workers at once.
    second.kill('everything')
    const third = start({ parallelism: 3, restoreFrom: 'latest' })
    assert.notEqual((await third.next('started')).restoredFrom, null)
    third.command('rescale 1')
    await third.next('rescaled')
    await third.next('checkpoint', (l) => l.parallelism === 1)

    const events = await producing.stop()
    third.command('stop')
    // The last coordinator's metrics tell its part of the story: one rescale, no restart, no lag left (NATS reports lag, Redis cannot).
    const { text } = await third.next('metrics')
    const lag = 'keyed_state_source_lag_records{worker="0"}'
    assert.equal(sample(text, lag), b.kind === 'nats' ? 0 : undefined)
    assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="restore"}'), 1)
    assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="rescale"}'), 1)
    assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 0)
    const done = await third.next('done')
    assert.equal(done.state, 'STOPPED')
    const savepoint = await readMetadata(s.storage, done.dir!)
    assert.equal(savepoint.parallelism, 1)
    assertExactlyOnce(await countsIn(s.storage, savepoint), { events, keys: KEYS })
  } finally {
    killDrivers(drivers)
    await producer.close()
    await s.close()
    await rm(root, { recursive: true, force: true })
    await server.stop()
  }
}

// npm test runs each broker once and each storage once (a run takes 15-40 s on two shared cores);
// SOAK=1 runs every pair.
const RUNS: [Broker, keyof typeof STORAGES][] = process.env.SOAK
  ? [NATS, REDIS].flatMap((b) => Object.keys(STORAGES).map((s): [Broker, keyof typeof STORAGES] => [b, s as keyof typeof STORAGES]))
  : [[NATS, 'the file system'], [REDIS, 'S3']]

for (const [b, storageName] of RUNS) {
  test(`${b.kind}, checkpoints on ${storageName}: SIGKILL of a worker, of the coordinator and of everything, rescale 2 → 3 → 1, all while the producer writes; every key's state is what was written`, async (t) => {
    if (skipWithout(t, b.binary)) return
    await killEverythingAndRescale(b, STORAGES[storageName])
  })
}
