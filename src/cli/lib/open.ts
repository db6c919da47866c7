// Finding checkpoint storage and a checkpoint or savepoint in it from what the
// user typed: a path, a file:// URL or s3://bucket/prefix. For s3:// the SDK's
// chain gives credentials, region and endpoint (AWS_ENDPOINT_URL_S3 for an
// S3-compatible server, with KEYED_STATE_S3_PATH_STYLE=1).
import { realpath, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { listSnapshots, type SnapshotListing } from '../../checkpoint/catalog.js'
import { checkpointDirName, METADATA_FILE_NAME, parseCheckpointDirName, topLevelDir } from '../../checkpoint/layout.js'
import { decodeMetadata, rebaseMetadata, type CheckpointMetadata } from '../../checkpoint/metadata.js'
import { fromFsError, isKeyedStateError, KeyedStateError } from '../../errors.js'
import { formatStorageLocation, openCheckpointStorage, parentLocation, parseStorageLocation, s3OptionsFromEnv, type StorageLocation } from '../../storage/open.js'
import type { CheckpointStorage } from '../../storage/types.js'

export interface OpenedSnapshot {
  /** The directory the user named (absolute path or s3:// URL). */
  directory: string
  /** Storage rooted where the metadata's paths resolve: the checkpoint root, or the savepoint itself. */
  storage: CheckpointStorage
  metadata: CheckpointMetadata
}

function open(l: StorageLocation): CheckpointStorage {
  return openCheckpointStorage(l, { s3: s3OptionsFromEnv() })
}

export async function openStorageRoot(root: string): Promise<CheckpointStorage> {
  const l = parseStorageLocation(root)
  if (l.kind === 'fs') {
    let st: Awaited<ReturnType<typeof stat>>
    try {
      st = await stat(l.dir)
    } catch (e) {
      throw fromFsError(e, l.dir, 'opening checkpoint root')
    }
    if (!st.isDirectory()) throw new KeyedStateError('INVALID_ARGUMENT', `${l.dir} is not a directory`, { file: l.dir })
  }
  return open(l)
}

/** The word that names the newest complete checkpoint or savepoint of a root: `inspect <root> latest`. */
export const LATEST = 'latest'

/** `dir` (storage-relative, '/'-separated) under the location `root`, as the user would type it. */
function childLocationText(root: string, dir: string): string {
  const l = parseStorageLocation(root)
  const text = formatStorageLocation(l)
  return dir === '' ? text : `${text}${text.endsWith('/') ? '' : '/'}${dir}`
}

/**
 * A complete checkpoint or savepoint under `root`: the one with checkpoint
 * id `which`, or for `latest` the one completed last (the higher id when two
 * completed in the same millisecond). Incomplete checkpoints are never chosen.
 */
async function completeSnapshotLocation(root: string, which: string): Promise<string> {
  const storage = await openStorageRoot(root)
  let complete: SnapshotListing[]
  try {
    complete = (await listSnapshots(storage)).filter((l) => l.complete && l.metadata)
  } finally {
    storage.close?.()
  }
  const newer = (a: CheckpointMetadata, b: CheckpointMetadata): boolean =>
    b.completedAtMs > a.completedAtMs || (b.completedAtMs === a.completedAtMs && b.checkpointId > a.checkpointId)
  const chosen =
    which === LATEST
      ? complete.reduce<(typeof complete)[number] | undefined>((a, b) => (a === undefined || newer(a.metadata!, b.metadata!) ? b : a), undefined)
      : complete.filter((l) => l.metadata!.checkpointId === Number(which)).sort((a, b) => (a.type === 'checkpoint' ? -1 : b.type === 'checkpoint' ? 1 : 0))[0]
  if (!chosen) {
    const what = which === LATEST ? 'holds no complete checkpoint or savepoint' : `holds no complete checkpoint or savepoint ${which}`
    throw new KeyedStateError('MISSING_FILE', `${storage.location} ${what} (\`keyed-state list ${root}\` shows what it holds)`, { file: storage.location })
  }
  return childLocationText(root, chosen.dir)
}

/**
 * The snapshot location a command line names: `<dir>`, or `<root> latest`,
 * or `<root> <checkpoint id>`.
 */
export async function resolveSnapshotArgument(path: string, which: string | undefined): Promise<string> {
  if (which === undefined) return path
  if (which !== LATEST && !/^\d+$/.test(which)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `expected '${LATEST}' or a checkpoint id after the checkpoint root, got ${JSON.stringify(which)}`)
  }
  return completeSnapshotLocation(path, which)
}

