// `_metadata`: the file that makes a checkpoint or savepoint complete. It is
// written last, atomically, only after every instance acknowledged; a
// directory without a valid one is incomplete and never used. The layout is
// specified in docs/FORMAT.md ("Checkpoint metadata").
import { crc32 } from 'node:zlib'
import { KeyedStateError } from '../errors.js'
import { formatRange, type KeyGroupRange } from '../keygroups.js'
import type { KeyedStateHandle, SnapshotType } from '../snapshot/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import { assertCanonicalStoragePath, assertKeyGroupRange, assertValidHandle, filesOfHandle, mapHandlePaths } from './handles.js'
import { isUnder, metadataPathOf } from './layout.js'

export const METADATA_FORMAT = 'keyed-state-checkpoint-metadata'
export const METADATA_VERSION = 1
/** A `_metadata` file is small; anything larger is not one of ours and is not parsed. */
export const METADATA_MAX_BYTES = 64 * 1024 * 1024

export type RestoreMode = 'claim' | 'no-claim'

/** A plain JSON value (no undefined, no non-finite numbers, no bigint). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** Operator state rides inside `_metadata`, which is read whole: keep it small. */
export const OPERATOR_STATE_MAX_BYTES = 1024 * 1024

/** Why `v` cannot be recorded as an instance's operator state, or undefined when it can. */
export function operatorStateProblem(v: unknown): string | undefined {
  const walk = (x: unknown, at: string): string | undefined => {
    if (x === null || typeof x === 'string' || typeof x === 'boolean') return undefined
    if (typeof x === 'number') return Number.isFinite(x) ? undefined : `${at} is ${x} (JSON has no such number)`
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        const p = walk(x[i], `${at}[${i}]`)
        if (p) return p
      }
      return undefined
    }
    if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
      for (const [k, y] of Object.entries(x as Record<string, unknown>)) {
        const p = walk(y, `${at}.${k}`)
        if (p) return p
      }
      return undefined
    }
    return `${at} is ${x === undefined ? 'undefined' : typeof x === 'object' ? 'not a plain object' : `a ${typeof x}`} (operator state must be plain JSON)`
  }
  const problem = walk(v, 'operatorState')
  if (problem) return problem
  const bytes = Buffer.byteLength(JSON.stringify(v), 'utf8')
  return bytes > OPERATOR_STATE_MAX_BYTES ? `operatorState is ${bytes} bytes encoded, more than ${OPERATOR_STATE_MAX_BYTES}` : undefined
}

/**
 * One operator instance's part of a checkpoint. `O` is the type of its
 * operator state, for users who give it one (plain JSON: a type alias of
 * JSON values, not an interface, so that it is assignable to JsonValue).
 */
export interface InstanceSnapshotRecord<O extends JsonValue = JsonValue> {
  index: number
  keyGroupRange: KeyGroupRange
  /** null when the instance held no state (it wrote no file). */
  handle: KeyedStateHandle | null
  /** Bytes of every file the handle references. */
  sizeBytes: number
  /** Bytes written for this checkpoint (exclusive files and newly uploaded shared files). */
  incrementalSizeBytes: number
  syncDurationMs: number
  asyncDurationMs: number
  /**
   * The instance's non-keyed state at the barrier (e.g. the source offset it
   * had read up to), as it acknowledged it; absent when it gave none.
   */
  operatorState?: O
}

export interface RestoredFromRecord {
  checkpointId: number
  type: SnapshotType
  /** The storage-relative directory of the snapshot, when it is in the same storage. */
  dir: string
  /** Where the snapshot was (storage location), for humans. */
  location: string
  mode: RestoreMode
}

/** A checkpoint's `_metadata`; `O` types the instances' operator state (see InstanceSnapshotRecord). */
export interface CheckpointMetadata<O extends JsonValue = JsonValue> {
  format: typeof METADATA_FORMAT
  version: number
  checkpointId: number
  type: SnapshotType
  /** The storage-relative directory this metadata describes ('' when read from a savepoint's own root). */
  dir: string
  triggeredAtMs: number
  completedAtMs: number
  maxParallelism: number
  parallelism: number
  sizeBytes: number
  incrementalSizeBytes: number
  instances: InstanceSnapshotRecord<O>[]
  restoredFrom?: RestoredFromRecord
}

