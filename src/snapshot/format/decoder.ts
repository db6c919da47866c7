// Reader side of the canonical full-snapshot format: validates the fixed
// records (header, meta-info, index, footer) and decodes key-group blocks.
// Every check that fails throws CorruptSnapshotError naming the file, the
// offset and, for blocks, the key group. Nothing is returned from a block
// before its checksum and its whole structure have been verified.
import { crc32 } from 'node:zlib'
import { CorruptSnapshotError, type ErrorCode } from '../../errors.js'
import { MAX_PARALLELISM_LIMIT, rangeIntersection, rangeSize, type KeyGroupRange } from '../../keygroups.js'
import { assertValidMetaInfo } from '../../state/meta.js'
import type { CheckpointStorage } from '../../storage/types.js'
import type { CompressionCodec } from '../types.js'
import { decompressBlockAsync, type BlockWork } from './codec.js'
import {
  BLOCK_FLAG_LAST,
  BLOCK_HEADER_BYTES,
  BLOCK_RAW_BYTES_LIMIT,
  CODEC_NAMES,
  FILE_HEADER_BYTES,
  FILE_MAGIC,
  FOOTER_BYTES,
  FOOTER_MAGIC,
  INDEX_ENTRY_BYTES,
  INDEX_HEADER_BYTES,
  META_BYTES_LIMIT,
  META_HEADER_BYTES,
  RECORD_BLOCK,
  RECORD_INDEX,
  SECTION_HEADER_BYTES,
  SUPPORTED_FORMAT_VERSIONS,
} from './constants.js'
import type { SnapshotMeta } from './encoder.js'
import { compareKeyBytes, compareKeysIn, entryRuleOf, KeyOrder, keyProblem, valueProblem } from './entry-rules.js'
import { packedEntryEnd } from './packed.js'

/** Random access to one snapshot file. */
export interface ByteSource {
  /** The file, for messages (absolute path on local storage). */
  readonly file: string
  size(): Promise<number>
  /** Fewer bytes than asked only when the file ends first. */
  readRange(offset: number, length: number): Promise<Buffer>
}

export function storageByteSource(storage: CheckpointStorage, path: string): ByteSource {
  const file = storage.localPath?.(path) ?? `${storage.location}/${path}`
  return {
    file,
    size: () => storage.size(path),
    readRange: (offset, length) => storage.readRange(path, offset, length),
  }
}

export function corruptSnapshot(
  code: Extract<ErrorCode, 'CORRUPTION' | 'CHECKSUM_MISMATCH' | 'TRUNCATED'>,
  file: string,
  message: string,
  where: { offset?: number; keyGroup?: number; state?: string } = {},
): CorruptSnapshotError {
  const parts: string[] = []
  if (where.keyGroup !== undefined) parts.push(`key group ${where.keyGroup}`)
  if (where.state !== undefined) parts.push(`state '${where.state}'`)
  if (where.offset !== undefined) parts.push(`offset ${where.offset}`)
  const suffix = parts.length ? ` (${parts.join(', ')})` : ''
  return new CorruptSnapshotError(code, `corrupt snapshot ${file}: ${message}${suffix}`, { file, ...where })
}

export interface SnapshotLayout {
  file: string
  sizeBytes: number
  formatVersion: number
  codec: CompressionCodec
  meta: SnapshotMeta
  /** Offset of the first block (end of the meta-info record). */
  dataStart: number
  /** Offset of the index record: blocks occupy [dataStart, indexOffset). */
  indexOffset: number
  blockCount: number
  /** From the file's own index; index i = keyGroupRange.start + i, -1 for empty key groups. */
  keyGroupOffsets: number[]
}

async function readExactly(src: ByteSource, offset: number, length: number, what: string): Promise<Buffer> {
  const bytes = await src.readRange(offset, length)
  if (bytes.length < length) {
    throw corruptSnapshot('TRUNCATED', src.file, `${what} needs ${length} bytes at offset ${offset} but the file ends after ${bytes.length}`, { offset })
  }
  return bytes
}

