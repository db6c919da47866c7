// The meta file of an incremental checkpoint: what a restore needs besides the
// RocksDB files themselves — which column family holds which state, with the
// meta-info (kind, serializers, TTL) captured at the barrier. JSON, because it
// is small, read once per restore, and should be readable by tools and people.
// docs/FORMAT.md §7 specifies it.
import { KeyedStateError } from '../../errors.js'
import { formatRange, type KeyGroupRange } from '../../keygroups.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import { assertValidMetaInfo, type StateMetaInfo } from '../../state/meta.js'

export const INCREMENTAL_META_FORMAT = 'keyed-state/incremental-meta'
export const INCREMENTAL_FORMAT_VERSION = 1
/** Name of the meta file's copy inside a local recovery directory (RocksDB ignores files it cannot parse as its own). */
export const LOCAL_META_FILE_NAME = 'keyed-state-meta.json'

export interface IncrementalStateEntry {
  meta: StateMetaInfo
  /** The RocksDB column family holding the state's entries. */
  columnFamily: string
}

export interface IncrementalMetaFile {
  format: typeof INCREMENTAL_META_FORMAT
  formatVersion: number
  checkpointId: number
  backendId: string
  maxParallelism: number
  keyGroupRange: KeyGroupRange
  /** The key serializer of the backend that took the checkpoint, when known. */
  keySerializer: SerializerConfig | null
  /** RocksDB that wrote the files, for diagnostics. */
  rocksdbVersion: string
  /** In registration order. */
  states: IncrementalStateEntry[]
}

export function encodeMetaFile(meta: IncrementalMetaFile): Buffer {
  return Buffer.from(`${JSON.stringify(meta, null, 1)}\n`, 'utf8')
}

/** Parses and checks a meta file; `file` names it in errors. */
export function decodeMetaFile(bytes: Uint8Array, file: string): IncrementalMetaFile {
  const corrupt = (what: string, cause?: unknown): never => {
    throw new KeyedStateError('CORRUPTION', `incremental checkpoint meta file ${file}: ${what}`, { file, cause })
  }
  let raw: unknown
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    return corrupt('not valid JSON', e)
  }
  const m = raw as Partial<IncrementalMetaFile> | null
  if (!m || typeof m !== 'object' || m.format !== INCREMENTAL_META_FORMAT) return corrupt(`not a meta file (format ${JSON.stringify(m?.format)})`)
  if (m.formatVersion !== INCREMENTAL_FORMAT_VERSION) {
    throw new KeyedStateError(
      'NOT_SUPPORTED',
      `incremental checkpoint meta file ${file} has format version ${m.formatVersion}; this library reads version ${INCREMENTAL_FORMAT_VERSION}`,
      { file },
    )
  }
  if (!Number.isSafeInteger(m.checkpointId) || typeof m.backendId !== 'string' || !Number.isSafeInteger(m.maxParallelism)) {
    corrupt('checkpointId, backendId or maxParallelism missing')
  }
  const r = m.keyGroupRange
  if (!r || !Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end)) corrupt('keyGroupRange missing')
  if (!Array.isArray(m.states)) corrupt('states missing')
  const names = new Set<string>()
  const families = new Set<string>()
  for (const [i, s] of m.states!.entries()) {
    if (!s || typeof s.columnFamily !== 'string' || s.columnFamily === '') corrupt(`state #${i} has no column family`)
    assertValidMetaInfo(s.meta, `${file} (state #${i})`)
    if (names.has(s.meta.name)) corrupt(`state '${s.meta.name}' is listed twice`)
    if (families.has(s.columnFamily)) corrupt(`column family '${s.columnFamily}' is listed for two states`)
    names.add(s.meta.name)
    families.add(s.columnFamily)
  }
  return m as IncrementalMetaFile
}

/** Throws unless the meta file belongs to the handle that names it. */
export function checkMetaMatchesHandle(
  meta: IncrementalMetaFile,
  handle: { checkpointId: number; backendId: string; maxParallelism: number; keyGroupRange: KeyGroupRange },
  file: string,
): void {
  const mismatch = (what: string): never => {
    throw new KeyedStateError('CORRUPTION', `incremental checkpoint meta file ${file} does not match its handle: ${what}`, { file })
  }
  if (meta.checkpointId !== handle.checkpointId) mismatch(`checkpoint ${meta.checkpointId} vs ${handle.checkpointId}`)
  if (meta.backendId !== handle.backendId) mismatch(`backend ${meta.backendId} vs ${handle.backendId}`)
  if (meta.maxParallelism !== handle.maxParallelism) mismatch(`maxParallelism ${meta.maxParallelism} vs ${handle.maxParallelism}`)
  if (meta.keyGroupRange.start !== handle.keyGroupRange.start || meta.keyGroupRange.end !== handle.keyGroupRange.end) {
    mismatch(`key groups ${formatRange(meta.keyGroupRange)} vs ${formatRange(handle.keyGroupRange)}`)
  }
}