/** JSON with sorted keys and no whitespace: the bytes the checksum covers. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    const text = JSON.stringify(v)
    if (text === undefined) throw new KeyedStateError('INVALID_ARGUMENT', `cannot encode ${typeof v} in metadata`)
    return text
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  const o = v as Record<string, unknown>
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
}

function checksumOf(body: Record<string, unknown>): string {
  return `crc32:${(crc32(Buffer.from(canonicalJson(body), 'utf8')) >>> 0).toString(16).padStart(8, '0')}`
}

export function encodeMetadata(md: CheckpointMetadata): Uint8Array {
  assertValidMetadata(md, 'metadata to write')
  const body = JSON.parse(JSON.stringify(md)) as Record<string, unknown>
  const doc = { ...body, checksum: checksumOf(body) }
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8')
}

function fail(where: string, what: string): never {
  throw new KeyedStateError('CORRUPTION', `${where}: ${what}`, { file: where })
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function isDuration(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}

/** Parses and validates `_metadata` bytes; `where` names the file in errors. */
export function decodeMetadata(bytes: Uint8Array, where: string): CheckpointMetadata {
  if (bytes.length > METADATA_MAX_BYTES) fail(where, `${bytes.length} bytes is larger than any metadata file`)
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    throw new KeyedStateError('CORRUPTION', `${where}: not valid JSON (${(e as Error).message})`, { file: where, cause: e })
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(where, 'not a JSON object')
  const { checksum, ...body } = doc as Record<string, unknown>
  if (body.format !== METADATA_FORMAT) fail(where, `format is ${JSON.stringify(body.format)}, expected ${METADATA_FORMAT}`)
  if (body.version !== METADATA_VERSION) {
    throw new KeyedStateError('NOT_SUPPORTED', `${where}: metadata version ${JSON.stringify(body.version)} is not supported (this build reads ${METADATA_VERSION})`, { file: where })
  }
  if (typeof checksum !== 'string') fail(where, 'checksum is missing')
  const expected = checksumOf(body)
  if (checksum !== expected) {
    throw new KeyedStateError('CHECKSUM_MISMATCH', `${where}: checksum ${checksum} does not match the content (${expected})`, { file: where })
  }
  assertValidMetadata(body, where)
  return body
}

