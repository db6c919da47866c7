// Bringing an incremental handle's files into a local RocksDB directory: from
// a local recovery copy when its file has the size and CRC the handle recorded
// (then hard-linked: one local read to check it, no download), otherwise from
// checkpoint storage with every byte checked against the same size and CRC. A
// stored file that is missing or different is reported by its RocksDB name and
// storage path before anything is opened; a local one is reported and replaced.
import { createReadStream, createWriteStream } from 'node:fs'
import { copyFile, link, mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { crc32 } from 'node:zlib'
import { fromFsError, isKeyedStateError, KeyedStateError } from '../../errors.js'
import { formatRange } from '../../keygroups.js'
import { isSstFile } from './incremental-handle.js'
import { checkMetaMatchesHandle, decodeMetaFile, LOCAL_META_FILE_NAME, type IncrementalMetaFile } from './incremental-meta-file.js'
import { forEachBounded } from '../../for-each-bounded.js'
import type { IncrementalSnapshotHandle, LocalStateHandle, StoredFile } from '../../snapshot/types.js'
import type { CheckpointStorage } from '../../storage/types.js'
import { localFallbackReporter, type LocalFallbackReporter } from '../../snapshot/local-fallback.js'

/** Downloads in flight at once (see the upload side in incremental-run.ts). */
const DOWNLOAD_CONCURRENCY = 4

export interface FilePlacementStats {
  /** Files taken from a local recovery copy. */
  localFiles: number
  /** Files downloaded from checkpoint storage. */
  downloadedFiles: number
  downloadedBytes: number
}

export function emptyPlacementStats(): FilePlacementStats {
  return { localFiles: 0, downloadedFiles: 0, downloadedBytes: 0 }
}

function describeHandle(h: IncrementalSnapshotHandle): string {
  return `checkpoint ${h.checkpointId}, key groups ${formatRange(h.keyGroupRange)}`
}

function describeFile(h: IncrementalSnapshotHandle, name: string, f: StoredFile): string {
  const kind = name === 'meta' ? 'meta file' : isSstFile(name) ? `shared file ${name}` : `private file ${name}`
  return `${kind} (${f.path}) of ${describeHandle(h)}`
}

/** The local copy taken by the same run as `h`, if one was handed over. */
export function findLocalIncrementalCopy(h: IncrementalSnapshotHandle, local: readonly LocalStateHandle[] | undefined): LocalStateHandle | undefined {
  return local?.find((l) => {
    const c = l?.handle
    return (
      l.type === 'local-incremental' && typeof l.directory === 'string' && c?.type === 'incremental' &&
      l.checkpointId === h.checkpointId && c.checkpointId === h.checkpointId && c.backendId === h.backendId &&
      c.keyGroupRange.start === h.keyGroupRange.start && c.keyGroupRange.end === h.keyGroupRange.end &&
      c.metaFile.path === h.metaFile.path && c.metaFile.crc32 === h.metaFile.crc32
    )
  })
}

/**
 * Why the local file at `path` is not the stored file `f`, or undefined when
 * it is: its size and CRC-32 must be the ones the handle records, exactly as
 * for a download. Reading it costs a local read of every byte, far less than
 * the download it saves, and a damaged local file is never restored.
 */
async function localFileProblem(path: string, f: StoredFile): Promise<string | undefined> {
  let size: number
  try {
    const s = await stat(path)
    if (!s.isFile()) return 'not a file'
    size = s.size
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `cannot be read: ${(e as Error).message}`
  }
  if (size !== f.sizeBytes) return `${size} bytes, the handle records ${f.sizeBytes}`
  let crc = 0
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) crc = crc32(chunk as Buffer, crc)
  } catch (e) {
    return `cannot be read: ${(e as Error).message}`
  }
  return crc >>> 0 === f.crc32 ? undefined : `CRC-32 ${crc >>> 0}, the handle records ${f.crc32}`
}

/** Hard link when possible (SSTs are immutable, and RocksDB only ever unlinks them); a copy across file systems. */
async function linkOrCopy(source: string, target: string, hardLink: boolean): Promise<void> {
  if (hardLink) {
    try {
      await link(source, target)
      return
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw fromFsError(e, target, `linking ${source} to`)
    }
  }
  try {
    await copyFile(source, target)
  } catch (e) {
    throw fromFsError(e, target, `copying ${source} to`)
  }
}

/** Checks that a stored file exists with its recorded size; the error names the file. */
async function checkStored(storage: CheckpointStorage, h: IncrementalSnapshotHandle, name: string, f: StoredFile): Promise<void> {
  let size: number
  try {
    // size() alone (one HEAD on object stores): a missing file is MISSING_FILE.
    size = await storage.size(f.path)
  } catch (e) {
    if (isKeyedStateError(e, 'MISSING_FILE')) {
      throw new KeyedStateError('MISSING_FILE', `${describeFile(h, name, f)} is missing from checkpoint storage ${storage.location}`, { file: f.path, cause: e })
    }
    if (isKeyedStateError(e, 'PATH_ESCAPE')) throw e
    throw new KeyedStateError(isKeyedStateError(e) ? e.code : 'IO_ERROR', `cannot read ${describeFile(h, name, f)}: ${(e as Error).message}`, { file: f.path, cause: e })
  }
  if (size !== f.sizeBytes) {
    throw new KeyedStateError('CHECKSUM_MISMATCH', `${describeFile(h, name, f)} has ${size} bytes, the handle records ${f.sizeBytes}`, { file: f.path })
  }
}