function parseMeta(file: string, json: Buffer, offset: number): SnapshotMeta {
  let meta: SnapshotMeta
  try {
    meta = JSON.parse(json.toString('utf8')) as SnapshotMeta
  } catch (e) {
    throw corruptSnapshot('CORRUPTION', file, `meta-info is not valid JSON: ${(e as Error).message}`, { offset })
  }
  const bad = (why: string): CorruptSnapshotError => corruptSnapshot('CORRUPTION', file, `invalid meta-info: ${why}`, { offset })
  if (!meta || typeof meta !== 'object') throw bad('not an object')
  const { maxParallelism, keyGroupRange, states } = meta
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_PARALLELISM_LIMIT) throw bad(`maxParallelism ${maxParallelism}`)
  if (!keyGroupRange || !Number.isInteger(keyGroupRange.start) || !Number.isInteger(keyGroupRange.end) ||
      keyGroupRange.start < 0 || keyGroupRange.end >= maxParallelism || keyGroupRange.end < keyGroupRange.start - 1) {
    throw bad(`key-group range ${JSON.stringify(keyGroupRange)}`)
  }
  if (!Array.isArray(states)) throw bad('states is not a list')
  const k = meta.keySerializer
  if (k !== undefined && (!k || typeof k !== 'object' || typeof k.id !== 'string' || !Number.isInteger(k.version))) {
    throw bad(`key serializer ${JSON.stringify(k)}`)
  }
  const names = new Set<string>()
  for (const s of states) {
    try {
      assertValidMetaInfo(s, file)
    } catch (e) {
      throw bad((e as Error).message)
    }
    if (names.has(s.name)) throw bad(`state '${s.name}' appears twice`)
    names.add(s.name)
  }
  return meta
}

/**
 * Reads and checks everything but the blocks: header, meta-info, footer and
 * index. `expectedSizeBytes` (from a handle) turns any truncation or extension
 * into an error before a single block is read.
 */
