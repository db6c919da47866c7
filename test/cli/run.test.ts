// keyed-state run / stop: a job started from its module on the command line,
// stopped from another process with a savepoint, and resumed from it with
// --restore-from at another parallelism until its bounded source ends; the
// savepoint matches its positions and the final state is exact; --metrics-port
// serves the running job's metrics.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { assertExactlyOnce, assertMatchesPositions, countsIn, ENDLESS, generatorPositions, withStorage } from '../runtime/helpers.js'
import { scrapeUntil, seriesOf, sumOf } from '../metrics/scrape.js'

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const JOB = fileURLToPath(new URL('../../examples/counting-job.js', import.meta.url))

function cli(args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return {
    done: new Promise((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code) => resolve({ code, stdout, stderr }))
    }),
    stderr: () => stderr,
  }
}

test('keyed-state run, stop (savepoint), run --restore-from: the job resumes and ends exact', async () => {
  await withStorage(async (storage, dir) => {
    // The first run reads an endless stream until stopped; the second ends it at 100 000 events, far beyond.
    const endless = { events: ENDLESS, keys: 200, rate: 2000 }
    const params = { events: 100_000, keys: 200 }
    const pidFile = join(dir, 'job.pid')
    const common = ['--storage', dir, '--max-parallelism', '16', '--checkpoint-interval-ms', '50']
    const first = cli(['run', JOB, ...common, '--params', JSON.stringify(endless), '--parallelism', '2', '--pid-file', pidFile, '--metrics-port', '0', '--rocksdb-statistics'])
    while (!existsSync(pidFile)) await sleep(20)
    // --metrics-port serves the running job's metrics: both workers count events.
    const url = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(first.stderr())?.[1]
    assert.ok(url, first.stderr())
    const text = await scrapeUntil({ metrics: async () => (await fetch(url)).text() }, 'events of both workers', (t) =>
      seriesOf(t, 'keyed_state_events_total').filter((s) => s.value > 0).length === 2)
    assert.equal(sumOf(text, 'keyed_state_job_restarts_total'), 0)
    assert.equal(seriesOf(text, 'keyed_state_rocksdb_block_cache_misses_total').length, 2, '--rocksdb-statistics reaches both workers')
    // Stopped once a checkpoint holds some events (not after a time: the machine may be slow).
    for (;;) {
      const latest = await findLatestCompleteCheckpoint(storage)
      if (latest && [...generatorPositions(latest).values()].some((p) => p > 0)) break
      await sleep(20)
    }
    const stopped = await cli(['stop', pidFile]).done
    assert.equal(stopped.code, 0, stopped.stderr)
    const r1 = await first.done
    assert.equal(r1.code, 0, r1.stderr)
    assert.match(r1.stderr, /job STOPPED/)
    const savepointDir = r1.stdout.trim()
    assert.match(savepointDir, /^savepoints\/savepoint-\d+$/)
    assert.equal((await readMetadata(storage, savepointDir)).type, 'savepoint')
    assert.ok(!existsSync(pidFile), 'the pid file is removed at exit')

    assert.ok((await assertMatchesPositions(storage, await readMetadata(storage, savepointDir), endless.keys)) > 0)
    const second = await cli(['run', JOB, ...common, '--params', JSON.stringify(params), '--parallelism', '3', '--restore-from', savepointDir]).done
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stderr, new RegExp(`started 3 workers \\(attempt 1\\) from ${savepointDir}`))
    assert.match(second.stderr, /job FINISHED/)
    assertExactlyOnce(await countsIn(storage, await readMetadata(storage, second.stdout.trim())), params)

    const bad = await cli(['run', JOB, '--storage', dir, '--params', '{nope']).done
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /--params is not JSON/)
    const none = await cli(['stop', join(dir, 'missing.pid')]).done
    assert.equal(none.code, 1)
    assert.match(none.stderr, /neither a pid nor a pid file/)
  })
})
