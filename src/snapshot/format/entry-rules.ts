// What every entry of a full snapshot must be, beyond its framing
// (docs/FORMAT.md 3.3, "What a reader refuses"), checked once here for every
// reader: both backends' restores, the tools and `verify`. Before, each
// backend checked what it happened to need, so the heap accepted duplicate or
// unordered entries that RocksDB refused, RocksDB accepted keys that were only
// a key-group prefix, and an empty list value became [] on one and nothing on
// the other.
//
// - keys of one state in one key group strictly ascend (unsigned bytes), across
//   the blocks of the key group: no duplicates;
// - a key is a whole composite key of its state's kind (encoding.ts): key and
//   namespace lengths inside the key, nothing after the namespace except a map's
//   user key; timer keys are exactly u16be kg | u64be ts | varint len | key | varint len | ns;
// - values: a list value is one or more u32be-framed elements filling it
//   exactly; a timer's value is empty; with TTL every value (list element) starts
//   with its 8-byte timestamp.
import { KEY_GROUP_PREFIX_BYTES } from '../../encoding.js'
import type { StateMetaInfo } from '../../state/meta.js'

const TIMESTAMP_BYTES = 8
const TTL_PREFIX_BYTES = 8
const VARINT_BYTES_MAX = 8

/** What an entry of one state must look like, derived once from its meta-info. */
export interface EntryRule {
  readonly layout: 'timer' | 'map' | 'plain'
  readonly list: boolean
  readonly ttl: boolean
}

export function entryRuleOf(meta: StateMetaInfo): EntryRule {
  return {
    layout: meta.kind === 'timers' ? 'timer' : meta.kind === 'map' ? 'map' : 'plain',
    list: meta.kind === 'list',
    ttl: meta.ttl !== undefined,
  }
}

/** Value of the varint varintEnd last read (a module variable: the hot loop allocates nothing per entry). */
let varintValue = 0

/** Position after the varint at `pos` (its value in varintValue), or -1 when it does not end before `end`. */
function varintEnd(bytes: Uint8Array, pos: number, end: number): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < VARINT_BYTES_MAX && pos < end; i++) {
    const b = bytes[pos++]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) {
      varintValue = value
      return pos
    }
    scale *= 128
  }
  return -1
}

/** Why the key at [start, end) is not a key of `rule`'s layout, or undefined. */
export function keyProblem(bytes: Uint8Array, start: number, end: number, rule: EntryRule): string | undefined {
  const pos = start + KEY_GROUP_PREFIX_BYTES + (rule.layout === 'timer' ? TIMESTAMP_BYTES : 0)
  if (pos >= end) return `${keyWhat(rule)}: ${end - start} bytes end before the key length`
  let next = varintEnd(bytes, pos, end)
  if (next < 0 || next + varintValue >= end) return `${keyWhat(rule)}: the key length runs past the end of the ${end - start}-byte key`
  next = varintEnd(bytes, next + varintValue, end)
  if (next < 0 || next + varintValue > end) return `${keyWhat(rule)}: the namespace length runs past the end of the ${end - start}-byte key`
  // Only a map entry has bytes after the namespace (its user key, to the end).
  if (rule.layout !== 'map' && next + varintValue !== end) return `${keyWhat(rule)}: ${end - next - varintValue} bytes after the namespace`
  return undefined
}

function keyWhat(rule: EntryRule): string {
  return rule.layout === 'timer' ? 'malformed timer key' : 'malformed composite key'
}

/** Why the value at [start, end) is not a value of `rule`, or undefined. */
export function valueProblem(bytes: Uint8Array, start: number, end: number, rule: EntryRule): string | undefined {
  if (rule.layout === 'timer') return end === start ? undefined : `timer entry with a value of ${end - start} bytes (timers have empty values)`
  if (!rule.list) return rule.ttl && end - start < TTL_PREFIX_BYTES ? `value of ${end - start} bytes has no 8-byte TTL timestamp` : undefined
  if (end === start) return 'empty list value (a list without elements has no entry)'
  for (let pos = start; pos < end; ) {
    if (pos + 4 > end) return `malformed list value: element length at value byte ${pos - start} runs past the end`
    const length = ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0
    if (pos + 4 + length > end) return `malformed list value: element at value byte ${pos - start} runs past the end`
    if (rule.ttl && length < TTL_PREFIX_BYTES) return `list element of ${length} bytes has no 8-byte TTL timestamp`
    pos += 4 + length
  }
  return undefined
}

/** -1, 0 or 1 as a[aStart, aEnd) sorts before, equal to or after b[bStart, bEnd) (unsigned bytes). */
export function compareKeyBytes(a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart)
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i]! - b[bStart + i]!
    if (d !== 0) return d < 0 ? -1 : 1
  }
  const la = aEnd - aStart
  const lb = bEnd - bStart
  return la === lb ? 0 : la < lb ? -1 : 1
}

/**
 * compareKeyBytes for two keys in one buffer, four bytes at a time: big-endian
 * words order as their bytes do. A restore compares every entry with the one
 * before it; this halves what the byte loop cost.
 */
export function compareKeysIn(view: DataView, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart)
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const a = view.getUint32(aStart + i, false)
    const b = view.getUint32(bStart + i, false)
    if (a !== b) return a < b ? -1 : 1
  }
  for (; i < n; i++) {
    const d = view.getUint8(aStart + i) - view.getUint8(bStart + i)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  const la = aEnd - aStart
  const lb = bEnd - bStart
  return la === lb ? 0 : la < lb ? -1 : 1
}

/**
 * The last key of each state in the key group being read, so order is checked
 * across the blocks of a key group (and across a switch to another copy of the
 * same file, which resumes inside a key group).
 */
export class KeyOrder {
  private keyGroup = -1
  private readonly lastKeys = new Map<number, Uint8Array>()

  /** Called before each block; a new key group starts with no previous keys. */
  enter(keyGroup: number): void {
    if (keyGroup === this.keyGroup) return
    this.keyGroup = keyGroup
    this.lastKeys.clear()
  }

  lastKey(stateIndex: number): Uint8Array | undefined {
    return this.lastKeys.get(stateIndex)
  }

  /** Records a verified block's last key of a state (a copy: the block's buffer is handed on). */
  commit(stateIndex: number, key: Uint8Array): void {
    this.lastKeys.set(stateIndex, Uint8Array.prototype.slice.call(key) as Uint8Array)
  }
}
