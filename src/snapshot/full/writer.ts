// The asynchronous part of a full snapshot: reads the consistent view the
// backend captured at the barrier, key group by key group and state by state,
// and writes the canonical stream (src/snapshot/format) to checkpoint storage,
// plus an identical local copy for local recovery of checkpoints.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { CancelledError, KeyedStateError } from '../../errors.js'
import { rangeSize } from '../../keygroups.js'
import { FileSystemCheckpointStorage } from '../../storage/fs.js'
import type { StorageOutput, StorageScope } from '../../storage/types.js'
import { checkCodec } from '../format/codec.js'
import { DEFAULT_BLOCK_RAW_BYTES_MAX, FORMAT_VERSION, SECTION_HEADER_BYTES } from '../format/constants.js'
import { BlockPayloadBuilder, FullSnapshotEncoder, type SnapshotMeta } from '../format/encoder.js'
import { packedEntryEnd, readU32le } from '../format/packed.js'
import type {
  FullSnapshotHandle,
  FullSnapshotResources,
  LocalStateHandle,
  SnapshotOptions,
  SnapshotResult,
  SnapshotRun,
} from '../types.js'
import { checkSnapshotArguments } from '../argument-checks.js'
import type { FullSnapshotContext } from './index.js'
import { StateEntries } from './state-entries.js'

/** Bytes collected before one storage write: few syscalls for small key groups, bounded memory. */
const OUTPUT_BUFFER_BYTES = 1024 * 1024
/** The writer gives the event loop a turn at least this often, so the job keeps processing records. */
const YIELD_EVERY_MS = 8

export interface FullSnapshotTuning {
  /** Raw payload bound of a block; a key group with more data is split into several blocks. */
  blockRawBytesMax?: number
}

/**
 * Storage writes in flight at once: each block is two writes (its header with
 * the bytes before it, then its payload), so this lets one block be written
 * while the next is queued instead of the writer waiting for every payload.
 */
const WRITES_AHEAD = 4

/**
 * Buffers the stream and writes it to the primary output and, while it stays
 * healthy, to the local copy. A failing local copy is dropped, never the checkpoint.
 *
 * Writes overlap the caller's work: small records are copied into one of two
 * buffers, large ones go to storage as they are, and at most WRITES_AHEAD
 * storage writes are in flight, one after another. A failed write surfaces at
 * the next write or at `drain()`.
 */
class TeeOutput {
  private readonly buffers = [Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES), Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES)]
  /** The write that last read each buffer: it must finish before the buffer is filled again. */
  private readonly bufferWrites: Array<Promise<void> | undefined> = [undefined, undefined]
  private active = 0
  private used = 0
  private readonly inFlight: Array<Promise<void>> = []
  /** Storage writes run one after another, in file order, whatever the storage does with concurrent calls. */
  private tail: Promise<void> = Promise.resolve()
  private aborted = false
  size = 0

  constructor(
    readonly primary: StorageOutput,
    public secondary: StorageOutput | undefined,
  ) {}

  /** `onWritten`: called once storage no longer reads `bytes` (right away when they were copied). */
  async write(bytes: Uint8Array, onWritten?: () => void): Promise<void> {
    this.size += bytes.length
    const capacity = OUTPUT_BUFFER_BYTES
    if (bytes.length > capacity / 2) {
      // Buffered bytes go out first; large bytes are written as they are instead of copied.
      await this.flush()
      const { done } = await this.startWrite(bytes)
      if (onWritten) done.then(onWritten, () => {})
      return
    }
    if (this.used + bytes.length > capacity) await this.flush()
    this.buffers[this.active]!.set(bytes, this.used)
    this.used += bytes.length
    onWritten?.()
  }

  /** Starts writing the buffered bytes and continues in the other buffer. */
  async flush(): Promise<void> {
    if (this.used === 0) return
    const index = this.active
    this.bufferWrites[index] = (await this.startWrite(this.buffers[index]!.subarray(0, this.used))).done
    this.active = 1 - index
    this.used = 0
    const previous = this.bufferWrites[this.active]
    if (previous) await previous
  }

  /** Everything written (before commit). */
  async drain(): Promise<void> {
    await this.flush()
    await this.tail
  }

  /** Stops writing; waits for the storage write in progress so discard does not race it. */
  async abort(): Promise<void> {
    this.aborted = true
    await this.tail.catch(() => {})
  }

  /** Queues a storage write once fewer than WRITES_AHEAD are in flight; `done` is its completion. */
  private async startWrite(bytes: Uint8Array): Promise<{ done: Promise<void> }> {
    while (this.inFlight.length >= WRITES_AHEAD) await this.inFlight.shift()
    const done = this.tail.then(() => this.writeThrough(bytes))
    // Observed by the next write or drain(); a failed run may never get there.
    done.catch(() => {})
    this.tail = done
    this.inFlight.push(done)
    return { done }
  }

  private async writeThrough(bytes: Uint8Array): Promise<void> {
    if (this.aborted) return
    const secondary = this.secondary
    await Promise.all([
      this.primary.write(bytes),
      secondary?.write(bytes).catch(() => this.dropSecondary()),
    ])
  }

  async dropSecondary(): Promise<void> {
    const secondary = this.secondary
    this.secondary = undefined
    await secondary?.discard().catch(() => {})
  }
}

