// The CheckpointCoordinator's options and events, and the checks that refuse
// bad options with a clear message before anything starts: misspelled names,
// out-of-range numbers, instances that do not split the key groups between
// them.
import { KeyedStateError } from '../errors.js'
import { formatRange, rangeSize } from '../keygroups.js'
import { checkKnownOptions } from '../option-checks.js'
import type { SnapshotType } from '../snapshot/types.js'
import type { OpenStorageOptions } from '../storage/open.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { RestoreSettings } from './completed-store.js'
import type { CheckpointHooks } from './hooks.js'
import type { OperatorInstance } from './instance.js'
import type { CheckpointMetadata, JsonValue } from './metadata.js'

export type CheckpointEvent =
  | { type: 'completed'; metadata: CheckpointMetadata }
  | { type: 'aborted'; checkpointId: number; snapshotType: SnapshotType; reason: KeyedStateError }
  | { type: 'subsumed'; checkpointId: number }
  | { type: 'warning'; checkpointId?: number; message: string; error?: unknown }

export interface CheckpointCoordinatorOptions<O extends JsonValue = JsonValue> {
  /** The storage, or its location: a path, file:// URL or s3://bucket/prefix (opened with `storageOptions`). */
  storage: CheckpointStorage | string
  /** Options for a storage given by location (e.g. `{ s3: { region, endpoint, forcePathStyle } }`). */
  storageOptions?: OpenStorageOptions
  /** The operator instances; their key-group ranges must cover [0, maxParallelism) without overlap. */
  instances: readonly OperatorInstance<O>[]
  /** Trigger a checkpoint every intervalMs after start(); manual triggers only when omitted. */
  intervalMs?: number
  /** Checkpoints in flight at once (savepoints not counted); default 1. */
  maxConcurrentCheckpoints?: number
  /** Time from the last completed checkpoint before the next may start; default 0. */
  minPauseBetweenCheckpointsMs?: number
  /** A checkpoint or savepoint not acknowledged by every instance within this time is aborted; default 10 minutes. */
  timeoutMs?: number
  /** Completed checkpoints kept (savepoints are never deleted); default 3. */
  retainedCheckpoints?: number
  /** How long an abort waits for instances to cancel and clean up, and how long a notification may take before it is reported late (it never holds a checkpoint); default 10 s. */
  cancelGraceMs?: number
  /** The snapshot the instances were restored from, if any. */
  restoredFrom?: RestoreSettings
  /** Named points for tests and crash tests (see hooks.ts). */
  hooks?: CheckpointHooks
  /** Completions, aborts, subsumptions and warnings (failed deletes and notifications). Must not throw. */
  onEvent?: (event: CheckpointEvent) => void
  /**
   * Entries kept in the checkpoint history file (`_checkpoint_history.jsonl`,
   * what `keyed-state ui` shows); default 1000, 0 writes none.
   */
  historyMaxEntries?: number
}

const KNOWN_OPTIONS = new Set([
  'storage', 'storageOptions', 'instances', 'intervalMs', 'maxConcurrentCheckpoints', 'minPauseBetweenCheckpointsMs', 'timeoutMs',
  'retainedCheckpoints', 'cancelGraceMs', 'restoredFrom', 'hooks', 'onEvent', 'historyMaxEntries',
])

export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000
export const DEFAULT_CANCEL_GRACE_MS = 10 * 1000
export const DEFAULT_RETAINED_CHECKPOINTS = 3

export function checkOptions(o: CheckpointCoordinatorOptions): void {
  if (typeof o !== 'object' || o === null) throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs an options object')
  checkKnownOptions(o, KNOWN_OPTIONS, 'CheckpointCoordinator option')
  if (!o.storage) throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs a storage')
  const positive = (name: keyof CheckpointCoordinatorOptions, min: number): void => {
    const v = o[name]
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
      throw new KeyedStateError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${String(v)}`)
    }
  }
  positive('intervalMs', 1)
  positive('maxConcurrentCheckpoints', 1)
  positive('minPauseBetweenCheckpointsMs', 0)
  positive('timeoutMs', 1)
  positive('retainedCheckpoints', 1)
  positive('cancelGraceMs', 0)
  positive('historyMaxEntries', 0)
  const mode = o.restoredFrom?.mode
  if (mode !== undefined && mode !== 'claim' && mode !== 'no-claim') {
    throw new KeyedStateError('INVALID_ARGUMENT', `restore mode must be 'claim' or 'no-claim', got ${JSON.stringify(mode)}`)
  }
}

/** Checks that the instances split [0, maxParallelism) between them, and returns maxParallelism. */
export function checkInstances(instances: readonly OperatorInstance[]): number {
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new KeyedStateError('INVALID_ARGUMENT', 'CheckpointCoordinator needs at least one operator instance')
  }
  const maxParallelism = instances[0]!.maxParallelism
  let next = 0
  instances.forEach((inst, i) => {
    if (inst.maxParallelism !== maxParallelism) {
      throw new KeyedStateError('INVALID_ARGUMENT', `instance ${i} (${inst.name}) has maxParallelism ${inst.maxParallelism}, instance 0 has ${maxParallelism}`)
    }
    // Instance i owns the i-th range: `_metadata` records them in this order and restore relies on it.
    if (rangeSize(inst.keyGroupRange) === 0 || inst.keyGroupRange.start !== next) {
      throw new KeyedStateError(
        'INVALID_ARGUMENT',
        `instance ${i} (${inst.name}) owns key groups ${formatRange(inst.keyGroupRange)}; expected a non-empty range starting at ${next} ` +
          '(list the instances in key-group order, together covering every key group once)',
      )
    }
    next = inst.keyGroupRange.end + 1
  })
  if (next !== maxParallelism) {
    throw new KeyedStateError('INVALID_ARGUMENT', `the instances own key groups [0..${next - 1}], not all of [0..${maxParallelism - 1}]`)
  }
  return maxParallelism
}

