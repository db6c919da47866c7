// Reading packed chunks from native iterators. One N-API call returns many
// entries, packed as repeated (u32le keyLength | key | u32le valueLength | value);
// the helpers here walk that layout without copying.
import { KeyedStateError } from '../../errors.js'
import type { NativeDb, NativeIteratorOptions, PackedChunk } from './native/types.js'

export interface ChunkLimits {
  readonly entriesMax: number
  readonly bytesMax: number
}

/** User-facing iteration (map entries, keys()): small first answers, bounded memory. */
export const SCAN_CHUNK: ChunkLimits = { entriesMax: 512, bytesMax: 256 * 1024 }
/** Snapshot streaming: larger chunks amortise the N-API call and the writer's per-chunk work. */
export const SNAPSHOT_CHUNK: ChunkLimits = { entriesMax: 8192, bytesMax: 1024 * 1024 }
/**
 * Snapshot streaming read on the thread pool, ahead of the writer (see
 * striped-read.ts): each chunk costs a hand-over between threads, so chunks are larger.
 */
export const SNAPSHOT_AHEAD_CHUNK: ChunkLimits = { entriesMax: 65536, bytesMax: 4 * 1024 * 1024 }

/**
 * Yields the chunks of one bounded scan and always closes the native iterator:
 * on exhaustion, on an early `return()` from the consumer, and on errors.
 */
export function* scanChunks(
  db: NativeDb,
  cf: number,
  options: NativeIteratorOptions,
  limits: ChunkLimits,
): Generator<PackedChunk, void, undefined> {
  const it = db.iterator(cf, options)
  try {
    for (;;) {
      const chunk = it.nextChunk(limits.entriesMax, limits.bytesMax)
      if (chunk === null) return
      yield chunk
    }
  } finally {
    it.close()
  }
}

/**
 * A cursor over one packed chunk. `next()` advances; then keyStart/keyEnd and
 * valueStart/valueEnd delimit the current entry inside `chunk`. No allocation
 * per entry unless the caller asks for `key()`/`value()` views.
 */
export class ChunkCursor {
  keyStart = 0
  keyEnd = 0
  valueStart = 0
  valueEnd = 0
  private pos = 0
  private chunk: Uint8Array
  private view: DataView

  constructor(chunk: Uint8Array) {
    this.chunk = plainBytes(chunk)
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  }

  reset(chunk: Uint8Array): void {
    this.chunk = plainBytes(chunk)
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    this.pos = 0
  }

  /** The chunk as a plain Uint8Array (views taken from it are Uint8Arrays, not Buffers). */
  get bytes(): Uint8Array {
    return this.chunk
  }

  next(): boolean {
    const end = this.chunk.length
    if (this.pos >= end) return false
    // A malformed chunk would otherwise loop or read garbage; the addon owns this
    // layout, so a violation is our bug, reported with the offset.
    if (this.pos + 4 > end) throw malformed(this.pos)
    const keyLen = this.view.getUint32(this.pos, true)
    this.keyStart = this.pos + 4
    this.keyEnd = this.keyStart + keyLen
    if (this.keyEnd + 4 > end) throw malformed(this.pos)
    const valueLen = this.view.getUint32(this.keyEnd, true)
    this.valueStart = this.keyEnd + 4
    this.valueEnd = this.valueStart + valueLen
    if (this.valueEnd > end) throw malformed(this.keyEnd)
    this.pos = this.valueEnd
    return true
  }

  key(): Uint8Array {
    return this.chunk.subarray(this.keyStart, this.keyEnd)
  }

  value(): Uint8Array {
    return this.chunk.subarray(this.valueStart, this.valueEnd)
  }

  /** u16be key-group prefix of the current key (keys are composite keys). */
  keyGroup(): number {
    return (this.chunk[this.keyStart]! << 8) | this.chunk[this.keyStart + 1]!
  }
}

/**
 * A Uint8Array view of the same bytes. Deserializers get views of chunks and
 * of the value scratch; handing them Buffers would leak the Buffer type into
 * user values (bytesSerializer's slice() keeps the species).
 */
export function plainBytes(b: Uint8Array): Uint8Array {
  return b instanceof Buffer ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b
}

function malformed(offset: number): KeyedStateError {
  return new KeyedStateError('INTERNAL', `packed chunk from the native iterator is malformed at offset ${offset}`, { offset })
}

/** Byte-wise comparison of a[aStart..aEnd) and b[bStart..bEnd). */
export function compareBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart)
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i]! - b[bStart + i]!
    if (d !== 0) return d
  }
  return aEnd - aStart - (bEnd - bStart)
}

