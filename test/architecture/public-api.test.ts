// The package entry (src/index.ts) exports the API README.md documents and no
// internals: the list is exact, so adding an export is a decision, not an
// accident of `export *`.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import * as api from '../../src/index.js'
import { sourceDir } from './import-graph.js'

const PUBLIC_VALUES = [
  'AggregatingStateDescriptor', 'CancelledError', 'CheckpointCoordinator', 'ClosedError', 'CorruptSnapshotError',
  'DEFAULT_GC_GRACE_PERIOD_MS', 'DEFAULT_MAX_PARALLELISM', 'FileSystemCheckpointStorage', 'KeyGroupRangeError',
  'KeyedStateError', 'ListStateDescriptor', 'LocalOperatorInstance', 'MAX_PARALLELISM_LIMIT', 'MapStateDescriptor',
  'NativeError', 'ReducingStateDescriptor', 'S3CheckpointStorage', 'SharedStateRegistry', 'StateConflictError', 'ValueStateDescriptor',
  'assignToKeyGroup', 'backendMetrics', 'booleanSerializer', 'bytesSerializer', 'checkpointMetrics', 'collectGarbage', 'findLatestCompleteCheckpoint',
  'float64Serializer', 'formatRange', 'handlesForRange', 'int32Serializer', 'int64Serializer', 'isKeyedStateError',
  'jsonSerializer', 'keyGroupRange', 'keyGroupRangeForOperator', 'knownEmptyRangesFor', 'listSerializer',
  'listSnapshots', 'mapSerializer', 'openKeyedStateBackend', 'operatorIndexForKeyGroup', 'rangeContains',
  'rangeIntersection', 'rangeSize', 'readCheckpointHistory', 'readMetadata', 'restoreAssignment', 'serveMetrics', 'stringSerializer', 'tupleSerializer',
  'voidNamespaceSerializer', 'openCheckpointStorage', 'parseStorageLocation', 's3OptionsFromEnv',
  // The job runtime and its sources.
  'DEFAULT_RESTART_STRATEGY', 'Job', 'defineJob', 'generatorSource', 'jsonEventCodec', 'natsJetStreamProducer',
  'natsJetStreamSource', 'redisStreamsProducer', 'redisStreamsSource', 'runJob', 'serveRemoteWorker', 'withSnapshotState',
]

test('the package exports exactly its public values', () => {
  assert.deepEqual(Object.keys(api).sort(), [...PUBLIC_VALUES].sort())
})

test('helpers stay internal', () => {
  for (const name of ['murmur3_32', 'checkKeyGroupRange', 'checkMaxParallelism', 'serializerConfig', 'serializerCanRead',
    'fromFsError', 'valueSerializerOf', 'encodeMetadata', 'decodeMetadata', 'writeMetadata', 'checkpointsToSubsume', 'HOOK_NAMES']) {
    assert.equal(name in api, false, `${name} is exported`)
  }
})

test("every name README's example imports is exported", () => {
  const readme = readFileSync(join(sourceDir(), '..', 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/import\s*\{([^}]*)\}\s*from\s*'keyed-state'/g)]
  assert.ok(blocks.length > 0, 'README has no import from keyed-state')
  for (const block of blocks) {
    for (const name of block[1]!.split(',').map((n) => n.trim()).filter((n) => n !== '')) {
      assert.ok(name in api, `README imports ${name}, which the package does not export`)
    }
  }
})
