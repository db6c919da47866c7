import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, utimes, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { findLatestCompleteCheckpoint, missingFiles } from '../../src/checkpoint/catalog.js'
import { collectGarbage } from '../../src/checkpoint/gc.js'
import { HISTORY_FILE_NAME } from '../../src/checkpoint/layout.js'
import type { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { assertStorageExact, FakeInstance, referencedByMetadata, storedPaths, tempStorage, until } from './helpers.js'
import { Job } from './job.js'

const HOUR_MS = 3_600_000

async function plant(storage: FileSystemCheckpointStorage, path: string, ageMs: number, content = 'x'): Promise<void> {
  const abs = storage.localPath(path)
  await mkdir(dirname(abs), { recursive: true })
  await writeFile(abs, content)
  const t = (Date.now() - ageMs) / 1000
  await utimes(abs, t, t)
}

async function age(storage: FileSystemCheckpointStorage, ageMs: number): Promise<void> {
  const t = (Date.now() - ageMs) / 1000
  for (const p of await storedPaths(storage)) await utimes(storage.localPath(p), t, t)
}

test('gc finds exactly the orphans, keeps young, foreign and referenced files, and deletes only with delete', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: 16, storage })
    const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 2 })
    job.process(200)
    await c.triggerCheckpoint()
    await c.triggerSavepoint()
    job.process(50)
    await c.triggerCheckpoint()
    await c.close()
    await job.close()
    const needed = await referencedByMetadata(storage)
    await age(storage, 2 * HOUR_MS)

    // A crash in the middle of a history write leaves its temporary file: an orphan too.
    const orphans = ['chk-9/op-1', 'chk-3/.op.abc.tmp', 'shared/lost.sst', 'savepoints/dead/op-0', 'taskowned/x', '._checkpoint_history.jsonl.0123456789ab.tmp'].sort()
    for (const p of orphans) await plant(storage, p, 2 * HOUR_MS)
    await plant(storage, 'shared/young.sst', 1000)
    await plant(storage, 'notes.txt', 2 * HOUR_MS)
    await plant(storage, 'other/data.bin', 2 * HOUR_MS)

    const report = await collectGarbage(storage)
    assert.deepEqual(report.orphans.map((e) => e.path).sort(), orphans)
    assert.deepEqual(report.tooYoung.map((e) => e.path), ['shared/young.sst'])
    assert.deepEqual(report.foreign.map((e) => e.path).sort(), ['notes.txt', 'other/data.bin'])
    // The checkpoint history is the lifecycle's own file: kept, not foreign.
    assert.equal(report.referencedFiles, needed.length + 1)
    assert.deepEqual(report.deleted, [])
    assert.equal((await storedPaths(storage)).length, needed.length + orphans.length + 3, 'nothing deleted without delete')

    const progress: number[] = []
    const deleted = await collectGarbage(storage, { delete: true, onProgress: (done) => progress.push(done) })
    assert.deepEqual(deleted.deleted.sort(), orphans)
    assert.deepEqual(progress, orphans.map((_, i) => i + 1))
    assert.deepEqual(await storedPaths(storage), [...needed, 'notes.txt', 'other/data.bin', 'shared/young.sst'].sort())
    const latest = (await findLatestCompleteCheckpoint(storage))!
    assert.deepEqual(await missingFiles(storage, latest), [])
    assert.equal(await storage.exists(HISTORY_FILE_NAME), true)

    // With no grace period the young file goes too.
    const now = await collectGarbage(storage, { delete: true, gracePeriodMs: 0 })
    assert.deepEqual(now.deleted, ['shared/young.sst'])
  } finally {
    await cleanup()
  }
})

test('gc keeps everything an unreadable _metadata might reference', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    await plant(storage, 'chk-4/_metadata', 2 * HOUR_MS, '{"format":"keyed-state-checkpoint-metadata", broken')
    await plant(storage, 'chk-4/op-0', 2 * HOUR_MS)
    await plant(storage, 'shared/a.sst', 2 * HOUR_MS)
    await plant(storage, 'chk-5/op-0', 2 * HOUR_MS)
    const report = await collectGarbage(storage, { delete: true })
    assert.deepEqual(report.deleted, ['chk-5/op-0'])
    assert.equal(report.problems.length, 1)
    assert.match(report.problems[0]!, /chk-4: .*not valid JSON.*kept/)
    assert.deepEqual(await storedPaths(storage), ['chk-4/_metadata', 'chk-4/op-0', 'shared/a.sst'])
  } finally {
    await cleanup()
  }
})

test('a live coordinator\'s gc spares its in-flight checkpoints even with no grace period', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const instances = FakeInstance.many(2, 16, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, maxConcurrentCheckpoints: 2 })
    await c.triggerCheckpoint()
    for (const i of instances) i.flush()
    instances[1]!.manual = true
    const pending = c.triggerCheckpoint()
    // Instance 0 uploaded its new SST and wrote into chk-2; instance 1 has not answered.
    await until(() => instances[1]!.waitingFor().length === 1, 'held')
    for (let i = 0; i < 50 && !(await storedPaths(storage)).some((p) => p.startsWith('chk-2/')); i++) await new Promise((r) => setTimeout(r, 5))
    await plant(storage, 'chk-77/left-by-a-crash', 2 * HOUR_MS)
    // Looks like an upload in progress that no answer mentions yet.
    await plant(storage, 'shared/uploading.sst', 0)
    const report = await c.collectGarbage({ delete: true, gracePeriodMs: 0 })
    assert.deepEqual(report.deleted, ['chk-77/left-by-a-crash'])
    instances[1]!.release(2)
    await pending
    // Nothing in flight any more: the file nobody referenced is an orphan now.
    assert.deepEqual((await c.collectGarbage({ delete: true, gracePeriodMs: 0 })).deleted, ['shared/uploading.sst'])
    await assertStorageExact(storage, [1, 2])
    await c.close()
  } finally {
    await cleanup()
  }
})
