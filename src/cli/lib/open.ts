// Finding checkpoint storage and a checkpoint or savepoint in it from what the
// user typed: a path, a file:// URL or s3://bucket/prefix. For s3:// the SDK's
// chain gives credentials, region and endpoint (AWS_ENDPOINT_URL_S3 for an
// S3-compatible server, with KEYED_STATE_S3_PATH_STYLE=1).
import { stat } from 'node:fs/promises'
import { METADATA_FILE_NAME } from '../../checkpoint/layout.js'
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
    let st
    try {
      st = await stat(l.dir)
    } catch (e) {
      throw fromFsError(e, l.dir, 'opening checkpoint root')
    }
    if (!st.isDirectory()) throw new KeyedStateError('INVALID_ARGUMENT', `${l.dir} is not a directory`, { file: l.dir })
  }
  return open(l)
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

/**
 * Opens `<dir>/_metadata`. A savepoint is self-contained, so its own directory
 * is the root; a checkpoint's files live under the checkpoint root, the
 * directory above `chk-<id>`.
 */
export async function openSnapshotDirectory(path: string): Promise<OpenedSnapshot> {
  const here = snapshotDirectoryOf(path)
  const directory = formatStorageLocation(here)
  const storage = open(here)
  const metadataFile = `${directory}/${METADATA_FILE_NAME}`
  let bytes: Buffer
  try {
    bytes = await storage.read(METADATA_FILE_NAME)
  } catch (e) {
    if (isKeyedStateError(e, 'MISSING_FILE')) {
      throw new KeyedStateError(
        'MISSING_FILE',
        (await directoryExists(here, storage))
          ? `${directory} has no ${METADATA_FILE_NAME}: it is not a complete checkpoint or savepoint (a checkpoint that never completed?)`
          : `${directory} does not exist`,
        { file: metadataFile },
      )
    }
    throw e
  }
  const recorded = decodeMetadata(bytes, metadataFile)
  if (recorded.type === 'savepoint') return { directory, storage, metadata: rebaseMetadata(recorded, '') }
  // The recorded directory is relative to the checkpoint root: climb as many levels as it has.
  const depth = recorded.dir === '' ? 0 : recorded.dir.split('/').length
  const root = parentLocation(here, depth)
  storage.close?.()
  const rootText = formatStorageLocation(root)
  const relativeDir = directory === rootText ? '' : directory.slice(rootText.length + (rootText.endsWith('/') ? 0 : 1))
  return { directory, storage: open(root), metadata: rebaseMetadata(recorded, relativeDir) }
}
