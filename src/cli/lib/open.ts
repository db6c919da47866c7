// Finding a checkpoint or savepoint on disk from a path the user typed.
import { readFile, stat } from 'node:fs/promises'
import { basename, dirname, resolve, sep } from 'node:path'
import { METADATA_FILE_NAME } from '../../checkpoint/layout.js'
import { decodeMetadata, rebaseMetadata, type CheckpointMetadata } from '../../checkpoint/metadata.js'
import { fromFsError, KeyedStateError } from '../../errors.js'
import { FileSystemCheckpointStorage } from '../../storage/fs.js'

export interface OpenedSnapshot {
  /** The directory the user named (absolute). */
  directory: string
  /** Storage rooted where the metadata's paths resolve: the checkpoint root, or the savepoint itself. */
  storage: FileSystemCheckpointStorage
  metadata: CheckpointMetadata
}

export async function openStorageRoot(root: string): Promise<FileSystemCheckpointStorage> {
  const abs = resolve(root)
  let st
  try {
    st = await stat(abs)
  } catch (e) {
    throw fromFsError(e, abs, 'opening checkpoint root')
  }
  if (!st.isDirectory()) throw new KeyedStateError('INVALID_ARGUMENT', `${abs} is not a directory`, { file: abs })
  return new FileSystemCheckpointStorage(abs)
}

/**
 * Opens `<dir>/_metadata` (or the `_metadata` file itself). A savepoint is
 * self-contained, so its own directory is the root; a checkpoint's files live
 * under the checkpoint root, the directory above `chk-<id>`.
 */
export async function openSnapshotDirectory(path: string): Promise<OpenedSnapshot> {
  let directory = resolve(path)
  if (basename(directory) === METADATA_FILE_NAME) directory = dirname(directory)
  const metadataFile = `${directory}${sep}${METADATA_FILE_NAME}`
  let bytes: Buffer
  try {
    bytes = await readFile(metadataFile)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const dirExists = await stat(directory).then((s) => s.isDirectory(), () => false)
      throw new KeyedStateError(
        'MISSING_FILE',
        dirExists
          ? `${directory} has no ${METADATA_FILE_NAME}: it is not a complete checkpoint or savepoint (a checkpoint that never completed?)`
          : `${directory} does not exist`,
        { file: metadataFile },
      )
    }
    throw fromFsError(e, metadataFile, 'reading')
  }
  const recorded = decodeMetadata(bytes, metadataFile)
  if (recorded.type === 'savepoint') {
    return { directory, storage: new FileSystemCheckpointStorage(directory), metadata: rebaseMetadata(recorded, '') }
  }
  // The recorded directory is relative to the checkpoint root: climb as many levels as it has.
  const depth = recorded.dir === '' ? 0 : recorded.dir.split('/').length
  let root = directory
  for (let i = 0; i < depth; i++) root = dirname(root)
  const relativeDir = directory.slice(root.length + (root.endsWith(sep) ? 0 : 1)).split(sep).join('/')
  return { directory, storage: new FileSystemCheckpointStorage(root), metadata: rebaseMetadata(recorded, relativeDir) }
}
