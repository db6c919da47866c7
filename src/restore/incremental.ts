// Restore of the RocksDB backend from incremental handles (mixed with full
// ones, when a job switched modes or instances differed):
//
// - one incremental handle holds every key group of the target that has state
//   (it covers the target, or the rest is known to be empty): its files become
//   the working database directly, and the key groups outside the target are
//   clipped with delete-range. The restored SST set is the base of the next
//   checkpoint, so that one uploads only what changed. The backend id is kept
//   when the range is the same; a clipped restore (scale-up) gets a new one,
//   because two instances restored from one handle are two lineages.
// - otherwise (rescaling, or mixed types): a new database built by ingesting
//   SST files cut per key-group range from each handle (incremental-ingest.ts)
//   and from full handles through the ingesting restore sink.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { columnFamilyOf } from '../backends/rocksdb/meta-store.js'
import type { RestoreTarget } from '../backends/rocksdb/restore-sink.js'
import { IngestingRestoreSink } from '../backends/rocksdb/restore-sink.js'
import type { WorkingDir } from '../backends/rocksdb/working-dir.js'
import { keyGroupPrefix } from '../encoding.js'
import { KeyedStateError, StateConflictError } from '../errors.js'
import { checkKeyGroupRange, rangeIntersection, rangeSize, type KeyGroupRange } from '../keygroups.js'
import type { NativeBinding } from '../native/types.js'
import { describeSerializer, sameSerializerConfig, serializerCanRead, type Serializer } from '../serializers/serializer.js'
import { restoreFullHandles } from '../snapshot/full/index.js'
import { checkIncrementalHandle } from '../snapshot/incremental/handle.js'
import type { IncrementalMetaFile } from '../snapshot/incremental/meta-file.js'
import type { RestoredSstBase } from '../snapshot/incremental/strategy.js'
import type { FullSnapshotHandle, IncrementalSnapshotHandle, KeyedStateHandle, LocalStateHandle, RestoreSink } from '../snapshot/types.js'
import type { StateMetaInfo } from '../state/meta.js'
import type { CheckpointStorage } from '../storage/types.js'
import { checkCoverage, firstOverlap } from './coverage.js'
import { emptyPlacementStats, findLocalIncrementalCopy, placeHandleFiles, readHandleMeta, type FilePlacementStats } from './incremental-files.js'
import { copyRangeToSstFiles, type RangeCopyStats } from './incremental-ingest.js'

/** What the restore needs from the backend being restored. */
export interface IncrementalRestoreTarget {
  readonly native: NativeBinding
  readonly workingDir: WorkingDir
  readonly keyGroupRange: KeyGroupRange
  readonly maxParallelism: number
  readonly keySerializer: Serializer<unknown>
  /**
   * Opens the backend's database in `workingDir.db` (which may already hold
   * the restored files) and returns what a restore sink needs from it.
   */
  openDatabase(): RestoreTarget
}

export interface IncrementalRestoreStats extends FilePlacementStats, RangeCopyStats {
  /** 'direct': one handle's files opened in place (and clipped); 'ingest': rebuilt by SST ingestion. */
  mode: 'direct' | 'ingest'
  incrementalHandles: number
  fullHandles: number
  /** Key groups removed with delete-range (direct mode). */
  clippedKeyGroups: number
}

export interface IncrementalRestoreResult {
  /** The lineage id to keep; undefined: the backend takes a new one. */
  backendId: string | undefined
  /** The restored SST set, the base of the next checkpoint (direct mode). */
  base: RestoredSstBase | undefined
  stats: IncrementalRestoreStats
}

/** Test hook: told about every finished incremental restore. */
export const incrementalRestoreHooks: { onRestored?: (stats: IncrementalRestoreStats) => void } = {}

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
    clippedKeyGroups: 0,
  }
  // Coverage is checked: a single relevant handle holds every key group of the target that has state.
  const only = relevant.length === 1 ? incremental[0] : undefined
  const result =
    only
      ? await restoreDirect(only, storage, target, local, stats)
      : await restoreByIngestion(incremental, full, [...handles.filter((h) => h.type === 'incremental').map((h) => h.keyGroupRange), ...knownEmptyRanges], storage, target, local, stats)
  incrementalRestoreHooks.onRestored?.(stats)
  return result
}

