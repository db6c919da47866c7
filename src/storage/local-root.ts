// A local directory tree that is read, written, listed and deleted without ever
// following a symbolic link below its root.
//
// Storage paths are checked lexically first (paths.ts refuses '..', absolute
// paths, NUL). That alone is not enough on a real file system: a link planted
// inside the root (`shared/x -> /etc`) would lead every operation out of it.
// So, for every path:
//  - the directories above it must resolve (realpath) to exactly the lexical
//    path below the real root: no directory on the way is a link;
//  - the last component is never followed: files are opened with O_NOFOLLOW,
//    sizes come from lstat, deletes unlink the link itself, and a commit's
//    rename replaces a link rather than writing through it;
//  - directories are created one level at a time, each checked to be a real
//    directory, so `mkdir -p` never creates anything through a link;
//  - on Linux, the check and the use cannot be told apart by a race (a
//    directory swapped for a link in between): a file once opened is checked
//    through /proc/self/fd to be the file asked for, and deletes, renames,
//    rmdir and listings act on a directory opened (O_DIRECTORY|O_NOFOLLOW) and
//    checked the same way, naming entries as /proc/self/fd/<fd>/<name> - what
//    unlinkat/renameat do, which Node does not offer. Elsewhere the realpath
//    checks leave that instant open to someone who can already write below
//    the root.
//
// The root itself may be a symbolic link: where the user points the storage is
// their choice. Links *inside* the root are what is refused, including links
// that stay inside it: one rule ("no link is followed") is easier to trust
// than a rule about where links may point.
import { constants, existsSync, type Stats } from 'node:fs'
import { lstat, mkdir, open, readlink, realpath, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fromFsError, KeyedStateError } from '../errors.js'

/** 0 where the platform lacks the flag (Windows): the realpath checks still apply there. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0
/** Opening a FIFO for reading would wait for a writer; non-blocking, it opens and is then refused as not a regular file. */
const O_NONBLOCK = constants.O_NONBLOCK ?? 0
const PROC_FD_DIR = '/proc/self/fd/'
const HAS_PROC_FD = process.platform === 'linux' && existsSync(PROC_FD_DIR)

export function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code
}

