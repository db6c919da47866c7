// Full snapshots of the RocksDB backend: the synchronous part copies the
// meta-info and opens a few iterators per state (its read view); the
// canonical writer (src/snapshot/full) then streams each state from them
// while processing continues. RocksDB keys are already composite keys
// and values already canonical bytes, so chunks go to the writer unchanged.
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { keyGroupPrefix } from '../../encoding.js'
import { ClosedError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeDb, NativeIterator } from './native/types.js'
import { runFullSnapshot } from '../../snapshot/full/index.js'
import type { FullSnapshotResources, SnapshotOptions, SnapshotRun } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { ChunkCursor, SNAPSHOT_AHEAD_CHUNK, SNAPSHOT_CHUNK } from './packed-chunks.js'
import { StripedReadAhead } from './striped-read.js'
import type { RocksDBSnapshotContext, SnapshotStrategy, StateColumnFamily } from './snapshot-strategy.js'

/** Bytes of chunks held or read ahead for all states together (some more when states are very many). */
const AHEAD_BYTES_TOTAL = 32 * 1024 * 1024
const AHEAD_CHUNK_BYTES_MIN = 128 * 1024
/** Chunks one reader of a state holds unconsumed, the one in flight included. */
const CHUNKS_PER_READER = 3
/**
 * Readers per state: two threads read a state in about 0.6 of the time one
 * takes (bench/notes/profiles.md); more buy little on the 2-core machines
 * this was measured on and take thread-pool slots from the writer's work.
 */
const READERS_PER_STATE = Math.min(2, availableParallelism())

/**
 * The read view of a full snapshot: a few iterators per state, created at
 * the barrier, so several threads can read one state at once (see
 * StripedReadAhead). A RocksDB iterator reads as of its creation (it pins its
 * own implicit snapshot and the files it needs), and no write can come
 * between iterators created in one synchronous call, so all see the same
 * data. No db.snapshot() is taken: releasing one lets RocksDB mark
 * bottommost files for a rewrite that zeroes their sequence numbers, and the
 * rewritten files would be new to the next incremental checkpoint.
 *
 * Reads on the JS thread use each state's first iterator. A read that finds
 * an iterator moved by another read seeks back to where it stopped.
 */
