// Checkpoint storage on a local or mounted file system.
//
// Layout under the root:
//   chk-<id>/     files owned by one checkpoint (full snapshots, private RocksDB files, _metadata)
//   shared/       incremental SST files, referenced by several checkpoints
//   taskowned/    files owned by the task rather than a checkpoint
//   <dir>/        savepoints, wherever the user points them
//
// Every file is written under a temporary name in its final directory, fsynced,
// renamed into place and the directory fsynced (stage-rename-fsync, as RocksDB
// does for checkpoints): a crash leaves either the complete file or a temporary
// one, never a torn file under the final name.
import { randomBytes } from 'node:crypto'
import { createWriteStream, type ReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { crc32 } from 'node:zlib'
import { fromFsError, KeyedStateError } from '../errors.js'
import { checkFileName, normalizeStoragePath, scopeDirectory } from './paths.js'
import type { CheckpointStorage, StorageOutput, StorageScope, StoredEntry } from './types.js'

/** Read size for streams and copies: large enough for throughput, small enough to bound memory. */
const COPY_CHUNK_BYTES = 1024 * 1024

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code
}

function tempNameFor(name: string): string {
  return `.${name}.${randomBytes(6).toString('hex')}.tmp`
}

/** Fsyncs a directory so a rename or create inside it survives a crash. */
export async function fsyncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch (e) {
    // Some platforms and file systems cannot fsync a directory; the rename is still atomic there.
    const code = errnoOf(e)
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw fromFsError(e, dir, 'syncing directory')
  } finally {
    await fh?.close().catch(() => {})
  }
}

/** mkdir -p that also fsyncs the parents of every directory it created. */
export async function ensureDirectory(dir: string): Promise<void> {
  let firstCreated: string | undefined
  try {
    firstCreated = await mkdir(dir, { recursive: true })
  } catch (e) {
    throw fromFsError(e, dir, 'creating directory')
  }
  if (firstCreated === undefined) return
  // Each created directory's entry lives in its parent: fsync from the parent of the top one down to dir's parent.
  const parents: string[] = []
  for (let d = dirname(dir); ; d = dirname(d)) {
    parents.push(d)
    if (d === dirname(firstCreated) || d === dirname(d)) break
  }
  for (const d of parents.reverse()) await fsyncDirectory(d)
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let done = 0
  while (done < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done)
    done += bytesWritten
  }
}

/**
 * Bytes written between two background data syncs of a file being written.
 * Without them the kernel keeps the whole file dirty (its writeback starts at
 * a share of memory or after ~30 s) and commit's fsync waits for all of it at
 * once; syncing as it grows lets the disk work while the writer prepares the
 * next bytes (RocksDB's bytes_per_sync).
 */
const BACKGROUND_SYNC_BYTES = 8 * 1024 * 1024

/** A file being written: temporary until commit() renames it into place. */
class FsStorageOutput implements StorageOutput {
  private state: 'open' | 'committed' | 'discarded' = 'open'
  private written = 0
  /** Operations run one after another, so discard() during a write waits for it instead of racing it. */
  private tail: Promise<unknown> = Promise.resolve()
  private unsyncedBytes = 0
  /** The background data sync in progress; at most one. */
  private backgroundSync: Promise<void> | undefined
  /** A failed background sync: Linux reports a writeback error to one sync only, so commit must not miss it. */
  private backgroundSyncError: unknown

  constructor(
    readonly path: string,
    private readonly finalFile: string,
    private readonly tempFile: string,
    private fh: FileHandle | undefined,
  ) {}

  get bytesWritten(): number {
    return this.written
  }

  private serialize<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op, op)
    this.tail = result.catch(() => {})
    return result
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.serialize(async () => {
      if (this.state !== 'open' || !this.fh) throw new KeyedStateError('CLOSED', `write to ${this.path} after ${this.state === 'committed' ? 'commit' : 'discard'}`, { file: this.path })
      try {
        await writeAll(this.fh, chunk)
      } catch (e) {
        throw fromFsError(e, this.tempFile, 'writing')
      }
      this.written += chunk.length
      this.unsyncedBytes += chunk.length
      if (this.unsyncedBytes >= BACKGROUND_SYNC_BYTES && this.backgroundSync === undefined) this.startBackgroundSync(this.fh)
    })
  }

  /** Runs beside later writes (not in the serialized chain): writes go on while the disk catches up. */
  private startBackgroundSync(fh: FileHandle): void {
    this.unsyncedBytes = 0
    this.backgroundSync = fh
      .datasync()
      .catch((e: unknown) => {
        this.backgroundSyncError ??= e
      })
      .finally(() => {
        this.backgroundSync = undefined
      })
  }

  private async settleBackgroundSync(): Promise<void> {
    await this.backgroundSync
    // Raw: commit adds the file and what it was doing.
    if (this.backgroundSyncError !== undefined) throw this.backgroundSyncError
  }

  commit(): Promise<number> {
    return this.serialize(async () => {
      if (this.state !== 'open' || !this.fh) throw new KeyedStateError('CLOSED', `commit of ${this.path} after ${this.state}`, { file: this.path })
      const fh = this.fh
      try {
        await this.settleBackgroundSync()
        await fh.sync()
      } catch (e) {
        throw fromFsError(e, this.tempFile, 'syncing')
      }
      this.fh = undefined
      try {
        await fh.close()
      } catch (e) {
        throw fromFsError(e, this.tempFile, 'closing')
      }
      try {
        await rename(this.tempFile, this.finalFile)
      } catch (e) {
        throw fromFsError(e, this.finalFile, 'renaming into place')
      }
      this.state = 'committed'
      await fsyncDirectory(dirname(this.finalFile))
      return this.written
    })
  }

  discard(): Promise<void> {
    return this.serialize(async () => {
      const wasCommitted = this.state === 'committed'
      this.state = 'discarded'
      if (this.fh) {
        const fh = this.fh
        this.fh = undefined
        await fh.close().catch(() => {})
      }
      // Before commit only the temporary name exists; after it only the final one.
      const file = wasCommitted ? this.finalFile : this.tempFile
      try {
        await unlink(file)
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw fromFsError(e, file, 'deleting')
      }
      await fsyncDirectory(dirname(this.finalFile)).catch(() => {})
    })
  }
}

