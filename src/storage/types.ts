// Checkpoint storage: where snapshot files live. Paths are relative to the
// storage root and never escape it: every method checks every path it is given
// (handles come from `_metadata` files, which may be forged), and a storage on
// a file system follows no symbolic link below its root. test/storage/suite is
// the conformance suite every implementation runs. Written so that an object store (S3) can
// implement it: streams in, streams out, list, delete.
import type { Readable } from 'node:stream'

export type StorageScope =
  | { kind: 'exclusive'; checkpointId: number }
  | { kind: 'shared' }
  | { kind: 'taskowned' }
  | { kind: 'savepoint'; dir: string }

export interface StorageOutput {
  /** Storage-relative path the file will have once committed. */
  readonly path: string
  /** Appends `chunk`; the caller may reuse `chunk` once the promise resolves (implementations copy or finish with it first). */
  write(chunk: Uint8Array): Promise<void>
  readonly bytesWritten: number
  /** Flushes, fsyncs and renames into place; returns the final size. */
  commit(): Promise<number>
  /** Deletes whatever was written. Safe to call after commit (deletes the committed file). */
  discard(): Promise<void>
}

export interface StoredEntry {
  path: string
  sizeBytes: number
  mtimeMs: number
}

/** A multipart upload an object store still holds parts of. */
export interface IncompleteUpload {
  path: string
  uploadId: string
  initiatedMs: number
}

export interface UploadOptions {
  /** Cancels the upload (a cancelled checkpoint passes its own). */
  signal?: AbortSignal
}

export interface CheckpointStorage {
  /** A description for messages, e.g. the root directory. */
  readonly location: string
  create(scope: StorageScope, name: string): Promise<StorageOutput>
  /**
   * Copies a local file in (used for SST uploads); returns its storage path.
   * When `options.signal` fires, the copy stops where it is (an S3 multipart
   * upload is aborted), what was written is removed, and the call rejects
   * with CANCELLED.
   */
  upload(scope: StorageScope, name: string, localPath: string, options?: UploadOptions): Promise<{ path: string; sizeBytes: number; crc32: number }>
  read(path: string): Promise<Buffer>
  /** `length` bytes at `offset`; fewer only when the file ends first (readers turn that into TRUNCATED). */
  readRange(path: string, offset: number, length: number): Promise<Buffer>
  openReadStream(path: string, offset?: number): Readable
  /** Copies a stored file to a local path (restore of SSTs). */
  download(path: string, localPath: string): Promise<void>
  size(path: string): Promise<number>
  exists(path: string): Promise<boolean>
  delete(path: string): Promise<void>
  /** All files below a storage-relative directory ('' for everything). */
  list(prefix: string): Promise<StoredEntry[]>
  /** Writes a small file atomically (temp, fsync, rename, fsync dir). */
  writeAtomic(path: string, data: Uint8Array): Promise<void>
  /** Deletes many files (object stores batch them); missing files are not an error. Callers fall back to delete(). */
  deleteMany?(paths: readonly string[]): Promise<{ deleted: string[]; failed: { path: string; error: string }[] }>
  /** Object stores: uploads started and never completed or aborted, for gc. */
  listIncompleteUploads?(): Promise<IncompleteUpload[]>
  abortIncompleteUpload?(upload: IncompleteUpload): Promise<void>
  /** Releases connections; the storage is not used afterwards. */
  close?(): void
  /** Absolute local path of a storage path, for tools and messages; undefined on remote storage. Never use it to touch the file (it is not checked for links). */
  localPath?(path: string): string
  /** Removes a directory if it is empty, on storage that has directories; never follows a link. */
  removeEmptyDirectory?(path: string): Promise<void>
}
