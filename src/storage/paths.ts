// Storage paths are relative, '/'-separated and never leave the storage root.
// Handles come from `_metadata` files that may have been edited or forged, so
// every storage method checks every path it is given, not only the writers.
import { posix, win32 } from 'node:path'
import { KeyedStateError } from '../errors.js'
import type { StorageScope } from './types.js'

function escape(path: string, why: string): KeyedStateError {
  return new KeyedStateError('PATH_ESCAPE', `storage path ${JSON.stringify(path)} ${why}`, { file: path })
}

/**
 * Normalizes a storage-relative path ('a/./b' → 'a/b') and refuses absolute
 * paths and paths that leave the root. '' (the root itself) only when `allowRoot`.
 */
export function normalizeStoragePath(path: string, allowRoot = false): string {
  if (typeof path !== 'string') throw new KeyedStateError('INVALID_ARGUMENT', `storage path must be a string, got ${typeof path}`)
  if (path.includes('\0')) throw escape(path, 'contains a NUL byte')
  // A backslash is a separator on Windows; refusing it keeps one meaning for every platform.
  if (path.includes('\\')) throw escape(path, 'contains a backslash (storage paths use /)')
  if (posix.isAbsolute(path) || win32.isAbsolute(path)) throw escape(path, 'is absolute (storage paths are relative to the root)')
  const normalized = posix.normalize(path === '' ? '.' : path).replace(/\/+$/, '')
  if (normalized === '..' || normalized.startsWith('../')) throw escape(path, 'escapes the storage root')
  if (normalized === '.' || normalized === '') {
    if (allowRoot) return ''
    throw escape(path, 'names the storage root itself, not a file')
  }
  return normalized
}

/** A file name inside a scope directory: one path segment. */
export function checkFileName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new KeyedStateError('PATH_ESCAPE', `file name ${JSON.stringify(name)} must be a single path segment`, { file: String(name) })
  }
}

/** The storage-relative directory of a scope. */
export function scopeDirectory(scope: StorageScope): string {
  switch (scope.kind) {
    case 'exclusive':
      if (!Number.isSafeInteger(scope.checkpointId) || scope.checkpointId < 0) {
        throw new KeyedStateError('INVALID_ARGUMENT', `checkpoint id must be a non-negative integer, got ${scope.checkpointId}`)
      }
      return `chk-${scope.checkpointId}`
    case 'shared':
      return 'shared'
    case 'taskowned':
      return 'taskowned'
    case 'savepoint':
      return normalizeStoragePath(scope.dir)
    default:
      throw new KeyedStateError('INVALID_ARGUMENT', `unknown storage scope ${JSON.stringify(scope)}`)
  }
}
