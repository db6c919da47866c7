// The checkpoint lifecycle: coordinator, shared-state registry, `_metadata`,
// retention, restore assignment and garbage collection.
export { CheckpointCoordinator } from './coordinator.js'
export type { CheckpointCoordinatorOptions, CheckpointEvent, RestoreSettings } from './coordinator.js'
export { LocalOperatorInstance } from './instance.js'
export type { OperatorInstance, InstanceSnapshotRequest, InstanceAck, LocalOperatorInstanceOptions } from './instance.js'
export { SharedStateRegistry } from './registry.js'
export type { RegisteredFile } from './registry.js'
export {
  METADATA_FORMAT,
  METADATA_VERSION,
  OPERATOR_STATE_MAX_BYTES,
  decodeMetadata,
  encodeMetadata,
  readMetadata,
  writeMetadata,
  referencedPaths,
  rebaseMetadata,
} from './metadata.js'
export type { CheckpointMetadata, InstanceSnapshotRecord, JsonValue, RestoredFromRecord, RestoreMode } from './metadata.js'
export { handlesForRange, knownEmptyRangesFor, restoreAssignment } from './assignment.js'
export type { InstanceAssignment } from './assignment.js'
export { listSnapshots, findLatestCompleteCheckpoint, missingFiles } from './catalog.js'
export type { SnapshotListing, FindLatestOptions } from './catalog.js'
export { collectGarbage, DEFAULT_GC_GRACE_PERIOD_MS } from './gc.js'
export type { GcOptions, GcReport } from './gc.js'
export { checkpointsToSubsume } from './retention.js'
export { HOOK_NAMES } from './hooks.js'
export type { HookName, HookContext, CheckpointHooks } from './hooks.js'
export { filesOfHandle, handleSizeBytes } from './handles.js'
export type { HandleFile } from './handles.js'
export { checkpointDirName, parseCheckpointDirName, METADATA_FILE_NAME } from './layout.js'
export { readCheckpointHistory, HISTORY_FILE_NAME, DEFAULT_HISTORY_MAX_ENTRIES } from './history.js'
export type { CheckpointHistory, CheckpointHistoryEntry, HistoryInstanceEntry } from './history.js'
