// Per-block compression. Blocks are compressed independently so a restore of
// one key group decompresses only that key group's blocks.
import { compress, compressSync, uncompress, uncompressSync } from 'snappy'
import { KeyedStateError } from '../../errors.js'
import type { CompressionCodec } from '../types.js'
import { CODEC_IDS } from './constants.js'

export function checkCodec(codec: unknown): asserts codec is CompressionCodec {
  if (typeof codec !== 'string' || !(codec in CODEC_IDS)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `unknown compression ${JSON.stringify(codec)} (use 'snappy' or 'none')`)
  }
}

/**
 * A block is stored compressed only when that saves at least an eighth of it
 * (RocksDB's rule): below that, the reader's decompression and the writer's
 * CPU cost more than the bytes saved.
 */
export function savesEnough(rawLength: number, storedLength: number): boolean {
  return storedLength <= rawLength - rawLength / 8
}

/** Bytes of a block compressed on the calling thread to guess whether the whole block is worth compressing. */
const SAMPLE_BYTES = 16 * 1024

/**
 * Whether a sample from the middle of `raw` compresses by an eighth. Snappy
 * compresses 64 KiB fragments independently, so a sample of one fragment's
 * size tells about the rest; small blocks are compressed whole instead.
 */
function sampleSavesEnough(raw: Uint8Array): boolean {
  if (raw.length <= 2 * SAMPLE_BYTES) return true
  const from = (raw.length - SAMPLE_BYTES) >> 1
  const sample = raw.subarray(from, from + SAMPLE_BYTES)
  return savesEnough(sample.length, compressSync(sample).length)
}

/**
 * The preamble of a raw snappy block made of one literal: the varint length
 * and the literal's tag. Followed by the bytes themselves, any snappy
 * decompressor reads it (a literal may be up to 2^32 bytes), so a block that
 * does not compress stays a valid `snappy` block and costs the reader one copy.
 */
export function snappyLiteralHead(n: number): Buffer {
  if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw new RangeError(`snappy literal block of ${n} bytes`)
  const head: number[] = []
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      head.push(v)
      break
    }
    head.push((v & 0x7f) | 0x80)
  }
  // Tag: lengths up to 60 in the tag byte itself, longer ones in 1–4 little-endian bytes after it (tags 60–63).
  const m = n - 1
  if (m < 60) head.push(m << 2)
  else {
    const lengthBytes = m < 0x100 ? 1 : m < 0x10000 ? 2 : m < 0x1000000 ? 3 : 4
    head.push((59 + lengthBytes) << 2)
    for (let i = 0; i < lengthBytes; i++) head.push(Math.floor(m / 2 ** (8 * i)) & 0xff)
  }
  return Buffer.from(head)
}

/**
 * The stored bytes of a block: `head` (if any) then `body`. A literal block
 * keeps the raw payload as its body, so it is written without being copied.
 */
export interface StoredBlock {
  head: Uint8Array | undefined
  body: Uint8Array
}

function snappyOrLiteral(raw: Uint8Array, compressed: Uint8Array): StoredBlock {
  return savesEnough(raw.length, compressed.length) ? { head: undefined, body: compressed } : { head: snappyLiteralHead(raw.length), body: raw }
}

/**
 * The stored bytes of a block, compressed on the libuv thread pool so the
 * event loop keeps reading while blocks compress. A function of `raw` alone,
 * so the file does not depend on how blocks were scheduled: snappy blocks that
 * would not save an eighth, judged by a sample or by the result, are stored as
 * one literal. `raw` must stay unchanged until the promise settles (and, when
 * it is the body, until the block is written); an aborted signal drops
 * compressions not yet started.
 */
export async function compressBlockAsync(codec: CompressionCodec, raw: Uint8Array, signal?: AbortSignal): Promise<StoredBlock> {
  if (codec === 'none') return { head: undefined, body: raw }
  if (!sampleSavesEnough(raw)) return { head: snappyLiteralHead(raw.length), body: raw }
  return snappyOrLiteral(raw, await compress(raw, undefined, signal))
}

