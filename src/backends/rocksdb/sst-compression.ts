// The compression of an SST file a restore builds, chosen from the data it
// starts with. RocksDB keeps a compressed block only when it saves at least an
// eighth (GoodCompressionRatio); for state that does not compress it
// compresses every block and stores it raw: a quarter of a restore's CPU for
// nothing (bench/notes/profiles.md). So a file whose first data does not
// compress is built without compression; compactions later use the DB's.
import { savesEnough } from '../../snapshot/format/codec.js'
import type { NativeBinding } from './native/types.js'

/** Bytes of a file's first batch compressed to judge whether its blocks compress. */
const COMPRESSION_SAMPLE_BYTES = 64 * 1024
/** A first batch smaller than this keeps the DB's compression: a few bytes say little about the rest. */
const COMPRESSION_SAMPLE_MIN_BYTES = 4 * 1024

/**
 * The compression of a file built from `batch` and what follows it: none
 * when a sample of it does not compress, else the DB's (undefined). Each file
 * is judged by its own first batch.
 */
export function compressionOf(native: NativeBinding, batch: readonly Uint8Array[]): 'none' | undefined {
  const parts: Uint8Array[] = []
  let bytes = 0
  for (const chunk of batch) {
    if (bytes >= COMPRESSION_SAMPLE_BYTES) break
    const part = chunk.subarray(0, COMPRESSION_SAMPLE_BYTES - bytes)
    parts.push(part)
    bytes += part.length
  }
  // Too little to judge by (a lane's last few entries): the DB's compression, which costs little on so few bytes.
  if (bytes < COMPRESSION_SAMPLE_MIN_BYTES) return undefined
  const sample = parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes)
  return savesEnough(bytes, native.snappyCompressedLength(sample)) ? undefined : 'none'
}