/** A typed error for a failed fs call; a KeyedStateError passes through, a link met on the way is PATH_ESCAPE. */
export function storageFsError(e: unknown, file: string, what: string): KeyedStateError {
  if (e instanceof KeyedStateError) return e
  // ELOOP: O_NOFOLLOW met a link as the last component (or realpath met a loop).
  if (errnoOf(e) === 'ELOOP') return linkRefused(file, 'is a symbolic link', e)
  const error = fromFsError(e, file, what)
  // Entries named through a directory fd read '/proc/self/fd/23/name' in Node's message: `file` already says where.
  return error.message.includes(PROC_FD_DIR)
    ? new KeyedStateError(error.code, error.message.replace(/\/proc\/self\/fd\/\d+\//g, ''), { file, cause: e })
    : error
}

/** PATH_ESCAPE for a path that meets a symbolic link below the root. */
export function linkRefused(file: string, why: string, cause?: unknown): KeyedStateError {
  return new KeyedStateError(
    'PATH_ESCAPE',
    `${file} ${why}; checkpoint storage follows no symbolic link below its root`,
    cause === undefined ? { file } : { file, cause },
  )
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

/** mkdir -p that also fsyncs the parents of every directory it created. Follows links: only for paths the user chose. */
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

export interface OpenedFile {
  fh: FileHandle
  /** Absolute path below the real root. */
  abs: string
}

export class LocalRoot {
  private realRootPath: string | undefined

  /** `root` must be absolute. */
  constructor(readonly root: string) {}

  /** The root with its links resolved; remembered once the root exists. Raw ENOENT while it does not. */
  async realRoot(): Promise<string> {
    this.realRootPath ??= await realpath(this.root)
    return this.realRootPath
  }

  /** The lexical absolute path of a normalized storage path (for messages; not checked against links). */
  lexical(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel)
  }

  /**
   * The absolute path of normalized storage path `rel` below the real root,
   * after checking that no directory above it is a link. The last component
   * is not looked at. Raw ENOENT/ENOTDIR when a directory on the way is missing.
   */
  async resolve(rel: string): Promise<string> {
    const real = await this.realRoot()
    if (rel === '') return real
    const slash = rel.lastIndexOf('/')
    if (slash > 0) {
      const expected = join(real, rel.slice(0, slash))
      let actual: string
      try {
        actual = await realpath(expected)
      } catch (e) {
        if (errnoOf(e) === 'ELOOP') throw linkRefused(this.lexical(rel), 'lies below a symbolic link loop', e)
        throw e
      }
      if (actual !== expected) throw linkRefused(this.lexical(rel), `lies below a symbolic link (its directory resolves to ${actual})`)
    }
    return join(real, rel)
  }

  /**
   * Runs `fn` with a path that names directory `dirAbs` (absolute, below the
   * real root) for as long as `fn` runs, even if someone swaps a directory on
   * the way for a link meanwhile: on Linux `/proc/self/fd/<fd>` of the
   * directory opened and checked, elsewhere `dirAbs` after a realpath check.
   * `fn` must only name single entries below it. Raw ENOENT/ENOTDIR when the
   * directory is missing.
   */
  async inDirectory<T>(dirAbs: string, fn: (dir: string) => Promise<T>): Promise<T> {
    if (!HAS_PROC_FD) {
      const actual = await realpath(dirAbs)
      if (actual !== dirAbs) throw linkRefused(dirAbs, `is reached through a symbolic link (it resolves to ${actual})`)
      return await fn(dirAbs)
    }
    let fh: FileHandle
    try {
      fh = await open(dirAbs, constants.O_RDONLY | constants.O_DIRECTORY | O_NOFOLLOW)
    } catch (e) {
      // A link fails with ELOOP, or with ENOTDIR (O_DIRECTORY looks first); a file with ENOTDIR.
      const isLink = errnoOf(e) === 'ELOOP' || (errnoOf(e) === 'ENOTDIR' && (await lstat(dirAbs).then((st) => st.isSymbolicLink(), () => false)))
      if (isLink) throw linkRefused(dirAbs, 'is a symbolic link', e)
      throw e
    }
    try {
      const actual = await readlink(`${PROC_FD_DIR}${fh.fd}`)
      if (actual !== dirAbs) throw linkRefused(dirAbs, `is reached through a symbolic link (it resolves to ${actual})`)
      return await fn(`${PROC_FD_DIR}${fh.fd}`)
    } finally {
      await fh.close().catch(() => {})
    }
  }

  /** lstat of `rel` (never follows it); undefined when it or a directory above it does not exist. */
  async lstat(rel: string): Promise<{ abs: string; st: Stats } | undefined> {
    try {
      const abs = await this.resolve(rel)
      // Through the directory itself, so a race cannot report what lies outside.
      const st = rel === '' ? await lstat(abs) : await this.inDirectory(dirname(abs), (dir) => lstat(join(dir, basename(abs))))
      return { abs, st }
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return undefined
      throw storageFsError(e, this.lexical(rel), 'checking')
    }
  }

  /** Opens a regular file for reading; refuses links and anything that is not a regular file. */
  async openForReading(rel: string, what: string): Promise<OpenedFile & { sizeBytes: number }> {
    const file = this.lexical(rel)
    let opened: OpenedFile
    try {
      opened = await this.openChecked(rel, constants.O_RDONLY | O_NONBLOCK)
    } catch (e) {
      throw storageFsError(e, file, what)
    }
    try {
      const st = await opened.fh.stat()
      if (!st.isFile()) throw new KeyedStateError('INVALID_ARGUMENT', `${file} is not a regular file`, { file })
      return { ...opened, sizeBytes: st.size }
    } catch (e) {
      await opened.fh.close().catch(() => {})
      throw storageFsError(e, file, what)
    }
  }

  /** Creates a new file (never an existing one, never through a link) in a directory ensureDirectory returned. */
  async createFile(dirAbs: string, name: string): Promise<FileHandle> {
    const abs = join(dirAbs, name)
    try {
      return await this.openVerified(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666)
    } catch (e) {
      throw storageFsError(e, abs, 'creating')
    }
  }

  /**
   * Creates the directories of `rel` below the root one level at a time
   * (fsyncing each parent), refusing any that is a link or not a directory.
   * The root itself is created with mkdir -p. Returns the absolute directory.
   */
  async ensureDirectory(rel: string): Promise<string> {
    await ensureDirectory(this.root)
    let dir: string
    try {
      dir = await this.realRoot()
    } catch (e) {
      throw fromFsError(e, this.root, 'opening storage root')
    }
    for (const segment of rel === '' ? [] : rel.split('/')) {
      const parent = dir
      dir = join(dir, segment)
      try {
        await mkdir(dir)
        await fsyncDirectory(parent)
        continue
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw storageFsError(e, dir, 'creating directory')
      }
      let st: Stats
      try {
        st = await lstat(dir)
      } catch (e) {
        throw storageFsError(e, dir, 'creating directory')
      }
      if (st.isSymbolicLink()) throw linkRefused(dir, 'is a symbolic link')
      if (!st.isDirectory()) throw new KeyedStateError('IO_ERROR', `${dir} is not a directory`, { file: dir })
    }
    return dir
  }

  private async openChecked(rel: string, flags: number): Promise<OpenedFile> {
    const abs = await this.resolve(rel)
    return { fh: await this.openVerified(abs, flags), abs }
  }

  /** open() that never follows a last-component link, then checks the file opened is the one at `abs`. */
  private async openVerified(abs: string, flags: number, mode?: number): Promise<FileHandle> {
    const fh = await open(abs, flags | O_NOFOLLOW, mode)
    let elsewhere: string | undefined
    try {
      elsewhere = await this.openedElsewhere(fh, abs)
    } catch (e) {
      await fh.close().catch(() => {})
      throw e
    }
    if (elsewhere === undefined) return fh
    await fh.close().catch(() => {})
    // With O_EXCL the kernel created that file for us, empty: remove it from where it really is.
    if (flags & constants.O_EXCL) await unlink(elsewhere).catch(() => {})
    throw linkRefused(abs, `was reached through a symbolic link (the file opened is ${elsewhere})`)
  }

  /**
   * On Linux: where the kernel really opened `fh`, when that is not `abs` (a
   * directory on the way was swapped for a link after the check); undefined
   * when it is `abs`, or where the platform cannot tell.
   */
  private async openedElsewhere(fh: FileHandle, abs: string): Promise<string | undefined> {
    if (!HAS_PROC_FD) return undefined
    const actual = await readlink(`${PROC_FD_DIR}${fh.fd}`)
    return actual === abs ? undefined : actual
  }
}