/** Streams a stored file to `target`, checking size and CRC on the way. */
async function downloadVerified(storage: CheckpointStorage, h: IncrementalSnapshotHandle, name: string, f: StoredFile, target: string): Promise<void> {
  let crc = 0
  let size = 0
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      crc = crc32(chunk, crc)
      size += chunk.length
      callback(null, chunk)
    },
  })
  try {
    // No fsync: a restore interrupted by a crash is redone from the handle (the working directory is only trusted after a clean close).
    await pipeline(storage.openReadStream(f.path), meter, createWriteStream(target, { flags: 'wx' }))
  } catch (e) {
    if (isKeyedStateError(e)) {
      throw new KeyedStateError(e.code, `cannot download ${describeFile(h, name, f)}: ${e.message}`, { file: f.path, cause: e })
    }
    throw fromFsError(e, target, `downloading ${describeFile(h, name, f)} to`)
  }
  if (size !== f.sizeBytes || crc >>> 0 !== f.crc32) {
    throw new KeyedStateError(
      'CHECKSUM_MISMATCH',
      `${describeFile(h, name, f)} does not match its handle: ${size} bytes with CRC-32 ${crc >>> 0}, expected ${f.sizeBytes} bytes with CRC-32 ${f.crc32}`,
      { file: f.path },
    )
  }
}

/**
 * Puts every file of `h` into `dir` (created) under its RocksDB name. Files of
 * the local copy are used when their size and CRC-32 are the recorded ones;
 * every other file comes from storage (and is reported through `report`), all
 * checked for existence and size before the first download.
 */
export async function placeHandleFiles(
  h: IncrementalSnapshotHandle,
  storage: CheckpointStorage,
  local: LocalStateHandle | undefined,
  dir: string,
  stats: FilePlacementStats,
  report: LocalFallbackReporter = localFallbackReporter(undefined),
): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
  } catch (e) {
    throw fromFsError(e, dir, 'creating restore directory')
  }
  const all = [...Object.entries(h.sharedFiles), ...Object.entries(h.privateFiles)]
  const fromStorage: Array<[string, StoredFile]> = []
  await forEachBounded(all, DOWNLOAD_CONCURRENCY, async ([name, f]) => {
    if (!local) {
      fromStorage.push([name, f])
      return
    }
    const source = join(local.directory, name)
    const problem = await localFileProblem(source, f)
    if (problem === undefined) {
      // Private files are copied: RocksDB may append to a MANIFEST it opened, and the local copy must stay intact.
      await linkOrCopy(source, join(dir, name), isSstFile(name))
      stats.localFiles++
    } else {
      report({ checkpointId: h.checkpointId, file: source, reason: `${describeFile(h, name, f)}: local copy ${problem}` })
      fromStorage.push([name, f])
    }
  })
  await forEachBounded(fromStorage, DOWNLOAD_CONCURRENCY, ([name, f]) => checkStored(storage, h, name, f))
  await forEachBounded(fromStorage, DOWNLOAD_CONCURRENCY, async ([name, f]) => {
    await downloadVerified(storage, h, name, f, join(dir, name))
    stats.downloadedFiles++
    stats.downloadedBytes += f.sizeBytes
  })
}

/** Reads and checks the meta file of `h`, from the local copy when it is intact, else from storage. */
export async function readHandleMeta(
  h: IncrementalSnapshotHandle,
  storage: CheckpointStorage,
  local: LocalStateHandle | undefined,
  report: LocalFallbackReporter,
): Promise<IncrementalMetaFile> {
  const f = h.metaFile
  const matches = (bytes: Buffer): boolean => bytes.length === f.sizeBytes && crc32(bytes) >>> 0 === f.crc32
  let bytes: Buffer | undefined
  if (local) {
    const path = join(local.directory, LOCAL_META_FILE_NAME)
    const localBytes = await readFile(path).catch(() => undefined)
    if (localBytes && matches(localBytes)) bytes = localBytes
    else report({ checkpointId: h.checkpointId, file: path, reason: `${describeFile(h, 'meta', f)}: local copy ${localBytes ? 'does not match the size and CRC-32 its handle records' : 'missing or unreadable'}` })
  }
  if (!bytes) {
    await checkStored(storage, h, 'meta', f)
    try {
      bytes = await storage.read(f.path)
    } catch (e) {
      throw new KeyedStateError(isKeyedStateError(e) ? e.code : 'IO_ERROR', `cannot read ${describeFile(h, 'meta', f)}: ${(e as Error).message}`, { file: f.path, cause: e })
    }
    if (!matches(bytes)) {
      throw new KeyedStateError('CHECKSUM_MISMATCH', `${describeFile(h, 'meta', f)} does not match the size and CRC-32 its handle records`, { file: f.path })
    }
  }
  const meta = decodeMetaFile(bytes, f.path)
  checkMetaMatchesHandle(meta, h, f.path)
  return meta
}
