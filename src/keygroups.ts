// Key groups: the unit in which keyed state is split, snapshotted and moved
// between operator instances when parallelism changes.
import { KeyedStateError } from './errors.js'

export const DEFAULT_MAX_PARALLELISM = 128
export const MAX_PARALLELISM_LIMIT = 32768

/** An inclusive range of key groups owned by one operator instance. */
export interface KeyGroupRange {
  readonly start: number
  readonly end: number
}

export const EMPTY_KEY_GROUP_RANGE: KeyGroupRange = Object.freeze({ start: 0, end: -1 })

/** MurmurHash3, x86 32-bit variant, seed 0 by default; returns an unsigned 32-bit value. */
export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed >>> 0
  const len = bytes.length
  const blocks = len & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  // Tail bytes (1..3), little-endian, as in the reference implementation.
  const tail = len & 3
  if (tail > 0) {
    let k = 0
    if (tail === 3) k ^= bytes[blocks + 2]! << 16
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8
    k ^= bytes[blocks]!
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= len
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export function checkMaxParallelism(maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_PARALLELISM_LIMIT) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `maxParallelism must be an integer between 1 and ${MAX_PARALLELISM_LIMIT}, got ${maxParallelism}`,
    )
  }
}

function invalid(message: string): KeyedStateError {
  return new KeyedStateError('INVALID_ARGUMENT', message)
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (v === null || typeof v !== 'object') return String(v)
  return Array.isArray(v) ? 'an array' : `an object (${Object.prototype.toString.call(v).slice(8, -1)})`
}

/** Refuses what is not a KeyGroupRange ({ start, end } integers, end >= start - 1); `fn` names the caller. */
function checkRangeShape(r: unknown, fn: string, name = 'range'): asserts r is KeyGroupRange {
  const o = r as Partial<KeyGroupRange> | null
  if (o === null || typeof o !== 'object' || !Number.isInteger(o.start) || !Number.isInteger(o.end) || o.end! < o.start! - 1) {
    throw invalid(`${fn}: ${name} must be a key-group range { start, end } of integers with end >= start - 1, got ${describe(r)}`)
  }
}

/**
 * The key group of a serialized key: murmur3 (seed 0) as unsigned, modulo
 * maxParallelism. The backends call keyGroupOf, which skips the argument
 * checks: their bytes come from a checked serializer and their
 * maxParallelism was checked when they were opened.
 */
export function assignToKeyGroup(keyBytes: Uint8Array, maxParallelism: number): number {
  if (!(keyBytes instanceof Uint8Array)) throw invalid(`assignToKeyGroup: keyBytes must be a Uint8Array (the serialized key), got ${describe(keyBytes)}`)
  checkMaxParallelism(maxParallelism)
  return keyGroupOf(keyBytes, maxParallelism)
}

/** assignToKeyGroup without argument checks, for callers whose arguments are already checked. */
export function keyGroupOf(keyBytes: Uint8Array, maxParallelism: number): number {
  return murmur3_32(keyBytes) % maxParallelism
}

function checkParallelism(maxParallelism: number, parallelism: number): void {
  checkMaxParallelism(maxParallelism)
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw invalid(`parallelism must be an integer between 1 and maxParallelism (${maxParallelism}), got ${describe(parallelism)}`)
  }
}

/** The contiguous key-group range of operator `operatorIndex` out of `parallelism`. */
export function keyGroupRangeForOperator(
  maxParallelism: number,
  parallelism: number,
  operatorIndex: number,
): KeyGroupRange {
  checkParallelism(maxParallelism, parallelism)
  if (!Number.isInteger(operatorIndex) || operatorIndex < 0 || operatorIndex >= parallelism) {
    throw new KeyedStateError('INVALID_ARGUMENT', `operatorIndex must be between 0 and ${parallelism - 1}, got ${operatorIndex}`)
  }
  const start = Math.ceil((operatorIndex * maxParallelism) / parallelism)
  const end = Math.ceil(((operatorIndex + 1) * maxParallelism) / parallelism) - 1
  return { start, end }
}

/** The operator index that owns `keyGroup` at `parallelism`. */
export function operatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  checkParallelism(maxParallelism, parallelism)
  if (!Number.isInteger(keyGroup) || keyGroup < 0 || keyGroup >= maxParallelism) {
    throw invalid(`keyGroup must be an integer between 0 and ${maxParallelism - 1}, got ${describe(keyGroup)}`)
  }
  return Math.floor((keyGroup * parallelism) / maxParallelism)
}

/** The range [start..end]; end = start - 1 is the empty range. */
export function keyGroupRange(start: number, end: number): KeyGroupRange {
  const r = { start, end }
  checkRangeShape(r, 'keyGroupRange')
  if (start < 0) throw invalid(`keyGroupRange: start must be >= 0, got ${start}`)
  return r
}

export function rangeSize(r: KeyGroupRange): number {
  checkRangeShape(r, 'rangeSize')
  return Math.max(0, r.end - r.start + 1)
}

export function rangeContains(r: KeyGroupRange, keyGroup: number): boolean {
  checkRangeShape(r, 'rangeContains')
  if (!Number.isInteger(keyGroup)) throw invalid(`rangeContains: keyGroup must be an integer, got ${describe(keyGroup)}`)
  return keyGroup >= r.start && keyGroup <= r.end
}

export function rangeIntersection(a: KeyGroupRange, b: KeyGroupRange): KeyGroupRange {
  checkRangeShape(a, 'rangeIntersection', 'a')
  checkRangeShape(b, 'rangeIntersection', 'b')
  const start = Math.max(a.start, b.start)
  const end = Math.min(a.end, b.end)
  return end < start ? EMPTY_KEY_GROUP_RANGE : { start, end }
}

/**
 * "[start..end]" or "[empty]". Takes any value without throwing: it is how
 * error messages name a range, including ranges that are refused as invalid.
 */
export function formatRange(r: KeyGroupRange): string {
  const o = r as Partial<KeyGroupRange> | null
  if (o === null || typeof o !== 'object') return describe(r)
  return Number.isInteger(o.start) && Number.isInteger(o.end) && o.end! < o.start! ? '[empty]' : `[${String(o.start)}..${String(o.end)}]`
}

export function checkKeyGroupRange(r: KeyGroupRange, maxParallelism: number): void {
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0 || r.end >= maxParallelism || r.end < r.start - 1) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `key-group range ${formatRange(r)} is not inside [0..${maxParallelism - 1}] (maxParallelism ${maxParallelism})`,
    )
  }
}
