// Maps what the AWS SDK throws to the library's typed errors, naming the
// object. The SDK has already retried what it retries (5xx, throttling such
// as SlowDown, connection resets and timeouts, with exponential backoff and
// jitter, bounded by `maxAttempts`); an error that still arrives here is final.
import { KeyedStateError, type ErrorCode } from '../errors.js'

interface SdkErrorShape {
  name?: string
  code?: string
  message?: string
  $fault?: 'client' | 'server'
  $retryable?: unknown
  $metadata?: { httpStatusCode?: number; attempts?: number; totalRetryDelay?: number }
}

/** Connection-level failures Node reports by errno: transient, as the SDK's retry strategy treats them. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH'])
const THROTTLING_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'ProvisionedThroughputExceededException'])
const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload'])

function shapeOf(e: unknown): SdkErrorShape {
  return typeof e === 'object' && e !== null ? (e as SdkErrorShape) : {}
}

/** True for failures a later attempt may not see: server faults, throttling, dropped connections, timeouts. */
export function isTransientS3Error(e: unknown): boolean {
  const s = shapeOf(e)
  const status = s.$metadata?.httpStatusCode
  if (s.name !== undefined && THROTTLING_NAMES.has(s.name)) return true
  if (status !== undefined && (status >= 500 || status === 429)) return true
  if (s.code !== undefined && TRANSIENT_NETWORK_CODES.has(s.code)) return true
  return s.name === 'TimeoutError' || s.name === 'RequestTimeout' || s.name === 'RequestTimeoutException'
}

export function isNotFound(e: unknown): boolean {
  const s = shapeOf(e)
  return (s.name !== undefined && NOT_FOUND_NAMES.has(s.name)) || s.$metadata?.httpStatusCode === 404
}

/**
 * A typed error for a failed S3 request on `what` (bucket and key, for the
 * message) at storage path `file`: MISSING_FILE, ACCESS_DENIED,
 * STORAGE_UNAVAILABLE (transient failures that outlasted the retries) or IO_ERROR.
 */
export function fromS3Error(e: unknown, file: string, what: string, doing: string): KeyedStateError {
  if (e instanceof KeyedStateError) return e
  const s = shapeOf(e)
  const status = s.$metadata?.httpStatusCode
  const attempts = s.$metadata?.attempts
  let code: ErrorCode = 'IO_ERROR'
  if (isNotFound(e)) code = 'MISSING_FILE'
  else if (s.name === 'AccessDenied' || s.name === 'InvalidAccessKeyId' || s.name === 'SignatureDoesNotMatch' || status === 403) code = 'ACCESS_DENIED'
  else if (isTransientS3Error(e)) code = 'STORAGE_UNAVAILABLE'
  const detail = [s.name ?? s.code, status === undefined ? undefined : `HTTP ${status}`, attempts === undefined ? undefined : `${attempts} attempt(s)`]
    .filter((x) => x !== undefined)
    .join(', ')
  return new KeyedStateError(code, `${doing} ${what}: ${s.message ?? String(e)}${detail ? ` (${detail})` : ''}`, { file, cause: e })
}