export async function readLayout(src: ByteSource, expectedSizeBytes?: number): Promise<SnapshotLayout> {
  const { file } = src
  const sizeBytes = await src.size()
  if (expectedSizeBytes !== undefined && sizeBytes !== expectedSizeBytes) {
    throw corruptSnapshot(
      sizeBytes < expectedSizeBytes ? 'TRUNCATED' : 'CORRUPTION',
      file,
      `file has ${sizeBytes} bytes, its handle says ${expectedSizeBytes}`,
      { offset: Math.min(sizeBytes, expectedSizeBytes) },
    )
  }
  const head = await readExactly(src, 0, Math.min(sizeBytes, FILE_HEADER_BYTES + META_HEADER_BYTES), 'the file header')
  if (head.length < FILE_MAGIC.length || !head.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) {
    throw corruptSnapshot(head.length < FILE_MAGIC.length ? 'TRUNCATED' : 'CORRUPTION', file, 'not a keyed-state full snapshot (bad magic)', { offset: 0 })
  }
  if (head.length < FILE_HEADER_BYTES + META_HEADER_BYTES) {
    throw corruptSnapshot('TRUNCATED', file, `file ends after ${sizeBytes} bytes, inside the header`, { offset: sizeBytes })
  }
  if (crc32(head.subarray(0, 12)) !== head.readUInt32LE(12)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'file header checksum mismatch', { offset: 0 })
  const formatVersion = head.readUInt16LE(8)
  if (!SUPPORTED_FORMAT_VERSIONS.includes(formatVersion)) {
    throw corruptSnapshot('CORRUPTION', file, `unsupported format version ${formatVersion} (this reader knows ${SUPPORTED_FORMAT_VERSIONS.join(', ')})`, { offset: 8 })
  }
  const codec = CODEC_NAMES[head.readUInt8(10)]
  if (codec === undefined) throw corruptSnapshot('CORRUPTION', file, `unknown compression codec id ${head.readUInt8(10)}`, { offset: 10 })
  if (head.readUInt8(11) !== 0) throw corruptSnapshot('CORRUPTION', file, `unknown header flags 0x${head.readUInt8(11).toString(16)}`, { offset: 11 })

  const metaHeaderAt = FILE_HEADER_BYTES
  const metaHeader = head.subarray(metaHeaderAt, metaHeaderAt + META_HEADER_BYTES)
  if (crc32(metaHeader.subarray(0, 8)) !== metaHeader.readUInt32LE(8)) {
    throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'meta-info header checksum mismatch', { offset: metaHeaderAt })
  }
  const metaLength = metaHeader.readUInt32LE(0)
  const metaAt = metaHeaderAt + META_HEADER_BYTES
  if (metaLength > META_BYTES_LIMIT) throw corruptSnapshot('CORRUPTION', file, `meta-info of ${metaLength} bytes exceeds the limit`, { offset: metaHeaderAt })
  if (metaAt + metaLength + INDEX_HEADER_BYTES + FOOTER_BYTES > sizeBytes) {
    throw corruptSnapshot('TRUNCATED', file, `file of ${sizeBytes} bytes ends before its meta-info (${metaLength} bytes), index and footer`, { offset: sizeBytes })
  }
  const json = await readExactly(src, metaAt, metaLength, 'the meta-info')
  if (crc32(json) !== metaHeader.readUInt32LE(4)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'meta-info checksum mismatch', { offset: metaAt })
  const meta = parseMeta(file, json, metaAt)
  const dataStart = metaAt + metaLength

  const footerAt = sizeBytes - FOOTER_BYTES
  const footer = await readExactly(src, footerAt, FOOTER_BYTES, 'the footer')
  if (!footer.subarray(12, 16).equals(FOOTER_MAGIC)) {
    throw corruptSnapshot('TRUNCATED', file, 'no footer at the end of the file (truncated or damaged)', { offset: footerAt })
  }
  if (crc32(footer.subarray(0, 8)) !== footer.readUInt32LE(8)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'footer checksum mismatch', { offset: footerAt })
  const indexOffsetBig = footer.readBigUInt64LE(0)
  const keyGroupCount = rangeSize(meta.keyGroupRange)
  const indexLength = INDEX_HEADER_BYTES + keyGroupCount * INDEX_ENTRY_BYTES
  if (indexOffsetBig !== BigInt(footerAt - indexLength) || footerAt - indexLength < dataStart) {
    throw corruptSnapshot('CORRUPTION', file, `footer points to the index at ${indexOffsetBig}, expected ${footerAt - indexLength} for ${keyGroupCount} key groups`, { offset: footerAt })
  }
  const indexOffset = footerAt - indexLength
  const index = await readExactly(src, indexOffset, indexLength, 'the index')
  if (crc32(index.subarray(0, 16)) !== index.readUInt32LE(16)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'index header checksum mismatch', { offset: indexOffset })
  if (index.readUInt8(0) !== RECORD_INDEX || index.readUInt8(1) !== 0 || index.readUInt16LE(2) !== 0) {
    throw corruptSnapshot('CORRUPTION', file, `expected the index record, found type ${index.readUInt8(0)}`, { offset: indexOffset })
  }
  if (index.readUInt32LE(4) !== keyGroupCount) {
    throw corruptSnapshot('CORRUPTION', file, `index lists ${index.readUInt32LE(4)} key groups, the meta-info range has ${keyGroupCount}`, { offset: indexOffset })
  }
  const table = index.subarray(INDEX_HEADER_BYTES)
  if (crc32(table) !== index.readUInt32LE(12)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'index checksum mismatch', { offset: indexOffset + INDEX_HEADER_BYTES })
  const blockCount = index.readUInt32LE(8)
  const keyGroupOffsets: number[] = []
  // Blocks are contiguous and ordered by key group: the first non-empty key group starts right after the meta-info.
  let expectedNext = dataStart
  let first = true
  for (let i = 0; i < keyGroupCount; i++) {
    const o = Number(table.readBigInt64LE(i * INDEX_ENTRY_BYTES))
    if (o !== -1 && (o < dataStart || o >= indexOffset || (first ? o !== dataStart : o < expectedNext))) {
      throw corruptSnapshot('CORRUPTION', file, `index gives offset ${o} for key group ${meta.keyGroupRange.start + i}, outside the data or out of order`, {
        offset: indexOffset + INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES,
        keyGroup: meta.keyGroupRange.start + i,
      })
    }
    if (o !== -1) {
      first = false
      expectedNext = o + BLOCK_HEADER_BYTES
    }
    keyGroupOffsets.push(o)
  }
  if (first !== (dataStart === indexOffset) || (blockCount === 0) !== first) {
    throw corruptSnapshot('CORRUPTION', file, `index lists ${first ? 'no' : 'some'} key groups with data but the data section has ${indexOffset - dataStart} bytes and ${blockCount} blocks`, { offset: indexOffset })
  }
  return { file, sizeBytes, formatVersion, codec, meta, dataStart, indexOffset, blockCount, keyGroupOffsets }
}

