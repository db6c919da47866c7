// Writer side of the canonical full-snapshot format: turns key-group payloads
// into records (header, meta-info, blocks, index, footer) and tracks the byte
// offset of each key group. It knows nothing about storage or backends.
import { crc32 } from 'node:zlib'
import { KeyedStateError } from '../../errors.js'
import { rangeSize, type KeyGroupRange } from '../../keygroups.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { CompressionCodec, SnapshotType } from '../types.js'
import { compressBlock } from './codec.js'
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
import { writeU32le } from './packed.js'

/** The JSON record after the file header. Readers ignore fields they do not know. */
export interface SnapshotMeta {
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  states: StateMetaInfo[]
  checkpointId?: number
  snapshotType?: SnapshotType
  /** The writer's block bound (informational). */
  blockRawBytesMax?: number
}

/**
 * Collects one block's raw payload: sections of (u32le stateIndex | u32le length | packed entries).
 * Copies the bytes it is given, so callers may reuse their buffers right away.
 */
export class BlockPayloadBuilder {
  private buf: Buffer
  private size = 0
  private sectionState = -1
  private sectionStart = 0

  constructor(initialBytes = 64 * 1024) {
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
   * The payload so far, valid until the next append (the buffer is reused).
   * Resets the builder.
   */
  take(): Buffer {
    this.closeSection()
    const out = this.buf.subarray(0, this.size)
    this.size = 0
    return out
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

export function encodeBlockHeader(keyGroup: number, last: boolean, stored: Uint8Array, rawLength: number): Buffer {
  const header = Buffer.allocUnsafe(BLOCK_HEADER_BYTES)
  header.writeUInt8(RECORD_BLOCK, 0)
  header.writeUInt8(last ? BLOCK_FLAG_LAST : 0, 1)
  header.writeUInt16LE(keyGroup, 2)
  header.writeUInt32LE(stored.length, 4)
  header.writeUInt32LE(rawLength, 8)
  header.writeUInt32LE(crc32(stored), 12)
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16)
  return header
}

export function encodeIndexRecord(offsets: readonly number[], blockCount: number): Buffer {
  const table = Buffer.allocUnsafe(offsets.length * INDEX_ENTRY_BYTES)
  offsets.forEach((o, i) => table.writeBigInt64LE(BigInt(o), i * INDEX_ENTRY_BYTES))
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
  /** Index i = keyGroupRange.start + i; -1 for key groups without blocks. */
  keyGroupOffsets: number[]
  blockCount: number
}

/**
 * Lays out the records of one snapshot file and hands their bytes to `emit`
 * in file order. Blocks must come in ascending key-group order.
 */
export class FullSnapshotEncoder {
  private position = 0
  private blockCount = 0
  private previousKeyGroup = -1
  private lastOfPrevious = true
  private readonly offsets: number[]
  private state: 'new' | 'writing' | 'finished' = 'new'

  constructor(
    private readonly meta: SnapshotMeta,
    private readonly codec: CompressionCodec,
    private readonly emit: (bytes: Uint8Array) => Promise<void>,
  ) {
    this.offsets = new Array<number>(rangeSize(meta.keyGroupRange)).fill(-1)
  }

  async begin(): Promise<void> {
    this.expect('new')
    this.state = 'writing'
    await this.write(encodeFileHeader(this.codec))
    await this.write(encodeMetaRecord(this.meta))
  }

  /** Writes one block of `keyGroup`; `last` marks the end of the key group. The payload may be reused afterwards. */
  async block(keyGroup: number, raw: Uint8Array, last: boolean): Promise<void> {
    this.expect('writing')
    const { start, end } = this.meta.keyGroupRange
    const continues = keyGroup === this.previousKeyGroup && !this.lastOfPrevious
    if (keyGroup < start || keyGroup > end || (!continues && (keyGroup <= this.previousKeyGroup || !this.lastOfPrevious))) {
      throw new KeyedStateError('INTERNAL', `snapshot writer: block for key group ${keyGroup} out of order (previous ${this.previousKeyGroup})`, { keyGroup })
    }
    if (raw.length === 0) throw new KeyedStateError('INTERNAL', `snapshot writer: empty block for key group ${keyGroup}`, { keyGroup })
    if (!continues) this.offsets[keyGroup - start] = this.position
    const stored = compressBlock(this.codec, raw)
    await this.write(encodeBlockHeader(keyGroup, last, stored, raw.length))
    await this.write(stored)
    this.blockCount++
    this.previousKeyGroup = keyGroup
    this.lastOfPrevious = last
  }

  async finish(): Promise<EncodedFileSummary> {
    this.expect('writing')
    if (!this.lastOfPrevious) {
      throw new KeyedStateError('INTERNAL', `snapshot writer: key group ${this.previousKeyGroup} has no last block`, { keyGroup: this.previousKeyGroup })
    }
    this.state = 'finished'
    const indexOffset = this.position
    await this.write(encodeIndexRecord(this.offsets, this.blockCount))
    await this.write(encodeFooter(indexOffset))
    return { sizeBytes: this.position, keyGroupOffsets: [...this.offsets], blockCount: this.blockCount }
  }

  private async write(bytes: Uint8Array): Promise<void> {
    await this.emit(bytes)
    this.position += bytes.length
  }

  private expect(state: 'new' | 'writing'): void {
    if (this.state !== state) throw new KeyedStateError('INTERNAL', `snapshot writer used in state '${this.state}'`)
  }
}
