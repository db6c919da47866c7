// Workers on "other hosts": `keyed-state worker` processes that join the job
// over NATS (a real nats-server started by the test) instead of being forked
// by it. One gets SIGKILL: the coordinator notices the missed heartbeats,
// the survivor ends its assignment and offers itself again, a replacement
// joins, and the job restarts from its latest checkpoint; counts are exact,
// and the job's metrics (fed by heartbeats over NATS) show the restart's cause.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isKeyedStateError } from '../../src/errors.js'
import { runJob, type JobEvent } from '../../src/runtime/job.js'
import { isInstalled, startNatsServer } from '../../examples/brokers/local-servers.js'
import { assertExactlyOnce, COUNTING_JOB, countsIn, options, until, withStorage } from './helpers.js'
import { sample, scrapeUntil, seriesOf, sumOf } from '../metrics/scrape.js'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

function startWorker(url: string, jobId: string): ChildProcess {
  return spawn(process.execPath, [CLI, 'worker', fileURLToPath(COUNTING_JOB), '--connect', url, '--job-id', jobId], { stdio: 'ignore' })
}

test('remote workers over NATS: SIGKILL of one, a replacement joins, the job restarts and ends exact', async (t) => {
  if (!isInstalled('nats-server') && !process.env.CI) return t.skip('nats-server is not installed')
  const server = await startNatsServer()
  const workers: ChildProcess[] = []
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
      workers[0]!.kill('SIGKILL')
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
    for (const w of workers) w.kill('SIGTERM')
    await server.stop()
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
