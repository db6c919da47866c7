// Per-block compression. Blocks are compressed independently so a restore of
// one key group decompresses only that key group's blocks.
import { compress, compressSync, uncompressSync } from 'snappy'
import { KeyedStateError } from '../../errors.js'
import type { CompressionCodec } from '../types.js'
import { CODEC_IDS } from './constants.js'

export function checkCodec(codec: unknown): asserts codec is CompressionCodec {
  if (typeof codec !== 'string' || !(codec in CODEC_IDS)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `unknown compression ${JSON.stringify(codec)} (use 'snappy' or 'none')`)
  }
}

export function compressBlock(codec: CompressionCodec, raw: Uint8Array): Uint8Array {
  return codec === 'snappy' ? compressSync(raw) : raw
}

/**
 * The same bytes as compressBlock, computed on the libuv thread pool so the
 * event loop keeps reading while blocks compress. `raw` must stay unchanged
 * until the promise settles; an aborted signal drops compressions not yet started.
 */
export function compressBlockAsync(codec: CompressionCodec, raw: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
  return codec === 'snappy' ? compress(raw, undefined, signal) : Promise.resolve(raw)
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

/**
 * Decompresses a block whose stored bytes already passed their checksum.
 * Throws a plain message on mismatch; the caller adds file, key group and offset.
 */
export function decompressBlock(codec: CompressionCodec, stored: Uint8Array, rawLength: number): Uint8Array {
  if (codec === 'none') {
    if (stored.length !== rawLength) throw new Error(`stored length ${stored.length} differs from raw length ${rawLength} in an uncompressed block`)
    return stored
  }
  // Check the preamble before decompressing so a forged length cannot make us allocate gigabytes.
  const declared = snappyDeclaredLength(stored)
  if (declared !== rawLength) throw new Error(`snappy block announces ${declared} bytes, header says ${rawLength}`)
  const raw = uncompressSync(stored, { asBuffer: true }) as Buffer
  if (raw.length !== rawLength) throw new Error(`snappy block decompressed to ${raw.length} bytes, header says ${rawLength}`)
  return raw
}
