// Scrapes the metrics of running jobs over HTTP (serveMetrics(job.metrics))
// and checks them against what happened: every event of a bounded generator
// counted once per worker, source lag and state metrics reported by the
// workers' heartbeats while they run, checkpoints; then a SIGKILL of a worker
// (one restart, cause worker-exit, one restore) and a rescale (a rescale
// restore, a third worker's series).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { serveMetrics } from '../../src/metrics/server.js'
import { RESTART_CAUSES } from '../../src/metrics/job-metrics.js'
import { runJob, type JobEvent } from '../../src/runtime/job.js'
import { options, until, withStorage } from '../runtime/helpers.js'
import { sample, seriesOf, sumOf } from './scrape.js'

async function scrape(url: string): Promise<string> {
  const res = await fetch(url)
  assert.equal(res.status, 200)
  return res.text()
}

test('a running job\'s metrics: events per worker, source lag and state from heartbeats, checkpoints; exact totals at the end', async () => {
  await withStorage(async (storage) => {
    const params = { events: 20_000, keys: 200, rate: 10_000 }
    const events: JobEvent[] = []
    const job = await runJob(options(storage, params, { heartbeatIntervalMs: 50, rocksdbStatistics: true, onEvent: (e) => events.push(e) }))
    const server = await serveMetrics(job.metrics)
    try {
      // While it runs: both workers report, the source has records left, the states hold keys.
      let text = ''
      for (;;) {
        text = await scrape(server.url)
        const lags = seriesOf(text, 'keyed_state_source_lag_records')
        const entries = seriesOf(text, 'keyed_state_state_entries').filter((s) => s.labels.state === 'count')
        if (lags.length === 2 && entries.length === 2 && entries.every((s) => s.value > 0)) break
        assert.equal(job.state, 'RUNNING', 'the job runs until both workers reported')
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.deepEqual(seriesOf(text, 'keyed_state_source_lag_records').map((s) => s.labels.worker).sort(), ['0', '1'])
      assert.ok(sample(text, 'keyed_state_rocksdb_write_stopped{instance="0"}') === 0)
      assert.ok(sample(text, 'keyed_state_rocksdb_block_cache_hits_total{instance="1"}')! >= 0, 'rocksdbStatistics reaches the workers')
      const running = sumOf(text, 'keyed_state_events_total')
      assert.ok(running > 0 && running <= params.events, `${running} events counted while running`)

      const result = await job.done
      assert.equal(result.state, 'FINISHED')
      text = await scrape(server.url)
      // No restart: each event was processed once, by the worker owning its key.
      assert.equal(sumOf(text, 'keyed_state_events_total'), params.events)
      assert.deepEqual(seriesOf(text, 'keyed_state_events_total').map((s) => s.labels.worker).sort(), ['0', '1'])
      for (const cause of RESTART_CAUSES) assert.equal(sample(text, `keyed_state_job_restarts_total{cause="${cause}"}`), 0, cause)
      const completed = events.filter((e) => e.type === 'checkpoint' && e.metadata.type === 'checkpoint')
      assert.equal(sample(text, 'keyed_state_checkpoints_total{type="checkpoint",outcome="completed"}'), completed.length)
      const last = completed.at(-1)
      assert.ok(last?.type === 'checkpoint')
      assert.equal(sample(text, 'keyed_state_last_completed_checkpoint_id'), last.metadata.checkpointId)
      assert.equal(sumOf(text, 'keyed_state_restore_duration_seconds_count'), 0, 'a fresh start restores nothing')
      // The workers are gone: no lag or state series are left over from them.
      assert.deepEqual(seriesOf(text, 'keyed_state_source_lag_records'), [])
      assert.deepEqual(seriesOf(text, 'keyed_state_state_entries'), [])
      assert.doesNotMatch(text, /\{[^}]*(key|key_group|partition)=/)
    } finally {
      await server.close()
      if (job.state === 'RUNNING') await job.stop()
    }
  })
})

test('job metrics after a SIGKILL of a worker and a rescale: one restart (worker-exit), one restore, one rescale', async () => {
  await withStorage(async (storage) => {
    const params = { events: 30_000, keys: 200, rate: 10_000 }
    const job = await runJob(options(storage, params))
    const server = await serveMetrics(job.metrics)
    try {
      await until('a checkpoint', () => job.latestSnapshot !== undefined)
      process.kill((job.workers[1] as unknown as { pid: number }).pid, 'SIGKILL')
      await until('the restart', () => job.restarts === 1 && job.state === 'RUNNING')
      await job.rescale(3)
      const result = await job.done
      assert.equal(result.state, 'FINISHED')
      const text = await scrape(server.url)
      assert.equal(job.restarts, 1)
      assert.equal(sample(text, 'keyed_state_job_restarts_total{cause="worker-exit"}'), 1)
      assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 1)
      assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="restore"}'), 1)
      assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="rescale"}'), 1)
      assert.ok(sample(text, 'keyed_state_restore_duration_seconds_sum{kind="rescale"}')! > 0)
      // Worker 2 exists only after the rescale; it processed events of its key groups.
      assert.deepEqual(seriesOf(text, 'keyed_state_events_total').map((s) => s.labels.worker).sort(), ['0', '1', '2'])
      assert.ok(sample(text, 'keyed_state_events_total{worker="2"}')! > 0)
    } finally {
      await server.close()
      if (job.state === 'RUNNING') await job.stop()
    }
  })
})
