// One checkpoint or savepoint in flight (Flink's PendingCheckpoint): the
// answers collected so far, the signal that cancels the instances, its timeout
// and the promise the trigger returns. The acknowledgement checks live here
// too: what an instance's answer must satisfy before it counts.
import { isKeyedStateError, KeyedStateError } from '../errors.js'
import { forEachBounded } from '../for-each-bounded.js'
import { formatRange } from '../keygroups.js'
import type { SnapshotType } from '../snapshot/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import { assertValidHandle, filesOfHandle, handleSizeBytes, sharedFilesOf } from './handles.js'
import type { InstanceAck, OperatorInstance } from './instance.js'
import { isUnder } from './layout.js'
import {
  METADATA_FORMAT,
  METADATA_VERSION,
  operatorStateProblem,
  type CheckpointMetadata,
  type InstanceSnapshotRecord,
  type RestoredFromRecord,
} from './metadata.js'
import type { SharedStateRegistry } from './registry.js'

export interface AckRecord {
  ack: InstanceAck
  /** Bytes this answer added to storage: its exclusive files and the shared files nobody had registered. */
  incrementalSizeBytes: number
}

/**
 * collecting → finalizing (every instance answered; only finalize decides now) → done,
 * or collecting/finalizing → aborting → done.
 */
export type PendingState = 'collecting' | 'finalizing' | 'aborting' | 'done'

export class PendingCheckpoint {
  state: PendingState = 'collecting'
  readonly acks: (AckRecord | undefined)[]
  ackCount = 0
  readonly controller = new AbortController()
  timer: NodeJS.Timeout | undefined
  /** One per instance: settles after the instance answered and its answer was handled. */
  readonly answered: Promise<void>[] = []
  readonly result: Promise<CheckpointMetadata>
  resolve!: (md: CheckpointMetadata) => void
  reject!: (e: KeyedStateError) => void

