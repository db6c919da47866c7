// Reporting local recovery files a restore did not use. A damaged local copy
// never fails a restore (checkpoint storage holds the same files), but it must
// not go unnoticed either: a disk that damages files is worth knowing about.
// The backend option onLocalFallback receives each one; without it they become
// process warnings.
import { join } from 'node:path'
import type { FullSnapshotHandle, LocalRecoveryFallback, LocalStateHandle } from './types.js'

export type LocalFallbackReporter = (fallback: LocalRecoveryFallback) => void

export const LOCAL_FALLBACK_WARNING_CODE = 'KEYED_STATE_LOCAL_FALLBACK'

function warn(f: LocalRecoveryFallback): void {
  process.emitWarning(`local recovery file ${f.file} of checkpoint ${f.checkpointId} not used (${f.reason}); read from checkpoint storage instead`, {
    code: LOCAL_FALLBACK_WARNING_CODE,
  })
}

/** The backend's reporter: the user's callback, or a process warning. */
export function localFallbackReporter(option: LocalFallbackReporter | undefined): LocalFallbackReporter {
  return option ?? warn
}

/** Adapts a reporter to the full-snapshot restore's callback (the local file is the handle's file in the copy's directory). */
export function fullLocalFallback(report: LocalFallbackReporter): (local: LocalStateHandle, error: unknown) => void {
  return (local, error) =>
    report({
      checkpointId: local.checkpointId,
      file: join(local.directory, (local.handle as FullSnapshotHandle).file.path),
      reason: (error as Error)?.message ?? String(error),
      error,
    })
}
