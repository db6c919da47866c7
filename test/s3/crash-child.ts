// The S3 crash test's child: one RocksDB instance checkpointing to S3. It
// writes generation 1 of every key, checkpoints ("complete 1" on stdout),
// writes generation 2 and checkpoints again - during which the parent kills
// it with SIGKILL in the middle of a multipart upload.
// env: KS_S3_OPTIONS (JSON S3CheckpointStorageOptions), KS_WORK_DIR.
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { LocalOperatorInstance } from '../../src/checkpoint/instance.js'
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import { bytesSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { S3CheckpointStorage } from '../../src/storage/s3.js'
import { CRASH_KEYS, CRASH_MAX_PARALLELISM, crashKey, crashValue } from './crash-data.js'

const storage = new S3CheckpointStorage(JSON.parse(process.env.KS_S3_OPTIONS!))
const backend = await openKeyedStateBackend({
  kind: 'rocksdb',
  dir: join(process.env.KS_WORK_DIR!, 'db'),
  keySerializer: stringSerializer,
  maxParallelism: CRASH_MAX_PARALLELISM,
  keyGroupRange: keyGroupRangeForOperator(CRASH_MAX_PARALLELISM, 1, 0),
  storage,
})
const value = backend.getState(new ValueStateDescriptor('value', bytesSerializer))
const coordinator = await CheckpointCoordinator.create({ storage, instances: [new LocalOperatorInstance(backend, storage)] })
for (const generation of [1, 2]) {
  for (let i = 0; i < CRASH_KEYS; i++) {
    backend.setCurrentKey(crashKey(i))
    value.update(crashValue(i, generation))
  }
  const md = await coordinator.triggerCheckpoint()
  process.stdout.write(`complete ${md.checkpointId}\n`)
}
await coordinator.close()
await backend.close()
storage.close()
