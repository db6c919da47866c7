// Writer side of the canonical full-snapshot format: turns key-group payloads
// into records (header, meta-info, blocks, index, footer) and tracks the byte
// offset of each key group. It knows nothing about storage or backends.
import { crc32 } from 'node:zlib'
import { KeyedStateError } from '../../errors.js'
import { rangeSize, type KeyGroupRange } from '../../keygroups.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { CompressionCodec, SnapshotType } from '../types.js'
import { compressBlockAsync, type StoredBlock } from './codec.js'
import {
  BLOCK_FLAG_LAST,
  BLOCK_HEADER_BYTES,
  CODEC_IDS,
  FILE_HEADER_BYTES,
  FILE_MAGIC,
  FOOTER_BYTES,
  FOOTER_MAGIC,
  FORMAT_VERSION,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  META_HEADER_BYTES,
  RECORD_BLOCK,
  RECORD_INDEX,
  SECTION_HEADER_BYTES,
} from './constants.js'
import { crc32Combine } from './crc.js'
import { writeU32le } from './packed.js'

/** The JSON record after the file header. Readers ignore fields they do not know. */
export interface SnapshotMeta {
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  states: StateMetaInfo[]
  /** The key serializer of the backend that wrote the file; absent in files written before it was recorded. */
  keySerializer?: SerializerConfig
  checkpointId?: number
  snapshotType?: SnapshotType
  /** The writer's block bound (informational). */
  blockRawBytesMax?: number
}

/** Spare payload buffers a builder keeps for reuse; more are left to the GC. */
const SPARE_BUFFERS_MAX = 4

/**
 * Collects one block's raw payload: sections of (u32le stateIndex | u32le length | packed entries).
 * Copies the bytes it is given, so callers may reuse their buffers right away.
 */
export class BlockPayloadBuilder {
  private buf: Buffer
  private size = 0
  private sectionState = -1
  private sectionStart = 0
  private readonly spares: Buffer[] = []

  constructor(private readonly initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes)
  }

  get rawBytes(): number {
    return this.size
  }

  get isEmpty(): boolean {
    return this.size === 0
  }

  /** Raw bytes that appending `length` bytes of entries of `stateIndex` would add. */
  costOf(stateIndex: number, length: number): number {
    return length + (stateIndex === this.sectionState ? 0 : SECTION_HEADER_BYTES)
  }

  /** Appends whole packed entries of one state. */
  append(stateIndex: number, bytes: Uint8Array, from = 0, to = bytes.length): void {
    if (to <= from) return
    if (stateIndex !== this.sectionState) {
      this.closeSection()
      this.reserve(SECTION_HEADER_BYTES)
      writeU32le(this.buf, this.size, stateIndex)
      this.size += SECTION_HEADER_BYTES
      this.sectionState = stateIndex
      this.sectionStart = this.size
    }
    this.reserve(to - from)
    this.buf.set(bytes.subarray(from, to), this.size)
    this.size += to - from
  }

  /** Room for one entry written in place (used when a transformer changed the value). */
  appendEntry(stateIndex: number, key: Uint8Array, value: Uint8Array): void {
    const entry = Buffer.allocUnsafe(8 + key.length + value.length)
    writeU32le(entry, 0, key.length)
    entry.set(key, 4)
    writeU32le(entry, 4 + key.length, value.length)
    entry.set(value, 8 + key.length)
    this.append(stateIndex, entry)
  }

  /**
   * The payload so far, handed over: the builder continues in another buffer,
   * so the payload stays valid while it is compressed and written. Give it back
   * with `recycle` once nothing reads it any more.
   */
  takeOwned(): Buffer {
    this.closeSection()
    const out = this.buf.subarray(0, this.size)
    this.size = 0
    this.buf = this.spares.pop() ?? Buffer.allocUnsafe(Math.max(this.initialBytes, out.length))
    return out
  }

  /** Returns a payload from `takeOwned` for reuse. */
  recycle(payload: Uint8Array): void {
    // takeOwned payloads start at offset 0 of a buffer of their own (allocUnsafe above the pool size).
    if (this.spares.length >= SPARE_BUFFERS_MAX || payload.byteOffset !== 0) return
    this.spares.push(Buffer.from(payload.buffer, 0, payload.buffer.byteLength))
  }

  private closeSection(): void {
    if (this.sectionState >= 0) writeU32le(this.buf, this.sectionStart - 4, this.size - this.sectionStart)
    this.sectionState = -1
  }

  private reserve(extra: number): void {
    if (this.size + extra <= this.buf.length) return
    let capacity = this.buf.length * 2
    while (capacity < this.size + extra) capacity *= 2
    const next = Buffer.allocUnsafe(capacity)
    this.buf.copy(next, 0, 0, this.size)
    this.buf = next
  }
}

