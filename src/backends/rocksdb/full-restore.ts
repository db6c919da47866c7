// Restore from full (canonical) snapshots into RocksDB. The reader hands over
// verified chunks per (key group, state), each sorted, in the packed layout the
// native iterators produce; entries are already composite keys and canonical
// values, and the canonical order (u16be key group first, then unsigned bytes)
// is RocksDB's bytewise key order, for every state kind (timers included), so
// no state needs sorting. They are written straight into SST files and
// ingested, rather than re-inserted through write batches.
//
// Files are built on the thread pool (SstWriter.putChunksAsync), one per
// (state, reader lane): the reader reads a big handle in several lanes
// (contiguous key-group runs, FullRestoreOptions.readLanes), so several files
// are built at once while the event loop reads and verifies the next blocks.
// Files of one state never overlap (a lane's key groups are its own), so all
// of them are ingested by one IngestExternalFile call per handle.
import { mkdirSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { isKeyedStateError, KeyedStateError } from '../../errors.js'
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeBinding, NativeDb, NativeSstWriter } from './native/types.js'
import type { BlockWork } from '../../snapshot/format/codec.js'
import { compressionOf } from './sst-compression.js'
import type { RestoreSink } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'

/** What the sink needs from the backend being restored. */
export interface RestoreTarget {
  readonly native: NativeBinding
  readonly db: NativeDb
  readonly keyGroupRange: KeyGroupRange
  /** Directory for staged SST files (created on demand, removed by the backend afterwards). */
  readonly stagingDir: string
  /** Registers restored states (creating their column families). */
  registerRestoredStates(metaInfos: readonly StateMetaInfo[]): void
  /** Column family handle of a registered state; throws UNKNOWN_STATE otherwise. */
  columnFamilyHandle(stateName: string): number
}

/** Blocks at least this big are checked and decompressed on the thread pool; smaller ones cost less than the hand-off. */
const ASYNC_BLOCK_BYTES = 64 * 1024

/**
 * The addon's block work for the format reader: CRC-32 and snappy on the
 * thread pool for big blocks (the lanes of a restore side by side, off the
 * event loop); snappy with a ninth of the CPU of the snappy package's, CRC-32
 * with libdeflate's when the addon has it (4× zlib's).
 */
export function nativeBlockWork(native: NativeBinding): BlockWork {
  return {
    crc32: (bytes) => (bytes.length >= ASYNC_BLOCK_BYTES ? native.crc32Async(bytes) : native.crc32(bytes)),
    snappyUncompress: (stored, rawLength) =>
      stored.length >= ASYNC_BLOCK_BYTES ? native.snappyUncompressAsync(stored, rawLength) : native.snappyUncompress(stored, rawLength),
  }
}

/** Lanes a handle is read in at once: work for the thread pool's threads (libuv has 4 by default). */
export const RESTORE_READ_LANES = 4
/** Roll over to a new SST file past this size, so no single staged file grows without bound. */
const SST_FILE_TARGET_BYTES = 256 * 1024 * 1024
/** A lane's chunks go to its writer in batches of about this size (one thread-pool job each). */
const BATCH_BYTES = 1024 * 1024
/** Chunks held by lanes and not yet handed over, all lanes: past it every lane hands its batch over. */
const QUEUED_BYTES_MAX = 32 * 1024 * 1024
/** Bytes handed to writers and not yet written, all lanes: past it the reader waits. */
const IN_FLIGHT_BYTES_MAX = 64 * 1024 * 1024

/** The file a (state, lane) is writing, and the work queued for it. */
interface Lane {
  readonly stateName: string
  readonly index: number
  readonly cf: number
  file: { writer: NativeSstWriter; path: string } | undefined
  writtenBytes: number
  lastKeyGroup: number
  queued: Uint8Array[]
  queuedBytes: number
  /** The lane's thread-pool work, in order; never rejects (failures land in `error`). */
  tail: Promise<void>
  busy: boolean
  error: unknown
}

