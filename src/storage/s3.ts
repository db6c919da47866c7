// Checkpoint storage on Amazon S3 or any S3-compatible object store, with the
// official SDK. The layout under `s3://bucket/prefix/` is the file system's
// (chk-<id>/, shared/, taskowned/, savepoints), so every tool and every
// `_metadata` works on both.
//
// What the SDK does: signing, the credential/region/endpoint chain, and
// retries of each request (5xx, SlowDown and other throttling, connection
// resets, timeouts) with exponential backoff and jitter, at most `maxAttempts`
// tries each with `requestTimeoutMs`. What this file adds: keys confined to
// the prefix, streaming in and out (bounded memory), resuming a body cut off
// mid-way, paginated listing, batched deletes, and typed errors naming the object.
import { createReadStream } from 'node:fs'
import { mkdir, open, rename, rm } from 'node:fs/promises'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { basename, dirname, join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { crc32 } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
import { fromFsError, KeyedStateError } from '../errors.js'
import { checkKnownOptions } from '../option-checks.js'
import { throwIfUploadCancelled } from './output-base.js'
import { checkFileName, normalizeStoragePath, scopeDirectory } from './paths.js'
import type { CheckpointStorage, IncompleteUpload, StorageScope, StoredEntry, UploadOptions } from './types.js'
import { fromS3Error, isNotFound } from './s3-errors.js'
import { S3StorageOutput, type UploadSettings } from './s3-output.js'
import { S3ObjectReadStream, type ObjectRef, type ReadRetryPolicy } from './s3-read-stream.js'

export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED'

export interface S3CheckpointStorageOptions {
  bucket: string
  /** Key prefix the storage lives under ('' or omitted: the whole bucket). */
  prefix?: string
  /** e.g. http://127.0.0.1:9000 for an S3-compatible server; default: the SDK's chain (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, profile). */
  endpoint?: string
  /** Default: the SDK's chain (AWS_REGION, profile); 'us-east-1' when none is set. */
  region?: string
  /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
  forcePathStyle?: boolean
  /** Default: the SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles). */
  credentials?: S3ClientConfig['credentials']
  /** A client of your own; the connection options above must then be left out. */
  client?: S3Client
  /** Request checksums; servers that do not know the newer checksum headers need 'WHEN_REQUIRED'. Default: the SDK's. */
  requestChecksumCalculation?: ChecksumMode
  responseChecksumValidation?: ChecksumMode
  /** Tries per request, the first included (SDK retry strategy: exponential backoff with jitter). Default 5. */
  maxAttempts?: number
  /** A request whose socket stays idle this long fails (and is retried). Default 60 s. */
  requestTimeoutMs?: number
  /** Default 10 s. */
  connectionTimeoutMs?: number
  /** Connections to the server at once: every upload, download and part shares them. Default 16. */
  maxConnections?: number
  /** Files up to this size are one PUT; larger ones multipart uploads with parts of this size (>= 5 MiB). Default 8 MiB. */
  partSizeBytes?: number
  /** Parts of one multipart upload in flight at once. Default 4. */
  partConcurrency?: number
  /** Times a download cut off mid-body is resumed from where it stopped. Default 5. */
  readResumesMax?: number
}

const KNOWN_OPTIONS = new Set([
  'bucket', 'prefix', 'endpoint', 'region', 'forcePathStyle', 'credentials', 'client', 'requestChecksumCalculation',
  'responseChecksumValidation', 'maxAttempts', 'requestTimeoutMs', 'connectionTimeoutMs', 'maxConnections',
  'partSizeBytes', 'partConcurrency', 'readResumesMax',
])
const CLIENT_OPTIONS = ['endpoint', 'region', 'forcePathStyle', 'credentials', 'requestChecksumCalculation', 'responseChecksumValidation', 'maxAttempts', 'requestTimeoutMs', 'connectionTimeoutMs', 'maxConnections'] as const

/** S3's smallest part (all but the last). */
const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024
/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH_MAX = 1000
const READ_CHUNK_BYTES = 1024 * 1024

function checkInteger(o: S3CheckpointStorageOptions, name: keyof S3CheckpointStorageOptions, min: number): void {
  const v = o[name]
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `S3CheckpointStorage option ${name} must be an integer >= ${min}, got ${String(v)}`)
  }
}

