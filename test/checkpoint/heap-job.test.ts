// End to end on real heap backends and FileSystemCheckpointStorage: the
// coordinator checkpoints a running job, retention and aborts keep storage
// exact, and every retained checkpoint restores at another parallelism to
// exactly the state at its barrier.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { handlesForRange } from '../../src/checkpoint/assignment.js'
import { readMetadata, type CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assertStorageExact, tempStorage } from './helpers.js'
import { cloneModel, Job, type Model } from './job.js'

const MAX_P = 32

test('heap job: checkpoints while processing, retention, rescaled restores equal the state at each barrier', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const job = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, seed: 7 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 2 })
    const atBarrier = new Map<number, Model>()
    const done: number[] = []
    for (let round = 0; round < 4; round++) {
      job.process(300)
      const model = cloneModel(job.model)
      const pending = c.triggerCheckpoint()
      // Writes after the barrier must not reach this checkpoint.
      job.process(50)
      const md = await pending
      atBarrier.set(md.checkpointId, model)
      done.push(md.checkpointId)
      assert.ok(md.instances.every((i) => i.handle?.type === 'full'))
      assert.equal(md.incrementalSizeBytes, md.sizeBytes, 'full checkpoints upload everything')
      await assertStorageExact(storage, done.slice(-2), `after checkpoint ${md.checkpointId}`)
    }
    await c.close()
    await job.close()

    const latest = (await findLatestCompleteCheckpoint(storage))!
    assert.equal(latest.checkpointId, 4)
    for (const [md, parallelism] of [[latest, 2], [await readMetadata(storage, 'chk-3'), 5], [latest, 1]] as const) {
      const restored = await Job.open({ parallelism, maxParallelism: MAX_P, storage, restoreFrom: md, model: atBarrier.get(md.checkpointId) })
      restored.assertMatches()
      await restored.close()
    }
  } finally {
    await cleanup()
  }
})

test('heap job: overlapping checkpoints each hold the state at their own barrier', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, seed: 3 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, maxConcurrentCheckpoints: 2, retainedCheckpoints: 2 })
    job.process(200)
    const m1 = cloneModel(job.model)
    const p1 = c.triggerCheckpoint()
    job.process(200)
    const m2 = cloneModel(job.model)
    const p2 = c.triggerCheckpoint()
    job.process(100)
    const [c1, c2] = await Promise.all([p1, p2])
    await assertStorageExact(storage, [1, 2])
    await c.close()
    await job.close()
    for (const [md, model] of [[c1, m1], [c2, m2]] as Array<[CheckpointMetadata, Model]>) {
      const restored = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, restoreFrom: md, model })
      restored.assertMatches()
      await restored.close()
    }
  } finally {
    await cleanup()
  }
})

test('heap job: an instance failing in its async part aborts the checkpoint and leaves no file behind', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    let failures = 0
    const beforeCommit = ({ checkpointId }: { checkpointId: number }): void => {
      if (checkpointId === 2 && failures++ === 0) throw new Error('injected upload failure')
    }
    const job = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, seed: 5, snapshotHooks: { beforeCommit } })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances })
    job.process(300)
    await c.triggerCheckpoint()
    job.process(100)
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e, 'ABORTED') && /injected upload failure/.test(e.message))
    await assertStorageExact(storage, [1])
    // The backends keep working and the next checkpoint is complete.
    job.process(100)
    const model = cloneModel(job.model)
    const md = await c.triggerCheckpoint()
    await assertStorageExact(storage, [1, 3])
    await c.close()
    await job.close()
    const restored = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, restoreFrom: md, model })
    restored.assertMatches()
    await restored.close()
  } finally {
    await cleanup()
  }
})

test('heap job: savepoint, then a new job restored from it in no-claim mode at another parallelism', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, seed: 11 })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 1 })
    job.process(300)
    await c.triggerCheckpoint()
    const atSavepoint = cloneModel(job.model)
    const sp = await c.triggerSavepoint('savepoints/before-upgrade')
    job.process(50)
    await c.triggerCheckpoint()
    await c.close()
    await job.close()
    await assertStorageExact(storage, [2, 3])

    const readBack = await readMetadata(storage, 'savepoints/before-upgrade')
    assert.deepEqual(readBack, sp)
    const job2 = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage, restoreFrom: readBack, model: atSavepoint })
    job2.assertMatches()
    // Each new instance restores from every old handle that intersects its range.
    assert.deepEqual(handlesForRange(readBack, job2.ranges()[1]!).length, 2)
    const c2 = await CheckpointCoordinator.create({ storage, instances: job2.instances, retainedCheckpoints: 1, restoredFrom: { metadata: readBack } })
    job2.process(100)
    for (let i = 0; i < 3; i++) await c2.triggerCheckpoint()
    // The savepoint and the checkpoint of the earlier run (not owned in no-claim mode) stay.
    await assertStorageExact(storage, [2, 3, 6])
    await c2.close()
    await job2.close()
  } finally {
    await cleanup()
  }
})

// An instance without state writes no handle; `_metadata` records its range as
// empty and restoreAssignment passes it as knownEmptyRanges, so a restore whose
// range spans it is complete.
test('heap job: an instance that held no state restores at another parallelism', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage, seed: 9 })
    const first = job.backends[0]!
    job.process(300, 50, (key) => job.backendFor(key) === first)
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances })
    const md = await c.triggerCheckpoint()
    assert.equal(md.instances[1]!.handle, null)
    assert.equal(md.instances[1]!.sizeBytes, 0)
    await c.close()
    await job.close()
    for (const parallelism of [1, 3]) {
      const restored = await Job.open({ parallelism, maxParallelism: MAX_P, storage, restoreFrom: md, model: job.model })
      restored.assertMatches()
      await restored.close()
    }
  } finally {
    await cleanup()
  }
})
