// The package's public API: what README.md documents and a job needs, named one
// by one so that helpers (hashing, validation, file formats) stay internal.
// Tests and tools import internals by their path under src/.
export {
  KeyedStateError,
  KeyGroupRangeError,
  StateConflictError,
  ClosedError,
  CorruptSnapshotError,
  CancelledError,
  NativeError,
  isKeyedStateError,
} from './errors.js'
export type { ErrorCode, ErrorDetails } from './errors.js'

export {
  DEFAULT_MAX_PARALLELISM,
  MAX_PARALLELISM_LIMIT,
  assignToKeyGroup,
  keyGroupRangeForOperator,
  operatorIndexForKeyGroup,
  keyGroupRange,
  rangeSize,
  rangeContains,
  rangeIntersection,
  formatRange,
} from './keygroups.js'
export type { KeyGroupRange } from './keygroups.js'

export {
  stringSerializer,
  int32Serializer,
  int64Serializer,
  float64Serializer,
  booleanSerializer,
  bytesSerializer,
  jsonSerializer,
  voidNamespaceSerializer,
} from './serializers/primitives.js'
export { listSerializer, mapSerializer, tupleSerializer } from './serializers/composite.js'
export type { Serializer, SerializerConfig } from './serializers/serializer.js'

export {
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
} from './state/descriptors.js'
export type { StateKind, AggregateFunction, AnyStateDescriptor, ValueRead } from './state/descriptors.js'
export type { State, ValueState, ListState, MapState, ReducingState, AggregatingState } from './state/types.js'
export type { StateTtlConfig, TtlUpdateType, TtlVisibility, TtlClock } from './state/ttl.js'
export type { StateMetaInfo } from './state/meta.js'

export { openKeyedStateBackend } from './backends/open.js'
export type {
  KeyedStateBackend,
  KeyedStateBackendOptions,
  BackendKind,
  RocksDBCompactionOptions,
  MemoryOptions,
  StateOf,
  BackendStats,
  StateStats,
} from './state-backend/types.js'
export type { Timer, TimerService, TimerServiceOptions, TimeDomain } from './timers/types.js'

export type {
  SnapshotType,
  SnapshotOptions,
  SnapshotHooks,
  SnapshotHookName,
  SnapshotHookInfo,
  RestoreHooks,
  SnapshotRun,
  SnapshotResult,
  CompressionCodec,
  StoredFile,
  KeyedStateHandle,
  FullSnapshotHandle,
  IncrementalSnapshotHandle,
  LocalStateHandle,
  LocalRecoveryFallback,
} from './snapshot/types.js'

export { FileSystemCheckpointStorage } from './storage/fs.js'
export { S3CheckpointStorage, type S3CheckpointStorageOptions } from './storage/s3.js'
export { openCheckpointStorage, parseStorageLocation, s3OptionsFromEnv, type OpenStorageOptions, type StorageLocation } from './storage/open.js'
export type { CheckpointStorage, StorageScope, StorageOutput, StoredEntry, IncompleteUpload } from './storage/types.js'

export {
  CheckpointCoordinator,
  LocalOperatorInstance,
  SharedStateRegistry,
  restoreAssignment,
  handlesForRange,
  knownEmptyRangesFor,
  listSnapshots,
  findLatestCompleteCheckpoint,
  readMetadata,
  readCheckpointHistory,
  collectGarbage,
  DEFAULT_GC_GRACE_PERIOD_MS,
} from './checkpoint/index.js'
export type {
  CheckpointCoordinatorOptions,
  CheckpointEvent,
  RestoreSettings,
  OperatorInstance,
  InstanceSnapshotRequest,
  InstanceAck,
  LocalOperatorInstanceOptions,
  RegisteredFile,
  CheckpointMetadata,
  InstanceSnapshotRecord,
  JsonValue,
  RestoredFromRecord,
  RestoreMode,
  InstanceAssignment,
  SnapshotListing,
  FindLatestOptions,
  GcOptions,
  GcReport,
  HookName,
  HookContext,
  CheckpointHooks,
  CheckpointHistory,
  CheckpointHistoryEntry,
  HistoryInstanceEntry,
} from './checkpoint/index.js'

export { checkpointMetrics } from './metrics/checkpoint-metrics.js'
export type { CheckpointMetrics, CheckpointMetricsOptions } from './metrics/checkpoint-metrics.js'
export type { RestartCause } from './metrics/job-metrics.js'
export { backendMetrics } from './metrics/backend-metrics.js'
export type { BackendMetrics, BackendMetricsOptions } from './metrics/backend-metrics.js'
export { serveMetrics } from './metrics/server.js'
export type { MetricsServer } from './metrics/server.js'

// The job runtime (runJob) and its sources.
export { runJob, Job, defineJob, DEFAULT_RESTART_STRATEGY, withSnapshotState, serveRemoteWorker } from './runtime/index.js'
export type {
  RunJobOptions,
  JobEvent,
  JobResult,
  JobState,
  JobDefinition,
  KeyedOperator,
  OperatorContext,
  WatermarkSettings,
  Source,
  SourceReader,
  SourceRecord,
  SourceOpenOptions,
  SourcePosition,
  RestartStrategy,
  WorkerHandle,
  RemoteWorkerOptions,
  RemoteWorkerHandle,
  RemoteWorkersOptions,
} from './runtime/index.js'
export { generatorSource } from './sources/generator.js'
export type { GeneratorSourceOptions } from './sources/generator.js'
export { natsJetStreamSource, natsJetStreamProducer } from './sources/nats-jetstream.js'
export type { NatsSourceOptions, NatsStreamOptions, NatsProducer } from './sources/nats-jetstream.js'
export { redisStreamsSource, redisStreamsProducer } from './sources/redis-streams.js'
export type { RedisStreamOptions, RedisProducer } from './sources/redis-streams.js'
export { jsonEventCodec } from './sources/codec.js'
export type { EventCodec, KeyRouting } from './sources/codec.js'
