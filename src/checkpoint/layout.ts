// Names of things in checkpoint storage. The directory names match the scopes
// of FileSystemCheckpointStorage (src/storage/paths.ts): `chk-<id>/` holds the
// files owned by one checkpoint, `shared/` the incremental SSTs that several
// checkpoints reference, savepoints live wherever the user points them.

export const METADATA_FILE_NAME = '_metadata'
export const SHARED_DIR = 'shared'
export const TASK_OWNED_DIR = 'taskowned'
export const DEFAULT_SAVEPOINT_PARENT = 'savepoints'
/** The checkpoint history (history.ts) at the storage root: kept by gc, not part of any checkpoint. */
export const HISTORY_FILE_NAME = '_checkpoint_history.jsonl'
/** A temporary file the file-system storage's writeAtomic left when a crash interrupted a history write. */
const HISTORY_TEMP_PATTERN = /^\._checkpoint_history\.jsonl\.[0-9a-f]+\.tmp$/

export function isHistoryTempFile(path: string): boolean {
  return HISTORY_TEMP_PATTERN.test(path)
}

const CHECKPOINT_DIR_PATTERN = /^chk-(0|[1-9][0-9]{0,15})$/

export function checkpointDirName(checkpointId: number): string {
  return `chk-${checkpointId}`
}

/** The checkpoint id of a top-level directory name like `chk-12`, or undefined for anything else. */
export function parseCheckpointDirName(name: string): number | undefined {
  const m = CHECKPOINT_DIR_PATTERN.exec(name)
  if (!m) return undefined
  const id = Number(m[1])
  return Number.isSafeInteger(id) ? id : undefined
}

export function metadataPathOf(dir: string): string {
  return dir === '' ? METADATA_FILE_NAME : `${dir}/${METADATA_FILE_NAME}`
}

/** Whether storage path `path` is `dir` itself or lies below it ('' contains everything). */
export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`)
}

/** The first path segment: the directory that scopes a file (`chk-3`, `shared`, ...). */
export function topLevelDir(path: string): string {
  const slash = path.indexOf('/')
  return slash < 0 ? '' : path.slice(0, slash)
}

export function parentDir(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash < 0 ? '' : path.slice(0, slash)
}
