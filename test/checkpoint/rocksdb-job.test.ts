// End to end on real RocksDB backends with incremental checkpoints: shared
// SSTs move between checkpoints through the registry, and storage always holds
// exactly what the retained checkpoints need, through retention, concurrency,
// rescaled restores and both restore modes.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { filesOfHandle } from '../../src/checkpoint/handles.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { assertStorageExact, tempStorage } from './helpers.js'
import { cloneModel, Job, type Model } from './job.js'
import { storageKinds, type StorageKind } from '../s3/server.js'

const MAX_P = 32

function sharedPaths(md: CheckpointMetadata): Set<string> {
  return new Set(md.instances.flatMap((i) => (i.handle ? filesOfHandle(i.handle).filter((f) => f.shared).map((f) => f.path) : [])))
}

// Each test runs on the file system and on S3.
const STORAGE_KINDS = storageKinds(tempStorage, after)

async function withDirs(kind: StorageKind, fn: (ctx: { storage: CheckpointStorage; workDir: string }) => Promise<void>): Promise<void> {
  const t = await kind.open()
  const workDir = await mkdtemp(join(tmpdir(), 'ks-chk-work-'))
  try {
    await fn({ storage: t.storage, workDir })
  } finally {
    await t.cleanup()
    await rm(workDir, { recursive: true, force: true })
  }
}

for (const kind of STORAGE_KINDS) test(`${kind.name}: rocksdb incremental: retention over shared SSTs keeps storage exact; rescaled restore equals the barrier state`, () =>
  withDirs(kind, async ({ storage, workDir }) => {
    const job = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, seed: 13 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 2 })
    const atBarrier = new Map<number, Model>()
    const done: CheckpointMetadata[] = []
    for (let round = 0; round < 5; round++) {
      job.process(400, 200)
      const model = cloneModel(job.model)
      const pending = c.triggerCheckpoint()
      job.process(30, 200)
      const md = await pending
      atBarrier.set(md.checkpointId, model)
      done.push(md)
      assert.ok(md.instances.every((i) => i.handle?.type === 'incremental'))
      await assertStorageExact(storage, done.slice(-2).map((m) => m.checkpointId), `after checkpoint ${md.checkpointId}`)
    }
    // Later checkpoints refer to SSTs that earlier ones uploaded.
    const last = done.at(-1)!
    const previous = done.at(-2)!
    assert.ok([...sharedPaths(last)].some((p) => sharedPaths(previous).has(p)), 'consecutive checkpoints share SSTs')
    assert.ok(last.incrementalSizeBytes < last.sizeBytes, 'an incremental checkpoint writes less than it references')
    await c.close()
    await job.close()

    const latest = (await findLatestCompleteCheckpoint(storage, { checkFiles: true }))!
    for (const parallelism of [2, 4]) {
      const restored = await Job.open({ parallelism, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: latest, model: atBarrier.get(latest.checkpointId) })
      restored.assertMatches()
      await restored.close()
    }
  }))

for (const kind of STORAGE_KINDS) test(`${kind.name}: rocksdb incremental: concurrent checkpoints completing out of order never lose an SST`, () =>
  withDirs(kind, async ({ storage, workDir }) => {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, seed: 17 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 1, maxConcurrentCheckpoints: 3 })
    const models = new Map<number, Model>()
    const outcomes: Promise<CheckpointMetadata | undefined>[] = []
    for (let i = 0; i < 8; i++) {
      job.process(200, 100)
      const model = cloneModel(job.model)
      const p = c.triggerCheckpoint().catch(() => undefined)
      outcomes.push(p.then((md) => {
        if (md) models.set(md.checkpointId, model)
        return md
      }))
      if (i % 3 === 2) await Promise.race(outcomes)
      if (c.inFlightCheckpoints().length >= 3) await Promise.all(outcomes)
    }
    await Promise.all(outcomes)
    const retained = c.completedCheckpoints()
    assert.equal(retained.length, 1)
    await assertStorageExact(storage, [retained[0]!.checkpointId])
    await c.close()
    await job.close()
    const restored = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: retained[0]!, model: models.get(retained[0]!.checkpointId) })
    restored.assertMatches()
    await restored.close()
  }))

for (const kind of STORAGE_KINDS) test(`${kind.name}: rocksdb incremental: no-claim restore never reuses nor deletes the restored files; claim mode adopts them`, () =>
  withDirs(kind, async ({ storage, workDir }) => {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, seed: 19 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 1 })
    job.process(500, 200)
    await c.triggerCheckpoint()
    job.process(100, 200)
    const restoredMd = await c.triggerCheckpoint()
    const model = cloneModel(job.model)
    await c.close()
    await job.close()
    await assertStorageExact(storage, [2])

    // no-claim: the first checkpoint uploads everything again; chk-2 stays forever.
    // Same parallelism, so without forceFullUpload the instances would reuse the restored SSTs.
    const job2 = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: restoredMd, model })
    job2.assertMatches()
    const c2 = await CheckpointCoordinator.create({ storage, instances: job2.instances, retainedCheckpoints: 1, restoredFrom: { metadata: restoredMd } })
    job2.process(50, 200)
    const first = await c2.triggerCheckpoint()
    assert.equal(first.checkpointId, 3)
    assert.deepEqual([...sharedPaths(first)].filter((p) => sharedPaths(restoredMd).has(p)), [], 'nothing shared with the restored checkpoint')
    job2.process(50, 200)
    const second = await c2.triggerCheckpoint()
    assert.ok([...sharedPaths(second)].some((p) => sharedPaths(first).has(p)), 'later checkpoints are incremental on the job\'s own files')
    await assertStorageExact(storage, [2, 4])
    await c2.close()
    await job2.close()

    // claim: a job restored from chk-4 owns the checkpoints of this storage, reuses their SSTs, and retention deletes them.
    // Same parallelism: each instance opens its handle's files directly and keeps them as its base.
    const job3 = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: second, model: job2.model })
    const c3 = await CheckpointCoordinator.create({ storage, instances: job3.instances, retainedCheckpoints: 1, restoredFrom: { metadata: second, mode: 'claim' } })
    assert.deepEqual(c3.completedCheckpoints().map((m) => m.checkpointId), [4], 'chk-2 is adopted and subsumed at once')
    await assertStorageExact(storage, [4])
    job3.process(20, 200)
    const fifth = await c3.triggerCheckpoint()
    assert.ok([...sharedPaths(fifth)].some((p) => sharedPaths(second).has(p)), 'claim mode reuses the restored SSTs')
    await assertStorageExact(storage, [5])
    const model5 = cloneModel(job3.model)
    await c3.close()
    await job3.close()
    const check = await Job.open({ parallelism: 1, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: fifth, model: model5 })
    check.assertMatches()
    await check.close()
  }))

for (const kind of STORAGE_KINDS) test(`${kind.name}: rocksdb incremental: an instance that held no state restores at another parallelism`, () =>
  withDirs(kind, async ({ storage, workDir }) => {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, seed: 23 })
    const first = job.backends[0]!
    job.process(300, 100, (key) => job.backendFor(key) === first)
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances })
    const md = await c.triggerCheckpoint()
    await c.close()
    await job.close()
    assert.equal(md.instances[1]!.handle, null, 'the empty instance wrote nothing')
    for (const parallelism of [1, 3]) {
      const restored = await Job.open({ parallelism, maxParallelism: MAX_P, storage, kind: 'rocksdb', workDir, restoreFrom: md, model: job.model })
      restored.assertMatches()
      await restored.close()
    }
  }))