/**
 * Whether the storage at a location looks like a checkpoint root: it holds
 * chk-<id> directories or savepoints. Only asked when a location has no
 * `_metadata`, to point the user to `list`.
 */
async function looksLikeRoot(storage: CheckpointStorage): Promise<boolean> {
  try {
    return (await storage.list('')).some((e) => parseCheckpointDirName(topLevelDir(e.path)) !== undefined || e.path.endsWith(`/${METADATA_FILE_NAME}`))
  } catch {
    return false
  }
}

/** The location without a trailing `_metadata` (users may name the file itself). */
function snapshotDirectoryOf(path: string): StorageLocation {
  const l = parseStorageLocation(path)
  if (l.kind === 'fs') return l.dir.endsWith(`/${METADATA_FILE_NAME}`) ? parentLocation(l, 1) : l
  return l.prefix === METADATA_FILE_NAME || l.prefix.endsWith(`/${METADATA_FILE_NAME}`) ? parentLocation(l, 1) : l
}

async function directoryExists(l: StorageLocation, storage: CheckpointStorage): Promise<boolean> {
  if (l.kind === 'fs') return stat(l.dir).then((s) => s.isDirectory(), () => false)
  return (await storage.list('')).length > 0
}

/** A local directory resolved to its real path (so no link decides where its parent is); other locations as they are. */
async function realLocation(l: StorageLocation): Promise<StorageLocation> {
  if (l.kind !== 'fs') return l
  try {
    return { kind: 'fs', dir: await realpath(l.dir) }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyedStateError('MISSING_FILE', `${l.dir} does not exist`, { file: l.dir })
    throw fromFsError(e, l.dir, 'opening')
  }
}

function lastSegmentOf(l: StorageLocation): string {
  return l.kind === 'fs' ? basename(l.dir) : l.prefix.slice(l.prefix.lastIndexOf('/') + 1)
}

/**
 * Opens `<dir>/_metadata`. A savepoint is self-contained, so its own directory
 * is the root; a checkpoint's files live under the checkpoint root, the
 * directory above `chk-<id>`.
 *
 * Nothing in the file decides where the root is: a checkpoint's recorded `dir`
 * must be `chk-<id>` and name the directory the file really lies in (a forged
 * `"dir": "x/chk-3"` would otherwise make the root's parent the root), a local
 * directory is resolved to its real path first, and every file - `_metadata`
 * included - is read through a storage rooted there, which follows no link
 * below it.
 */
export async function openSnapshotDirectory(path: string): Promise<OpenedSnapshot> {
  const here = await realLocation(snapshotDirectoryOf(path))
  const directory = formatStorageLocation(here)
  const storage = open(here)
  const metadataFile = `${directory}/${METADATA_FILE_NAME}`
  let bytes: Buffer
  try {
    bytes = await storage.read(METADATA_FILE_NAME)
  } catch (e) {
    if (isKeyedStateError(e, 'MISSING_FILE')) {
      const exists = await directoryExists(here, storage)
      throw new KeyedStateError(
        'MISSING_FILE',
        exists && (await looksLikeRoot(storage))
          ? `${directory} is a checkpoint root, not one checkpoint: run \`keyed-state list ${path}\` to see what it holds, ` +
            `then name one (${childLocationText(path, 'chk-<id>')}, or \`${path} ${LATEST}\` for the newest)`
          : exists
            ? `${directory} has no ${METADATA_FILE_NAME}: it is not a complete checkpoint or savepoint (a checkpoint that never completed?)`
            : `${directory} does not exist`,
        { file: metadataFile },
      )
    }
    throw e
  }
  const recorded = decodeMetadata(bytes, metadataFile)
  if (recorded.type === 'savepoint') return { directory, storage, metadata: rebaseMetadata(recorded, '') }
  storage.close?.()
  // The coordinator writes a checkpoint's `_metadata` into chk-<id> directly below the checkpoint root, nowhere else.
  const expected = checkpointDirName(recorded.checkpointId)
  if (recorded.dir !== expected || lastSegmentOf(here) !== expected) {
    throw new KeyedStateError(
      'CORRUPTION',
      `${metadataFile} records directory '${recorded.dir}' for checkpoint ${recorded.checkpointId}, but lies in ${directory}; ` +
        `a checkpoint's ${METADATA_FILE_NAME} lies in ${expected}/ directly below its checkpoint root`,
      { file: metadataFile },
    )
  }
  return { directory, storage: open(parentLocation(here, 1)), metadata: recorded }
}