/** Throws CORRUPTION naming the first problem unless `v` is well-formed metadata. */
export function assertValidMetadata(v: unknown, where: string): asserts v is CheckpointMetadata {
  const o = v as Partial<CheckpointMetadata> & Record<string, unknown>
  if (o.format !== METADATA_FORMAT || o.version !== METADATA_VERSION) fail(where, 'wrong format or version')
  if (!isCount(o.checkpointId)) fail(where, 'checkpointId must be a non-negative integer')
  if (o.type !== 'checkpoint' && o.type !== 'savepoint') fail(where, `type must be 'checkpoint' or 'savepoint'`)
  if (typeof o.dir !== 'string') fail(where, 'dir must be a string')
  const dir = o.dir
  if (dir !== '') assertCanonicalStoragePath(dir, `${where} dir`)
  if (!isCount(o.triggeredAtMs) || !isCount(o.completedAtMs)) fail(where, 'triggeredAtMs and completedAtMs must be integers')
  if (!isCount(o.maxParallelism) || o.maxParallelism < 1) fail(where, 'maxParallelism must be a positive integer')
  if (!isCount(o.parallelism) || o.parallelism < 1) fail(where, 'parallelism must be a positive integer')
  if (!isCount(o.sizeBytes) || !isCount(o.incrementalSizeBytes)) fail(where, 'sizeBytes and incrementalSizeBytes must be integers')
  if (!Array.isArray(o.instances) || o.instances.length !== o.parallelism) {
    fail(where, `instances must list ${o.parallelism} operator instances`)
  }
  let nextStart = 0
  let size = 0
  let incremental = 0
  o.instances.forEach((inst, i) => {
    const at = `${where} instance ${i}`
    if (typeof inst !== 'object' || inst === null) fail(at, 'not an object')
    if (inst.index !== i) fail(at, `index is ${JSON.stringify(inst.index)}, expected ${i} (instances are sorted by index)`)
    assertKeyGroupRange(inst.keyGroupRange, `${at} keyGroupRange`)
    // Instances cover [0, maxParallelism) in order without gaps or overlaps: restore relies on it.
    if (inst.keyGroupRange.start !== nextStart) {
      fail(at, `key-group range ${formatRange(inst.keyGroupRange)} should start at ${nextStart}`)
    }
    nextStart = inst.keyGroupRange.end + 1
    if (!isCount(inst.sizeBytes) || !isCount(inst.incrementalSizeBytes)) fail(at, 'sizes must be integers')
    if (!isDuration(inst.syncDurationMs) || !isDuration(inst.asyncDurationMs)) fail(at, 'durations must be non-negative numbers')
    if (inst.operatorState !== undefined) {
      const problem = operatorStateProblem(inst.operatorState)
      if (problem) fail(at, problem)
    }
    if (inst.handle !== null) {
      assertValidHandle(inst.handle, `${at} handle`)
      const h = inst.handle
      if (h.maxParallelism !== o.maxParallelism) fail(at, `handle maxParallelism ${h.maxParallelism} differs from ${o.maxParallelism}`)
      if (h.keyGroupRange.start !== inst.keyGroupRange.start || h.keyGroupRange.end !== inst.keyGroupRange.end) {
        fail(at, `handle covers ${formatRange(h.keyGroupRange)}, the instance ${formatRange(inst.keyGroupRange)}`)
      }
      if (o.type === 'savepoint') {
        if (h.type !== 'full') fail(at, 'a savepoint holds only full (canonical) snapshots')
        for (const f of filesOfHandle(h)) {
          if (!isUnder(f.path, dir)) fail(at, `savepoint file ${f.path} lies outside the savepoint directory '${dir}'`)
        }
      }
    } else if (inst.sizeBytes !== 0) {
      fail(at, 'an instance without a handle has no bytes')
    }
    size += inst.sizeBytes
    incremental += inst.incrementalSizeBytes
  })
  if (nextStart !== o.maxParallelism) fail(where, `instances cover key groups [0..${nextStart - 1}], not [0..${o.maxParallelism - 1}]`)
  if (size !== o.sizeBytes || incremental !== o.incrementalSizeBytes) fail(where, 'total sizes differ from the sum of the instances')
  if (o.restoredFrom !== undefined) {
    const r = o.restoredFrom as Partial<RestoredFromRecord> | null
    if (!r || !isCount(r.checkpointId) || typeof r.dir !== 'string' || typeof r.location !== 'string' ||
        (r.mode !== 'claim' && r.mode !== 'no-claim') || (r.type !== 'checkpoint' && r.type !== 'savepoint')) {
      fail(where, 'invalid restoredFrom')
    }
  }
}

/**
 * Metadata read from another directory than the one it was written in (a
 * moved savepoint): paths below the recorded directory follow it. Paths
 * outside it (shared files of a checkpoint) stay as they are.
 */
export function rebaseMetadata(md: CheckpointMetadata, dir: string): CheckpointMetadata {
  if (md.dir === dir) return md
  const from = md.dir
  const move = (p: string): string => {
    if (!isUnder(p, from)) return p
    const rest = from === '' ? p : p.slice(from.length + 1)
    return dir === '' ? rest : `${dir}/${rest}`
  }
  return {
    ...md,
    dir,
    instances: md.instances.map((i) => ({ ...i, handle: i.handle === null ? null : mapHandlePaths(i.handle, move) })),
  }
}

/** Reads and validates `<dir>/_metadata`; MISSING_FILE when there is none. */
export async function readMetadata(storage: CheckpointStorage, dir: string): Promise<CheckpointMetadata> {
  const path = metadataPathOf(dir)
  const size = await storage.size(path)
  if (size > METADATA_MAX_BYTES) fail(path, `${size} bytes is larger than any metadata file`)
  const md = decodeMetadata(await storage.read(path), path)
  return rebaseMetadata(md, dir)
}

/** Writes `<md.dir>/_metadata` atomically (temporary file, fsync, rename, fsync directory). */
export async function writeMetadata(storage: CheckpointStorage, md: CheckpointMetadata): Promise<void> {
  await storage.writeAtomic(metadataPathOf(md.dir), encodeMetadata(md))
}

/** Every storage path a metadata file references, itself included. */
export function referencedPaths(md: CheckpointMetadata): Set<string> {
  const out = new Set<string>([metadataPathOf(md.dir)])
  for (const inst of md.instances) {
    if (inst.handle) for (const f of filesOfHandle(inst.handle)) out.add(f.path)
  }
  return out
}
