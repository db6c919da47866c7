// Deterministic bench data: the same keys and values for every implementation
// compared, so ratios compare work and not data. Values are alphanumeric text
// (compressible about like real JSON-ish state, and storable as-is in a JSON
// file or an SQLite TEXT column).

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d)
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b)
  return (x ^ (x >>> 16)) >>> 0
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const POOL_CHARS = 1 << 20

let pool: string | undefined
function valuePool(): string {
  if (pool === undefined) {
    const next = rng(42)
    const chars = new Array<string>(POOL_CHARS + 65536)
    for (let i = 0; i < chars.length; i++) chars[i] = ALPHABET[Math.floor(next() * ALPHABET.length)]!
    pool = chars.join('')
  }
  return pool
}

/**
 * A string of its own: a slice would share the value pool's memory, which
 * makes heap state look 3× smaller than real values read from input records.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1')
}

export interface Dataset {
  /** Number of distinct keys. */
  readonly count: number
  readonly valueChars: number
  /** Bytes of key + value per entry, as the user sees them (serialized UTF-8). */
  readonly entryBytes: number
  /** count × entryBytes: the state size this dataset stands for. */
  readonly logicalBytes: number
  key(i: number): string
  /** The value of key i at `version` (a later version stands for an update). */
  value(i: number, version?: number): string
}

export const KEY_CHARS = 8

export function dataset(count: number, valueChars: number): Dataset {
  if (valueChars > 65536) throw new Error('valueChars must be ≤ 65536')
  const text = valuePool()
  return {
    count,
    valueChars,
    entryBytes: KEY_CHARS + valueChars,
    logicalBytes: count * (KEY_CHARS + valueChars),
    key: (i) => `k${i.toString(36).padStart(KEY_CHARS - 1, '0')}`,
    value: (i, version = 0) => {
      const offset = mix32(i * 31 + version * 0x9e3779b1) % POOL_CHARS
      return flat(text.slice(offset, offset + valueChars))
    },
  }
}

/** A dataset whose keys and values add up to about `sizeBytes`. */
export function datasetOfSize(sizeBytes: number, valueChars: number): Dataset {
  return dataset(Math.max(1, Math.round(sizeBytes / (KEY_CHARS + valueChars))), valueChars)
}

/** `fraction` of the indices 0..count-1, chosen at random (seeded), sorted. */
export function sampleIndices(count: number, fraction: number, seed: number): Uint32Array {
  const n = Math.max(1, Math.round(count * fraction))
  const next = rng(seed)
  const chosen = new Set<number>()
  while (chosen.size < n) chosen.add(Math.floor(next() * count))
  return Uint32Array.from(chosen).sort()
}

/** A random permutation of 0..count-1 (seeded): the order in which keys are visited. */
export function permutation(count: number, seed: number): Uint32Array {
  const out = new Uint32Array(count)
  for (let i = 0; i < count; i++) out[i] = i
  const next = rng(seed)
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    const t = out[i]!
    out[i] = out[j]!
    out[j] = t
  }
  return out
}
