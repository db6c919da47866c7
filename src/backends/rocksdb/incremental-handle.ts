// Names of an incremental checkpoint's files, in the RocksDB directory and in
// storage, and the checks a handle passes before a restore trusts it.
import { randomBytes } from 'node:crypto'
import { KeyedStateError } from '../../errors.js'
import { formatRange, rangeSize, type KeyGroupRange } from '../../keygroups.js'
import type { IncrementalSnapshotHandle, StoredFile } from '../../snapshot/types.js'
import { INCREMENTAL_FORMAT_VERSION } from './incremental-meta-file.js'

export const SST_SUFFIX = '.sst'

export function isSstFile(name: string): boolean {
  return name.endsWith(SST_SUFFIX)
}

/**
 * RocksDB names its files 000012.sst, MANIFEST-000005, CURRENT, OPTIONS-000007,
 * 000004.log. A handle comes from `_metadata` that may have been edited, and
 * its names become paths in the working directory, so anything else is refused.
 */
const ROCKSDB_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export function isRocksDBFileName(name: string): boolean {
  return ROCKSDB_FILE_NAME.test(name) && !name.includes('..')
}

/**
 * A token unique to one checkpoint run. Every file the run writes carries it:
 * several backends write into the same `chk-<id>/` and `shared/` directories,
 * and RocksDB file numbers repeat across databases — and even within one
 * lineage, after a restore from an older checkpoint the restored database hands
 * out file numbers again that a later, discarded checkpoint already used. A
 * name that is never reused means an upload can never replace a file another
 * checkpoint still refers to.
 */
export function runToken(keyGroupRange: KeyGroupRange): string {
  return `kg${keyGroupRange.start}-${keyGroupRange.end}-${randomBytes(5).toString('hex')}`
}

/** Storage name (in the 'shared' scope) of an uploaded SST: the backend id says whose it is, for tools. */
export function sharedFileName(backendId: string, sstName: string, token: string): string {
  return `${backendId}-${sstName.slice(0, -SST_SUFFIX.length)}-${token}${SST_SUFFIX}`
}

/** Storage name (in the checkpoint's exclusive scope) of a MANIFEST, CURRENT, OPTIONS or log file. */
export function privateFileName(name: string, token: string): string {
  return `inc-${token}-${name}`
}

export function metaFileName(token: string): string {
  return `inc-${token}-meta.json`
}

function isStoredFile(f: unknown): f is StoredFile {
  const o = f as Partial<StoredFile> | null
  return !!o && typeof o.path === 'string' && o.path !== '' && Number.isSafeInteger(o.sizeBytes) && o.sizeBytes! >= 0 &&
    Number.isSafeInteger(o.crc32) && o.crc32! >= 0 && o.crc32! <= 0xffffffff
}

/** Throws INVALID_ARGUMENT / CORRUPTION unless `h` is a well-formed incremental handle. */
export function checkIncrementalHandle(h: IncrementalSnapshotHandle, where: string): void {
  const bad = (what: string): never => {
    throw new KeyedStateError('CORRUPTION', `${where}: ${what}`)
  }
  if (h?.type !== 'incremental') bad(`expected an incremental handle, got type ${JSON.stringify((h as { type?: unknown })?.type)}`)
  if (h.formatVersion !== INCREMENTAL_FORMAT_VERSION) {
    throw new KeyedStateError('NOT_SUPPORTED', `${where}: incremental handle format version ${h.formatVersion} (this library reads ${INCREMENTAL_FORMAT_VERSION})`)
  }
  if (typeof h.backendId !== 'string' || h.backendId === '') bad('has no backendId')
  if (!Number.isSafeInteger(h.checkpointId) || h.checkpointId < 0) bad(`has checkpoint id ${h.checkpointId}`)
  const r = h.keyGroupRange
  if (!r || !Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || rangeSize(r) === 0) bad(`has key-group range ${JSON.stringify(r)}`)
  if (!isStoredFile(h.metaFile)) bad('has no meta file')
  for (const [group, files] of [['sharedFiles', h.sharedFiles], ['privateFiles', h.privateFiles]] as const) {
    if (!files || typeof files !== 'object') bad(`has no ${group}`)
    for (const [name, f] of Object.entries(files)) {
      if (!isRocksDBFileName(name)) bad(`${group} has a name that is not a RocksDB file name: ${JSON.stringify(name)}`)
      if (group === 'sharedFiles' && !isSstFile(name)) bad(`shared file ${name} is not an SST file`)
      if (group === 'privateFiles' && isSstFile(name)) bad(`SST file ${name} is listed as a private file`)
      if (!isStoredFile(f)) bad(`${group} entry ${name} is not a stored file (path, sizeBytes, crc32)`)
    }
  }
  if (!h.privateFiles.CURRENT || !Object.keys(h.privateFiles).some((n) => n.startsWith('MANIFEST-'))) {
    bad(`lists no CURRENT or MANIFEST file (key groups ${formatRange(r)}, checkpoint ${h.checkpointId})`)
  }
}
