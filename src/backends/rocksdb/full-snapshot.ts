// Full snapshots of the RocksDB backend: the synchronous part copies the
// meta-info and opens one iterator per state (its read view); the canonical
// writer (src/snapshot/full) then streams each state from it while
// processing continues. RocksDB keys are already composite keys
// and values already canonical bytes, so chunks go to the writer unchanged.
import { performance } from 'node:perf_hooks'
import { keyGroupPrefix } from '../../encoding.js'
import { ClosedError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeDb, NativeIterator } from '../../native/types.js'
import { runFullSnapshot } from '../../snapshot/full/index.js'
import type { FullSnapshotResources, SnapshotOptions, SnapshotRun } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { ChunkCursor, SNAPSHOT_AHEAD_CHUNK, SNAPSHOT_CHUNK } from './chunks.js'
import type { RocksDBSnapshotContext, SnapshotStrategy, StateColumnFamily } from './snapshot-strategy.js'

/** Bytes of chunks held or read ahead for all states together (some more when states are very many). */
const AHEAD_BYTES_TOTAL = 32 * 1024 * 1024
const AHEAD_CHUNK_BYTES_MIN = 128 * 1024
/** Chunks read and waiting per state, besides the one in flight and the one the writer works on. */
const AHEAD_CHUNKS = 2

/**
 * One state's chunks read on the thread pool ahead of its consumer: up to
 * `depth` read chunks wait, and the next read starts as soon as one is taken
 * or arrives, so reading goes on while the consumer waits for its writes.
 * `return()` stops reading and waits for the read in flight.
 */
class ReadAhead implements AsyncIterator<Uint8Array> {
  private readonly ready: Uint8Array[] = []
  private inFlight: Promise<void> | undefined
  private exhausted = false
  private stopped = false
  private failure: { error: unknown } | undefined
  private wake: (() => void) | undefined

  constructor(
    private readonly depth: number,
    private readonly read: () => Promise<Uint8Array | null>,
  ) {
    this.fill()
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const chunk = this.ready.shift()
      if (chunk !== undefined) {
        this.fill()
        return { done: false, value: chunk }
      }
      if (this.failure) throw this.failure.error
      if (this.exhausted || this.stopped) return { done: true, value: undefined }
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.stopped = true
    this.ready.length = 0
    await this.inFlight
    this.notify()
    return { done: true, value: undefined }
  }

  private fill(): void {
    if (this.inFlight || this.exhausted || this.stopped || this.failure || this.ready.length >= this.depth) return
    let read: Promise<Uint8Array | null>
    try {
      read = this.read()
    } catch (e) {
      this.failure = { error: e }
      this.notify()
      return
    }
    this.inFlight = read.then(
      (chunk) => {
        this.inFlight = undefined
        if (chunk === null) this.exhausted = true
        else if (!this.stopped) this.ready.push(chunk)
        this.notify()
        this.fill()
      },
      (e: unknown) => {
        this.inFlight = undefined
        this.failure = { error: e }
        this.notify()
      },
    )
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}

/**
 * The read view of a full snapshot: one iterator per state, created at the
 * barrier. A RocksDB iterator reads as of its creation (it pins its own
 * implicit snapshot and the files it needs), so no db.snapshot() is taken:
 * releasing one lets RocksDB mark bottommost files for a rewrite that zeroes
 * their sequence numbers, and the rewritten files would be new to the next
 * incremental checkpoint.
 *
 * All reads of one state share its iterator. A read that finds the iterator
 * moved by another read of the same state seeks back to where it stopped.
 */
class RocksDBFullSnapshotResources implements FullSnapshotResources {
  readonly metaInfos: readonly StateMetaInfo[]
  private readonly iterators: NativeIterator[] = []
  /** The read that positioned each state's iterator last. */
  private readonly positionedBy: Array<object | undefined>
  /** The thread-pool read in flight on each state's iterator: the iterator closes only after it. */
  private readonly pendingReads: Array<Promise<unknown> | undefined>
  private released = false

