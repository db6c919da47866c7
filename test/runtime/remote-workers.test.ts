// Workers on "other hosts": `keyed-state worker` processes that join the job
// over NATS (a real nats-server started by the test) instead of being forked
// by it. One gets SIGKILL: the coordinator notices the missed heartbeats,
// the survivor ends its assignment and offers itself again, a replacement
// joins, and the job restarts from its latest checkpoint; counts are exact,
// and the job's metrics (fed by heartbeats over NATS) show the restart's cause.
// The coordinator gets SIGKILL: the workers notice its silence (heartbeats
// hold both ways), drop their assignment and its state, and serve the next
// coordinator, started with restoreFrom 'latest' on the same S3 storage
// (workers and coordinator share nothing but NATS and S3); counts are exact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { isKeyedStateError } from '../../src/errors.js'
import { runJob, type JobEvent } from '../../src/runtime/job.js'
import { isInstalled, startNatsServer } from '../../examples/brokers/local-servers.js'
import { startS3Server } from '../s3/server.js'
import { killDrivers, startDriver, type Driver } from './driver-client.js'
import { assertExactlyOnce, COUNTING_JOB, countsIn, ENDLESS, options, until, withStorage } from './helpers.js'
import { sample, scrapeUntil, seriesOf, sumOf } from '../metrics/scrape.js'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

interface RemoteWorkerProcess {
  child: ChildProcess
  /** What it logged so far. */
  log(): string
}

function startWorker(url: string, jobId: string, env: NodeJS.ProcessEnv = process.env): RemoteWorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', fileURLToPath(COUNTING_JOB), '--connect', url, '--job-id', jobId], { stdio: ['ignore', 'ignore', 'pipe'], env })
  let log = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    log += s
  })
  return { child, log: () => log }
}

test('remote workers over NATS: SIGKILL of one, a replacement joins, the job restarts and ends exact', async (t) => {
  if (!isInstalled('nats-server') && !process.env.CI) return t.skip('nats-server is not installed')
  const server = await startNatsServer()
  const workers: RemoteWorkerProcess[] = []
  try {
    await withStorage(async (storage) => {
      workers.push(startWorker(server.url, 'counting'), startWorker(server.url, 'counting'))
      const params = { events: 20_000, keys: 200, rate: 8000 }
      const events: JobEvent[] = []
      const job = await runJob(options(storage, params, {
        workers: { connect: server.url, jobId: 'counting', startTimeoutMs: 30_000 },
        heartbeatIntervalMs: 100,
        heartbeatTimeoutMs: 1500,
        onEvent: (e) => events.push(e),
      }))
      await until('a checkpoint', () => job.latestSnapshot !== undefined)
      // Heartbeats over NATS carry what the job's metrics show: both remote workers' state and event counts.
      await scrapeUntil(job.metrics, 'both workers\' states', (text) => seriesOf(text, 'keyed_state_state_entries').filter((s) => s.labels.state === 'count').length === 2)
      workers[0]!.child.kill('SIGKILL')
      workers.push(startWorker(server.url, 'counting'))
      const result = await job.done
      assert.equal(result.state, 'FINISHED')
      assert.equal(job.restarts, 1)
      assert.ok(events.some((e) => e.type === 'failure' && /stopped answering/.test(e.error.message)))
      const text = await job.metrics.metrics()
      assert.equal(sample(text, 'keyed_state_job_restarts_total{cause="heartbeat-timeout"}'), 1)
      assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 1)
      assertExactlyOnce(await countsIn(storage, result.snapshot!), params)
    })
  } finally {
    for (const w of workers) w.child.kill('SIGTERM')
    await server.stop()
  }
})

test('SIGKILL of the coordinator: its remote workers drop their assignment and serve a new coordinator restored from the latest checkpoint on S3; counts exact', async (t) => {
  if (!isInstalled('nats-server') && !process.env.CI) return t.skip('nats-server is not installed')
  const nats = await startNatsServer()
  const s3 = await startS3Server()
  const root = await mkdtemp(join(tmpdir(), 'ks-remote-crash-'))
  const workers: RemoteWorkerProcess[] = []
  const drivers: Driver[] = []
  try {
    const prefix = `remote-${process.pid}`
    const storage = s3.storage(prefix)
    // The workers reach S3 through the SDK's chain from their environment, as on another host.
    const env = s3.childEnv()
    workers.push(startWorker(nats.url, 'outlives', env), startWorker(nats.url, 'outlives', env))
    // The first coordinator's job reads an endless stream (still reading when killed); the second ends it at 100 000 events.
    const params = { events: 100_000, keys: 200 }
    const base = {
      storage: `s3://${s3.bucket}/${prefix}`,
      localDir: join(root, 'local'),
      parallelism: 2,
      workers: { connect: nats.url, jobId: 'outlives', startTimeoutMs: 60_000 },
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 1500,
    }
    const first = startDriver({ ...base, params: { ...params, events: ENDLESS, rate: 10_000 } }, env)
    drivers.push(first)
    await first.next('started')
    await first.next('checkpoint')
    await first.next('checkpoint')
    first.kill('coordinator')

    const second = startDriver({ ...base, params, restoreFrom: 'latest' }, env)
    drivers.push(second)
    assert.notEqual((await second.next('started')).restoredFrom, null, 'restored from a checkpoint of the first coordinator')
    const done = await second.next('done')
    assert.equal(done.state, 'FINISHED')
    assertExactlyOnce(await countsIn(storage, await readMetadata(storage, done.dir!)), params)
    for (const w of workers) {
      assert.equal(w.child.exitCode, null, 'the worker outlived its coordinator')
      assert.match(w.log(), /no word from the coordinator of job outlives for 1500 ms \(its heartbeat timeout\): taking it for dead, dropping worker \d\/2 \(attempt 1\) and its local state/)
      // One assignment from each coordinator (nobody else offered itself).
      assert.equal(w.log().match(/key groups \d+\.\.\d+/g)?.length, 2, w.log())
    }
    storage.close()
  } finally {
    killDrivers(drivers)
    for (const w of workers) w.child.kill('SIGTERM')
    await rm(root, { recursive: true, force: true })
    await s3.stop()
    await nats.stop()
  }
})

test('remote workers: no worker joins in time → a clear error naming the command to start one', async (t) => {
  if (!isInstalled('nats-server') && !process.env.CI) return t.skip('nats-server is not installed')
  const server = await startNatsServer()
  try {
    await withStorage(async (storage) => {
      await assert.rejects(
        runJob(options(storage, { events: 10, keys: 2 }, { workers: { connect: server.url, jobId: 'nobody', startTimeoutMs: 1500 } })),
        (e: unknown) => isKeyedStateError(e, 'ABORTED') && /keyed-state worker <job module> --connect nats:\/\/127\.0\.0\.1:\d+ --job-id nobody/.test(e.message),
      )
      await assert.rejects(runJob(options(storage, { events: 10, keys: 2 }, { workers: { connect: server.url, jobId: 'no.dots' } })), /workers.jobId must be/)
    })
  } finally {
    await server.stop()
  }
})
