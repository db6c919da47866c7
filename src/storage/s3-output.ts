// A file being written to S3. Bytes flow through a bounded stream into the
// SDK's managed upload (@aws-sdk/lib-storage): a file smaller than one part
// becomes a single PUT, a larger one a multipart upload with a few parts in
// flight. Either way the object appears only once complete. discard() before
// commit ends the body with an error, which makes the upload abort its
// multipart upload; after commit it deletes the object.
import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import { AbortMultipartUploadCommand, DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { KeyedStateError } from '../errors.js'
import { SerialStorageOutput } from './output-base.js'
import type { StorageOutput } from './types.js'
import { fromS3Error } from './s3-errors.js'

export interface UploadSettings {
  client: S3Client
  bucket: string
  partSizeBytes: number
  /** Parts of one upload in flight at once. */
  partConcurrency: number
}

export class S3StorageOutput extends SerialStorageOutput implements StorageOutput {
  private readonly body: PassThrough
  private readonly upload: Upload
  private readonly done: Promise<unknown>
  /** interrupt() stopped the managed upload itself (its body was already complete). */
  private uploadAborted = false
  /** commit() ended the body: from then on the object may exist under its final key. */
  private completionAttempted = false

  constructor(
    readonly path: string,
    private readonly key: string,
    private readonly url: string,
    private readonly settings: UploadSettings,
  ) {
    super()
    // One part buffered here at most; lib-storage holds up to partConcurrency more while they upload.
    this.body = new PassThrough({ highWaterMark: settings.partSizeBytes })
    this.upload = new Upload({
      client: settings.client,
      params: { Bucket: settings.bucket, Key: key, Body: this.body },
      partSize: settings.partSizeBytes,
      queueSize: settings.partConcurrency,
      leavePartsOnError: false,
    })
    this.done = this.upload.done()
    // Observed by write/commit/discard; never an unhandled rejection.
    this.done.catch(() => {})
  }

  write(chunk: Uint8Array): Promise<void> {
    // The caller may reuse `chunk` once this resolves, while the upload may still hold it: copy.
    return this.writeOwned(Buffer.from(chunk))
  }

  /** write() for a chunk nobody else will touch (a fresh read buffer): no copy. */
  writeOwned(chunk: Buffer): Promise<void> {
    return this.serialize(async () => {
      this.assertOpen('write to')
      if (chunk.length === 0) return
      this.written += chunk.length
      if (!this.body.write(chunk)) {
        try {
          // A failed upload never drains the body: wait for whichever comes first.
          await Promise.race([once(this.body, 'drain'), this.done])
        } catch (e) {
          throw fromS3Error(e, this.path, this.url, 'uploading')
        }
      }
    })
  }

  commit(): Promise<number> {
    return this.serialize(async () => {
      this.assertOpen('commit of')
      this.completionAttempted = true
      this.body.end()
      try {
        await this.done
      } catch (e) {
        throw fromS3Error(e, this.path, this.url, 'uploading')
      }
      this.state = 'committed'
      return this.written
    })
  }

  /**
   * Ends the upload body with an error now, not after the operations queued
   * before it (a write may be waiting for a part to upload): the write or
   * commit in progress fails and the multipart upload is aborted. discard()
   * still follows to settle and clean up.
   */
  interrupt(): void {
    if (!this.body.writableFinished) {
      this.body.destroy(new KeyedStateError('CANCELLED', `upload of ${this.url} cancelled`, { file: this.path }))
    } else if (this.state !== 'committed' && !this.uploadAborted) {
      // commit() ended the body and lib-storage holds the last parts: ending the body changes
      // nothing then, and the upload would send every part and complete the object (measured: a
      // 12 MiB SST cancelled at its first part was uploaded whole, then deleted). Stop the upload.
      this.uploadAborted = true
      void this.upload.abort()
    }
  }

  discard(): Promise<void> {
    return this.serialize(async () => {
      this.state = 'discarded'
      // Ending the body with an error makes every part uploader stop; lib-storage then aborts the multipart upload.
      this.interrupt()
      await this.done.catch(() => {})
      // An aborted Upload settles at once and sends its own AbortMultipartUpload only after its
      // parts in flight return: abort it here, so no open upload outlives discard().
      if (this.uploadAborted && this.upload.uploadId !== undefined) await this.abortMultipartUpload(this.upload.uploadId)
      // Before commit nothing exists under the key (and an older object there is not ours to delete).
      if (!this.completionAttempted) return
      // After commit the object exists; after a failed completion it may (the answer can be lost): delete either way.
      try {
        await this.settings.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key }))
      } catch (e) {
        throw fromS3Error(e, this.path, this.url, 'deleting')
      }
    })
  }

  private async abortMultipartUpload(uploadId: string): Promise<void> {
    try {
      await this.settings.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.key, UploadId: uploadId }))
    } catch (e) {
      const error = fromS3Error(e, this.path, this.url, 'aborting the multipart upload of')
      // Already aborted (by lib-storage) or completed: nothing is left open.
      if (error.code !== 'MISSING_FILE' && error.code !== 'NOT_FOUND') throw error
    }
  }
}
