// The checkpoint history file: the coordinator records every completed and
// failed checkpoint and savepoint, bounded to historyMaxEntries, with what
// `_metadata` said; damaged lines are reported, not guessed at.
import assert from 'node:assert/strict'
import { appendFile } from 'node:fs/promises'
import { test } from 'node:test'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { HISTORY_FILE_NAME, readCheckpointHistory } from '../../src/checkpoint/history.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { FakeInstance, tempStorage } from './helpers.js'

const MAX_P = 16

test('the history records completed and failed checkpoints and savepoints, newest historyMaxEntries kept', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    let failId = -1
    const c = await CheckpointCoordinator.create({
      storage, instances, retainedCheckpoints: 1, historyMaxEntries: 4,
      hooks: { beforeMetadataWrite: ({ checkpointId }) => { if (checkpointId === failId) throw new Error('injected') } },
    })
    const completed: CheckpointMetadata[] = []
    completed.push(await c.triggerCheckpoint())
    for (const i of instances) i.flush()
    completed.push(await c.triggerCheckpoint())
    failId = 3
    await assert.rejects(c.triggerCheckpoint(), /injected/)
    completed.push(await c.triggerSavepoint())
    for (const i of instances) i.flush()
    completed.push(await c.triggerCheckpoint())
    await c.close()

    const { entries, problems } = await readCheckpointHistory(storage)
    assert.deepEqual(problems, [])
    // Five happened, four are kept: checkpoint 1 (subsumed, its _metadata gone) dropped off the front.
    assert.deepEqual(entries.map((e) => [e.checkpointId, e.type, e.status]), [
      [2, 'checkpoint', 'completed'], [3, 'checkpoint', 'failed'], [4, 'savepoint', 'completed'], [5, 'checkpoint', 'completed'],
    ])
    for (const e of entries.filter((x) => x.status === 'completed')) {
      const md = completed.find((m) => m.checkpointId === e.checkpointId)!
      assert.equal(e.dir, md.dir)
      assert.equal(e.triggeredAtMs, md.triggeredAtMs)
      assert.equal(e.durationMs, md.completedAtMs - md.triggeredAtMs)
      assert.equal(e.sizeBytes, md.sizeBytes)
      assert.equal(e.incrementalSizeBytes, md.incrementalSizeBytes)
      assert.equal(e.syncPauseMs, Math.max(...md.instances.map((i) => i.syncDurationMs)))
      assert.deepEqual(e.instances!.map((i) => [i.index, i.keyGroupRange, i.sizeBytes, i.incrementalSizeBytes]),
        md.instances.map((i) => [i.index, i.keyGroupRange, i.sizeBytes, i.incrementalSizeBytes]))
    }
    const failed = entries.find((e) => e.status === 'failed')!
    assert.equal(failed.failure!.code, 'IO_ERROR')
    assert.match(failed.failure!.message, /injected/)
    assert.ok(failed.durationMs >= 0)

    // A damaged line is named and skipped; the others are still read, and the next write drops it.
    await appendFile(storage.localPath(HISTORY_FILE_NAME), '{"v":1,"checkpointId":\n')
    const damaged = await readCheckpointHistory(storage)
    assert.equal(damaged.entries.length, 4)
    assert.deepEqual(damaged.problems, [`${HISTORY_FILE_NAME} line 5: not JSON`])
    const again = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1, historyMaxEntries: 4 })
    for (const i of instances) i.flush()
    await again.triggerCheckpoint()
    await again.close()
    const after = await readCheckpointHistory(storage)
    assert.deepEqual(after.problems, [])
    assert.deepEqual(after.entries.map((e) => e.checkpointId), [3, 4, 5, 6])
  } finally {
    await cleanup()
  }
})

test('historyMaxEntries 0 writes no history', async () => {
  const { storage, cleanup } = await tempStorage()
  try {
    const instances = FakeInstance.many(1, MAX_P, storage)
    instances[0]!.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, historyMaxEntries: 0 })
    await c.triggerCheckpoint()
    await c.close()
    assert.equal(await storage.exists(HISTORY_FILE_NAME), false)
    await assert.rejects(CheckpointCoordinator.create({ storage, instances, historyMaxEntries: -1 }), /historyMaxEntries must be an integer >= 0/)
  } finally {
    await cleanup()
  }
})