function checkOptions(o: S3CheckpointStorageOptions): void {
  if (typeof o !== 'object' || o === null) throw new KeyedStateError('INVALID_ARGUMENT', 'S3CheckpointStorage needs an options object')
  checkKnownOptions(o, KNOWN_OPTIONS, 'S3CheckpointStorage option')
  // Bucket names: 3-63 of lower-case letters, digits, dots and hyphens (S3's rules; compatible servers accept a subset).
  if (typeof o.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(o.bucket)) {
    throw new KeyedStateError('INVALID_ARGUMENT', `S3CheckpointStorage needs a valid bucket name, got ${JSON.stringify(o.bucket)}`)
  }
  if (o.client !== undefined) {
    const both = CLIENT_OPTIONS.filter((k) => o[k] !== undefined)
    if (both.length > 0) throw new KeyedStateError('INVALID_ARGUMENT', `S3CheckpointStorage: ${both.join(', ')} cannot be given with a client (configure the client instead)`)
  }
  for (const m of ['requestChecksumCalculation', 'responseChecksumValidation'] as const) {
    if (o[m] !== undefined && o[m] !== 'WHEN_SUPPORTED' && o[m] !== 'WHEN_REQUIRED') {
      throw new KeyedStateError('INVALID_ARGUMENT', `S3CheckpointStorage option ${m} must be 'WHEN_SUPPORTED' or 'WHEN_REQUIRED', got ${JSON.stringify(o[m])}`)
    }
  }
  checkInteger(o, 'maxAttempts', 1)
  checkInteger(o, 'requestTimeoutMs', 1)
  checkInteger(o, 'connectionTimeoutMs', 1)
  checkInteger(o, 'maxConnections', 1)
  checkInteger(o, 'partSizeBytes', MIN_PART_SIZE_BYTES)
  checkInteger(o, 'partConcurrency', 1)
  checkInteger(o, 'readResumesMax', 0)
}

function makeClient(o: S3CheckpointStorageOptions): S3Client {
  const maxSockets = o.maxConnections ?? 16
  const config: S3ClientConfig = {
    maxAttempts: o.maxAttempts ?? 5,
    retryMode: 'standard',
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      requestTimeout: o.requestTimeoutMs ?? 60_000,
      connectionTimeout: o.connectionTimeoutMs ?? 10_000,
    },
  }
  if (o.endpoint !== undefined) config.endpoint = o.endpoint
  // The SDK needs some region even for a server that ignores it; the chain (AWS_REGION, profile) comes first.
  config.region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1'
  if (o.forcePathStyle !== undefined) config.forcePathStyle = o.forcePathStyle
  if (o.credentials !== undefined) config.credentials = o.credentials
  if (o.requestChecksumCalculation !== undefined) config.requestChecksumCalculation = o.requestChecksumCalculation
  if (o.responseChecksumValidation !== undefined) config.responseChecksumValidation = o.responseChecksumValidation
  return new S3Client(config)
}

export class S3CheckpointStorage implements CheckpointStorage {
  readonly bucket: string
  /** The normalized prefix ('' for the whole bucket), without a trailing '/'. */
  readonly prefix: string
  readonly client: S3Client
  private readonly ownsClient: boolean
  private readonly keyPrefix: string
  private readonly uploadSettings: UploadSettings
  private readonly readPolicy: ReadRetryPolicy

  constructor(options: S3CheckpointStorageOptions) {
    checkOptions(options)
    this.bucket = options.bucket
    this.prefix = options.prefix === undefined ? '' : normalizeStoragePath(options.prefix, true)
    this.keyPrefix = this.prefix === '' ? '' : `${this.prefix}/`
    this.ownsClient = options.client === undefined
    this.client = options.client ?? makeClient(options)
    this.uploadSettings = {
      client: this.client,
      bucket: this.bucket,
      partSizeBytes: options.partSizeBytes ?? 8 * 1024 * 1024,
      partConcurrency: options.partConcurrency ?? 4,
    }
    this.readPolicy = { resumesMax: options.readResumesMax ?? 5, baseDelayMs: 100, maxDelayMs: 5_000 }
  }

  get location(): string {
    return `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`
  }

  /** Closes the client's connections (only a client this storage made). */
  close(): void {
    if (this.ownsClient) this.client.destroy()
  }

  /** The object key of a storage path; the path is checked, so the key is always under the prefix. */
  keyOf(path: string): string {
    return this.keyPrefix + normalizeStoragePath(path)
  }