export class IngestingRestoreSink implements RestoreSink {
  private readonly lanes = new Map<string, Lane>()
  /** Column family → finished files, in key order per lane. */
  private readonly finished = new Map<number, string[]>()
  /** Every writer made, so a failed restore aborts those still open. */
  private readonly writers: NativeSstWriter[] = []
  private fileSeq = 0
  private stagingReady = false
  private queuedBytes = 0
  private inFlightBytes = 0
  /** Entries written, for reporting and tests. */
  entries = 0

  constructor(private readonly target: RestoreTarget) {}

  restoreMetaInfos(metaInfos: readonly StateMetaInfo[]): void {
    this.target.registerRestoredStates(metaInfos)
  }

  restoreChunk(stateName: string, keyGroup: number, chunk: Uint8Array, laneIndex = 0): void | Promise<void> {
    const range = this.target.keyGroupRange
    // The reader only reads the target range; skip strays rather than restore foreign key groups.
    if (keyGroup < range.start || keyGroup > range.end || chunk.length === 0) return
    const lane = this.laneOf(stateName, laneIndex)
    if (lane.error !== undefined) throw lane.error
    if (keyGroup < lane.lastKeyGroup) {
      // Out of key-group order for this lane (a caller that does not keep lanes ordered):
      // ingest what the state has so far, so the files of one ingest never overlap.
      return this.ingestStateThenAdd(lane, keyGroup, chunk)
    }
    lane.lastKeyGroup = keyGroup
    lane.queued.push(chunk)
    lane.queuedBytes += chunk.length
    this.queuedBytes += chunk.length
    if (lane.queuedBytes >= BATCH_BYTES) this.handOver(lane)
    if (this.queuedBytes >= QUEUED_BYTES_MAX) for (const l of this.lanes.values()) this.handOver(l)
    if (this.inFlightBytes >= IN_FLIGHT_BYTES_MAX) return this.waitForRoom()
  }

  /**
   * Finishes every file and ingests them with one native call: RocksDB then
   * writes its MANIFEST once, not once per state (a restore of 1,000 states
   * made 1,000 ingest calls, issue 14).
   */
  async flushRestore(): Promise<void> {
    for (const lane of this.lanes.values()) this.finishFile(lane)
    await this.settleAll()
    this.ingest([...this.finished.keys()])
  }

  /** Waits for work in flight, drops open writers and removes staged files (after a failed restore, or always at the end). */
  async discard(): Promise<void> {
    await this.settleAll(false)
    for (const w of this.writers) w.abort()
    await rm(this.target.stagingDir, { recursive: true, force: true })
  }

  private laneOf(stateName: string, laneIndex: number): Lane {
    const key = `${laneIndex}\u0000${stateName}`
    let lane = this.lanes.get(key)
    if (!lane) {
      const cf = this.target.columnFamilyHandle(stateName)
      lane = { stateName, index: laneIndex, cf, file: undefined, writtenBytes: 0, lastKeyGroup: -1, queued: [], queuedBytes: 0, tail: Promise.resolve(), busy: false, error: undefined }
      this.lanes.set(key, lane)
    }
    return lane
  }

  /** Hands the lane's queued chunks to its writer, after the lane's earlier work. */
  private handOver(lane: Lane): void {
    if (lane.queuedBytes === 0) return
    const batch = lane.queued
    const bytes = lane.queuedBytes
    lane.queued = []
    lane.queuedBytes = 0
    this.queuedBytes -= bytes
    const { writer } = (lane.file ??= this.newFile(batch))
    const { start, end } = this.target.keyGroupRange
    this.inFlightBytes += bytes
    this.chain(lane, () => writer.putChunksAsync(batch, start, end), () => {
      this.inFlightBytes -= bytes
    })
    lane.writtenBytes += bytes
    if (lane.writtenBytes >= SST_FILE_TARGET_BYTES) this.finishFile(lane)
  }

  /** Hands over what is queued and finishes the lane's file; its path joins the finished files of the state. */
  private finishFile(lane: Lane): void {
    this.handOver(lane)
    if (!lane.file) return
    const { writer, path } = lane.file
    lane.file = undefined
    lane.writtenBytes = 0
    let files = this.finished.get(lane.cf)
    if (!files) this.finished.set(lane.cf, (files = []))
    // The slot keeps the file's place in key order; an empty file (no entries) leaves it empty.
    const slot = files.push('') - 1
    this.chain(
      lane,
      async () => {
        this.entries += writer.entries
        if ((await writer.finishAsync()) > 0) files[slot] = path
      },
      () => {},
    )
  }