async function restoreDirect(
  h: IncrementalSnapshotHandle,
  storage: CheckpointStorage,
  target: IncrementalRestoreTarget,
  locals: readonly LocalStateHandle[],
  stats: IncrementalRestoreStats,
): Promise<IncrementalRestoreResult> {
  stats.mode = 'direct'
  const local = findLocalIncrementalCopy(h, locals)
  const meta = await readHandleMeta(h, storage, local)
  checkMeta(meta, h, target)
  await placeHandleFiles(h, storage, local, target.workingDir.db, stats)
  const db = target.openDatabase()
  for (const s of meta.states) {
    if (db.db.columnFamily(s.columnFamily) < 0) {
      // Registering would create it empty and silently lose the state.
      throw new KeyedStateError('CORRUPTION', `column family '${s.columnFamily}' of state '${s.meta.name}' is missing from checkpoint ${h.checkpointId}`, {
        state: s.meta.name,
        file: h.metaFile.path,
      })
    }
  }
  db.registerRestoredStates(meta.states.map((s) => s.meta))
  const range = target.keyGroupRange
  const clip: Array<[number, number]> = []
  if (h.keyGroupRange.start < range.start) clip.push([h.keyGroupRange.start, range.start])
  if (h.keyGroupRange.end > range.end) clip.push([range.end + 1, h.keyGroupRange.end + 1])
  for (const [from, to] of clip) {
    stats.clippedKeyGroups += to - from
    // Range tombstones hide the key groups at once; compaction reclaims their space later. Rewriting
    // the SSTs now would make the next checkpoint upload all of them again.
    for (const s of meta.states) db.db.deleteRange(db.columnFamilyHandle(s.meta.name), keyGroupPrefix(from), keyGroupPrefix(to))
  }
  const sameRange = h.keyGroupRange.start === range.start && h.keyGroupRange.end === range.end
  return {
    backendId: sameRange ? h.backendId : undefined,
    base: { checkpointId: h.checkpointId, files: h.sharedFiles },
    stats,
  }
}

async function restoreByIngestion(
  incremental: readonly IncrementalSnapshotHandle[],
  full: readonly FullSnapshotHandle[],
  /** Key groups the full handles need not cover: restored from incremental handles, or known to be empty. */
  coveredElsewhere: readonly KeyGroupRange[],
  storage: CheckpointStorage,
  target: IncrementalRestoreTarget,
  locals: readonly LocalStateHandle[],
  stats: IncrementalRestoreStats,
): Promise<IncrementalRestoreResult> {
  const range = target.keyGroupRange
  // Meta files first: a conflict between handles is reported before any data moves.
  const metas: IncrementalMetaFile[] = []
  for (const h of incremental) {
    const meta = await readHandleMeta(h, storage, findLocalIncrementalCopy(h, locals))
    checkMeta(meta, h, target)
    metas.push(meta)
  }
  const union = new Map<string, StateMetaInfo>()
  for (const [i, meta] of metas.entries()) {
    for (const s of meta.states) {
      const seen = union.get(s.meta.name)
      if (seen) checkSameLayout(seen, s.meta, incremental[i]!.metaFile.path)
      else union.set(s.meta.name, s.meta)
    }
  }
  const db = target.openDatabase()
  db.registerRestoredStates([...union.values()])

  const staging = target.workingDir.staging
  try {
    for (const [i, h] of incremental.entries()) {
      const tempDir = join(staging, `incremental-${i}`)
      const tempDbDir = join(tempDir, 'db')
      await placeHandleFiles(h, storage, findLocalIncrementalCopy(h, locals), tempDbDir, stats)
      // Read once and deleted: compacting it would only add I/O to the restore.
      const source = target.native.open(tempDbDir, { createIfMissing: false, disableWal: true, disableAutoCompactions: true })
      try {
        const wanted = rangeIntersection(h.keyGroupRange, range)
        for (const [s, state] of metas[i]!.states.entries()) {
          const cf = source.columnFamily(state.columnFamily)
          if (cf < 0) {
            throw new KeyedStateError('CORRUPTION', `column family '${state.columnFamily}' of state '${state.meta.name}' is missing from checkpoint ${h.checkpointId}`, {
              state: state.meta.name,
              file: h.metaFile.path,
            })
          }
          const files = await copyRangeToSstFiles(target.native, source, cf, wanted, join(tempDir, 'sst'), `state-${s}`, stats)
          // move: the staged files are hard-linked into the database, not copied again.
          if (files.length > 0) db.db.ingest(db.columnFamilyHandle(state.meta.name), files, { move: true })
        }
      } finally {
        source.close()
      }
      // Free the handle's disk space before the next one is brought in.
      await rm(tempDir, { recursive: true, force: true })
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }

  if (full.length > 0) {
    const sink = new IngestingRestoreSink(db)
    const checked: RestoreSink = {
      restoreMetaInfos: (metaInfos) => {
        for (const m of metaInfos) {
          const seen = union.get(m.name)
          if (seen) checkSameLayout(seen, m, 'a full snapshot handle')
        }
        sink.restoreMetaInfos(metaInfos)
      },
      restoreChunk: (stateName, keyGroup, chunk) => sink.restoreChunk(stateName, keyGroup, chunk),
      flushRestore: () => sink.flushRestore(),
    }
    try {
      const localFull = locals.filter((l) => l?.type === 'local-full')
      await restoreFullHandles(full, storage, range, checked, localFull, { maxParallelism: target.maxParallelism, knownEmptyRanges: coveredElsewhere })
      sink.flushRestore()
    } finally {
      await sink.discard()
    }
  }
  return { backendId: undefined, base: undefined, stats }
}
