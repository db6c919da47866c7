// Restore of the RocksDB backend from incremental handles (mixed with full
// ones, when a job switched modes or instances differed):
//
// - the incremental handle sharing the most key groups with the target is the
//   base: its files become the working database directly, and its key groups
//   outside the target are hidden with delete-range. Its SST set is the base of
//   the next checkpoint, so that one uploads only what changed. When it is the
//   only relevant handle ('direct': it covers the target, or the rest is known
//   to be empty) that is all; the backend id is kept when the range is the
//   same, and a clipped restore (scale-up) gets a new one, because two
//   instances restored from one handle are two lineages.
// - every other handle ('ingest', rescaling) is opened as a temporary database
//   whose key groups of the target are cut into SST files per column family
//   (incremental-ingest.ts) and ingested; full handles go through the
//   ingesting restore sink. Never key by key through the state API.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { columnFamilyOf } from './meta-store.js'
import type { RestoreTarget } from './full-restore.js'
import { IngestingRestoreSink, nativeBlockWork, RESTORE_READ_LANES } from './full-restore.js'
import type { WorkingDir } from './working-dir.js'
import { keyGroupPrefix } from '../../encoding.js'
import { isKeyedStateError, KeyedStateError, StateConflictError } from '../../errors.js'
import { checkKeyGroupRange, rangeIntersection, rangeSize, type KeyGroupRange } from '../../keygroups.js'
import type { NativeBinding } from './native/types.js'
import { describeSerializer, sameSerializerConfig, serializerCanRead, type Serializer } from '../../serializers/serializer.js'
import { restoreFullHandles } from '../../snapshot/full/index.js'
import { checkIncrementalHandle } from './incremental-handle.js'
import type { IncrementalMetaFile } from './incremental-meta-file.js'
import type { RestoredSstBase } from './incremental-strategy.js'
import type { FullSnapshotHandle, IncrementalSnapshotHandle, KeyedStateHandle, LocalStateHandle, RestoreHooks, RestoreSink } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { CheckpointStorage } from '../../storage/types.js'
import { checkCoverage, firstOverlap } from '../../keygroup-coverage.js'
import { emptyPlacementStats, findLocalIncrementalCopy, placeHandleFiles, readHandleMeta, type FilePlacementStats } from './incremental-files.js'
import { copyRangeToSstFiles, type RangeCopyStats } from './incremental-ingest.js'
import { fullLocalFallback, type LocalFallbackReporter } from '../../snapshot/local-fallback.js'

/** What the restore needs from the backend being restored. */
export interface IncrementalRestoreTarget {
  readonly native: NativeBinding
  readonly workingDir: WorkingDir
  readonly keyGroupRange: KeyGroupRange
  readonly maxParallelism: number
  readonly keySerializer: Serializer<unknown>
  /** Told about each local recovery file not used (backend option onLocalFallback). */
  readonly reportLocalFallback: LocalFallbackReporter
  /** Test hook (backend option restoreHooks.afterPlaced): may change placed files before RocksDB opens them. */
  readonly afterPlaced?: RestoreHooks['afterPlaced']
  /**
   * Opens the backend's database in `workingDir.db` (which may already hold
   * the restored files) and returns what a restore sink needs from it.
   */
  openDatabase(): RestoreTarget
}

export interface IncrementalRestoreStats extends FilePlacementStats, RangeCopyStats {
  /** 'direct': one handle's files opened in place (and clipped); 'ingest': several handles, all but the base ingested. */
  mode: 'direct' | 'ingest'
  incrementalHandles: number
  fullHandles: number
  /** Handles whose files were opened as the database (0 or 1); the others were copied by key-group range. */
  inPlaceHandles: number
  /** Key groups of the in-place handle hidden with delete-range. */
  clippedKeyGroups: number
}

export interface IncrementalRestoreResult {
  /** The lineage id to keep; undefined: the backend takes a new one. */
  backendId: string | undefined
  /** The SST set of the handle opened in place: the base of the next checkpoint. */
  base: RestoredSstBase | undefined
  stats: IncrementalRestoreStats
}

function describe(h: KeyedStateHandle): string {
  return h.type === 'full' ? h.file.path : h.metaFile.path
}