export class FileSystemCheckpointStorage implements CheckpointStorage {
  readonly root: string

  constructor(rootDir: string) {
    if (typeof rootDir !== 'string' || rootDir === '') {
      throw new KeyedStateError('INVALID_ARGUMENT', 'FileSystemCheckpointStorage needs a root directory')
    }
    this.root = resolve(rootDir)
  }

  get location(): string {
    return this.root
  }

  /** The absolute path of a storage path, refusing anything outside the root. */
  localPath(path: string): string {
    return this.resolveInside(normalizeStoragePath(path))
  }

  private resolveInside(normalized: string): string {
    const abs = normalized === '' ? this.root : resolve(this.root, normalized)
    // normalizeStoragePath already refuses '..' escapes; this guards against any mismatch between the two normalizations.
    if (abs !== this.root && !abs.startsWith(this.root + sep)) {
      throw new KeyedStateError('PATH_ESCAPE', `storage path ${JSON.stringify(normalized)} escapes ${this.root}`, { file: normalized })
    }
    return abs
  }

  private toStoragePath(abs: string): string {
    return relative(this.root, abs).split(sep).join('/')
  }

  async create(scope: StorageScope, name: string): Promise<StorageOutput> {
    checkFileName(name)
    const dirRel = scopeDirectory(scope)
    const dir = this.resolveInside(dirRel)
    const finalFile = join(dir, name)
    const tempFile = join(dir, tempNameFor(name))
    await ensureDirectory(dir)
    let fh: FileHandle
    try {
      fh = await open(tempFile, 'wx')
    } catch (e) {
      throw fromFsError(e, tempFile, 'creating')
    }
    return new FsStorageOutput(`${dirRel}/${name}`, finalFile, tempFile, fh)
  }

  async upload(scope: StorageScope, name: string, localPath: string): Promise<{ path: string; sizeBytes: number; crc32: number }> {
    let src: FileHandle
    try {
      src = await open(localPath, 'r')
    } catch (e) {
      throw fromFsError(e, localPath, 'opening for upload')
    }
    let out: StorageOutput | undefined
    try {
      out = await this.create(scope, name)
      let crc = 0
      const buf = Buffer.allocUnsafe(COPY_CHUNK_BYTES)
      for (;;) {
        let bytesRead: number
        try {
          ;({ bytesRead } = await src.read(buf, 0, buf.length, null))
        } catch (e) {
          throw fromFsError(e, localPath, 'reading for upload')
        }
        if (bytesRead === 0) break
        const chunk = buf.subarray(0, bytesRead)
        crc = crc32(chunk, crc)
        // The output copies nothing, so wait for the write before reusing `buf`.
        await out.write(chunk)
      }
      const sizeBytes = await out.commit()
      return { path: out.path, sizeBytes, crc32: crc >>> 0 }
    } catch (e) {
      await out?.discard().catch(() => {})
      throw e
    } finally {
      await src.close().catch(() => {})
    }
  }

  async read(path: string): Promise<Buffer> {
    const abs = this.localPath(path)
    try {
      return await readFile(abs)
    } catch (e) {
      throw fromFsError(e, abs, 'reading')
    }
  }

