// Reused buffers for the synchronous hot path. JS is single-threaded and every
// state call completes before the next starts, so one buffer per backend is
// enough; a view handed out is valid until the next call that uses the buffer.
import type { NativeDb } from './native/types.js'
import type { SerializeInto } from '../../serializers/output.js'
import { plainBytes } from './packed-chunks.js'

/** Values larger than this are read into a fresh buffer instead of growing the scratch without bound. */
export const VALUE_SCRATCH_MAX_BYTES = 1024 * 1024
const VALUE_SCRATCH_INITIAL_BYTES = 16 * 1024

function nextPowerOfTwo(n: number): number {
  let p = 64
  while (p < n) p *= 2
  return p
}

/** Reads values with `getInto` into a reused buffer: no allocation per read for values up to the cap. */
export class ValueReader {
  // A plain Uint8Array, not a Buffer: see plainBytes().
  private scratch = new Uint8Array(VALUE_SCRATCH_INITIAL_BYTES)
  /** The last view handed out: values of one state often have one length, and a view is an object per read. */
  private lastView = this.scratch.subarray(0, 0)

  constructor(private readonly db: NativeDb) {}

  /** The value as a view into the scratch buffer (valid until the next read), or undefined. */
  read(cf: number, key: Uint8Array): Uint8Array | undefined {
    for (;;) {
      const n = this.db.getInto(cf, key, this.scratch)
      if (n >= 0) {
        if (this.lastView.length !== n) this.lastView = this.scratch.subarray(0, n)
        return this.lastView
      }
      if (n === -1) return undefined
      const sizeBytes = -(n + 2)
      if (sizeBytes > VALUE_SCRATCH_MAX_BYTES) {
        const value = this.db.get(cf, key)
        return value === undefined ? undefined : plainBytes(value)
      }
      this.scratch = new Uint8Array(nextPowerOfTwo(sizeBytes))
      this.lastView = this.scratch.subarray(0, 0)
    }
  }
}

/** A growable byte buffer; `ensure(n)` returns it with at least n writable bytes. */
export class ScratchBuffer {
  private buffer: Buffer
  /** The last view(), reused while its length is asked again (one object fewer per call on the hot path). */
  private lastView: Buffer

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes)
    this.lastView = this.buffer.subarray(0, 0)
  }

  get bytes(): Buffer {
    return this.buffer
  }

  /** Ensures capacity for `sizeBytes`, keeping the first `keepBytes` bytes. */
  ensure(sizeBytes: number, keepBytes = 0): Buffer {
    if (sizeBytes > this.buffer.length) {
      const grown = Buffer.allocUnsafe(nextPowerOfTwo(sizeBytes))
      if (keepBytes > 0) this.buffer.copy(grown, 0, 0, keepBytes)
      this.buffer = grown
      this.lastView = grown.subarray(0, 0)
    }
    return this.buffer
  }

  /** The first `length` bytes (≤ the capacity) as a view, valid until the next view() of another length or growth. */
  view(length: number): Buffer {
    if (this.lastView.length !== length) this.lastView = this.buffer.subarray(0, length)
    return this.lastView
  }

  /**
   * Serializes `value` with a serializer's write-into path at `pos`, growing the
   * buffer (keeping the bytes before `pos`) when asked; returns where it ends, or
   * -1 when it would need more than VALUE_SCRATCH_MAX_BYTES (the caller then
   * serializes as usual rather than keep a buffer that large).
   */
  writeWith<T>(into: SerializeInto<T>, value: T, pos: number): number {
    const end = into(value, this.buffer, pos)
    if (end >= 0) return end
    const needBytes = pos + (-1 - end)
    if (needBytes > VALUE_SCRATCH_MAX_BYTES) return -1
    return into(value, this.ensure(needBytes, pos), pos)
  }
}
