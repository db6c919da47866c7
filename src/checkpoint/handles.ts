// What a keyed-state handle refers to in storage. Handles are plain JSON that
// come back from `_metadata` files, which may have been edited or damaged, so
// everything here checks shapes instead of trusting them.
import { KeyedStateError } from '../errors.js'
import { rangeSize, type KeyGroupRange } from '../keygroups.js'
import { normalizeStoragePath } from '../storage/paths.js'
import type { FullSnapshotHandle, IncrementalSnapshotHandle, KeyedStateHandle, StoredFile } from '../snapshot/types.js'

/** A stored file and whether it may be referenced by more than one checkpoint. */
export interface HandleFile extends StoredFile {
  shared: boolean
  /** What the file is for, for tools: 'full', 'sst', 'private', 'meta'. */
  role: 'full' | 'sst' | 'private' | 'meta'
  /** The name inside the handle (RocksDB file name) when there is one. */
  name?: string
}

export function filesOfHandle(handle: KeyedStateHandle): HandleFile[] {
  if (handle.type === 'full') return [{ ...handle.file, shared: false, role: 'full' }]
  const out: HandleFile[] = []
  for (const [name, f] of Object.entries(handle.sharedFiles)) out.push({ ...f, shared: true, role: 'sst', name })
  for (const [name, f] of Object.entries(handle.privateFiles)) out.push({ ...f, shared: false, role: 'private', name })
  out.push({ ...handle.metaFile, shared: false, role: 'meta' })
  return out
}

/** The files of a handle that several checkpoints may reference (incremental SSTs), as the registry counts them. */
export function sharedFilesOf(handle: KeyedStateHandle | null | undefined): StoredFile[] {
  return handle ? filesOfHandle(handle).filter((f) => f.shared).map(({ path, sizeBytes, crc32 }) => ({ path, sizeBytes, crc32 })) : []
}

/** The files of a handle only its own checkpoint references: deleted with that checkpoint. */
export function exclusiveFilesOf(handle: KeyedStateHandle | null | undefined): HandleFile[] {
  return handle ? filesOfHandle(handle).filter((f) => !f.shared) : []
}

export function handleSizeBytes(handle: KeyedStateHandle): number {
  return filesOfHandle(handle).reduce((sum, f) => sum + f.sizeBytes, 0)
}

/** Returns a copy of `handle` with every stored path passed through `map`. */
export function mapHandlePaths(handle: KeyedStateHandle, map: (path: string) => string): KeyedStateHandle {
  const mapFile = (f: StoredFile): StoredFile => ({ ...f, path: map(f.path) })
  if (handle.type === 'full') return { ...handle, file: mapFile(handle.file) }
  const mapRecord = (r: Record<string, StoredFile>): Record<string, StoredFile> =>
    Object.fromEntries(Object.entries(r).map(([name, f]) => [name, mapFile(f)]))
  return {
    ...handle,
    sharedFiles: mapRecord(handle.sharedFiles),
    privateFiles: mapRecord(handle.privateFiles),
    metaFile: mapFile(handle.metaFile),
  }
}

function fail(where: string, what: string): never {
  throw new KeyedStateError('CORRUPTION', `${where}: ${what}`)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

export function assertKeyGroupRange(v: unknown, where: string): asserts v is KeyGroupRange {
  if (!isObject(v) || !Number.isSafeInteger(v.start) || !Number.isSafeInteger(v.end) ||
      (v.start as number) < 0 || (v.end as number) < (v.start as number) - 1) {
    fail(where, `invalid key-group range ${JSON.stringify(v)}`)
  }
}

function assertStoredFile(v: unknown, where: string): asserts v is StoredFile {
  if (!isObject(v) || typeof v.path !== 'string' || v.path === '' || !isCount(v.sizeBytes) ||
      !isCount(v.crc32) || (v.crc32 as number) > 0xffffffff) {
    fail(where, `invalid stored file ${JSON.stringify(v)?.slice(0, 200)}`)
  }
  assertCanonicalStoragePath(v.path, `${where} path`)
}

/**
 * A path as writers record it: relative, normalized, below the root. Anything
 * else in a `_metadata` was edited or forged; refusing it here names the file
 * at once (the storage would refuse it too, one access at a time).
 */
export function assertCanonicalStoragePath(path: string, where: string): void {
  let normalized: string
  try {
    normalized = normalizeStoragePath(path)
  } catch (e) {
    fail(where, (e as Error).message)
  }
  if (normalized !== path) fail(where, `storage path ${JSON.stringify(path)} is not written as writers write it (${JSON.stringify(normalized)})`)
}

function assertFileRecord(v: unknown, where: string): asserts v is Record<string, StoredFile> {
  if (!isObject(v)) fail(where, 'expected an object of files')
  for (const [name, f] of Object.entries(v)) assertStoredFile(f, `${where} '${name}'`)
}

/**
 * Checks the fields of a handle that the checkpoint lifecycle relies on
 * (ranges, files, sizes). Unknown extra fields are kept: backends may add them.
 */
export function assertValidHandle(v: unknown, where: string): asserts v is KeyedStateHandle {
  if (!isObject(v)) fail(where, 'handle is not an object')
  if (!isCount(v.formatVersion) || !isCount(v.checkpointId) || !isCount(v.maxParallelism) || v.maxParallelism === 0) {
    fail(where, 'handle lacks formatVersion, checkpointId or maxParallelism')
  }
  assertKeyGroupRange(v.keyGroupRange, `${where} keyGroupRange`)
  if ((v.keyGroupRange as KeyGroupRange).end >= (v.maxParallelism as number)) {
    fail(where, `key-group range ends at ${(v.keyGroupRange as KeyGroupRange).end}, beyond maxParallelism ${v.maxParallelism}`)
  }
  if (v.type === 'full') {
    const h = v as unknown as FullSnapshotHandle
    assertStoredFile(h.file, `${where} file`)
    if (!Array.isArray(h.keyGroupOffsets) || h.keyGroupOffsets.length !== rangeSize(h.keyGroupRange) ||
        !h.keyGroupOffsets.every((o) => Number.isSafeInteger(o) && o >= -1)) {
      fail(where, `keyGroupOffsets must hold one offset (or -1) per key group of the range`)
    }
  } else if (v.type === 'incremental') {
    const h = v as unknown as IncrementalSnapshotHandle
    if (typeof h.backendId !== 'string' || h.backendId === '') fail(where, 'incremental handle lacks backendId')
    assertFileRecord(h.sharedFiles, `${where} sharedFiles`)
    assertFileRecord(h.privateFiles, `${where} privateFiles`)
    assertStoredFile(h.metaFile, `${where} metaFile`)
  } else {
    fail(where, `unknown handle type ${JSON.stringify(v.type)}`)
  }
}
