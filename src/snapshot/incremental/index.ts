// Incremental checkpoints (RocksDB): the strategy the backend plugs into its
// snapshot seam, the handle and meta-file formats, and test hooks. Restore
// lives in src/restore/incremental.ts.
export { IncrementalSnapshotStrategy, CHECKPOINTS_SUBDIR, type RestoredSstBase } from './strategy.js'
export {
  IncrementalSnapshotRun,
  incrementalSnapshotHooks,
  clearIncrementalSnapshotHooks,
  type IncrementalHookName,
  type IncrementalHookInfo,
  type IncrementalRunStats,
} from './run.js'
export { UploadedSstHistory, type UploadedSst, type SstSet } from './history.js'
export { checkIncrementalHandle, isSstFile, isRocksDBFileName } from './handle.js'
export {
  decodeMetaFile,
  encodeMetaFile,
  INCREMENTAL_FORMAT_VERSION,
  INCREMENTAL_META_FORMAT,
  LOCAL_META_FILE_NAME,
  type IncrementalMetaFile,
  type IncrementalStateEntry,
} from './meta-file.js'
export { deleteLocalIncrementalSnapshot } from './local.js'