/** Same kind, serializers and TTL: the stored bytes of both can live in one column family. */
function checkSameLayout(seen: StateMetaInfo, s: StateMetaInfo, file: string): void {
  if (seen.kind !== s.kind) {
    throw new StateConflictError('STATE_CONFLICT', `restored state '${s.name}' is ${seen.kind} state in one handle and ${s.kind} in ${file}`, { state: s.name, file })
  }
  const same =
    sameSerializerConfig(seen.namespaceSerializer, s.namespaceSerializer) &&
    sameSerializerConfig(seen.valueSerializer, s.valueSerializer) &&
    (seen.userKeySerializer === undefined) === (s.userKeySerializer === undefined) &&
    (seen.userKeySerializer === undefined || sameSerializerConfig(seen.userKeySerializer, s.userKeySerializer!)) &&
    seen.ttl?.ttlMs === s.ttl?.ttlMs
  if (!same) {
    throw new StateConflictError('SERIALIZER_MISMATCH', `restored state '${s.name}' was written with different serializers or TTL in ${file} than in another handle`, {
      state: s.name,
      file,
    })
  }
}

function checkMeta(meta: IncrementalMetaFile, h: IncrementalSnapshotHandle, target: IncrementalRestoreTarget): void {
  if (meta.keySerializer && !serializerCanRead(target.keySerializer, meta.keySerializer)) {
    throw new StateConflictError(
      'SERIALIZER_MISMATCH',
      `the keys of checkpoint ${h.checkpointId} (${h.metaFile.path}) were written with ${describeSerializer(meta.keySerializer)}, which the given key serializer cannot read`,
      { file: h.metaFile.path },
    )
  }
  for (const s of meta.states) {
    // The backend derives column families from state names; a checkpoint that disagrees was not written by it.
    if (s.columnFamily !== columnFamilyOf(s.meta.name)) {
      throw new KeyedStateError('CORRUPTION', `${h.metaFile.path}: state '${s.meta.name}' is in column family '${s.columnFamily}', expected '${columnFamilyOf(s.meta.name)}'`, {
        state: s.meta.name,
        file: h.metaFile.path,
      })
    }
  }
}

/**
 * Restores `handles` (at least one incremental) into the target's empty
 * working directory. On failure the caller discards the database.
 */
export async function restoreIncrementalHandles(
  handles: readonly KeyedStateHandle[],
  storage: CheckpointStorage,
  target: IncrementalRestoreTarget,
  local: readonly LocalStateHandle[] = [],
  knownEmptyRanges: readonly KeyGroupRange[] = [],
): Promise<IncrementalRestoreResult> {
  const range = target.keyGroupRange
  checkKeyGroupRange(range, target.maxParallelism)
  handles.forEach((h, i) => {
    if (h?.type === 'incremental') checkIncrementalHandle(h, `restore handle #${i} (checkpoint ${h.checkpointId})`)
  })
  // Instances that held no state wrote no handle; the checkpoint metadata knows their ranges.
  checkCoverage([...handles.map((h) => h.keyGroupRange), ...knownEmptyRanges], range)
  const overlap = firstOverlap(handles.map((h) => h.keyGroupRange), range)
  if (overlap) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `key group ${overlap.keyGroup} is covered by two handles (${describe(handles[overlap.a]!)} and ${describe(handles[overlap.b]!)})`,
      { keyGroup: overlap.keyGroup },
    )
  }
  const relevant = handles
    .filter((h) => rangeSize(rangeIntersection(h.keyGroupRange, range)) > 0)
    .sort((a, b) => a.keyGroupRange.start - b.keyGroupRange.start)
  const incremental = relevant.filter((h): h is IncrementalSnapshotHandle => h.type === 'incremental')
  const full = relevant.filter((h): h is FullSnapshotHandle => h.type === 'full')
  const stats: IncrementalRestoreStats = {
    ...emptyPlacementStats(),
    sstFiles: 0,
    entries: 0,
    bytes: 0,
    mode: 'ingest',
    incrementalHandles: incremental.length,
    fullHandles: full.length,
    inPlaceHandles: 0,
    clippedKeyGroups: 0,
  }
  // Every other handle's key groups are copied; the base's are not. Coverage is checked, so one
  // relevant handle alone holds every key group of the target that has state.
  const base = chooseBase(incremental, range)
  if (base && relevant.length === 1) stats.mode = 'direct'

  // Meta files first: a conflict between handles is reported before any data moves.
  const metas = new Map<IncrementalSnapshotHandle, IncrementalMetaFile>()
  const union = new Map<string, StateMetaInfo>()
  for (const h of incremental) {
    const meta = await readHandleMeta(h, storage, findLocalIncrementalCopy(h, local), target.reportLocalFallback)
    checkMeta(meta, h, target)
    metas.set(h, meta)
    for (const s of meta.states) {
      const seen = union.get(s.meta.name)
      if (seen) checkSameLayout(seen, s.meta, h.metaFile.path)
      else union.set(s.meta.name, s.meta)
    }
  }

  let db: RestoreTarget
  if (base) {
    db = await withLocalFallback(base, findLocalIncrementalCopy(base, local), target, stats, async (copy) => {
      await placeHandleFiles(base, storage, copy, target.workingDir.db, stats, target.reportLocalFallback)
      await target.afterPlaced?.(target.workingDir.db, copy)
      return target.openDatabase()
    }, () => rm(target.workingDir.db, { recursive: true, force: true }))
    openInPlace(db, base, metas.get(base)!, [...union.values()], range, stats)
  } else {
    db = target.openDatabase()
    db.registerRestoredStates([...union.values()])
  }
  const others = incremental.filter((h) => h !== base)
  if (others.length > 0) await ingestHandles(db, others, metas, storage, target, local, stats)
  if (full.length > 0) {
    const coveredElsewhere = [...handles.filter((h) => h.type === 'incremental').map((h) => h.keyGroupRange), ...knownEmptyRanges]
    await ingestFullHandles(db, full, union, coveredElsewhere, storage, target, local)
  }
  // The backend id is kept only when this backend continues exactly the lineage that wrote the
  // handle; instances that share a base after rescaling are separate lineages.
  const sameLineage = stats.mode === 'direct' && base!.keyGroupRange.start === range.start && base!.keyGroupRange.end === range.end
  return {
    backendId: sameLineage ? base!.backendId : undefined,
    base: base ? { checkpointId: base.checkpointId, files: base.sharedFiles } : undefined,
    stats,
  }
}