/**
 * Sequential reads over [start, limit) through a bounded window: many small
 * key groups cost one read, a huge block is read alone, and nothing past
 * `limit` (the end of the key groups asked for) is ever read.
 */
export class WindowedReader {
  private window: Buffer = Buffer.alloc(0)
  private windowStart = 0

  constructor(
    private readonly src: ByteSource,
    readonly limit: number,
    private readonly windowBytes = 4 * 1024 * 1024,
  ) {}

  get file(): string {
    return this.src.file
  }

  async take(offset: number, length: number, where: { keyGroup?: number }): Promise<Buffer> {
    if (offset + length > this.limit) {
      throw corruptSnapshot('CORRUPTION', this.src.file, `record of ${length} bytes at offset ${offset} runs past the end of its section at ${this.limit}`, {
        offset,
        ...where,
      })
    }
    if (offset >= this.windowStart && offset + length <= this.windowStart + this.window.length) {
      return this.window.subarray(offset - this.windowStart, offset - this.windowStart + length)
    }
    const readLength = Math.max(length, Math.min(this.windowBytes, this.limit - offset))
    const bytes = await this.src.readRange(offset, readLength)
    if (bytes.length < length) {
      throw corruptSnapshot('TRUNCATED', this.src.file, `file ends after ${offset + bytes.length} bytes, inside a record that needs ${length} bytes at offset ${offset}`, {
        offset: offset + bytes.length,
        ...where,
      })
    }
    this.window = bytes
    this.windowStart = offset
    return bytes.subarray(0, length)
  }
}

export interface DecodedSection {
  stateIndex: number
  /** Packed entries (u32le keyLength | key | u32le valueLength | value), never reused by the reader. */
  chunk: Uint8Array
  entryCount: number
}

export interface DecodedBlock {
  keyGroup: number
  last: boolean
  offset: number
  nextOffset: number
  storedLength: number
  rawLength: number
  sections: DecodedSection[]
}

/**
 * Decodes and fully verifies the block at `offset`: header checksum, payload
 * checksum, decompression, sections, entry framing, each key's key-group
 * prefix and the entry rules (entry-rules.ts: key order, key layout, values).
 * `expectedKeyGroup` makes a block of another key group an error; `order`
 * carries the last keys of the key group's earlier blocks (a fresh one checks
 * order inside this block only).
 */