export function encodeFileHeader(codec: CompressionCodec, formatVersion = FORMAT_VERSION): Buffer {
  const header = Buffer.alloc(FILE_HEADER_BYTES)
  FILE_MAGIC.copy(header, 0)
  header.writeUInt16LE(formatVersion, 8)
  header.writeUInt8(CODEC_IDS[codec], 10)
  header.writeUInt8(0, 11)
  header.writeUInt32LE(crc32(header.subarray(0, 12)), 12)
  return header
}

export function encodeMetaRecord(meta: SnapshotMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8')
  const header = Buffer.alloc(META_HEADER_BYTES)
  header.writeUInt32LE(json.length, 0)
  header.writeUInt32LE(crc32(json), 4)
  header.writeUInt32LE(crc32(header.subarray(0, 8)), 8)
  return Buffer.concat([header, json])
}

/** `payloadCrc` is crc32 of the stored bytes (the caller has it already for the file CRC). */
export function encodeBlockHeader(keyGroup: number, last: boolean, storedLength: number, rawLength: number, payloadCrc: number): Buffer {
  const header = Buffer.allocUnsafe(BLOCK_HEADER_BYTES)
  header.writeUInt8(RECORD_BLOCK, 0)
  header.writeUInt8(last ? BLOCK_FLAG_LAST : 0, 1)
  header.writeUInt16LE(keyGroup, 2)
  header.writeUInt32LE(storedLength, 4)
  header.writeUInt32LE(rawLength, 8)
  header.writeUInt32LE(payloadCrc, 12)
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16)
  return header
}

export function encodeIndexRecord(offsets: readonly number[], blockCount: number): Buffer {
  const table = Buffer.allocUnsafe(offsets.length * INDEX_ENTRY_BYTES)
  for (let i = 0; i < offsets.length; i++) table.writeBigInt64LE(BigInt(offsets[i]!), i * INDEX_ENTRY_BYTES)
  const header = Buffer.alloc(INDEX_HEADER_BYTES)
  header.writeUInt8(RECORD_INDEX, 0)
  header.writeUInt32LE(offsets.length, 4)
  header.writeUInt32LE(blockCount, 8)
  header.writeUInt32LE(crc32(table), 12)
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16)
  return Buffer.concat([header, table])
}

export function encodeFooter(indexOffset: number): Buffer {
  const footer = Buffer.allocUnsafe(FOOTER_BYTES)
  footer.writeBigUInt64LE(BigInt(indexOffset), 0)
  footer.writeUInt32LE(crc32(footer.subarray(0, 8)), 8)
  FOOTER_MAGIC.copy(footer, 12)
  return footer
}

export interface EncodedFileSummary {
  sizeBytes: number
  /** CRC-32 of the whole file (folded from the record CRCs, see crc.ts). */
  crc32: number
  /** Index i = keyGroupRange.start + i; -1 for key groups without blocks. */
  keyGroupOffsets: number[]
  blockCount: number
}

/**
 * Where the encoder's bytes go, in file order. `onWritten`, when given, is
 * called once the sink no longer reads `bytes` (the caller recycles them then);
 * the returned promise only says the sink accepted them.
 */
export type EncodedBytesSink = (bytes: Uint8Array, onWritten?: () => void) => Promise<void>

export interface EncoderOptions {
  /**
   * Blocks compressed ahead of the one being written: compression runs on the
   * thread pool while the caller reads the next blocks. 0 compresses each block
   * before `block()` returns.
   */
  compressAhead?: number
  /** Called with a payload given to `block()` once the encoder no longer reads it. */
  onPayloadReleased?: (payload: Uint8Array) => void
  /** CRC-32 of the payloads (zlib's, continuing from `initial`); node:zlib's by default. The RocksDB backend hands its addon's, several times faster. */
  crc32?: Crc32
}

/** CRC-32 with zlib's polynomial of `bytes`, continuing from `initial`. */
export type Crc32 = (bytes: Uint8Array, initial?: number) => number

interface PendingBlock {
  keyGroup: number
  last: boolean
  startsKeyGroup: boolean
  raw: Uint8Array
  stored: Promise<StoredBlock>
}

/** Blocks in compression at once by default: enough to keep a second core busy, bounded memory. */
const DEFAULT_COMPRESS_AHEAD = 2

/**
 * Lays out the records of one snapshot file and hands their bytes to `emit`
 * in file order. Blocks must come in ascending key-group order; they are
 * compressed ahead on the thread pool and written in the order they came.
 */
export class FullSnapshotEncoder {
  private position = 0
  private fileCrc = 0
  private blockCount = 0
  private previousKeyGroup = -1
  private lastOfPrevious = true
  private readonly offsets: number[]
  private state: 'new' | 'writing' | 'finished' | 'aborted' = 'new'
  private readonly pending: PendingBlock[] = []
  private readonly compressAhead: number
  private readonly aborter = new AbortController()
  private readonly crc32: Crc32