  /** Runs `work` after the lane's earlier work; a failure is kept in lane.error and stops the lane's later work. */
  private chain(lane: Lane, work: () => Promise<unknown>, after: () => void): void {
    lane.busy = true
    const run = async (): Promise<void> => {
      try {
        if (lane.error === undefined) await work()
      } catch (e) {
        lane.error ??= this.restoreError(lane, e)
      } finally {
        after()
      }
    }
    const tail = lane.tail.then(run)
    lane.tail = tail
    void tail.then(() => {
      if (lane.tail === tail) lane.busy = false
    })
  }

  /** Waits until the writers caught up enough; rethrows a lane's failure. */
  private async waitForRoom(): Promise<void> {
    while (this.inFlightBytes >= IN_FLIGHT_BYTES_MAX) {
      const busy = [...this.lanes.values()].filter((l) => l.busy).map((l) => l.tail)
      if (busy.length === 0) break
      await Promise.race(busy)
    }
    this.throwLaneError()
  }

  /** Waits for every lane's work; rethrows the first failure unless `rethrow` is false. */
  private async settleAll(rethrow = true): Promise<void> {
    for (;;) {
      const tails = [...this.lanes.values()].map((l) => l.tail)
      await Promise.all(tails)
      // Work queued while waiting (none in flight now) has settled too once the tails stop changing.
      if ([...this.lanes.values()].every((l, i) => l.tail === tails[i])) break
    }
    if (rethrow) this.throwLaneError()
  }

  private throwLaneError(): void {
    for (const lane of this.lanes.values()) if (lane.error !== undefined) throw lane.error
  }

  private async ingestStateThenAdd(lane: Lane, keyGroup: number, chunk: Uint8Array): Promise<void> {
    for (const l of this.lanes.values()) if (l.cf === lane.cf) this.finishFile(l)
    await this.settleAll()
    this.ingest([lane.cf])
    // Lanes that opened a new file meanwhile keep their order.
    for (const l of this.lanes.values()) if (l.cf === lane.cf && !l.file) l.lastKeyGroup = -1
    await this.restoreChunk(lane.stateName, keyGroup, chunk, lane.index)
  }

  /** Ingests the finished files of `cfs` in one native call; move: hard-links them into the DB instead of copying. */
  private ingest(cfs: readonly number[]): void {
    const groups: Array<{ cf: number; files: string[] }> = []
    for (const cf of cfs) {
      const files = (this.finished.get(cf) ?? []).filter((f) => f !== '')
      this.finished.delete(cf)
      if (files.length > 0) groups.push({ cf, files })
    }
    if (groups.length > 0) this.target.db.ingestAll(groups, { move: true })
  }

  /** A new staged file; its first batch decides its compression (see compressionOf). */
  private newFile(firstBatch: readonly Uint8Array[]): { writer: NativeSstWriter; path: string } {
    if (!this.stagingReady) {
      mkdirSync(this.target.stagingDir, { recursive: true })
      this.stagingReady = true
    }
    const path = join(this.target.stagingDir, `restore-${String(++this.fileSeq).padStart(6, '0')}.sst`)
    const writer = this.target.native.sstWriter(path, { compression: compressionOf(this.target.native, firstBatch) })
    this.writers.push(writer)
    return { writer, path }
  }

  /**
   * A writer's failure as the restore's error: entries the writer refuses
   * (framing, a key group outside the target, keys out of order) mean the
   * input is corrupt; I/O and other failures keep their code.
   */
  private restoreError(lane: Lane, e: unknown): unknown {
    if (isKeyedStateError(e) && e.code !== 'INVALID_ARGUMENT') return e
    return new KeyedStateError('CORRUPTION', `restore of state '${lane.stateName}': ${(e as Error)?.message ?? String(e)}`, {
      state: lane.stateName,
      cause: e,
    })
  }
}
