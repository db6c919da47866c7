// Operator state (e.g. a source offset) acknowledged by an instance is
// recorded in `_metadata` next to its handle, and a value that is not plain
// JSON aborts the checkpoint instead of being written half-converted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { LocalOperatorInstance } from '../../src/checkpoint/instance.js'
import { decodeMetadata, encodeMetadata } from '../../src/checkpoint/metadata.js'
import { isKeyedStateError } from '../../src/errors.js'
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { InstanceWithOperatorState } from '../checkpoint/helpers.js'

test('operator state: recorded per instance in _metadata, non-JSON values abort the checkpoint', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ks-opstate-'))
  try {
    const storage = new FileSystemCheckpointStorage(root)
    const maxParallelism = 8
    const backends = await Promise.all(
      [0, 1].map((i) =>
        openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism, keyGroupRange: keyGroupRangeForOperator(maxParallelism, 2, i) }),
      ),
    )
    const count = new ValueStateDescriptor('count', int32Serializer)
    for (const b of backends) {
      for (let k = 0; k < 50; k++) {
        try {
          b.setCurrentKey(`k${k}`)
        } catch {
          continue // another instance's key
        }
        b.getState(count).update(k)
      }
    }
    let second: unknown = { offset: 7, partitions: [1, 2] }
    const instances = [
      new InstanceWithOperatorState(new LocalOperatorInstance(backends[0]!, storage), () => ({ offset: 42 })),
      new InstanceWithOperatorState(new LocalOperatorInstance(backends[1]!, storage), () => second),
    ]
    const c = await CheckpointCoordinator.create({ storage, instances })
    const md = await c.triggerCheckpoint()
    assert.deepEqual(md.instances.map((i) => i.operatorState), [{ offset: 42 }, { offset: 7, partitions: [1, 2] }])
    const read = await findLatestCompleteCheckpoint(storage)
    assert.deepEqual(read?.instances.map((i) => i.operatorState), [{ offset: 42 }, { offset: 7, partitions: [1, 2] }])
    assert.deepEqual(decodeMetadata(encodeMetadata(read!), 'round trip'), read)

    for (const bad of [{ offset: Number.NaN }, { offset: 1n }, { when: new Date(0) }]) {
      second = bad
      await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e) && /operatorState/.test(e.message))
    }
    second = undefined
    const without = await c.triggerCheckpoint()
    assert.equal(without.instances[1]!.operatorState, undefined)
    assert.ok(!('operatorState' in without.instances[1]!))
    await c.close()
    await Promise.all(backends.map((b) => b.close()))
  } finally {
    await rm(root, { recursive: true, force: true })
  }
})
