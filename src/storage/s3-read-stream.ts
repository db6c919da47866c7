// Reading an object as a stream that survives dropped connections. The SDK
// retries a GET until its response starts; a connection reset in the middle
// of the body reaches the reader instead. This stream then asks again for the
// bytes it has not delivered yet (a ranged GET pinned to the first response's
// ETag, so a replaced object is never stitched to the old one), a bounded
// number of times with exponential backoff and full jitter.
import { Readable } from 'node:stream'
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3'
import { KeyedStateError } from '../errors.js'
import { fromS3Error, isTransientS3Error } from './s3-errors.js'

export interface ObjectRef {
  client: S3Client
  bucket: string
  key: string
  /** Storage path, for errors. */
  path: string
  /** "s3://bucket/key", for messages. */
  url: string
}

export interface ReadRetryPolicy {
  /** Times a body interrupted mid-way is asked for again. */
  resumesMax: number
  baseDelayMs: number
  maxDelayMs: number
}

/** Exponential backoff with full jitter (AWS's recommendation): random in [0, min(max, base * 2^attempt)). */
export function backoffDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt)
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Bytes [start, end) of an object (`end` undefined: to its end). */
export class S3ObjectReadStream extends Readable {
  private position: number
  private etag: string | undefined
  private body: Readable | undefined
  private opening = false
  private resumes = 0
  /** Where the body must end, from the first response's Content-Range. */
  private expectedEnd: number | undefined

  constructor(
    private readonly ref: ObjectRef,
    start: number,
    private readonly end: number | undefined,
    private readonly policy: ReadRetryPolicy,
    highWaterMark: number,
  ) {
    super({ highWaterMark })
    this.position = start
  }

  override _read(): void {
    if (this.body) {
      this.body.resume()
      return
    }
    if (!this.opening) void this.open()
  }

  private async open(): Promise<void> {
    this.opening = true
    try {
      if (this.end !== undefined && this.position >= this.end) {
        this.push(null)
        return
      }
      const range = `bytes=${this.position}-${this.end === undefined ? '' : this.end - 1}`
      let out: GetObjectCommandOutput
      try {
        // A read of the whole object asks for no range: an empty object has none (S3 answers 416, s3rver a 206 promising a byte it never sends).
        const whole = this.position === 0 && this.end === undefined
        out = await this.ref.client.send(new GetObjectCommand({ Bucket: this.ref.bucket, Key: this.ref.key, Range: whole ? undefined : range, IfMatch: this.etag }))
      } catch (e) {
        // A range that starts at the object's end is empty, not an error (S3 answers 416).
        if ((e as { name?: string }).name === 'InvalidRange' && this.etag === undefined) {
          this.push(null)
          return
        }
        if (this.etag !== undefined && (e as { name?: string }).name === 'PreconditionFailed') {
          throw new KeyedStateError('CORRUPTION', `${this.ref.url} was replaced while it was being read`, { file: this.ref.path, offset: this.position })
        }
        throw fromS3Error(e, this.ref.path, this.ref.url, 'reading')
      }
      if (this.destroyed) {
        // The reader went away while the request was on its way: free the connection.
        ;(out.Body as Readable | undefined)?.destroy()
        return
      }
      this.etag ??= out.ETag
      const contentRange = /^bytes (\d+)-(\d+)\//.exec(out.ContentRange ?? '')
      if (contentRange) {
        if (Number(contentRange[1]) !== this.position) throw new KeyedStateError('IO_ERROR', `reading ${this.ref.url}: asked for bytes from ${this.position}, the server sent ${out.ContentRange}`, { file: this.ref.path, offset: this.position })
        this.expectedEnd ??= Number(contentRange[2]) + 1
      } else if (this.position > 0 || this.end !== undefined) {
        // A server that ignores Range sends the whole object: those bytes are not the ones asked for.
        ;(out.Body as Readable | undefined)?.destroy()
        throw new KeyedStateError('IO_ERROR', `reading ${this.ref.url}: the server ignored the Range header (${range})`, { file: this.ref.path, offset: this.position })
      } else if (out.ContentLength !== undefined) {
        this.expectedEnd ??= out.ContentLength
      }
      this.attach(out.Body as Readable)
    } catch (e) {
      this.destroy(e as Error)
    } finally {
      this.opening = false
    }
  }

  private attach(body: Readable): void {
    this.body = body
    body.on('data', (chunk: Buffer) => {
      this.position += chunk.length
      if (!this.push(chunk)) body.pause()
    })
    body.once('end', () => {
      this.body = undefined
      body.removeAllListeners()
      // An HTTP body can end early without an error when the connection closes; ask for the rest.
      const end = this.expectedEnd ?? this.end
      if (end !== undefined && this.position < end) void this.retry(new Error(`body ended at ${this.position}, before ${end}`))
      else this.push(null)
    })
    body.once('error', (e: Error) => {
      this.body = undefined
      body.removeAllListeners()
      body.destroy()
      void this.retry(e)
    })
  }

  private async retry(cause: Error): Promise<void> {
    if (this.destroyed) return
    const transient = isTransientS3Error(cause) || /aborted|socket hang up|ended at/i.test(cause.message)
    if (!transient || this.resumes >= this.policy.resumesMax) {
      const e = transient
        ? new KeyedStateError('STORAGE_UNAVAILABLE', `reading ${this.ref.url}: the connection failed ${this.resumes + 1} time(s) mid-body (${cause.message})`, { file: this.ref.path, offset: this.position, cause })
        : fromS3Error(cause, this.ref.path, this.ref.url, 'reading')
      this.destroy(e)
      return
    }
    // Marked as opening during the pause, so that a _read() meanwhile does not start a second request.
    this.opening = true
    await sleep(backoffDelayMs(this.resumes++, this.policy.baseDelayMs, this.policy.maxDelayMs))
    if (this.destroyed) this.opening = false
    else await this.open()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.body?.destroy()
    this.body = undefined
    callback(error)
  }
}
