// One error family for the whole library. Callers branch on `code`, never on
// the message; the message names the state, file or offset involved.

/** Every code, at run time too (the README's error table lists each one; a test checks it). */
export const ERROR_CODES = [
  'NOT_FOUND',
  'CORRUPTION',
  'IO_ERROR',
  'INVALID_ARGUMENT',
  'NOT_SUPPORTED',
  'BUSY',
  'ABORTED',
  'CLOSED',
  'KEY_GROUP_RANGE',
  'NO_CURRENT_KEY',
  'STATE_CONFLICT',
  'SERIALIZER_MISMATCH',
  'UNKNOWN_STATE',
  'CHECKSUM_MISMATCH',
  'TRUNCATED',
  'MISSING_FILE',
  'PATH_ESCAPE',
  'CANCELLED',
  'DISK_FULL',
  'STORAGE_UNAVAILABLE',
  'ACCESS_DENIED',
  'NATIVE_UNAVAILABLE',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

export interface ErrorDetails {
  state?: string
  file?: string
  offset?: number
  keyGroup?: number
  cause?: unknown
}

export class KeyedStateError extends Error {
  readonly code: ErrorCode
  readonly state?: string
  readonly file?: string
  readonly offset?: number
  readonly keyGroup?: number

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.code = code
    if (details.state !== undefined) this.state = details.state
    if (details.file !== undefined) this.file = details.file
    if (details.offset !== undefined) this.offset = details.offset
    if (details.keyGroup !== undefined) this.keyGroup = details.keyGroup
  }
}

/** The current key belongs to a key group this backend does not own. */
export class KeyGroupRangeError extends KeyedStateError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('KEY_GROUP_RANGE', message, details)
  }
}

/** A state was registered again with a different kind or serializer, or restored with an incompatible one. */
export class StateConflictError extends KeyedStateError {}

/** Use of a backend, state, iterator or database after it was closed. */
export class ClosedError extends KeyedStateError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`)
  }
}

/** Snapshot bytes that fail their checksum, end too early or do not parse. */
export class CorruptSnapshotError extends KeyedStateError {}

/** A snapshot run that was cancelled; its files were deleted. */
export class CancelledError extends KeyedStateError {
  constructor(message: string) {
    super('CANCELLED', message)
  }
}

/** Errors raised by RocksDB through the addon, with the status code mapped. */
export class NativeError extends KeyedStateError {}

export function isKeyedStateError(e: unknown, code?: ErrorCode): e is KeyedStateError {
  return e instanceof KeyedStateError && (code === undefined || e.code === code)
}

/** Maps an fs error (ENOSPC, ENOENT, ...) to a typed error that names the file. */
export function fromFsError(e: unknown, file: string, what: string): KeyedStateError {
  const errno = (e as NodeJS.ErrnoException)?.code
  const code: ErrorCode =
    errno === 'ENOENT' ? 'MISSING_FILE' : errno === 'ENOSPC' || errno === 'EDQUOT' ? 'DISK_FULL' : 'IO_ERROR'
  const reason = e instanceof Error ? e.message : String(e)
  return new KeyedStateError(code, `${what} ${file}: ${reason}`, { file, cause: e })
}
