// Full snapshots in the canonical format: the strategy shared by every backend.
// The backend does the synchronous part (captures FullSnapshotResources at the
// barrier); runFullSnapshot runs the asynchronous part, restoreFullHandles reads
// handles back into any key-group range.
import type { Crc32 } from '../format/encoder.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type {
  FullSnapshotHandle,
  FullSnapshotResources,
  LocalStateHandle,
  RestoreSink,
  SnapshotOptions,
  SnapshotRun,
} from '../types.js'
import { restoreFull, type FullRestoreOptions, type FullRestoreResult } from './reader.js'
import { FullSnapshotRunImpl, type FullSnapshotTuning } from './writer.js'

export type { FullSnapshotTuning } from './writer.js'
export { findLocalCopy, type FullRestoreOptions, type FullRestoreResult } from './reader.js'
export { deleteLocalSnapshot } from './local.js'

export interface FullSnapshotContext {
  maxParallelism: number
  /** The backend's key serializer, recorded in the file so a restore can refuse one that cannot read the keys. */
  keySerializer?: SerializerConfig
  /** Per-state transformer applied while writing (TTL drops expired entries): returns the value to write or undefined to drop. */
  transformers?: ReadonlyMap<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined>
  /** When set (checkpoints only, never savepoints), a second copy is written here for local recovery. */
  localRecoveryDir?: string
  /** Called when the run settles (success, failure or cancel) — e.g. to release resources and untrack the run. */
  onSettled?: () => void
  /** Format tuning (block bound); defaults suit production. */
  tuning?: FullSnapshotTuning
  /** The payloads' CRC-32, when the backend has a faster one than node:zlib's (see EncoderOptions.crc32). */
  crc32?: Crc32
}

/**
 * Takes the snapshot whose synchronous part the caller just did (`resources`
 * captured at the barrier) and runs the asynchronous part: writes the
 * canonical stream to storage, returns the handle. Releases `resources` when done.
 * Nothing is written before this function returns.
 */
export function runFullSnapshot(
  checkpointId: number,
  resources: FullSnapshotResources,
  options: SnapshotOptions,
  context: FullSnapshotContext,
  syncDurationMs: number,
): SnapshotRun {
  return new FullSnapshotRunImpl(checkpointId, resources, options, context, syncDurationMs, context.tuning)
}

/**
 * Reads the key groups of `targetRange` from full handles into `sink`. Handles
 * may cover any ranges; key groups outside the target are skipped via offsets.
 * Local copies are tried first when given and valid.
 */
export async function restoreFullHandles(
  handles: readonly FullSnapshotHandle[],
  storage: CheckpointStorage,
  targetRange: KeyGroupRange,
  sink: RestoreSink,
  local?: readonly LocalStateHandle[],
  options?: FullRestoreOptions,
): Promise<FullRestoreResult> {
  return restoreFull(handles, storage, targetRange, sink, local, options)
}