  constructor(
    readonly checkpointId: number,
    readonly type: SnapshotType,
    readonly dir: string,
    readonly triggeredAtMs: number,
    instanceCount: number,
  ) {
    this.acks = new Array<AckRecord | undefined>(instanceCount).fill(undefined)
    this.result = new Promise<CheckpointMetadata>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  get label(): string {
    return `${this.type} ${this.checkpointId}`
  }

  get complete(): boolean {
    return this.ackCount === this.acks.length
  }

  /** Every file the answers so far name (in-flight files gc must spare). */
  filesAcknowledged(): string[] {
    return this.acks.flatMap((a) => (a?.ack.handle ? filesOfHandle(a.ack.handle).map((f) => f.path) : []))
  }

  /** Records a checked answer. */
  accept(index: number, ack: InstanceAck, registry: SharedStateRegistry): void {
    const handle = ack.handle
    let incrementalSizeBytes = 0
    if (handle) {
      const files = filesOfHandle(handle)
      const fresh = this.type === 'checkpoint' ? registry.register(this.checkpointId, sharedFilesOf(handle)) : []
      incrementalSizeBytes = files.filter((f) => !f.shared).reduce((n, f) => n + f.sizeBytes, 0) + fresh.reduce((n, f) => n + f.sizeBytes, 0)
    }
    // A copy of the operator state: the instance may keep changing the object it acknowledged with.
    const kept = ack.operatorState === undefined ? ack : { ...ack, operatorState: structuredClone(ack.operatorState) }
    this.acks[index] = { ack: kept, incrementalSizeBytes }
    this.ackCount++
  }
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/**
 * The `_metadata` of a pending checkpoint every instance acknowledged (Flink's
 * finalizeCheckpoint). `instances` are the coordinator's, in key-group order.
 */
export function metadataOf(
  p: PendingCheckpoint,
  instances: readonly OperatorInstance[],
  maxParallelism: number,
  restoredFrom: RestoredFromRecord | undefined,
): CheckpointMetadata {
  const records: InstanceSnapshotRecord[] = instances.map((inst, index) => {
    const { ack, incrementalSizeBytes } = p.acks[index]!
    return {
      index,
      keyGroupRange: { start: inst.keyGroupRange.start, end: inst.keyGroupRange.end },
      handle: ack.handle ?? null,
      sizeBytes: ack.handle ? handleSizeBytes(ack.handle) : 0,
      incrementalSizeBytes,
      syncDurationMs: round3(Math.max(0, ack.syncDurationMs)),
      asyncDurationMs: round3(Math.max(0, ack.asyncDurationMs)),
      ...(ack.operatorState !== undefined ? { operatorState: ack.operatorState } : {}),
    }
  })
  const md: CheckpointMetadata = {
    format: METADATA_FORMAT,
    version: METADATA_VERSION,
    checkpointId: p.checkpointId,
    type: p.type,
    dir: p.dir,
    triggeredAtMs: p.triggeredAtMs,
    completedAtMs: Math.max(p.triggeredAtMs, Date.now()),
    maxParallelism,
    parallelism: instances.length,
    sizeBytes: records.reduce((n, i) => n + i.sizeBytes, 0),
    incrementalSizeBytes: records.reduce((n, i) => n + i.incrementalSizeBytes, 0),
    instances: records,
  }
  if (restoredFrom) md.restoredFrom = { ...restoredFrom }
  return md
}

/** Size checks of newly uploaded shared files in flight at once. */
const SHARED_FILE_CHECKS_IN_FLIGHT = 8

export interface AckCheckContext {
  instance: OperatorInstance
  maxParallelism: number
  registry: SharedStateRegistry
  storage: CheckpointStorage
}

/** Throws a KeyedStateError when instance `index`'s answer cannot become part of checkpoint `p`. */
export async function checkAck(p: PendingCheckpoint, index: number, ack: InstanceAck, ctx: AckCheckContext): Promise<void> {
  const inst = ctx.instance
  const where = `${inst.name}, ${p.label}`
  if (typeof ack !== 'object' || ack === null) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the acknowledgement is not an object`)
  if (p.acks[index]) throw new KeyedStateError('INTERNAL', `${where}: acknowledged twice`)
  if (ack.operatorState !== undefined) {
    const problem = operatorStateProblem(ack.operatorState)
    if (problem) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: ${problem}`)
  }
  const handle = ack.handle
  if (handle === undefined || handle === null) return
  assertValidHandle(handle, where)
  if (handle.checkpointId !== p.checkpointId) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the handle is for checkpoint ${handle.checkpointId}`)
  if (handle.maxParallelism !== ctx.maxParallelism) {
    throw new KeyedStateError('INVALID_ARGUMENT', `${where}: the handle has maxParallelism ${handle.maxParallelism}, the job ${ctx.maxParallelism}`)
  }
  if (handle.keyGroupRange.start !== inst.keyGroupRange.start || handle.keyGroupRange.end !== inst.keyGroupRange.end) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `${where}: the handle covers ${formatRange(handle.keyGroupRange)}, the instance owns ${formatRange(inst.keyGroupRange)}`,
    )
  }
  if (p.type === 'savepoint') {
    if (handle.type !== 'full') throw new KeyedStateError('INVALID_ARGUMENT', `${where}: a savepoint must be a full snapshot, got ${handle.type}`)
    for (const f of filesOfHandle(handle)) {
      if (!isUnder(f.path, p.dir)) throw new KeyedStateError('INVALID_ARGUMENT', `${where}: ${f.path} lies outside the savepoint directory '${p.dir}'`)
    }
  }
  // A shared file the registry has never seen must be a new upload, so it exists. If it does
  // not, the backend reused a file that was already deleted and the checkpoint could not be restored.
  // One size request per file (a HEAD on object stores), a few at once: each is a round trip.
  const unknown = sharedFilesOf(handle).filter((f) => !ctx.registry.isKnown(f.path))
  await forEachBounded(unknown, SHARED_FILE_CHECKS_IN_FLIGHT, async (f) => {
    let size: number
    try {
      size = await ctx.storage.size(f.path)
    } catch (e) {
      if (!isKeyedStateError(e, 'MISSING_FILE')) throw e
      throw new KeyedStateError('MISSING_FILE', `${where}: shared file ${f.path} does not exist`, { file: f.path })
    }
    if (size !== f.sizeBytes) {
      throw new KeyedStateError('CORRUPTION', `${where}: shared file ${f.path} has ${size} bytes, the handle says ${f.sizeBytes}`, { file: f.path })
    }
  })
}