export async function decodeBlock(
  reader: WindowedReader,
  layout: SnapshotLayout,
  offset: number,
  expectedKeyGroup?: number,
  order: KeyOrder = new KeyOrder(),
  work?: BlockWork,
): Promise<DecodedBlock> {
  const file = reader.file
  const header = await reader.take(offset, BLOCK_HEADER_BYTES, { keyGroup: expectedKeyGroup })
  const at = { offset, keyGroup: expectedKeyGroup }
  if (crc32(header.subarray(0, 16)) !== header.readUInt32LE(16)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'block header checksum mismatch', at)
  if (header.readUInt8(0) !== RECORD_BLOCK) throw corruptSnapshot('CORRUPTION', file, `expected a key-group block, found record type ${header.readUInt8(0)}`, at)
  const flags = header.readUInt8(1)
  if ((flags & ~BLOCK_FLAG_LAST) !== 0) throw corruptSnapshot('CORRUPTION', file, `unknown block flags 0x${flags.toString(16)}`, at)
  const keyGroup = header.readUInt16LE(2)
  const where = { offset, keyGroup }
  const { start, end } = layout.meta.keyGroupRange
  if (keyGroup < start || keyGroup > end || (expectedKeyGroup !== undefined && keyGroup !== expectedKeyGroup)) {
    throw corruptSnapshot('CORRUPTION', file, `block belongs to key group ${keyGroup}, expected ${expectedKeyGroup ?? `one of ${start}..${end}`}`, { ...where, keyGroup: expectedKeyGroup ?? keyGroup })
  }
  const storedLength = header.readUInt32LE(4)
  const rawLength = header.readUInt32LE(8)
  if (rawLength > BLOCK_RAW_BYTES_LIMIT) throw corruptSnapshot('CORRUPTION', file, `block claims ${rawLength} raw bytes, over the limit`, where)
  const stored = await reader.take(offset + BLOCK_HEADER_BYTES, storedLength, { keyGroup })
  if ((work ? await work.crc32(stored) : crc32(stored)) !== header.readUInt32LE(12)) throw corruptSnapshot('CHECKSUM_MISMATCH', file, 'block payload checksum mismatch', where)
  let raw: Uint8Array
  try {
    raw = await decompressBlockAsync(layout.codec, stored, rawLength, work)
  } catch (e) {
    throw corruptSnapshot('CORRUPTION', file, `block does not decompress: ${(e as Error).message}`, where)
  }
  order.enter(keyGroup)
  const sections = parseSections(file, layout, raw, where, order)
  return { keyGroup, last: (flags & BLOCK_FLAG_LAST) !== 0, offset, nextOffset: offset + BLOCK_HEADER_BYTES + storedLength, storedLength, rawLength, sections }
}

function parseSections(file: string, layout: SnapshotLayout, raw: Uint8Array, where: { offset: number; keyGroup: number }, order: KeyOrder): DecodedSection[] {
  if (raw.length === 0) throw corruptSnapshot('CORRUPTION', file, 'empty block', where)
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const stateCount = layout.meta.states.length
  const sections: DecodedSection[] = []
  const kgHigh = where.keyGroup >>> 8
  const kgLow = where.keyGroup & 0xff
  // Committed to `order` only once the whole block passed: a block that fails is read again from another copy.
  const lastKeys: Array<[stateIndex: number, key: Uint8Array]> = []
  let pos = 0
  let previousState = -1
  while (pos < raw.length) {
    if (pos + SECTION_HEADER_BYTES > raw.length) throw corruptSnapshot('CORRUPTION', file, `section header at payload byte ${pos} runs past the block`, where)
    const stateIndex = dv.getUint32(pos, true)
    const length = dv.getUint32(pos + 4, true)
    if (stateIndex >= stateCount) throw corruptSnapshot('CORRUPTION', file, `section names state #${stateIndex}, the meta-info has ${stateCount} states`, where)
    const meta = layout.meta.states[stateIndex]!
    const state = meta.name
    if (stateIndex <= previousState) throw corruptSnapshot('CORRUPTION', file, `sections out of state order at payload byte ${pos}`, { ...where, state })
    const from = pos + SECTION_HEADER_BYTES
    const to = from + length
    if (length === 0 || to > raw.length) throw corruptSnapshot('CORRUPTION', file, `section of ${length} bytes at payload byte ${pos} does not fit the block`, { ...where, state })
    const rule = entryRuleOf(meta)
    const bad = (e: number, why: string): never => {
      throw corruptSnapshot('CORRUPTION', file, `entry at payload byte ${e}: ${why}`, { ...where, state })
    }
    const previous = order.lastKey(stateIndex)
    let prev: Uint8Array | undefined = previous
    let prevStart = 0
    let prevEnd = previous?.length ?? 0
    let entryCount = 0
    for (let e = from; e < to; entryCount++) {
      const next = packedEntryEnd(raw, e, to)
      if (next < 0) throw corruptSnapshot('CORRUPTION', file, `entry at payload byte ${e} runs past its section`, { ...where, state })
      const keyLength = dv.getUint32(e, true)
      // Every key starts with its u16be key group (encoding.ts): a mismatch means misplaced data.
      if (keyLength < 2 || raw[e + 4] !== kgHigh || raw[e + 5] !== kgLow) {
        throw corruptSnapshot('CORRUPTION', file, `entry at payload byte ${e} has a key of another key group`, { ...where, state })
      }
      const keyStart = e + 4
      const keyEnd = keyStart + keyLength
      const keyWhy = keyProblem(raw, keyStart, keyEnd, rule)
      if (keyWhy !== undefined) bad(e, keyWhy)
      const valueWhy = valueProblem(raw, keyEnd + 4, next, rule)
      if (valueWhy !== undefined) bad(e, valueWhy)
      if (prev !== undefined) {
        const c = prev === raw ? compareKeysIn(dv, prevStart, prevEnd, keyStart, keyEnd) : compareKeyBytes(prev, prevStart, prevEnd, raw, keyStart, keyEnd)
        if (c === 0) bad(e, 'a duplicate of the previous key of its state')
        if (c > 0) bad(e, 'key is not in ascending key order (it sorts before the previous key of its state)')
      }
      prev = raw
      prevStart = keyStart
      prevEnd = keyEnd
      e = next
    }
    lastKeys.push([stateIndex, raw.subarray(prevStart, prevEnd)])
    sections.push({ stateIndex, chunk: raw.subarray(from, to), entryCount })
    previousState = stateIndex
    pos = to
  }
  for (const [stateIndex, key] of lastKeys) order.commit(stateIndex, key)
  return sections
}

