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
//
// Nothing is ever read, written, listed or deleted outside the root: paths are
// checked lexically (paths.ts) and then against the file system, following no
// symbolic link below the root (local-root.ts).
import { randomBytes } from 'node:crypto'
import { createWriteStream, type ReadStream } from 'node:fs'
import { lstat as lstatOf, open, readdir, rename, rm, rmdir, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { crc32 } from 'node:zlib'
import { fromFsError, isKeyedStateError, KeyedStateError } from '../errors.js'
import { ensureDirectory, errnoOf, fsyncDirectory, linkRefused, LocalRoot, storageFsError } from './local-root.js'
import { SerialStorageOutput, throwIfUploadCancelled } from './output-base.js'
import { checkFileName, normalizeStoragePath, scopeDirectory } from './paths.js'
import type { CheckpointStorage, StorageOutput, StorageScope, StoredEntry, UploadOptions } from './types.js'

/** Read size for streams and copies: large enough for throughput, small enough to bound memory. */
const COPY_CHUNK_BYTES = 1024 * 1024

function tempNameFor(name: string): string {
  return `.${name}.${randomBytes(6).toString('hex')}.tmp`
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
class FsStorageOutput extends SerialStorageOutput implements StorageOutput {
  private unsyncedBytes = 0
  /** The background data sync in progress; at most one. */
  private backgroundSync: Promise<void> | undefined
  /** A failed background sync: Linux reports a writeback error to one sync only, so commit must not miss it. */
  private backgroundSyncError: unknown

  private readonly finalFile: string
  private readonly tempFile: string

  constructor(
    readonly path: string,
    private readonly tree: LocalRoot,
    /** Absolute directory below the real root. */
    private readonly dir: string,
    private readonly finalName: string,
    private readonly tempName: string,
    private fh: FileHandle | undefined,
  ) {
    super()
    this.finalFile = join(dir, finalName)
    this.tempFile = join(dir, tempName)
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.serialize(async () => {
      const fh = this.fh
      this.assertOpen('write to', fh !== undefined)
      try {
        await writeAll(fh, chunk)
      } catch (e) {
        throw fromFsError(e, this.tempFile, 'writing')
      }
      this.written += chunk.length
      this.unsyncedBytes += chunk.length
      if (this.unsyncedBytes >= BACKGROUND_SYNC_BYTES && this.backgroundSync === undefined) this.startBackgroundSync(fh)
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
      const fh = this.fh
      this.assertOpen('commit of', fh !== undefined)
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
        // In the directory itself: a link swapped in on the way cannot redirect the rename.
        await this.tree.inDirectory(this.dir, async (dir) => {
          await rename(join(dir, this.tempName), join(dir, this.finalName))
          this.state = 'committed'
          await fsyncDirectory(dir)
        })
      } catch (e) {
        throw storageFsError(e, this.finalFile, 'renaming into place')
      }
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
      const name = wasCommitted ? this.finalName : this.tempName
      try {
        await this.tree.inDirectory(this.dir, async (dir) => {
          await unlink(join(dir, name))
          await fsyncDirectory(dir).catch(() => {})
        })
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw storageFsError(e, join(this.dir, name), 'deleting')
      }
    })
  }
}

export class FileSystemCheckpointStorage implements CheckpointStorage {
  readonly root: string
  private readonly tree: LocalRoot

  constructor(rootDir: string) {
    if (typeof rootDir !== 'string' || rootDir === '') {
      throw new KeyedStateError('INVALID_ARGUMENT', 'FileSystemCheckpointStorage needs a root directory')
    }
    this.root = resolve(rootDir)
    this.tree = new LocalRoot(this.root)
  }

  get location(): string {
    return this.root
  }

  /**
   * The absolute path of a storage path, refusing anything that leaves the
   * root lexically. For messages and tools: it does not look at the file
   * system, so use the storage methods (which refuse links) to touch the file.
   */
  localPath(path: string): string {
    const normalized = normalizeStoragePath(path)
    const abs = resolve(this.root, normalized)
    // normalizeStoragePath already refuses '..' escapes; this guards against any mismatch between the two normalizations.
    if (!abs.startsWith(this.root + sep)) {
      throw new KeyedStateError('PATH_ESCAPE', `storage path ${JSON.stringify(normalized)} escapes ${this.root}`, { file: normalized })
    }
    return abs
  }

  async create(scope: StorageScope, name: string): Promise<StorageOutput> {
    checkFileName(name)
    const dirRel = scopeDirectory(scope)
    const dir = await this.tree.ensureDirectory(dirRel)
    const tempName = tempNameFor(name)
    const fh = await this.tree.createFile(dir, tempName)
    return new FsStorageOutput(`${dirRel}/${name}`, this.tree, dir, name, tempName, fh)
  }

  async upload(scope: StorageScope, name: string, localPath: string, options?: UploadOptions): Promise<{ path: string; sizeBytes: number; crc32: number }> {
    const signal = options?.signal
    throwIfUploadCancelled(signal, localPath)
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
        // Checked between chunks (1 MiB each): a cancelled copy stops within one, and discard below removes the staged file.
        throwIfUploadCancelled(signal, localPath)
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
    const { fh, abs } = await this.tree.openForReading(normalizeStoragePath(path), 'reading')
    try {
      return await fh.readFile()
    } catch (e) {
      throw storageFsError(e, abs, 'reading')
    } finally {
      await fh.close().catch(() => {})
    }
  }

  /** Reads `length` bytes at `offset`; fewer only when the file ends first. */
  async readRange(path: string, offset: number, length: number): Promise<Buffer> {
    const rel = normalizeStoragePath(path)
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new KeyedStateError('INVALID_ARGUMENT', `readRange(${path}, ${offset}, ${length}): offset and length must be non-negative integers`, { file: path })
    }
    const { fh, abs, sizeBytes } = await this.tree.openForReading(rel, 'opening')
    try {
      // Never allocate more than the file can give: a forged length must not cost memory.
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(length, sizeBytes - offset)))
      let done = 0
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === buf.length ? buf : buf.subarray(0, done)
    } catch (e) {
      throw storageFsError(e, abs, 'reading')
    } finally {
      await fh.close().catch(() => {})
    }
  }

  openReadStream(path: string, offset = 0): Readable {
    const rel = normalizeStoragePath(path)
    const out = new PassThrough({ highWaterMark: COPY_CHUNK_BYTES })
    this.tree.openForReading(rel, 'opening').then(
      ({ fh, abs }) => {
        if (out.destroyed) {
          void fh.close().catch(() => {})
          return
        }
        const src: ReadStream = fh.createReadStream({ start: offset, highWaterMark: COPY_CHUNK_BYTES, autoClose: true })
        src.on('error', (e) => out.destroy(storageFsError(e, abs, 'reading')))
        out.on('close', () => src.destroy())
        src.pipe(out)
      },
      (e: unknown) => out.destroy(e as Error),
    )
    return out
  }

  async download(path: string, localPath: string): Promise<void> {
    const { fh: src, abs } = await this.tree.openForReading(normalizeStoragePath(path), 'opening for download')
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
    const rel = normalizeStoragePath(path)
    const found = await this.tree.lstat(rel)
    const file = this.tree.lexical(rel)
    if (!found) throw new KeyedStateError('MISSING_FILE', `checking size of ${file}: no such file`, { file })
    if (found.st.isSymbolicLink()) throw linkRefused(file, 'is a symbolic link')
    if (!found.st.isFile()) throw new KeyedStateError('INVALID_ARGUMENT', `${file} is not a regular file`, { file })
    return found.st.size
  }

  /** Whether anything (a file, a directory, a link - not followed) is at `path`. */
  async exists(path: string): Promise<boolean> {
    return (await this.tree.lstat(normalizeStoragePath(path))) !== undefined
  }

  /**
   * Deletes a file, or a link itself (never what it points to); deleting a
   * file that does not exist is not an error (deletes are retried by cleanup).
   */
  async delete(path: string): Promise<void> {
    const rel = normalizeStoragePath(path)
    try {
      await this.inParentOf(rel, async (dir, name) => {
        await unlink(join(dir, name))
        await fsyncDirectory(dir).catch(() => {})
      })
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return
      throw storageFsError(e, this.tree.lexical(rel), 'deleting')
    }
  }

  /**
   * Deletes a directory and everything below it (e.g. a discarded `chk-<id>/`),
   * entry by entry as delete() does: links inside are removed, never followed.
   */
  async deleteDirectory(path: string): Promise<void> {
    const rel = normalizeStoragePath(path)
    const dirs: string[] = []
    for (const e of await this.walk(rel, (d) => dirs.push(d))) await this.delete(e.path)
    // Deepest first, so each is empty when its turn comes.
    for (const d of dirs.reverse()) await this.removeEmptyDirectory(d)
  }

  /** Removes a directory if it is empty (rmdir fails otherwise, so a file created meanwhile is never lost). */
  async removeEmptyDirectory(path: string): Promise<void> {
    try {
      await this.inParentOf(normalizeStoragePath(path), (dir, name) => rmdir(join(dir, name)))
    } catch {
      // Not empty, already gone, or below a link: nothing to remove.
    }
  }

  /**
   * Every file below a directory. A symbolic link is listed as itself (so gc
   * and checkpoint deletes remove it) and never followed; other special files
   * are skipped.
   */
  async list(prefix: string): Promise<StoredEntry[]> {
    return this.walk(normalizeStoragePath(prefix, true))
  }

  /** Runs `fn` on the directory holding `rel` (see LocalRoot.inDirectory) and `rel`'s name in it. */
  private async inParentOf<T>(rel: string, fn: (dir: string, name: string) => Promise<T>): Promise<T> {
    const abs = await this.tree.resolve(rel)
    return this.tree.inDirectory(dirname(abs), (dir) => fn(dir, basename(abs)))
  }

  /** The files and links below `rel` (or `rel` itself when it is one); `onDirectory` sees each directory, parents first. */
  private async walk(rel: string, onDirectory?: (rel: string) => void): Promise<StoredEntry[]> {
    const start = await this.tree.lstat(rel)
    if (!start) return []
    const out: StoredEntry[] = []
    const add = (path: string, st: { size: number; mtimeMs: number }) => out.push({ path, sizeBytes: st.size, mtimeMs: st.mtimeMs })
    const listable = (st: { isFile(): boolean; isSymbolicLink(): boolean }) => st.isFile() || st.isSymbolicLink()
    if (!start.st.isDirectory()) {
      if (rel !== '' && listable(start.st)) add(rel, start.st)
      return out
    }
    const visit = async (dirRel: string, dirAbs: string): Promise<void> => {
      onDirectory?.(dirRel)
      const subdirs: string[] = []
      try {
        await this.tree.inDirectory(dirAbs, async (dir) => {
          for (const name of (await readdir(dir)).sort()) {
            let st: Awaited<ReturnType<typeof lstatOf>>
            try {
              st = await lstatOf(join(dir, name))
            } catch (e) {
              if (errnoOf(e) === 'ENOENT') continue // deleted while listing
              throw e
            }
            const path = dirRel === '' ? name : `${dirRel}/${name}`
            if (st.isDirectory()) subdirs.push(name)
            else if (listable(st)) add(path, st)
          }
        })
      } catch (e) {
        // Deleted, or swapped for a link, while listing: nothing below it to report.
        if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR' || isKeyedStateError(e, 'PATH_ESCAPE')) return
        throw storageFsError(e, this.tree.lexical(dirRel), 'listing')
      }
      for (const name of subdirs) await visit(dirRel === '' ? name : `${dirRel}/${name}`, join(dirAbs, name))
    }
    await visit(rel, start.abs)
    // By path, as an object store lists keys (a directory's files and subdirectories interleave: chk-1/a, chk-10/c, chk-1x).
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  async writeAtomic(path: string, data: Uint8Array): Promise<void> {
    const rel = normalizeStoragePath(path)
    const slash = rel.lastIndexOf('/')
    const dir = await this.tree.ensureDirectory(slash < 0 ? '' : rel.slice(0, slash))
    const name = rel.slice(slash + 1)
    const abs = join(dir, name)
    const tempName = tempNameFor(name)
    let fh: FileHandle | undefined = await this.tree.createFile(dir, tempName)
    try {
      await writeAll(fh, data)
      await fh.sync()
      await fh.close()
      fh = undefined
      // rename replaces whatever is at `abs` - a link included - and never writes through it.
      await this.tree.inDirectory(dir, async (d) => {
        await rename(join(d, tempName), join(d, name))
        await fsyncDirectory(d)
      })
    } catch (e) {
      await fh?.close().catch(() => {})
      await this.tree.inDirectory(dir, (d) => unlink(join(d, tempName))).catch(() => {})
      throw storageFsError(e, abs, 'writing')
    }
  }
}
