// The state the S3 crash child writes: deterministic, so the parent knows what
// every checkpoint must hold. Values are incompressible (SSTs larger than an
// S3 part, so checkpoints upload them as multipart uploads).
export const CRASH_MAX_PARALLELISM = 8
export const CRASH_KEYS = 1500
export const CRASH_VALUE_BYTES = 8 * 1024

export function crashValue(key: number, generation: number): Buffer {
  const words = new Uint32Array(CRASH_VALUE_BYTES / 4)
  let a = (key * 2654435761 + generation * 40503) >>> 0
  for (let i = 0; i < words.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    words[i] = (t ^ (t >>> 14)) >>> 0
  }
  return Buffer.from(words.buffer)
}

export const crashKey = (i: number): string => `key-${i}`
