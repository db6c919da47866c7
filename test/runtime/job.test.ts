// The runtime on the generator source: worker processes, checkpoints with
// source positions, restarts after SIGKILL or a hung worker, bounded restart
// attempts, rescale while running, stop with a savepoint and restore from it.
// Every run ends with a check that each key's state equals what the source
// produced (exactly once with respect to state).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { isKeyedStateError } from '../../src/errors.js'
import { runJob, type Job, type JobEvent } from '../../src/runtime/job.js'
import { assertExactlyOnce, assertMatchesPositions, countsIn, ENDLESS, everyKeyGroupMovedOn, options, totalCount, until, withStorage } from './helpers.js'
import { sample, sumOf } from '../metrics/scrape.js'

test('SIGKILL of a worker: the job restarts from the latest checkpoint and every count is exact', async () => {
  await withStorage(async (storage) => {
    const params = { events: 40_000, keys: 300, rate: 10_000 }
    const events: JobEvent[] = []
    const job: Job = await runJob(options(storage, params, { onEvent: (e) => events.push(e) }))
    await until('a checkpoint', () => job.latestSnapshot !== undefined)
    const victim = job.workers[1] as unknown as { pid: number }
    process.kill(victim.pid, 'SIGKILL')
    const result = await job.done
    assert.equal(result.state, 'FINISHED')
    assert.equal(job.restarts, 1)
    assert.ok(events.some((e) => e.type === 'failure' && /SIGKILL/.test(e.error.message)))
    const restarted = events.filter((e) => e.type === 'started')
    assert.equal(restarted.length, 2)
    assert.ok(restarted[1]!.type === 'started' && restarted[1]!.restoredFrom !== undefined, 'the restart restored a checkpoint')
    assertExactlyOnce(await countsIn(storage, result.snapshot!), params)
  })
})

test('a failure that repeats: the restart strategy gives up with a clear error, and nothing is left running', async () => {
  await withStorage(async (storage) => {
    const states: string[] = []
    const job = await runJob(options(storage, { events: 5000, keys: 50, failAtOffset: 2000 }, {
      restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 1 },
      onEvent: (e) => e.type === 'state' && states.push(e.state),
    }))
    const pids = () => job.workers.map((w) => (w as unknown as { pid: number }).pid)
    const seen = new Set(pids())
    await assert.rejects(job.done, (e: unknown) => {
      assert.ok(isKeyedStateError(e, 'ABORTED'))
      assert.match(e.message, /job failed after 2 restarts \(restart strategy fixed-delay allows no more\)/)
      assert.match(e.message, /planted failure at offset 2000/)
      return true
    })
    assert.equal(job.state, 'FAILED')
    assert.equal(job.restarts, 3)
    // Two restarts happened (the third failure ended the job), each after the worker reported its error.
    const text = await job.metrics.metrics()
    assert.equal(sample(text, 'keyed_state_job_restarts_total{cause="worker-error"}'), 2)
    assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 2)
    assert.deepEqual(states, ['RUNNING', 'RESTARTING', 'RUNNING', 'RESTARTING', 'RUNNING', 'RESTARTING', 'FAILED'])
    for (const pid of seen) assert.throws(() => process.kill(pid, 0), 'worker process is gone')
  })
})

test('exponential backoff: the delays grow up to the maximum', async () => {
  const { restartDelayMs } = await import('../../src/runtime/restart-strategy.js')
  const s = { kind: 'exponential' as const, maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 500, multiplier: 2 }
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => restartDelayMs(s, n)), [100, 200, 400, 500, 500, undefined])
  assert.equal(restartDelayMs({ kind: 'none' }, 1), undefined)
  await withStorage(async (storage) => {
    await assert.rejects(runJob(options(storage, { events: 1, keys: 1 }, { restartStrategy: { kind: 'fixed-delay', maxAttempts: 1, delay: 5 } as never })), /unknown restartStrategy \(fixed-delay\) option 'delay' \(did you mean 'delayMs'\?\)/)
    await assert.rejects(runJob(options(storage, { events: 1, keys: 1 }, { parallelism: 17 })), /parallelism 17 is more than maxParallelism 16/)
    await assert.rejects(runJob({ ...options(storage, { events: 1, keys: 1 }), paralellism: 2 } as never), /did you mean 'parallelism'/)
  })
})

