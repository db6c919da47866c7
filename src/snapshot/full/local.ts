// Local recovery copies of full checkpoints live in <localRecoveryDir>/chk-<id>/.
import { FileSystemCheckpointStorage } from '../../storage/fs.js'
import type { LocalStateHandle } from '../types.js'

/** Deletes a local copy (when a newer checkpoint completed) and its directory once empty. */
export async function deleteLocalSnapshot(local: LocalStateHandle): Promise<void> {
  if (local.type !== 'local-full' || local.handle.type !== 'full') return
  const storage = new FileSystemCheckpointStorage(local.directory)
  const path = local.handle.file.path
  await storage.delete(path)
  // Other copies (another key-group range of the same checkpoint) may share the directory: only an empty one goes.
  const slash = path.lastIndexOf('/')
  if (slash > 0) await storage.removeEmptyDirectory(path.slice(0, slash))
}
