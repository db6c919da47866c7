// The runtime on the generator source: worker processes, checkpoints with
// source positions, restarts after SIGKILL or a hung worker, bounded restart
// attempts, rescale while running, stop with a savepoint and restore from it.
// Every run ends with a check that each key's state equals what the source
// produced (exactly once with respect to state).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isKeyedStateError } from '../../src/errors.js'
import { runJob, type Job, type JobEvent, type RunJobOptions } from '../../src/runtime/job.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CountingParams } from './counting-job.js'
import { assertExactlyOnce, COUNTING_JOB, countsIn } from './helpers.js'

async function withStorage(fn: (storage: FileSystemCheckpointStorage, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-runtime-'))
  try {
    await fn(new FileSystemCheckpointStorage(dir), dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function options(storage: FileSystemCheckpointStorage, params: CountingParams, more: Partial<RunJobOptions> = {}): RunJobOptions {
  return {
    job: COUNTING_JOB,
    params: { ...params },
    parallelism: 2,
    maxParallelism: 16,
    backend: 'rocksdb',
    storage,
    checkpointIntervalMs: 50,
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 10 },
    ...more,
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

test('SIGKILL of a worker: the job restarts from the latest checkpoint and every count is exact', async () => {
  await withStorage(async (storage) => {
    const params = { events: 30_000, keys: 300, rate: 20_000 }
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