export interface BlockReadOptions {
  /** Bound of one read; default 4 MiB. */
  windowBytes?: number
  /** Resume inside the first key group at this block offset (after a fallback to another copy). */
  resumeOffset?: number
  /** Key order carried over from the blocks read before a resume (the same object across copies of one file). */
  order?: KeyOrder
  /** Checksums and decompression done elsewhere (see BlockWork). */
  blockWork?: BlockWork
}

/**
 * The verified blocks of the key groups of `range` (clipped to the file's
 * range), ascending, reading only the bytes of those key groups.
 */
export async function* readKeyGroupBlocks(src: ByteSource, layout: SnapshotLayout, range: KeyGroupRange, options: BlockReadOptions = {}): AsyncGenerator<DecodedBlock> {
  const fileRange = layout.meta.keyGroupRange
  const r = rangeIntersection(range, fileRange)
  if (rangeSize(r) === 0) return
  const offsets = layout.keyGroupOffsets
  const offsetOf = (kg: number): number => offsets[kg - fileRange.start]!
  // The span ends where the next key group with data starts, or at the index.
  let limit = layout.indexOffset
  for (let kg = r.end + 1; kg <= fileRange.end; kg++) {
    if (offsetOf(kg) >= 0) {
      limit = offsetOf(kg)
      break
    }
  }
  const reader = new WindowedReader(src, limit, options.windowBytes)
  const order = options.order ?? new KeyOrder()
  let expectedOffset = -1
  for (let kg = r.start; kg <= r.end; kg++) {
    const start = offsetOf(kg)
    if (start < 0) continue
    if (expectedOffset >= 0 && start !== expectedOffset) {
      throw corruptSnapshot('CORRUPTION', src.file, `key group starts at ${start} but the previous one ends at ${expectedOffset}`, { offset: start, keyGroup: kg })
    }
    let pos = kg === r.start && options.resumeOffset !== undefined ? options.resumeOffset : start
    for (;;) {
      const block = await decodeBlock(reader, layout, pos, kg, order, options.blockWork)
      yield block
      pos = block.nextOffset
      if (block.last) break
    }
    expectedOffset = pos
  }
}