  /** Reads `length` bytes at `offset`; fewer only when the file ends first. */
  async readRange(path: string, offset: number, length: number): Promise<Buffer> {
    const abs = this.localPath(path)
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new KeyedStateError('INVALID_ARGUMENT', `readRange(${path}, ${offset}, ${length}): offset and length must be non-negative integers`, { file: path })
    }
    let fh: FileHandle
    try {
      fh = await open(abs, 'r')
    } catch (e) {
      throw fromFsError(e, abs, 'opening')
    }
    try {
      const buf = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === length ? buf : buf.subarray(0, done)
    } catch (e) {
      throw fromFsError(e, abs, 'reading')
    } finally {
      await fh.close().catch(() => {})
    }
  }

  openReadStream(path: string, offset = 0): Readable {
    const abs = this.localPath(path)
    const out = new PassThrough({ highWaterMark: COPY_CHUNK_BYTES })
    open(abs, 'r').then(
      (fh) => {
        const src: ReadStream = fh.createReadStream({ start: offset, highWaterMark: COPY_CHUNK_BYTES, autoClose: true })
        src.on('error', (e) => out.destroy(fromFsError(e, abs, 'reading')))
        out.on('close', () => src.destroy())
        src.pipe(out)
      },
      (e) => out.destroy(fromFsError(e, abs, 'opening')),
    )
    return out
  }

  async download(path: string, localPath: string): Promise<void> {
    const abs = this.localPath(path)
    let src: FileHandle
    try {
      src = await open(abs, 'r')
    } catch (e) {
      throw fromFsError(e, abs, 'opening for download')
    }
    const targetDir = dirname(resolve(localPath))
    const temp = join(targetDir, tempNameFor(basename(localPath)))
    try {
      await ensureDirectory(targetDir)
      const sink = createWriteStream(temp, { flags: 'wx' })
      try {
        await pipeline(src.createReadStream({ highWaterMark: COPY_CHUNK_BYTES, autoClose: false }), sink)
      } catch (e) {
        throw fromFsError(e, temp, `downloading ${abs} to`)
      }
      const fh = await open(temp, 'r+')
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(temp, localPath).catch((e) => {
        throw fromFsError(e, localPath, 'renaming download into place')
      })
      await fsyncDirectory(targetDir)
    } catch (e) {
      await rm(temp, { force: true }).catch(() => {})
      throw e
    } finally {
      await src.close().catch(() => {})
    }
  }

  async size(path: string): Promise<number> {
    const abs = this.localPath(path)
    try {
      const st = await stat(abs)
      if (!st.isFile()) throw new KeyedStateError('INVALID_ARGUMENT', `${abs} is not a file`, { file: abs })
      return st.size
    } catch (e) {
      if (e instanceof KeyedStateError) throw e
      throw fromFsError(e, abs, 'checking size of')
    }
  }

  async exists(path: string): Promise<boolean> {
    const abs = this.localPath(path)
    try {
      await stat(abs)
      return true
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return false
      throw fromFsError(e, abs, 'checking')
    }
  }

  /** Deletes a file; deleting a file that does not exist is not an error (deletes are retried by cleanup). */
  async delete(path: string): Promise<void> {
    const abs = this.localPath(path)
    try {
      await unlink(abs)
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return
      throw fromFsError(e, abs, 'deleting')
    }
    await fsyncDirectory(dirname(abs)).catch(() => {})
  }

  /** Deletes a directory and everything below it (e.g. a discarded `chk-<id>/`). */
  async deleteDirectory(path: string): Promise<void> {
    const abs = this.localPath(path)
    try {
      await rm(abs, { recursive: true, force: true })
    } catch (e) {
      throw fromFsError(e, abs, 'deleting directory')
    }
    await fsyncDirectory(dirname(abs)).catch(() => {})
  }

  async list(prefix: string): Promise<StoredEntry[]> {
    const start = this.resolveInside(normalizeStoragePath(prefix, true))
    const out: StoredEntry[] = []
    const visit = async (dir: string): Promise<void> => {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') return
        if (errnoOf(e) === 'ENOTDIR') {
          const st = await stat(dir)
          out.push({ path: this.toStoragePath(dir), sizeBytes: st.size, mtimeMs: st.mtimeMs })
          return
        }
        throw fromFsError(e, dir, 'listing')
      }
      for (const name of names.sort()) {
        const full = join(dir, name)
        let st
        try {
          st = await stat(full)
        } catch (e) {
          if (errnoOf(e) === 'ENOENT') continue // deleted while listing
          throw fromFsError(e, full, 'listing')
        }
        if (st.isDirectory()) await visit(full)
        else if (st.isFile()) out.push({ path: this.toStoragePath(full), sizeBytes: st.size, mtimeMs: st.mtimeMs })
      }
    }
    await visit(start)
    return out
  }

  async writeAtomic(path: string, data: Uint8Array): Promise<void> {
    const abs = this.localPath(path)
    const dir = dirname(abs)
    const temp = join(dir, tempNameFor(basename(abs)))
    await ensureDirectory(dir)
    let fh: FileHandle | undefined
    try {
      fh = await open(temp, 'wx')
      await writeAll(fh, data)
      await fh.sync()
      await fh.close()
      fh = undefined
      await rename(temp, abs)
    } catch (e) {
      await fh?.close().catch(() => {})
      await rm(temp, { force: true }).catch(() => {})
      throw e instanceof KeyedStateError ? e : fromFsError(e, abs, 'writing')
    }
    await fsyncDirectory(dir)
  }
}