/**
 * Places and opens a handle's files, from its local copy where the files
 * verify. Each local file is checked against the handle's size and CRC-32, so
 * RocksDB refusing the result (a damaged SST, CURRENT or MANIFEST) means the
 * local copy was bad in a way the checks missed: then the copy is reported,
 * `discard` removes what was placed, and everything comes from storage.
 */
async function withLocalFallback<T>(
  h: IncrementalSnapshotHandle,
  copy: LocalStateHandle | undefined,
  target: IncrementalRestoreTarget,
  stats: FilePlacementStats,
  open: (copy: LocalStateHandle | undefined) => Promise<T>,
  discard: () => Promise<void>,
): Promise<T> {
  const localBefore = stats.localFiles
  try {
    return await open(copy)
  } catch (e) {
    if (!copy || stats.localFiles === localBefore || !isKeyedStateError(e) || !REFUSED_COPY_CODES.includes(e.code)) throw e
    target.reportLocalFallback({ checkpointId: h.checkpointId, file: copy.directory, reason: `RocksDB refused the local copy: ${e.message}`, error: e })
    await discard()
    stats.localFiles = localBefore
    return open(undefined)
  }
}

/** What RocksDB reports for files it cannot use (addon status codes); other errors are not the copy's fault. */
const REFUSED_COPY_CODES: readonly string[] = ['CORRUPTION', 'IO_ERROR', 'NOT_FOUND', 'NOT_SUPPORTED', 'INVALID_ARGUMENT']

/**
 * The handle whose files become the working database: the one sharing the most
 * key groups with the target (ties: the smaller handle, which carries less
 * foreign data). Opening it in place saves copying its part, and its SSTs are
 * the base of the next checkpoint. Its other key groups are only hidden
 * (delete-range) until compaction drops them: disk for time, as Flink does.
 */
function chooseBase(handles: readonly IncrementalSnapshotHandle[], range: KeyGroupRange): IncrementalSnapshotHandle | undefined {
  let best: IncrementalSnapshotHandle | undefined
  let bestOverlap = 0
  for (const h of handles) {
    const overlap = rangeSize(rangeIntersection(h.keyGroupRange, range))
    if (overlap > bestOverlap || (overlap === bestOverlap && best && rangeSize(h.keyGroupRange) < rangeSize(best.keyGroupRange))) {
      best = h
      bestOverlap = overlap
    }
  }
  return best
}

/** The base handle's files are the opened database: register every restored state and clip the base to the target. */
function openInPlace(
  db: RestoreTarget,
  h: IncrementalSnapshotHandle,
  meta: IncrementalMetaFile,
  states: readonly StateMetaInfo[],
  range: KeyGroupRange,
  stats: IncrementalRestoreStats,
): void {
  for (const s of meta.states) {
    if (db.db.columnFamily(s.columnFamily) < 0) {
      // Registering would create it empty and silently lose the state.
      throw new KeyedStateError('CORRUPTION', `column family '${s.columnFamily}' of state '${s.meta.name}' is missing from checkpoint ${h.checkpointId}`, {
        state: s.meta.name,
        file: h.metaFile.path,
      })
    }
  }
  db.registerRestoredStates(states)
  stats.inPlaceHandles++
  const clip: Array<[number, number]> = []
  if (h.keyGroupRange.start < range.start) clip.push([h.keyGroupRange.start, range.start])
  if (h.keyGroupRange.end > range.end) clip.push([range.end + 1, h.keyGroupRange.end + 1])
  for (const [from, to] of clip) {
    stats.clippedKeyGroups += to - from
    // Range tombstones hide the key groups at once; compaction reclaims their space later. Rewriting
    // the SSTs now would make the next checkpoint upload all of them again.
    for (const s of meta.states) db.db.deleteRange(db.columnFamilyHandle(s.meta.name), keyGroupPrefix(from), keyGroupPrefix(to))
  }
}

