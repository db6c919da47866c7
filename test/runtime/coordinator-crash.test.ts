// SIGKILL of the coordinator process (the one that called runJob), alone and
// together with every worker: the workers do not outlive it, and a new
// coordinator started with restoreFrom 'latest' resumes every key group from
// the latest complete checkpoint; the final state is exact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { killDrivers, startDriver, type Driver } from './driver-client.js'
import { assertExactlyOnce, countsIn, ENDLESS } from './helpers.js'

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return true
    }
    await sleep(10)
  }
  return false
}

for (const what of ['coordinator', 'everything'] as const) {
  test(`SIGKILL of ${what === 'coordinator' ? 'the coordinator' : 'everything'}: a new coordinator resumes from the latest checkpoint, counts exact`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'ks-runtime-crash-'))
    const drivers: Driver[] = []
    try {
      const storageDir = join(root, 'storage')
      await mkdir(storageDir)
      // The first run reads an endless stream (still reading when killed, however slow the machine);
      // the second ends it at 100 000 events, far beyond what the first read.
      const params = { events: 100_000, keys: 300 }
      const base = { storage: storageDir, localDir: join(root, 'local'), params, parallelism: 2 }
      const first = startDriver({ ...base, params: { events: ENDLESS, keys: params.keys, rate: 10_000 } })
      drivers.push(first)
      const { pids } = await first.next('started')
      // Two checkpoints: the kill lands while the workers are reading, after the state moved on.
      await first.next('checkpoint')
      await first.next('checkpoint')
      first.kill(what)
      for (const pid of pids) assert.ok(await gone(pid), `worker ${pid} exited with its coordinator`)

      const second = startDriver({ ...base, parallelism: 3, restoreFrom: 'latest' })
      drivers.push(second)
      const started = await second.next('started')
      assert.ok(started.restoredFrom !== null, 'restored from a checkpoint of the first run')
      const done = await second.next('done')
      assert.equal(done.state, 'FINISHED')
      const storage = new FileSystemCheckpointStorage(storageDir)
      assertExactlyOnce(await countsIn(storage, await readMetadata(storage, done.dir!)), params)
    } finally {
      killDrivers(drivers)
      await rm(root, { recursive: true, force: true })
    }
  })
}