function snapshotFileName(resources: FullSnapshotResources): string {
  const { start, end } = resources.keyGroupRange
  return `full-kg${start}-${end}-${randomBytes(6).toString('hex')}.kss`
}

function storageScope(checkpointId: number, options: SnapshotOptions): StorageScope {
  if (options.type === 'savepoint' && options.targetDir !== undefined) return { kind: 'savepoint', dir: options.targetDir }
  return { kind: 'exclusive', checkpointId }
}

function checkOptions(checkpointId: number, options: SnapshotOptions): void {
  checkSnapshotArguments(checkpointId, options)
  checkCodec(options.compression ?? 'snappy')
}

export class FullSnapshotRunImpl implements SnapshotRun {
  readonly done: Promise<SnapshotResult>
  private cancelled = false
  private settled = false
  private outputs: TeeOutput | undefined
  private encoder: FullSnapshotEncoder | undefined
  private sources: StateEntries[] = []

  constructor(
    readonly checkpointId: number,
    private readonly resources: FullSnapshotResources,
    private readonly options: SnapshotOptions,
    private readonly context: FullSnapshotContext,
    readonly syncDurationMs: number,
    private readonly tuning: FullSnapshotTuning = {},
  ) {
    this.done = this.runAsyncPart().finally(() => {
      this.settled = true
      try {
        this.resources.release()
      } finally {
        this.context.onSettled?.()
      }
    })
  }

  cancel(): void {
    if (this.settled || this.cancelled) return
    this.cancelled = true
    // Whoever cancels may not wait for `done`; the rejection is expected, not unhandled.
    this.done.catch(() => {})
  }

  private throwIfCancelled(): void {
    if (this.cancelled) throw new CancelledError(`snapshot ${this.checkpointId} was cancelled; its files were deleted`)
  }

  private async hook(name: 'afterSyncPart' | 'afterKeyGroup' | 'beforeCommit', keyGroup?: number): Promise<void> {
    const fn = this.options.hooks?.[name]
    if (fn) await fn({ run: this, checkpointId: this.checkpointId, keyGroup, path: this.outputs?.primary.path })
    this.throwIfCancelled()
  }

  private async runAsyncPart(): Promise<SnapshotResult> {
    // The caller is inside the synchronous part: never start writing before it returns.
    await yieldToEventLoop()
    try {
      checkOptions(this.checkpointId, this.options)
      await this.hook('afterSyncPart')
      if (this.resources.isEmpty()) return { handle: undefined }
      return await this.write()
    } catch (e) {
      await this.discardOutputs()
      if (this.cancelled && !(e instanceof CancelledError)) {
        // A write that failed because of the cancellation is still a cancellation.
        throw new CancelledError(`snapshot ${this.checkpointId} was cancelled; its files were deleted`)
      }
      throw e
    }
  }

  private async discardOutputs(): Promise<void> {
    this.encoder?.abort()
    // A read in flight ends first: the backend closes its iterators once the run settles.
    await Promise.all(this.sources.map((source) => source.close().catch(() => {})))
    const outputs = this.outputs
    if (!outputs) return
    await outputs.abort()
    await Promise.all([outputs.primary.discard().catch(() => {}), outputs.dropSecondary()])
  }

  private async openOutputs(name: string): Promise<TeeOutput> {
    const primary = await this.options.storage.create(storageScope(this.checkpointId, this.options), name)
    this.outputs = new TeeOutput(primary, undefined)
    if (this.context.localRecoveryDir !== undefined && this.options.type === 'checkpoint') {
      try {
        const local = new FileSystemCheckpointStorage(this.context.localRecoveryDir)
        this.outputs.secondary = await local.create({ kind: 'exclusive', checkpointId: this.checkpointId }, name)
      } catch {
        // Local recovery is an optimization: without a local copy the restore reads from storage.
      }
    }
    return this.outputs
  }

  /**
   * Appends the packed entries of `run` (whole entries of state `s` in key group `kg`),
   * applying the state's transformer and starting a new block when one would
   * pass its bound (entries are never split).
   */
  private async appendEntries(
    encoder: FullSnapshotEncoder,
    builder: BlockPayloadBuilder,
    kg: number,
    s: number,
    run: Uint8Array,
    transform: ((key: Uint8Array, value: Uint8Array) => Uint8Array | undefined) | undefined,
    blockRawBytesMax: number,
  ): Promise<void> {
    let runStart = 0
    let pos = 0
    while (pos < run.length) {
      // StateEntries checked the layout.
      const end = packedEntryEnd(run, pos)
      const keyLength = readU32le(run, pos)
      // null: the entry is written unchanged, undefined: the transformer dropped it.
      let replacement: Uint8Array | undefined | null = null
      if (transform) {
        const value = run.subarray(pos + 8 + keyLength, end)
        const next = transform(run.subarray(pos + 4, pos + 4 + keyLength), value)
        if (next !== value) replacement = next
      }
      if (replacement === undefined) {
        builder.append(s, run, runStart, pos)
        runStart = pos = end
        continue
      }
      const entryBytes = replacement === null ? end - pos : 8 + keyLength + replacement.length
      const pending = builder.rawBytes + (pos > runStart ? builder.costOf(s, pos - runStart) : 0)
      if (pending > 0 && pending + entryBytes + SECTION_HEADER_BYTES > blockRawBytesMax) {
        builder.append(s, run, runStart, pos)
        runStart = pos
        await encoder.block(kg, builder.takeOwned(), false)
      }
      if (replacement !== null) {
        builder.append(s, run, runStart, pos)
        builder.appendEntry(s, run.subarray(pos + 4, pos + 4 + keyLength), replacement)
        runStart = end
      }
      pos = end
    }
    builder.append(s, run, runStart, pos)
  }

