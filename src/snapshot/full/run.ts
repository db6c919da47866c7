// The asynchronous part of a full snapshot: reads the consistent view the
// backend captured at the barrier, key group by key group and state by state,
// and writes the canonical stream (src/snapshot/format) to checkpoint storage,
// plus an identical local copy for local recovery of checkpoints.
import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { crc32 } from 'node:zlib'
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
import type { FullSnapshotContext } from './index.js'

/** Named points in the async part where tests can pause, cancel or fail a run. */
export type SnapshotHookName = 'afterSyncPart' | 'afterKeyGroup' | 'beforeCommit'

export interface SnapshotHookInfo {
  run: SnapshotRun
  checkpointId: number
  /** afterKeyGroup: the key group just written. */
  keyGroup?: number
  /** Storage path of the file being written (once created). */
  path?: string
}

/**
 * Test hooks (the sync points of RocksDB's test builds). Production code never
 * sets them; a hook may be async, and a hook that throws fails the run.
 */
export const snapshotHooks: { [K in SnapshotHookName]?: (info: SnapshotHookInfo) => void | Promise<void> } = {}

export function clearSnapshotHooks(): void {
  for (const k of Object.keys(snapshotHooks) as SnapshotHookName[]) delete snapshotHooks[k]
}

/** Bytes collected before one storage write: few syscalls for small key groups, bounded memory. */
const OUTPUT_BUFFER_BYTES = 1024 * 1024
/** The writer gives the event loop a turn at least this often, so the job keeps processing records. */
const YIELD_EVERY_MS = 8

export interface FullSnapshotTuning {
  /** Raw payload bound of a block; a key group with more data is split into several blocks. */
  blockRawBytesMax?: number
}

/**
 * Buffers the stream and writes it to the primary output and, while it stays
 * healthy, to the local copy. A failing local copy is dropped, never the checkpoint.
 */
class TeeOutput {
  private readonly buf = Buffer.allocUnsafe(OUTPUT_BUFFER_BYTES)
  private used = 0
  crc = 0
  size = 0

  constructor(
    readonly primary: StorageOutput,
    public secondary: StorageOutput | undefined,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    this.crc = crc32(bytes, this.crc)
    this.size += bytes.length
    const large = bytes.length > this.buf.length / 2
    // Buffered bytes go out first, whether the new bytes are buffered or written through.
    if (large || this.used + bytes.length > this.buf.length) await this.flush()
    if (large) {
      await this.writeThrough(bytes)
      return
    }
    this.buf.set(bytes, this.used)
    this.used += bytes.length
  }

  async flush(): Promise<void> {
    if (this.used === 0) return
    const data = this.buf.subarray(0, this.used)
    await this.writeThrough(data)
    this.used = 0
  }

  private async writeThrough(bytes: Uint8Array): Promise<void> {
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

function checkOptions(options: SnapshotOptions): void {
  if (!options || (options.type !== 'checkpoint' && options.type !== 'savepoint')) {
    throw new KeyedStateError('INVALID_ARGUMENT', `snapshot type must be 'checkpoint' or 'savepoint', got ${JSON.stringify(options?.type)}`)
  }
  if (!options.storage || typeof options.storage.create !== 'function') throw new KeyedStateError('INVALID_ARGUMENT', 'snapshot options need a checkpoint storage')
  checkCodec(options.compression ?? 'snappy')
}

export class FullSnapshotRunImpl implements SnapshotRun {
  readonly done: Promise<SnapshotResult>
  private cancelled = false
  private settled = false
  private outputs: TeeOutput | undefined

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

  private async hook(name: SnapshotHookName, keyGroup?: number): Promise<void> {
    const fn = snapshotHooks[name]
    if (fn) await fn({ run: this, checkpointId: this.checkpointId, keyGroup, path: this.outputs?.primary.path })
    this.throwIfCancelled()
  }

  private async runAsyncPart(): Promise<SnapshotResult> {
    // The caller is inside the synchronous part: never start writing before it returns.
    await yieldToEventLoop()
    try {
      checkOptions(this.options)
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
    const outputs = this.outputs
    if (!outputs) return
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
      checkpointId: this.checkpointId,
      snapshotType: options.type,
      blockRawBytesMax,
    }
    const out = await this.openOutputs(snapshotFileName(resources))
    this.throwIfCancelled()
    const encoder = new FullSnapshotEncoder(meta, codec, (bytes) => out.write(bytes))
    await encoder.begin()

    const builder = new BlockPayloadBuilder(Math.min(blockRawBytesMax + 64 * 1024, 4 * 1024 * 1024 + 64 * 1024))
    const transformers = states.map((s) => this.context.transformers?.get(s.name))
    let lastYield = performance.now()
    for (let kg = range.start; kg <= range.end; kg++) {
      for (let s = 0; s < states.length; s++) {
        const transform = transformers[s]
        for (const chunk of resources.keyGroupChunks(s, kg)) {
          this.throwIfCancelled()
          let runStart = 0
          let pos = 0
          while (pos < chunk.length) {
            const end = packedEntryEnd(chunk, pos)
            if (end < 0) {
              throw new KeyedStateError('INTERNAL', `state '${states[s]!.name}' gave a malformed packed chunk for key group ${kg} (entry at byte ${pos})`, {
                state: states[s]!.name,
                keyGroup: kg,
              })
            }
            const keyLength = readU32le(chunk, pos)
            // null: the entry is written unchanged, undefined: the transformer dropped it.
            let replacement: Uint8Array | undefined | null = null
            if (transform) {
              const value = chunk.subarray(pos + 8 + keyLength, end)
              const next = transform(chunk.subarray(pos + 4, pos + 4 + keyLength), value)
              if (next !== value) replacement = next
            }
            if (replacement === undefined) {
              builder.append(s, chunk, runStart, pos)
              runStart = pos = end
              continue
            }
            // Start a new block when this entry would push the block past its bound (entries are never split).
            const entryBytes = replacement === null ? end - pos : 8 + keyLength + replacement.length
            const pending = builder.rawBytes + (pos > runStart ? builder.costOf(s, pos - runStart) : 0)
            if (pending > 0 && pending + entryBytes + SECTION_HEADER_BYTES > blockRawBytesMax) {
              builder.append(s, chunk, runStart, pos)
              runStart = pos
              await encoder.block(kg, builder.take(), false)
            }
            if (replacement !== null) {
              builder.append(s, chunk, runStart, pos)
              builder.appendEntry(s, chunk.subarray(pos + 4, pos + 4 + keyLength), replacement)
              runStart = end
            }
            pos = end
          }
          builder.append(s, chunk, runStart, pos)
          if (performance.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop()
            lastYield = performance.now()
            this.throwIfCancelled()
          }
        }
      }
      if (!builder.isEmpty) await encoder.block(kg, builder.take(), true)
      await this.hook('afterKeyGroup', kg)
    }
    const summary = await encoder.finish()
    await out.flush()
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
      file: { path: out.primary.path, sizeBytes, crc32: out.crc >>> 0 },
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
