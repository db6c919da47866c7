// Local recovery copies of full checkpoints live in <localRecoveryDir>/chk-<id>/.
import { dirname, join } from 'node:path'
import { rmdir } from 'node:fs/promises'
import { FileSystemCheckpointStorage } from '../../storage/fs.js'
import type { LocalStateHandle } from '../types.js'

/** Deletes a local copy (when a newer checkpoint completed) and its directory once empty. */
export async function deleteLocalSnapshot(local: LocalStateHandle): Promise<void> {
  if (local.type !== 'local-full' || local.handle.type !== 'full') return
  const storage = new FileSystemCheckpointStorage(local.directory)
  await storage.delete(local.handle.file.path)
  // Other copies (another key-group range of the same checkpoint) may share the directory.
  const dir = dirname(join(storage.root, local.handle.file.path))
  if (dir !== storage.root) await rmdir(dir).catch(() => {})
}