class RocksDBFullSnapshotResources implements FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  /** [state][reader] */
  private readonly iterators: NativeIterator[][] = []
  /** The read that positioned each iterator last. */
  private readonly positionedBy = new Map<NativeIterator, object>()
  /** Thread-pool reads in flight: an iterator closes only after its read. */
  private readonly pendingReads = new Map<NativeIterator, Promise<unknown>>()
  private released = false

  constructor(
    db: NativeDb,
    states: readonly StateColumnFamily[],
    readonly keyGroupRange: KeyGroupRange,
  ) {
    this.metaInfos = states.map((s) => s.meta)
    const gte = keyGroupPrefix(keyGroupRange.start)
    const lt = keyGroupPrefix(keyGroupRange.end + 1)
    try {
      for (const s of states) {
        const readers: NativeIterator[] = []
        this.iterators.push(readers)
        for (let r = 0; r < READERS_PER_STATE; r++) readers.push(db.iterator(s.cf, { gte, lt }))
      }
    } catch (e) {
      this.release()
      throw e
    }
  }

  keyGroupChunks(stateIndex: number, keyGroup: number): Iterable<Uint8Array> {
    this.assertUsable()
    this.checkState(stateIndex)
    if (!Number.isInteger(keyGroup) || keyGroup < this.keyGroupRange.start || keyGroup > this.keyGroupRange.end) {
      throw new KeyedStateError('INVALID_ARGUMENT', `key group ${keyGroup} is outside the snapshot's range`, { keyGroup })
    }
    return this.chunks(stateIndex, keyGroupPrefix(keyGroup), keyGroupPrefix(keyGroup + 1))
  }

  stateChunks(stateIndex: number): Iterable<Uint8Array> {
    this.assertUsable()
    this.checkState(stateIndex)
    return this.chunks(stateIndex, keyGroupPrefix(this.keyGroupRange.start), undefined)
  }

  stateChunksAsync(stateIndex: number): AsyncIterable<Uint8Array> {
    this.assertUsable()
    this.checkState(stateIndex)
    return { [Symbol.asyncIterator]: () => this.chunksAhead(stateIndex) }
  }

  isEmpty(): boolean {
    this.assertUsable()
    const first = keyGroupPrefix(this.keyGroupRange.start)
    for (const [it] of this.iterators) {
      it!.seek(first)
      this.positionedBy.delete(it!)
      if (it!.nextChunk(1, 1) !== null) return false
    }
    return true
  }

  release(): void {
    if (this.released) return
    this.released = true
    for (const it of this.iterators.flat()) {
      const pending = this.pendingReads.get(it)
      // The addon refuses to close an iterator with a read in flight (BUSY).
      if (pending) pending.then(() => it.close(), () => it.close())
      else it.close()
    }
  }

  /**
   * Chunks of state `s`, read on the thread pool by all its iterators ahead
   * of the consumer (see StripedReadAhead). Ending early waits for the reads in flight.
   */
  private chunksAhead(s: number): StripedReadAhead {
    const iterators = this.iterators[s]!
    // Chunks shrink as states grow in number: each state's readers hold a few chunks each.
    const chunkBytes = Math.max(
      AHEAD_CHUNK_BYTES_MIN,
      Math.min(SNAPSHOT_AHEAD_CHUNK.bytesMax, Math.floor(AHEAD_BYTES_TOTAL / (CHUNKS_PER_READER * iterators.length * this.iterators.length))),
    )
    const tokens = iterators.map(() => ({}))
    // Where each reader's stripe began and the last chunk it read there: where to seek back to if moved.
    const starts = iterators.map(() => keyGroupPrefix(this.keyGroupRange.start))
    const previous: Array<Uint8Array | undefined> = iterators.map(() => undefined)
    const options = { readers: iterators.length, chunksPerReader: CHUNKS_PER_READER, stripeBytes: 2 * chunkBytes }
    return new StripedReadAhead(this.keyGroupRange, options, (r, fromKeyGroup, untilKeyGroup) => {
      this.assertUsable()
      const it = iterators[r]!
      if (fromKeyGroup !== undefined) {
        starts[r] = keyGroupPrefix(fromKeyGroup)
        previous[r] = undefined
        this.positionedBy.delete(it)
      }
      this.positioned(it, tokens[r]!, starts[r]!, previous[r])
      const read = it.nextChunkAsync(SNAPSHOT_AHEAD_CHUNK.entriesMax, chunkBytes, keyGroupPrefix(untilKeyGroup))
      this.pendingReads.set(it, read)
      const clear = (): void => {
        if (this.pendingReads.get(it) === read) this.pendingReads.delete(it)
      }
      read.then(clear, clear)
      return read.then((chunk) => {
        if (chunk !== null) previous[r] = chunk
        return chunk
      })
    })
  }

  /** Chunks of state `s` from key `from` on, before key `until` when given. */
  private *chunks(s: number, from: Uint8Array, until: Uint8Array | undefined): Generator<Uint8Array, void, undefined> {
    const reader = {}
    const it = this.iterators[s]![0]!
    let previous: Uint8Array | undefined
    for (;;) {
      // After release (cancel, close) the iterators are closed under us: stop with a clear error.
      this.assertUsable()
      this.positioned(it, reader, from, previous)
      const chunk = it.nextChunk(SNAPSHOT_CHUNK.entriesMax, SNAPSHOT_CHUNK.bytesMax, until)
      if (chunk === null) return
      previous = chunk
      yield chunk
    }
  }

  /**
   * Positions `it` where `reader` stopped: at `from` before its first read,
   * after the last entry of `previous` once another read moved it.
   */
  private positioned(it: NativeIterator, reader: object, from: Uint8Array, previous: Uint8Array | undefined): void {
    if (this.positionedBy.get(it) === reader) return
    it.seek(previous === undefined ? from : keyAfterLastEntry(previous))
    this.positionedBy.set(it, reader)
  }

  private checkState(stateIndex: number): void {
    if (this.iterators[stateIndex] === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `no state with index ${stateIndex} in this snapshot`)
  }

  private assertUsable(): void {
    if (this.released) throw new ClosedError('full snapshot resources')
  }
}

/** The smallest key after the last entry of `chunk`: its key with a zero byte appended. */
function keyAfterLastEntry(chunk: Uint8Array): Uint8Array {
  const cursor = new ChunkCursor(chunk)
  let keyStart = 0
  let keyEnd = 0
  while (cursor.next()) {
    keyStart = cursor.keyStart
    keyEnd = cursor.keyEnd
  }
  const key = new Uint8Array(keyEnd - keyStart + 1)
  key.set(chunk.subarray(keyStart, keyEnd))
  return key
}

/**
 * The synchronous part of a full snapshot: meta-info copy and one iterator
 * per state. Writes after this call are not visible through the returned resources.
 */
export function captureFullSnapshotResources(
  db: NativeDb,
  states: readonly StateColumnFamily[],
  keyGroupRange: KeyGroupRange,
): FullSnapshotResources {
  return new RocksDBFullSnapshotResources(db, states, keyGroupRange)
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
          keySerializer: this.ctx.keySerializer,
          localRecoveryDir: options.type === 'checkpoint' ? this.ctx.localRecoveryDir : undefined,
          onSettled: ticket.settle,
          transformers: this.ctx.ttlTransformers?.(),
          crc32: this.ctx.native.crc32,
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