  private async write(): Promise<SnapshotResult> {
    const { resources, options } = this
    const codec = options.compression ?? 'snappy'
    const blockRawBytesMax = this.tuning.blockRawBytesMax ?? DEFAULT_BLOCK_RAW_BYTES_MAX
    const range = resources.keyGroupRange
    const states = resources.metaInfos
    const meta: SnapshotMeta = {
      maxParallelism: this.context.maxParallelism,
      keyGroupRange: { start: range.start, end: range.end },
      states: [...states],
      ...(this.context.keySerializer ? { keySerializer: this.context.keySerializer } : {}),
      checkpointId: this.checkpointId,
      snapshotType: options.type,
      blockRawBytesMax,
    }
    // Made before the file is created: a backend that reads ahead (RocksDB) starts as they are made.
    const sources = states.map((state, s) => new StateEntries(resources, s, state.name))
    this.sources = sources
    const out = await this.openOutputs(snapshotFileName(resources))
    this.throwIfCancelled()
    const builder = new BlockPayloadBuilder(Math.min(blockRawBytesMax + 64 * 1024, 4 * 1024 * 1024 + 64 * 1024))
    const encoder = new FullSnapshotEncoder(meta, codec, (bytes, onWritten) => out.write(bytes, onWritten), {
      onPayloadReleased: (payload) => builder.recycle(payload),
      ...(this.context.crc32 ? { crc32: this.context.crc32 } : {}),
    })
    this.encoder = encoder
    await encoder.begin()

    const transformers = states.map((s) => this.context.transformers?.get(s.name))
    let lastYield = performance.now()
    for (let kg = range.start; kg <= range.end; kg++) {
      for (let s = 0; s < states.length; s++) {
        const transform = transformers[s]
        const source = sources[s]!
        for (;;) {
          let run = source.nextRun(kg)
          if (run instanceof Promise) run = await run
          if (run === undefined) break
          this.throwIfCancelled()
          // Whole runs that fit the block go in one copy; entries are walked only to split blocks or transform values.
          if (transform === undefined && builder.rawBytes + builder.costOf(s, run.length) + SECTION_HEADER_BYTES <= blockRawBytesMax) {
            builder.append(s, run)
          } else {
            await this.appendEntries(encoder, builder, kg, s, run, transform, blockRawBytesMax)
          }
          if (performance.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop()
            lastYield = performance.now()
            this.throwIfCancelled()
          }
        }
      }
      if (!builder.isEmpty) await encoder.block(kg, builder.takeOwned(), true)
      await this.hook('afterKeyGroup', kg)
    }
    // Every source read to its end, so none has a read in flight; close() makes that certain.
    await Promise.all(sources.map((source) => source.close()))
    const summary = await encoder.finish()
    await out.drain()
    await this.hook('beforeCommit')
    const sizeBytes = await out.primary.commit()
    const local = out.secondary
    let localSize: number | undefined
    if (local) {
      localSize = await local.commit().catch(() => undefined)
      if (localSize === undefined) await out.dropSecondary()
    }
    this.throwIfCancelled()
    if (sizeBytes !== summary.sizeBytes) {
      throw new KeyedStateError('INTERNAL', `snapshot file ${out.primary.path}: wrote ${summary.sizeBytes} bytes, storage committed ${sizeBytes}`, { file: out.primary.path })
    }
    const handle: FullSnapshotHandle = {
      type: 'full',
      formatVersion: FORMAT_VERSION,
      checkpointId: this.checkpointId,
      maxParallelism: this.context.maxParallelism,
      keyGroupRange: { start: range.start, end: range.end },
      file: { path: out.primary.path, sizeBytes, crc32: summary.crc32 },
      keyGroupOffsets: summary.keyGroupOffsets,
    }
    if (handle.keyGroupOffsets.length !== rangeSize(range)) throw new KeyedStateError('INTERNAL', 'snapshot writer produced a wrong number of key-group offsets')
    const result: SnapshotResult = { handle }
    if (out.secondary && localSize === sizeBytes) {
      const localHandle: LocalStateHandle = {
        type: 'local-full',
        checkpointId: this.checkpointId,
        directory: resolve(this.context.localRecoveryDir!),
        handle: { ...handle, file: { ...handle.file, path: out.secondary.path } },
      }
      result.localHandle = localHandle
    }
    return result
  }
}