/** The length a raw snappy block announces in its varint preamble, or -1 if the preamble is malformed. */
function snappyDeclaredLength(stored: Uint8Array): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < 5 && i < stored.length; i++) {
    const b = stored[i]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return value
    scale *= 128
  }
  return -1
}

/** Blocks at least this big are decompressed on the thread pool; smaller ones cost less than the hand-off. */
const ASYNC_DECOMPRESS_BYTES = 64 * 1024

/**
 * Decompresses a block whose stored bytes already passed their checksum; big
 * blocks on the thread pool, so a restore reading several lanes at once
 * decompresses their blocks side by side, off the event loop. Throws a plain
 * message on mismatch; the caller adds file, key group and offset.
 */
export async function decompressBlockAsync(codec: CompressionCodec, stored: Uint8Array, rawLength: number, work?: BlockWork): Promise<Uint8Array> {
  if (!checkStoredBlock(codec, stored, rawLength)) return stored
  // A block that did not compress is one literal: its bytes are the block, no copy needed.
  const literal = snappyLiteralBody(stored, rawLength)
  if (literal) return literal
  if (work) return checkDecompressed(await work.snappyUncompress(stored, rawLength), rawLength)
  if (stored.length < ASYNC_DECOMPRESS_BYTES) return checkDecompressed(uncompressSync(stored, { asBuffer: true }) as Buffer, rawLength)
  return checkDecompressed((await uncompress(stored, { asBuffer: true })) as Buffer, rawLength)
}

/**
 * The per-block work of a reader done elsewhere than by node:zlib and the
 * snappy package: the RocksDB backend hands its addon's, which runs on the
 * thread pool (the lanes of a restore check their blocks side by side) and
 * decompresses with a ninth of the CPU.
 */
export interface BlockWork {
  /** zlib's CRC-32 of `bytes` (what node:zlib crc32 computes). */
  crc32(bytes: Uint8Array): number | Promise<number>
  /** A raw snappy block whose preamble announced `rawLength` bytes, decompressed into a new buffer that is never reused. */
  snappyUncompress(stored: Uint8Array, rawLength: number): Uint8Array | Promise<Uint8Array>
}

/**
 * The bytes of a raw snappy block made of one literal of `rawLength` bytes
 * that fills it (what the writer stores for a block that does not compress:
 * snappyLiteralHead), as a view of `stored`; undefined for any other block.
 * The preamble was checked to announce `rawLength`.
 */
export function snappyLiteralBody(stored: Uint8Array, rawLength: number): Uint8Array | undefined {
  let pos = 0
  while (pos < stored.length && (stored[pos]! & 0x80) !== 0) pos++
  pos++
  if (pos >= stored.length) return undefined
  const tag = stored[pos]!
  if ((tag & 3) !== 0) return undefined // not a literal
  const lengthCode = tag >>> 2
  let length: number
  if (lengthCode < 60) {
    length = lengthCode + 1
    pos += 1
  } else {
    const lengthBytes = lengthCode - 59
    if (pos + 1 + lengthBytes > stored.length) return undefined
    let m = 0
    for (let i = 0; i < lengthBytes; i++) m += stored[pos + 1 + i]! * 2 ** (8 * i)
    length = m + 1
    pos += 1 + lengthBytes
  }
  return length === rawLength && pos + length === stored.length ? stored.subarray(pos) : undefined
}

/** Throws unless the stored block can decompress to `rawLength` bytes; false for an uncompressed block (the stored bytes are the block). */
function checkStoredBlock(codec: CompressionCodec, stored: Uint8Array, rawLength: number): boolean {
  if (codec === 'none') {
    if (stored.length !== rawLength) throw new Error(`stored length ${stored.length} differs from raw length ${rawLength} in an uncompressed block`)
    return false
  }
  // Check the preamble before decompressing so a forged length cannot make us allocate gigabytes.
  const declared = snappyDeclaredLength(stored)
  if (declared !== rawLength) throw new Error(`snappy block announces ${declared} bytes, header says ${rawLength}`)
  return true
}

function checkDecompressed(raw: Uint8Array, rawLength: number): Uint8Array {
  if (raw.length !== rawLength) throw new Error(`snappy block decompressed to ${raw.length} bytes, header says ${rawLength}`)
  return raw
}
