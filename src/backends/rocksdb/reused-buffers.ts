// Reused buffers for the synchronous hot path. JS is single-threaded and every
// state call completes before the next starts, so one buffer per backend is
// enough; a view handed out is valid until the next call that uses the buffer.
import type { NativeDb } from './native/types.js'
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

  constructor(private readonly db: NativeDb) {}

  /** The value as a view into the scratch buffer (valid until the next read), or undefined. */
  read(cf: number, key: Uint8Array): Uint8Array | undefined {
    for (;;) {
      const n = this.db.getInto(cf, key, this.scratch)
      if (n >= 0) return this.scratch.subarray(0, n)
      if (n === -1) return undefined
      const sizeBytes = -(n + 2)
      if (sizeBytes > VALUE_SCRATCH_MAX_BYTES) {
        const value = this.db.get(cf, key)
        return value === undefined ? undefined : plainBytes(value)
      }
      this.scratch = new Uint8Array(nextPowerOfTwo(sizeBytes))
    }
  }
}

/** A growable byte buffer; `take(n)` returns a view of at least n writable bytes. */
export class ScratchBuffer {
  private buffer: Buffer

  constructor(initialBytes: number) {
    this.buffer = Buffer.allocUnsafe(initialBytes)
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
    }
    return this.buffer
  }
}
