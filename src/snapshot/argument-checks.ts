// The argument checks of snapshot() and of a restore, written once for the
// heap backend, the RocksDB backend and the full-snapshot writer and reader:
// a checkpoint id and snapshot options; what `restoreFrom` must be, that the
// storage the handles refer to is given, and that every handle was taken with
// the backend's maxParallelism, and that handles cover the backend's key
// groups (keygroup-coverage.ts). One wording for each refusal.
import { KeyedStateError } from '../errors.js'
import { checkRestoreCoverage, presentHandles } from '../keygroup-coverage.js'
import type { KeyGroupRange } from '../keygroups.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { KeyedStateHandle, SnapshotOptions } from './types.js'

/** snapshot(checkpointId, options): a non-negative integer id, a snapshot type and a storage. */
export function checkSnapshotArguments(checkpointId: number, options: SnapshotOptions): void {
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 0) {
    throw new KeyedStateError('INVALID_ARGUMENT', `checkpointId must be a non-negative integer, got ${checkpointId}`)
  }
  if (!options || (options.type !== 'checkpoint' && options.type !== 'savepoint')) {
    throw new KeyedStateError('INVALID_ARGUMENT', `snapshot type must be 'checkpoint' or 'savepoint', got ${JSON.stringify(options?.type)}`)
  }
  if (!options.storage || typeof options.storage.create !== 'function') {
    throw new KeyedStateError('INVALID_ARGUMENT', 'snapshot options need a checkpoint storage')
  }
}

/** Where a handle's data starts, for messages: its file (full) or its meta file (incremental). */
export function describeHandle(h: KeyedStateHandle): string {
  return h.type === 'full' ? h.file?.path : h.type === 'incremental' ? h.metaFile?.path : `a ${String((h as { type?: unknown }).type)} handle`
}

/**
 * Throws INVALID_ARGUMENT unless handle #`index` was taken with `maxParallelism`;
 * `whose` says where that number comes from ('this backend has', 'handle #0 has').
 */
export function checkHandleMaxParallelism(h: KeyedStateHandle, index: number, maxParallelism: number, whose = 'this backend has'): void {
  if (h.maxParallelism === maxParallelism) return
  const file = describeHandle(h)
  throw new KeyedStateError(
    'INVALID_ARGUMENT',
    `cannot restore ${h.type === 'incremental' ? 'an' : 'a'} ${h.type} snapshot of checkpoint ${h.checkpointId} taken with maxParallelism ${h.maxParallelism} ` +
      `(handle #${index}, ${file}) where ${whose} ${maxParallelism}; ` +
      'maxParallelism must stay the same for the life of a job',
    { file },
  )
}

/**
 * The handles of a backend's `restoreFrom` option, checked before anything is
 * opened or wiped: an array (null and undefined entries, instances that held
 * no state, are dropped), the storage they refer to given when there is any,
 * every one taken with `maxParallelism`, and together with `knownEmptyRanges`
 * covering `keyGroupRange` (a restore from nothing is an error, not an empty backend).
 */
export function checkRestoreArguments(
  options: {
    restoreFrom?: readonly (KeyedStateHandle | null | undefined)[]
    storage?: CheckpointStorage
    knownEmptyRanges?: readonly KeyGroupRange[]
  },
  maxParallelism: number,
  keyGroupRange: KeyGroupRange,
): KeyedStateHandle[] {
  if (options.restoreFrom === undefined) return []
  const handles = presentHandles<KeyedStateHandle>(options.restoreFrom)
  if (handles.length > 0 && !options.storage) {
    throw new KeyedStateError('INVALID_ARGUMENT', 'restoreFrom needs the option storage: the checkpoint storage the handles refer to')
  }
  for (const [i, h] of handles.entries()) checkHandleMaxParallelism(h, i, maxParallelism)
  checkRestoreCoverage(handles, options.restoreFrom, options.knownEmptyRanges, keyGroupRange)
  return handles
}