  private urlOf(key: string): string {
    return `s3://${this.bucket}/${key}`
  }

  /** The storage path of a listed key, or undefined for keys no storage path names ('a//b', 'a/./b'): never touched. */
  private pathOfKey(key: string): string | undefined {
    if (!key.startsWith(this.keyPrefix)) return undefined
    const path = key.slice(this.keyPrefix.length)
    try {
      return normalizeStoragePath(path) === path ? path : undefined
    } catch {
      return undefined
    }
  }

  private ref(path: string): ObjectRef {
    const key = this.keyOf(path)
    return { client: this.client, bucket: this.bucket, key, path, url: this.urlOf(key) }
  }

  async create(scope: StorageScope, name: string): Promise<S3StorageOutput> {
    checkFileName(name)
    const path = `${scopeDirectory(scope)}/${name}`
    const key = this.keyOf(path)
    return new S3StorageOutput(path, key, this.urlOf(key), this.uploadSettings)
  }

  async upload(scope: StorageScope, name: string, localPath: string, options?: UploadOptions): Promise<{ path: string; sizeBytes: number; crc32: number }> {
    const signal = options?.signal
    throwIfUploadCancelled(signal, localPath)
    const out = await this.create(scope, name)
    // A write waiting for a part to upload would only see the signal after it: end the upload body at once.
    const interrupt = (): void => out.interrupt()
    signal?.addEventListener('abort', interrupt, { once: true })
    let crc = 0
    try {
      try {
        for await (const chunk of createReadStream(localPath, { highWaterMark: READ_CHUNK_BYTES, signal }) as AsyncIterable<Buffer>) {
          crc = crc32(chunk, crc)
          await out.writeOwned(chunk)
        }
      } catch (e) {
        throwIfUploadCancelled(signal, localPath)
        throw e instanceof KeyedStateError ? e : fromFsError(e, localPath, 'reading for upload')
      }
      throwIfUploadCancelled(signal, localPath)
      const sizeBytes = await out.commit()
      return { path: out.path, sizeBytes, crc32: crc >>> 0 }
    } catch (e) {
      await out.discard().catch(() => {})
      // Cancelled during commit: the upload failed (or was deleted by discard) because of the signal.
      throwIfUploadCancelled(signal, localPath)
      throw e
    } finally {
      signal?.removeEventListener('abort', interrupt)
    }
  }

  openReadStream(path: string, offset = 0): Readable {
    return new S3ObjectReadStream(this.ref(path), offset, undefined, this.readPolicy, READ_CHUNK_BYTES)
  }

