// The backend's working directory:
//
//   <dir>/KEYED_STATE_DIR   marker: this directory belongs to a keyed-state RocksDB backend
//   <dir>/db/               the RocksDB database
//   <dir>/staging/          SST files being built during restore (ingested, then removed)
//
// The marker lets a restore wipe the directory without ever deleting a
// directory the user pointed at by mistake (e.g. their home).
import { mkdir, readdir, rm, writeFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fromFsError, KeyedStateError } from '../../errors.js'

export const MARKER_FILE = 'KEYED_STATE_DIR'
const MARKER_TEXT = 'keyed-state RocksDB backend working directory\n'

export interface WorkingDir {
  readonly root: string
  readonly db: string
  readonly staging: string
}

export function workingDirOf(dir: string): WorkingDir {
  const root = resolve(dir)
  return { root, db: join(root, 'db'), staging: join(root, 'staging') }
}

export type WorkingDirState = 'missing' | 'empty' | 'ours' | 'foreign'

export async function inspectWorkingDir(wd: WorkingDir): Promise<WorkingDirState> {
  let names: string[]
  try {
    const s = await stat(wd.root)
    if (!s.isDirectory()) return 'foreign'
    names = await readdir(wd.root)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw fromFsError(e, wd.root, 'cannot read working directory')
  }
  if (names.length === 0) return 'empty'
  return names.includes(MARKER_FILE) ? 'ours' : 'foreign'
}

function foreignError(wd: WorkingDir): KeyedStateError {
  return new KeyedStateError(
    'INVALID_ARGUMENT',
    `dir ${wd.root} is not empty and is not a keyed-state working directory (no ${MARKER_FILE} file); ` +
      'pass an empty or new directory',
    { file: wd.root },
  )
}

/** Creates the directory (and its marker) when missing or empty; refuses foreign directories. */
export async function ensureWorkingDir(wd: WorkingDir): Promise<'created' | 'existing'> {
  const state = await inspectWorkingDir(wd)
  if (state === 'foreign') throw foreignError(wd)
  if (state === 'ours') return 'existing'
  try {
    await mkdir(wd.root, { recursive: true })
    await writeFile(join(wd.root, MARKER_FILE), MARKER_TEXT)
  } catch (e) {
    throw fromFsError(e, wd.root, 'cannot create working directory')
  }
  return 'created'
}

/** Empties a working directory before a restore (only ours, or an empty one). */
export async function wipeWorkingDir(wd: WorkingDir): Promise<void> {
  const state = await inspectWorkingDir(wd)
  if (state === 'foreign') throw foreignError(wd)
  if (state === 'ours') {
    try {
      for (const name of await readdir(wd.root)) {
        if (name !== MARKER_FILE) await rm(join(wd.root, name), { recursive: true, force: true })
      }
    } catch (e) {
      throw fromFsError(e, wd.root, 'cannot empty working directory')
    }
    return
  }
  await ensureWorkingDir(wd)
}

/** Removes the database and staging files (after a failed restore: half-restored state is useless). */
export async function discardDatabase(wd: WorkingDir): Promise<void> {
  await rm(wd.db, { recursive: true, force: true })
  await rm(wd.staging, { recursive: true, force: true })
}
