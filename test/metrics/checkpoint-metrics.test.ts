// Scrapes the metrics of a running coordinator over HTTP and checks them
// against what happened: completed and failed checkpoints, a savepoint,
// durations and bytes from the `_metadata` of each, the last id and its age.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { checkpointMetrics } from '../../src/metrics/checkpoint-metrics.js'
import { serveMetrics } from '../../src/metrics/server.js'
import { FakeInstance, tempStorage } from '../checkpoint/helpers.js'

/** The value of one sample line `name{labels} value` of a scrape. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  assert.ok(line, `${series} is in the scrape`)
  return Number(line.slice(series.length + 1))
}

test('a running coordinator\'s metrics match its checkpoints', async () => {
  const { storage, cleanup } = await tempStorage()
  const instances = FakeInstance.many(2, 16, storage)
  let failId = -1
  const c = await CheckpointCoordinator.create({
    storage, instances, retainedCheckpoints: 2,
    hooks: { beforeMetadataWrite: ({ checkpointId }) => { if (checkpointId === failId) throw new Error('injected') } },
  })
  let now = 0
  const metrics = checkpointMetrics(c, { nowMs: () => now })
  const server = await serveMetrics(metrics.registry)
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const done: CheckpointMetadata[] = []
    for (let i = 0; i < 3; i++) {
      for (const inst of instances) inst.flush()
      done.push(await c.triggerCheckpoint())
    }
    failId = 4
    await assert.rejects(c.triggerCheckpoint(), /injected/)
    const savepoint = await c.triggerSavepoint()
    metrics.recordRestore(1500, true)
    now = done[2]!.completedAtMs + 42_000

    const text = await (await fetch(server.url)).text()
    assert.equal(sample(text, 'keyed_state_checkpoints_total{type="checkpoint",outcome="completed"}'), 3)
    assert.equal(sample(text, 'keyed_state_checkpoints_total{type="checkpoint",outcome="failed"}'), 1)
    assert.equal(sample(text, 'keyed_state_checkpoints_total{type="savepoint",outcome="completed"}'), 1)
    assert.equal(sample(text, 'keyed_state_checkpoint_duration_seconds_count{type="checkpoint"}'), 3)
    const durationSum = done.reduce((s, md) => s + (md.completedAtMs - md.triggeredAtMs) / 1000, 0)
    assert.ok(Math.abs(sample(text, 'keyed_state_checkpoint_duration_seconds_sum{type="checkpoint"}') - durationSum) < 1e-9)
    const pauseSum = done.reduce((s, md) => s + Math.max(...md.instances.map((i) => i.syncDurationMs)) / 1000, 0)
    assert.ok(Math.abs(sample(text, 'keyed_state_checkpoint_sync_pause_seconds_sum{type="checkpoint"}') - pauseSum) < 1e-9)
    assert.equal(sample(text, 'keyed_state_checkpoint_written_bytes_total{type="checkpoint"}'), done.reduce((s, md) => s + md.incrementalSizeBytes, 0))
    assert.equal(sample(text, 'keyed_state_last_checkpoint_size_bytes{type="checkpoint"}'), done[2]!.sizeBytes)
    assert.equal(sample(text, 'keyed_state_last_checkpoint_incremental_bytes{type="savepoint"}'), savepoint.incrementalSizeBytes)
    assert.equal(sample(text, 'keyed_state_last_completed_checkpoint_id'), 3)
    assert.equal(sample(text, 'keyed_state_last_completed_checkpoint_age_seconds'), 42)
    assert.equal(sample(text, 'keyed_state_restore_duration_seconds_count{kind="rescale"}'), 1)
    assert.equal(sample(text, 'keyed_state_restore_duration_seconds_sum{kind="rescale"}'), 1.5)
    // Bounded labels: no checkpoint id, key or key group in any label.
    assert.doesNotMatch(text, /\{[^}]*(checkpoint_id|key|key_group)=/)
  } finally {
    metrics.detach()
    await server.close()
    await c.close()
    await cleanup()
  }
})
