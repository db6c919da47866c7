// Local recovery for incremental checkpoints: the native checkpoint directory
// itself is the local copy (its SSTs are hard links to the working database's
// files, so keeping it costs disk only for files the database has since
// compacted away). Layout, next to the full snapshots' local copies:
//
//   <localRecoveryDir>/chk-<id>/inc-<token>/   000012.sst ... MANIFEST-* CURRENT OPTIONS-* keyed-state-meta.json
import { rmdir, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { LocalStateHandle } from '../../snapshot/types.js'

export function localCheckpointDir(localRecoveryDir: string, checkpointId: number, token: string): string {
  return join(resolve(localRecoveryDir), `chk-${checkpointId}`, `inc-${token}`)
}

/** Deletes a local copy, and its chk-<id> directory once no other copy (another key-group range) is left in it. */
export async function deleteLocalCheckpointDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  await rmdir(dirname(dir)).catch(() => {})
}

export async function deleteLocalIncrementalSnapshot(local: LocalStateHandle): Promise<void> {
  if (local.type !== 'local-incremental') return
  await deleteLocalCheckpointDir(local.directory)
}