  constructor(
    private readonly meta: SnapshotMeta,
    private readonly codec: CompressionCodec,
    private readonly emit: EncodedBytesSink,
    private readonly options: EncoderOptions = {},
  ) {
    this.offsets = new Array<number>(rangeSize(meta.keyGroupRange)).fill(-1)
    this.compressAhead = Math.max(0, options.compressAhead ?? DEFAULT_COMPRESS_AHEAD)
    this.crc32 = options.crc32 ?? crc32
  }

  async begin(): Promise<void> {
    this.expect('new')
    this.state = 'writing'
    await this.write(encodeFileHeader(this.codec))
    await this.write(encodeMetaRecord(this.meta))
  }

  /**
   * Queues one block of `keyGroup`; `last` marks the end of the key group.
   * The encoder reads `raw` until it passes it to `onPayloadReleased` (or, without
   * that option, until `finish()`), so the caller must not change it before.
   */
  async block(keyGroup: number, raw: Uint8Array, last: boolean): Promise<void> {
    this.expect('writing')
    const { start, end } = this.meta.keyGroupRange
    const continues = keyGroup === this.previousKeyGroup && !this.lastOfPrevious
    if (keyGroup < start || keyGroup > end || (!continues && (keyGroup <= this.previousKeyGroup || !this.lastOfPrevious))) {
      throw new KeyedStateError('INTERNAL', `snapshot writer: block for key group ${keyGroup} out of order (previous ${this.previousKeyGroup})`, { keyGroup })
    }
    if (raw.length === 0) throw new KeyedStateError('INTERNAL', `snapshot writer: empty block for key group ${keyGroup}`, { keyGroup })
    this.previousKeyGroup = keyGroup
    this.lastOfPrevious = last
    const stored = compressBlockAsync(this.codec, raw, this.aborter.signal)
    // Awaited in order by writeOldest; after an abort nobody waits, and the rejection is expected.
    stored.catch(() => {})
    this.pending.push({ keyGroup, last, startsKeyGroup: !continues, raw, stored })
    while (this.pending.length > this.compressAhead) await this.writeOldest()
  }

  async finish(): Promise<EncodedFileSummary> {
    this.expect('writing')
    if (!this.lastOfPrevious) {
      throw new KeyedStateError('INTERNAL', `snapshot writer: key group ${this.previousKeyGroup} has no last block`, { keyGroup: this.previousKeyGroup })
    }
    while (this.pending.length > 0) await this.writeOldest()
    this.state = 'finished'
    const indexOffset = this.position
    await this.write(encodeIndexRecord(this.offsets, this.blockCount))
    await this.write(encodeFooter(indexOffset))
    return { sizeBytes: this.position, crc32: this.fileCrc >>> 0, keyGroupOffsets: [...this.offsets], blockCount: this.blockCount }
  }

  /** Stops compressions that have not started; the encoder cannot be used afterwards. */
  abort(): void {
    if (this.state === 'finished' || this.state === 'aborted') return
    this.state = 'aborted'
    this.pending.length = 0
    this.aborter.abort()
  }

  private async writeOldest(): Promise<void> {
    const block = this.pending[0]!
    let stored: StoredBlock
    try {
      stored = await block.stored
    } catch (e) {
      throw new KeyedStateError('INTERNAL', `snapshot writer: compressing a block of key group ${block.keyGroup} failed: ${(e as Error).message}`, {
        keyGroup: block.keyGroup,
        cause: e,
      })
    }
    // abort() may have run while the compression finished.
    this.expect('writing')
    this.pending.shift()
    if (block.startsKeyGroup) this.offsets[block.keyGroup - this.meta.keyGroupRange.start] = this.position
    const { head, body } = stored
    const storedLength = (head?.length ?? 0) + body.length
    const payloadCrc = this.crc32(body, head ? this.crc32(head) : 0)
    const blockHeader = encodeBlockHeader(block.keyGroup, block.last, storedLength, block.raw.length, payloadCrc)
    await this.emit(head ? Buffer.concat([blockHeader, head]) : blockHeader)
    const release = this.options.onPayloadReleased
    const onWritten = release ? () => release(block.raw) : undefined
    if (body !== block.raw) onWritten?.()
    await this.emit(body, body === block.raw ? onWritten : undefined)
    // The block header is checksummed directly, the payload folded in from its CRC.
    this.fileCrc = crc32Combine(crc32(blockHeader, this.fileCrc), payloadCrc, storedLength)
    this.position += blockHeader.length + storedLength
    this.blockCount++
  }

  private async write(bytes: Uint8Array): Promise<void> {
    await this.emit(bytes)
    this.fileCrc = crc32(bytes, this.fileCrc)
    this.position += bytes.length
  }

  private expect(state: 'new' | 'writing'): void {
    if (this.state !== state) throw new KeyedStateError('INTERNAL', `snapshot writer used in state '${this.state}'`)
  }
}
