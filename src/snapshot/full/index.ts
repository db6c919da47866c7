// Full snapshots in the canonical format: the strategy shared by every backend.
// (Contract; implementation lands with the full-snapshot work.)
import { KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type {
  FullSnapshotHandle,
  FullSnapshotResources,
  LocalStateHandle,
  RestoreSink,
  SnapshotOptions,
  SnapshotRun,
} from '../types.js'

export interface FullSnapshotContext {
  maxParallelism: number
  /** Per-state transformer applied while writing (TTL drops expired entries): returns the value to write or undefined to drop. */
  transformers?: ReadonlyMap<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined>
  /** When set (checkpoints only, never savepoints), a second copy is written here for local recovery. */
  localRecoveryDir?: string
  /** Called when the run settles (success, failure or cancel) — e.g. to release resources and untrack the run. */
  onSettled?: () => void
}

/**
 * Takes the snapshot whose synchronous part the caller just did (`resources`
 * captured at the barrier) and runs the asynchronous part: writes the
 * canonical stream to storage, returns the handle. Releases `resources` when done.
 */
export function runFullSnapshot(
  _checkpointId: number,
  _resources: FullSnapshotResources,
  _options: SnapshotOptions,
  _context: FullSnapshotContext,
  _syncDurationMs: number,
): SnapshotRun {
  throw new KeyedStateError('NOT_SUPPORTED', 'full snapshots are not built yet')
}

/**
 * Reads the key groups of `targetRange` from full handles into `sink`. Handles
 * may cover any ranges; key groups outside the target are skipped via offsets.
 * Local copies are tried first when given and valid.
 */
export async function restoreFullHandles(
  _handles: readonly FullSnapshotHandle[],
  _storage: CheckpointStorage,
  _targetRange: KeyGroupRange,
  _sink: RestoreSink,
  _local?: readonly LocalStateHandle[],
): Promise<void> {
  throw new KeyedStateError('NOT_SUPPORTED', 'full restore is not built yet')
}