  constructor(
    db: NativeDb,
    states: readonly StateColumnFamily[],
    readonly keyGroupRange: KeyGroupRange,
  ) {
    this.metaInfos = states.map((s) => s.meta)
    this.positionedBy = states.map(() => undefined)
    this.pendingReads = states.map(() => undefined)
    const gte = keyGroupPrefix(keyGroupRange.start)
    const lt = keyGroupPrefix(keyGroupRange.end + 1)
    try {
      for (const s of states) this.iterators.push(db.iterator(s.cf, { gte, lt }))
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
    return this.chunks(stateIndex, keyGroupPrefix(keyGroup), keyGroup)
  }

  stateChunks(stateIndex: number): Iterable<Uint8Array> {
    this.assertUsable()
    this.checkState(stateIndex)
    return this.chunks(stateIndex, keyGroupPrefix(this.keyGroupRange.start), undefined)
  }

  stateChunksAsync(stateIndex: number): AsyncIterable<Uint8Array> {
    this.assertUsable()
    this.checkState(stateIndex)
    return { [Symbol.asyncIterator]: () => this.chunksAhead(stateIndex, keyGroupPrefix(this.keyGroupRange.start)) }
  }

  isEmpty(): boolean {
    this.assertUsable()
    const first = keyGroupPrefix(this.keyGroupRange.start)
    for (let s = 0; s < this.iterators.length; s++) {
      const it = this.iterators[s]!
      it.seek(first)
      this.positionedBy[s] = undefined
      if (it.nextChunk(1, 1) !== null) return false
    }
    return true
  }

  release(): void {
    if (this.released) return
    this.released = true
    this.iterators.forEach((it, s) => {
      const pending = this.pendingReads[s]
      // The addon refuses to close an iterator with a read in flight (BUSY).
      if (pending) pending.then(() => it.close(), () => it.close())
      else it.close()
    })
  }

  /**
   * Chunks of state `s` from key `from` on, read on the thread pool ahead of
   * the consumer (see ReadAhead). Ending early waits for the read in flight.
   */
  private chunksAhead(s: number, from: Uint8Array): ReadAhead {
    const reader = {}
    // Each state holds its current chunk, the chunks read ahead and one in flight: chunks shrink as states grow in number.
    const chunkBytes = Math.max(
      AHEAD_CHUNK_BYTES_MIN,
      Math.min(SNAPSHOT_AHEAD_CHUNK.bytesMax, Math.floor(AHEAD_BYTES_TOTAL / ((AHEAD_CHUNKS + 2) * this.iterators.length))),
    )
    let previous: Uint8Array | undefined
    return new ReadAhead(AHEAD_CHUNKS, () => {
      this.assertUsable()
      const it = this.positioned(s, reader, from, previous)
      const read = it.nextChunkAsync(SNAPSHOT_AHEAD_CHUNK.entriesMax, chunkBytes)
      this.pendingReads[s] = read
      const clear = (): void => {
        if (this.pendingReads[s] === read) this.pendingReads[s] = undefined
      }
      read.then(clear, clear)
      return read.then((chunk) => {
        if (chunk !== null) previous = chunk
        return chunk
      })
    })
  }

  /** Chunks of state `s` from key `from` on; with `onlyKeyGroup`, only the entries of that key group. */
  private *chunks(s: number, from: Uint8Array, onlyKeyGroup: number | undefined): Generator<Uint8Array, void, undefined> {
    const reader = {}
    let previous: Uint8Array | undefined
    for (;;) {
      // After release (cancel, close) the iterators are closed under us: stop with a clear error.
      this.assertUsable()
      const it = this.positioned(s, reader, from, previous)
      let chunk = it.nextChunk(SNAPSHOT_CHUNK.entriesMax, SNAPSHOT_CHUNK.bytesMax)
      if (chunk === null) return
      if (onlyKeyGroup !== undefined) {
        const end = endOfKeyGroup(chunk, onlyKeyGroup)
        if (end < chunk.length) {
          // Read past the key group: the next read of this state must seek.
          this.positionedBy[s] = undefined
          if (end > 0) yield chunk.subarray(0, end)
          return
        }
      }
      previous = chunk
      yield chunk
    }
  }

  /**
   * State `s`'s iterator, where `reader` stopped: at `from` before its first
   * read, after the last entry of `previous` once another read moved it.
   */
  private positioned(s: number, reader: object, from: Uint8Array, previous: Uint8Array | undefined): NativeIterator {
    const it = this.iterators[s]!
    if (this.positionedBy[s] !== reader) {
      it.seek(previous === undefined ? from : keyAfterLastEntry(previous))
      this.positionedBy[s] = reader
    }
    return it
  }

  private checkState(stateIndex: number): void {
    if (this.iterators[stateIndex] === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `no state with index ${stateIndex} in this snapshot`)
  }

  private assertUsable(): void {
    if (this.released) throw new ClosedError('full snapshot resources')
  }
}

/** Offset of the first entry of `chunk` outside `keyGroup` (its u16be key prefix), or the chunk length. */
function endOfKeyGroup(chunk: Uint8Array, keyGroup: number): number {
  const cursor = new ChunkCursor(chunk)
  let end = 0
  while (cursor.next()) {
    if (cursor.keyGroup() !== keyGroup) return end
    end = cursor.valueEnd
  }
  return end
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