/** Copies each handle's key groups of the target out of a temporary database into SSTs, ingested into `db`. */
async function ingestHandles(
  db: RestoreTarget,
  handles: readonly IncrementalSnapshotHandle[],
  metas: ReadonlyMap<IncrementalSnapshotHandle, IncrementalMetaFile>,
  storage: CheckpointStorage,
  target: IncrementalRestoreTarget,
  locals: readonly LocalStateHandle[],
  stats: IncrementalRestoreStats,
): Promise<void> {
  const staging = target.workingDir.staging
  try {
    for (const [i, h] of handles.entries()) {
      const tempDir = join(staging, `incremental-${i}`)
      const tempDbDir = join(tempDir, 'db')
      const source = await withLocalFallback(h, findLocalIncrementalCopy(h, locals), target, stats, async (copy) => {
        await placeHandleFiles(h, storage, copy, tempDbDir, stats, target.reportLocalFallback)
        await target.afterPlaced?.(tempDbDir, copy)
        // Read once and deleted: compacting it would only add I/O to the restore.
        return target.native.open(tempDbDir, { createIfMissing: false, disableWal: true, disableAutoCompactions: true })
      }, () => rm(tempDbDir, { recursive: true, force: true }))
      try {
        const wanted = rangeIntersection(h.keyGroupRange, target.keyGroupRange)
        const groups: Array<{ cf: number; files: string[] }> = []
        for (const [s, state] of metas.get(h)!.states.entries()) {
          const cf = source.columnFamily(state.columnFamily)
          if (cf < 0) {
            throw new KeyedStateError('CORRUPTION', `column family '${state.columnFamily}' of state '${state.meta.name}' is missing from checkpoint ${h.checkpointId}`, {
              state: state.meta.name,
              file: h.metaFile.path,
            })
          }
          const files = await copyRangeToSstFiles(target.native, source, cf, wanted, join(tempDir, 'sst'), `state-${s}`, stats)
          if (files.length > 0) groups.push({ cf: db.columnFamilyHandle(state.meta.name), files })
        }
        // One call for every state of the handle (one MANIFEST write, not one per state). move: the
        // staged files are hard-linked into the database, not copied again. Handles never overlap, so
        // the files never overlap what the database holds, and RocksDB places them as they are.
        db.db.ingestAll(groups, { move: true })
      } finally {
        source.close()
      }
      // Free the handle's disk space before the next one is brought in.
      await rm(tempDir, { recursive: true, force: true })
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

/** Full handles in the same restore go through the ingesting restore sink; their states must agree with the incremental ones. */
async function ingestFullHandles(
  db: RestoreTarget,
  full: readonly FullSnapshotHandle[],
  union: ReadonlyMap<string, StateMetaInfo>,
  coveredElsewhere: readonly KeyGroupRange[],
  storage: CheckpointStorage,
  target: IncrementalRestoreTarget,
  locals: readonly LocalStateHandle[],
): Promise<void> {
  const sink = new IngestingRestoreSink(db)
  const checked: RestoreSink = {
    restoreMetaInfos: (metaInfos) => {
      for (const m of metaInfos) {
        const seen = union.get(m.name)
        if (seen) checkSameLayout(seen, m, 'a full snapshot handle')
      }
      sink.restoreMetaInfos(metaInfos)
    },
    restoreChunk: (stateName, keyGroup, chunk, lane) => sink.restoreChunk(stateName, keyGroup, chunk, lane),
    flushRestore: () => sink.flushRestore(),
  }
  try {
    const localFull = locals.filter((l) => l?.type === 'local-full')
    // Key groups restored from incremental handles (or known to be empty) need no full handle.
    await restoreFullHandles(full, storage, target.keyGroupRange, checked, localFull, {
      maxParallelism: target.maxParallelism,
      onLocalFallback: fullLocalFallback(target.reportLocalFallback),
      keySerializer: target.keySerializer,
      knownEmptyRanges: coveredElsewhere,
      readLanes: RESTORE_READ_LANES,
      blockWork: nativeBlockWork(db.native),
    })
    await sink.flushRestore()
  } finally {
    await sink.discard()
  }
}