  private async collect(stream: Readable): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
    return Buffer.concat(chunks)
  }

  async read(path: string): Promise<Buffer> {
    return this.collect(this.openReadStream(path))
  }

  /** One ranged GET (resumed if cut off); fewer bytes only when the object ends first. */
  async readRange(path: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new KeyedStateError('INVALID_ARGUMENT', `readRange(${path}, ${offset}, ${length}): offset and length must be non-negative integers`, { file: path })
    }
    const ref = this.ref(path)
    if (length === 0) return Buffer.alloc(0)
    return this.collect(new S3ObjectReadStream(ref, offset, offset + length, this.readPolicy, READ_CHUNK_BYTES))
  }

  async download(path: string, localPath: string): Promise<void> {
    const source = this.openReadStream(path)
    const target = resolve(localPath)
    const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
    try {
      await mkdir(dirname(target), { recursive: true })
      await pipeline(source, (await open(temp, 'wx')).createWriteStream())
      const fh = await open(temp, 'r+')
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(temp, target)
    } catch (e) {
      source.destroy()
      await rm(temp, { force: true }).catch(() => {})
      throw e instanceof KeyedStateError ? e : fromFsError(e, target, `downloading ${this.ref(path).url} to`)
    }
  }

  private async head(path: string): Promise<{ sizeBytes: number; mtimeMs: number } | undefined> {
    const { bucket, key, url } = this.ref(path)
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      return { sizeBytes: out.ContentLength ?? 0, mtimeMs: out.LastModified?.getTime() ?? 0 }
    } catch (e) {
      if (isNotFound(e)) return undefined
      throw fromS3Error(e, path, url, 'checking')
    }
  }

  async size(path: string): Promise<number> {
    const found = await this.head(path)
    if (!found) throw new KeyedStateError('MISSING_FILE', `${this.ref(path).url} does not exist`, { file: path })
    return found.sizeBytes
  }

  async exists(path: string): Promise<boolean> {
    return (await this.head(path)) !== undefined
  }

  /** Deleting an object that does not exist is not an error (S3 answers 204 as well). */
  async delete(path: string): Promise<void> {
    const { bucket, key, url } = this.ref(path)
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
    } catch (e) {
      throw fromS3Error(e, path, url, 'deleting')
    }
  }

  /** DeleteObjects, up to 1,000 keys a request. */
  async deleteMany(paths: readonly string[]): Promise<{ deleted: string[]; failed: { path: string; error: string }[] }> {
    const keys = paths.map((p) => ({ path: p, key: this.keyOf(p) }))
    const deleted: string[] = []
    const failed: { path: string; error: string }[] = []
    for (let i = 0; i < keys.length; i += DELETE_BATCH_MAX) {
      const batch = keys.slice(i, i + DELETE_BATCH_MAX)
      const pathOf = new Map(batch.map((b) => [b.key, b.path]))
      let errors: { Key?: string; Code?: string; Message?: string }[]
      try {
        const out = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((b) => ({ Key: b.key })), Quiet: true } }),
        )
        errors = out.Errors ?? []
      } catch (e) {
        throw fromS3Error(e, batch[0]!.path, `${batch.length} object(s) from ${this.urlOf(batch[0]!.key)} on`, 'deleting')
      }
      const failedKeys = new Set<string>()
      for (const err of errors) {
        if (err.Key === undefined || !pathOf.has(err.Key)) continue
        failedKeys.add(err.Key)
        failed.push({ path: pathOf.get(err.Key)!, error: `${err.Code ?? 'error'}: ${err.Message ?? ''}` })
      }
      for (const b of batch) if (!failedKeys.has(b.key)) deleted.push(b.path)
    }
    return { deleted, failed }
  }

  /** Every object below a directory (ListObjectsV2, page by page); a prefix naming an object lists that object. */
  async list(prefix: string): Promise<StoredEntry[]> {
    const dir = normalizeStoragePath(prefix, true)
    const listPrefix = dir === '' ? this.keyPrefix : `${this.keyPrefix}${dir}/`
    const out: StoredEntry[] = []
    try {
      for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: listPrefix })) {
        for (const o of page.Contents ?? []) {
          const path = o.Key === undefined ? undefined : this.pathOfKey(o.Key)
          if (path !== undefined) out.push({ path, sizeBytes: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 })
        }
      }
    } catch (e) {
      throw fromS3Error(e, dir, this.urlOf(listPrefix), 'listing')
    }
    if (out.length === 0 && dir !== '') {
      const single = await this.head(dir)
      if (single) return [{ path: dir, ...single }]
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  /** One PUT: S3 makes an object visible whole or not at all. */
  async writeAtomic(path: string, data: Uint8Array): Promise<void> {
    const { bucket, key, url } = this.ref(path)
    try {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }))
    } catch (e) {
      throw fromS3Error(e, path, url, 'writing')
    }
  }

  /** Multipart uploads under the prefix that were neither completed nor aborted (a crash mid-upload leaves them, and they cost storage). */
  async listIncompleteUploads(): Promise<IncompleteUpload[]> {
    const out: IncompleteUpload[] = []
    try {
      let markers: { KeyMarker?: string; UploadIdMarker?: string } = {}
      for (;;) {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.keyPrefix, ...markers }))
        for (const u of page.Uploads ?? []) {
          const path = u.Key === undefined ? undefined : this.pathOfKey(u.Key)
          if (path !== undefined && u.UploadId !== undefined) out.push({ path, uploadId: u.UploadId, initiatedMs: u.Initiated?.getTime() ?? 0 })
        }
        if (!page.IsTruncated) break
        markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker }
      }
    } catch (e) {
      throw fromS3Error(e, '', this.urlOf(this.keyPrefix), 'listing multipart uploads under')
    }
    return out
  }

  async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    const { bucket, key, url } = this.ref(upload.path)
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId }))
    } catch (e) {
      if (isNotFound(e)) return
      throw fromS3Error(e, upload.path, url, `aborting multipart upload ${upload.uploadId} of`)
    }
  }
}
