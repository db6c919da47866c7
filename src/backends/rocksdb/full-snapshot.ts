// Full snapshots of the RocksDB backend: the synchronous part copies the
// meta-info and takes a RocksDB read snapshot; the canonical writer
// (src/snapshot/full) then streams each (key group, state) range from that
// snapshot while processing continues. RocksDB keys are already composite keys
// and values already canonical bytes, so chunks go to the writer unchanged.
import { performance } from 'node:perf_hooks'
import { keyGroupPrefix } from '../../encoding.js'
import { ClosedError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeDb, NativeIterator, NativeSnapshot } from '../../native/types.js'
import { runFullSnapshot } from '../../snapshot/full/index.js'
import type { FullSnapshotResources, SnapshotOptions, SnapshotRun } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { SNAPSHOT_CHUNK } from './chunks.js'
import type { RocksDBSnapshotContext, SnapshotStrategy, StateColumnFamily } from './snapshot-strategy.js'

class RocksDBFullSnapshotResources implements FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  private readonly cfs: readonly number[]
  private readonly openIterators = new Set<NativeIterator>()
  private released = false

  constructor(
    private readonly db: NativeDb,
    private readonly snapshot: NativeSnapshot,
    states: readonly StateColumnFamily[],
    readonly keyGroupRange: KeyGroupRange,
  ) {
    this.metaInfos = states.map((s) => s.meta)
    this.cfs = states.map((s) => s.cf)
  }

  keyGroupChunks(stateIndex: number, keyGroup: number): Iterable<Uint8Array> {
    this.assertUsable()
    const cf = this.cfs[stateIndex]
    if (cf === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `no state with index ${stateIndex} in this snapshot`)
    if (!Number.isInteger(keyGroup) || keyGroup < this.keyGroupRange.start || keyGroup > this.keyGroupRange.end) {
      throw new KeyedStateError('INVALID_ARGUMENT', `key group ${keyGroup} is outside the snapshot's range`, { keyGroup })
    }
    return this.chunks(cf, keyGroupPrefix(keyGroup), keyGroupPrefix(keyGroup + 1))
  }

  isEmpty(): boolean {
    this.assertUsable()
    const gte = keyGroupPrefix(this.keyGroupRange.start)
    const lt = keyGroupPrefix(this.keyGroupRange.end + 1)
    for (const cf of this.cfs) {
      const it = this.db.iterator(cf, { gte, lt, snapshot: this.snapshot, keysOnly: true })
      try {
        if (it.nextChunk(1, 1) !== null) return false
      } finally {
        it.close()
      }
    }
    return true
  }

  release(): void {
    if (this.released) return
    this.released = true
    for (const it of this.openIterators) it.close()
    this.openIterators.clear()
    this.snapshot.release()
  }

  private *chunks(cf: number, gte: Uint8Array, lt: Uint8Array): Generator<Uint8Array, void, undefined> {
    this.assertUsable()
    const it = this.db.iterator(cf, { gte, lt, snapshot: this.snapshot })
    this.openIterators.add(it)
    try {
      for (;;) {
        // After release (cancel, close) the iterator is closed under us: stop with a clear error.
        this.assertUsable()
        const chunk = it.nextChunk(SNAPSHOT_CHUNK.entriesMax, SNAPSHOT_CHUNK.bytesMax)
        if (chunk === null) return
        yield chunk
      }
    } finally {
      if (this.openIterators.delete(it)) it.close()
    }
  }

  private assertUsable(): void {
    if (this.released) throw new ClosedError('full snapshot resources')
  }
}

/**
 * The synchronous part of a full snapshot: meta-info copy and read snapshot.
 * Writes after this call are not visible through the returned resources.
 */
export function captureFullSnapshotResources(
  db: NativeDb,
  states: readonly StateColumnFamily[],
  keyGroupRange: KeyGroupRange,
): FullSnapshotResources {
  return new RocksDBFullSnapshotResources(db, db.snapshot(), states, keyGroupRange)
}

export class FullSnapshotStrategy implements SnapshotStrategy {
  readonly name = 'full'

  constructor(private readonly ctx: RocksDBSnapshotContext) {}

  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun {
    const startMs = performance.now()
    const resources = captureFullSnapshotResources(this.ctx.db, this.ctx.states(), this.ctx.keyGroupRange)
    const syncDurationMs = performance.now() - startMs
    const ticket = this.ctx.inFlight.begin(() => resources.release())
    try {
      const run = runFullSnapshot(
        checkpointId,
        resources,
        options,
        {
          maxParallelism: this.ctx.maxParallelism,
          localRecoveryDir: options.type === 'checkpoint' ? this.ctx.localRecoveryDir : undefined,
          onSettled: ticket.settle,
          transformers: this.ctx.ttlTransformers?.(),
        },
        syncDurationMs,
      )
      ticket.attach(run)
      return run
    } catch (e) {
      ticket.settle()
      throw e
    }
  }

  // A full snapshot is self-contained: nothing to remember between checkpoints.
  notifyCheckpointComplete(_checkpointId: number): void {}
  notifyCheckpointAborted(_checkpointId: number): void {}
}
