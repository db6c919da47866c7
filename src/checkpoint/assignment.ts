// From a completed checkpoint or savepoint to the handles each new operator
// instance restores from, at any parallelism.
import { KeyedStateError } from '../errors.js'
import { formatRange, keyGroupRangeForOperator, rangeIntersection, rangeSize, type KeyGroupRange } from '../keygroups.js'
import type { KeyedStateHandle } from '../snapshot/types.js'
import type { CheckpointMetadata } from './metadata.js'

/**
 * The handles whose key-group ranges intersect `range`: what an instance
 * owning `range` restores from (it reads only its own key groups from them).
 * Instances that held no state contribute no handle, and need none.
 */
export function handlesForRange(metadata: CheckpointMetadata, range: KeyGroupRange): KeyedStateHandle[] {
  if (rangeSize(range) > 0 && (range.start < 0 || range.end >= metadata.maxParallelism)) {
    throw new KeyedStateError(
      'KEY_GROUP_RANGE',
      `key-group range ${formatRange(range)} is outside the snapshot's key groups [0..${metadata.maxParallelism - 1}] ` +
        `(checkpoint ${metadata.checkpointId}, maxParallelism ${metadata.maxParallelism}; maxParallelism cannot change on restore)`,
    )
  }
  const out: KeyedStateHandle[] = []
  for (const inst of metadata.instances) {
    if (inst.handle && rangeSize(rangeIntersection(inst.handle.keyGroupRange, range)) > 0) out.push(inst.handle)
  }
  return out
}

/**
 * The parts of `range` whose instances held no state at the snapshot (they
 * wrote no handle): a restore counts them as covered (backend option
 * knownEmptyRanges).
 */
export function knownEmptyRangesFor(metadata: CheckpointMetadata, range: KeyGroupRange): KeyGroupRange[] {
  const out: KeyGroupRange[] = []
  for (const inst of metadata.instances) {
    const overlap = rangeIntersection(inst.keyGroupRange, range)
    if (!inst.handle && rangeSize(overlap) > 0) out.push(overlap)
  }
  return out
}

export interface InstanceAssignment {
  index: number
  keyGroupRange: KeyGroupRange
  /** Backend option restoreFrom. */
  restoreFrom: KeyedStateHandle[]
  /** Backend option knownEmptyRanges. */
  knownEmptyRanges: KeyGroupRange[]
}

/** For each of `parallelism` new instances: its key-group range and the handles to restore from. */
export function restoreAssignment(metadata: CheckpointMetadata, parallelism: number): InstanceAssignment[] {
  const out: InstanceAssignment[] = []
  for (let index = 0; index < parallelism; index++) {
    const keyGroupRange = keyGroupRangeForOperator(metadata.maxParallelism, parallelism, index)
    out.push({
      index,
      keyGroupRange,
      restoreFrom: handlesForRange(metadata, keyGroupRange),
      knownEmptyRanges: knownEmptyRangesFor(metadata, keyGroupRange),
    })
  }
  return out
}