test('a worker that stops answering misses its heartbeats, is killed, and the job recovers exactly', async () => {
  await withStorage(async (storage, dir) => {
    const params = { events: 20_000, keys: 200, rate: 20_000, hangAtOffset: 8000, hangMarker: join(dir, 'hung') }
    const failures: string[] = []
    const job = await runJob(options(storage, params, {
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 500,
      onEvent: (e) => e.type === 'failure' && failures.push(e.error.message),
    }))
    const result = await job.done
    assert.ok(existsSync(params.hangMarker), 'a worker hung')
    assert.equal(job.restarts, 1)
    assert.match(failures[0]!, /SIGKILL/)
    const text = await job.metrics.metrics()
    assert.equal(sample(text, 'keyed_state_job_restarts_total{cause="heartbeat-timeout"}'), 1)
    assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 1)
    assertExactlyOnce(await countsIn(storage, result.snapshot!), params)
  })
})

test('rescale 2 → 3 → 1 while the source keeps producing: every key group resumes where its state says', async () => {
  await withStorage(async (storage) => {
    // An endless stream: every rescale lands while it produces, however slow the machine; each phase
    // waits for a checkpoint in which every key group moved on (not for time), then the job stops.
    const keys = 500
    const started: number[] = []
    const job = await runJob(options(storage, { events: ENDLESS, keys, rate: 15_000 }, { onEvent: (e) => e.type === 'started' && started.push(e.parallelism) }))
    await until('a checkpoint', () => job.latestSnapshot !== undefined)
    for (const parallelism of [3, 1]) {
      await job.rescale(parallelism)
      assert.equal(job.workers.length, parallelism)
      assert.equal(job.state, 'RUNNING')
      const from = job.latestSnapshot!
      await until(`a checkpoint of the ${parallelism} workers in which every key group moved on`, () => {
        const now = job.latestSnapshot!
        return now.parallelism === parallelism && now.checkpointId > from.checkpointId && everyKeyGroupMovedOn(from, now)
      })
    }
    const { snapshot } = await job.stop({ savepoint: true })
    assert.deepEqual(started, [2, 3, 1])
    assert.equal(snapshot!.parallelism, 1)
    const total = await assertMatchesPositions(storage, snapshot!, keys)
    assert.ok(total > 0)
  })
})

test('stop with a savepoint, then a new job restores from it at another parallelism and on the heap backend', async () => {
  await withStorage(async (storage) => {
    // The first job reads an endless stream until every worker processed some of it; the second ends it
    // at 100 000 events, far beyond what the first read.
    const params = { events: 100_000, keys: 300 }
    const first = await runJob(options(storage, { ...params, events: ENDLESS, rate: 10_000 }, { checkpointIntervalMs: undefined }))
    await until('every worker processed events', () => first.workers.every((w) => w.progress.processed > 0))
    const stopped = await first.stop({ savepoint: true })
    assert.equal(stopped.state, 'STOPPED')
    assert.equal(first.state, 'STOPPED')
    const savepoint = stopped.snapshot!
    assert.equal(savepoint.type, 'savepoint')
    const partial = await countsIn(storage, savepoint)
    const total = totalCount(partial)
    assert.ok(total > 0 && total < params.events, `the savepoint holds part of the stream (${total})`)

    const second = await runJob(options(storage, params, { parallelism: 3, backend: 'heap', restoreFrom: savepoint.dir }))
    const result = await second.done
    assertExactlyOnce(await countsIn(storage, result.snapshot!), params)
  })
})

test('a source that ends while the job is still starting: the job finishes (it looks again once RUNNING)', { timeout: 300_000 }, async () => {
  await withStorage(async (storage) => {
    const params = { events: 10, keys: 5 }
    const job = await runJob(options(storage, params, { checkpointIntervalMs: undefined }))
    try {
      const result = await job.done
      assert.equal(result.state, 'FINISHED')
      assertExactlyOnce(await countsIn(storage, result.snapshot!), params)
    } finally {
      await job.stop() // nothing left running if this fails
    }
  })
})
