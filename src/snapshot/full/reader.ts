// Restore from full snapshots: any number of handles, any key-group ranges, into
// one target range. Only the key groups of the target are read (via the
// offsets), every block is verified before its entries reach the sink, and a
// valid local copy is preferred over checkpoint storage.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { KeyedStateError, StateConflictError, isKeyedStateError } from '../../errors.js'
import { checkKeyGroupRange, formatRange, rangeIntersection, rangeSize, type KeyGroupRange } from '../../keygroups.js'
import { checkCoverage, firstOverlap } from '../../keygroup-coverage.js'
import { describeSerializer, sameSerializerConfig, serializerCanRead, serializerConfig, type Serializer } from '../../serializers/serializer.js'
import type { StateMetaInfo } from '../../state/meta.js'
import { FileSystemCheckpointStorage } from '../../storage/fs.js'
import type { CheckpointStorage } from '../../storage/types.js'
import { corruptSnapshot, readKeyGroupBlocks, readLayout, storageByteSource, type ByteSource, type SnapshotLayout } from '../format/decoder.js'
import type { BlockWork } from '../format/codec.js'
import { KeyOrder } from '../format/entry-rules.js'
import type { FullSnapshotHandle, LocalStateHandle, RestoreSink } from '../types.js'
import { checkHandleMaxParallelism } from '../argument-checks.js'

export interface FullRestoreOptions {
  /** The restoring backend's maxParallelism; handles written with another one are refused. */
  maxParallelism?: number
  /** The restoring backend's key serializer; a file whose recorded key serializer it cannot read is refused. */
  keySerializer?: Serializer<unknown>
  /** Bound of one storage read; default 4 MiB. */
  windowBytes?: number
  /**
   * Key-group ranges known to hold no state, e.g. of instances whose snapshot
   * was empty and wrote no handle (the checkpoint metadata knows them). They
   * count as covered; without them every target key group needs a handle.
   */
  knownEmptyRanges?: readonly KeyGroupRange[]
  /** Told when a local copy was unusable and storage is read instead. */
  onLocalFallback?: (local: LocalStateHandle, error: unknown) => void
  /**
   * Most streams a handle is read in at once, each a contiguous run of its key
   * groups with about the same bytes (default 1). A sink that works off the
   * event loop (RocksDB builds SST files on the thread pool) gets work for
   * several threads; each lane reads at least `readLaneMinBytes`.
   */
  readLanes?: number
  /** The fewest stored bytes a read lane gets; default READ_LANE_MIN_BYTES. */
  readLaneMinBytes?: number
  /** Checksums and decompression done elsewhere (the RocksDB backend gives its addon's, on the thread pool). */
  blockWork?: BlockWork
}

export interface FullRestoreResult {
  handlesRead: number
  /** Handles read (at least partly) from a local copy. */
  localHandlesUsed: number
  localFallbacks: number
  keyGroups: number
  blocks: number
  entries: number
}

const YIELD_EVERY_MS = 8
/** A handle is read in more than one lane only when each gets at least this many bytes. */
export const READ_LANE_MIN_BYTES = 16 * 1024 * 1024

/**
 * Splits the key groups of `wanted` (inside handle `h`) into at most `lanes`
 * contiguous ranges of about the same stored bytes (the key-group offsets give
 * each key group's bytes); key groups without data go with their neighbours.
 */
export function splitIntoLanes(h: FullSnapshotHandle, layout: SnapshotLayout, wanted: KeyGroupRange, lanes: number, minBytes = READ_LANE_MIN_BYTES): KeyGroupRange[] {
  const offsets = layout.keyGroupOffsets
  const first = h.keyGroupRange.start
  // Start of each wanted key group's data, and where the last one's data ends.
  const starts: number[] = []
  let end = layout.indexOffset
  for (let kg = wanted.end + 1; kg <= h.keyGroupRange.end; kg++) {
    if (offsets[kg - first]! >= 0) {
      end = offsets[kg - first]!
      break
    }
  }
  for (let kg = wanted.start; kg <= wanted.end; kg++) starts.push(offsets[kg - first]!)
  let from = -1
  for (const o of starts) if (o >= 0) from = from < 0 ? o : from
  const total = from < 0 ? 0 : end - from
  const n = Math.max(1, Math.min(lanes, rangeSize(wanted), Math.floor(total / Math.max(1, minBytes))))
  if (n === 1) return [wanted]
  const ranges: KeyGroupRange[] = []
  let laneStart = wanted.start
  for (let kg = wanted.start; kg <= wanted.end && ranges.length < n - 1; kg++) {
    const o = starts[kg - wanted.start]!
    // Cut before the first key group that starts past the lane's share of the bytes.
    if (o >= 0 && kg > laneStart && o - from >= (total * (ranges.length + 1)) / n) {
      ranges.push({ start: laneStart, end: kg - 1 })
      laneStart = kg
    }
  }
  ranges.push({ start: laneStart, end: wanted.end })
  return ranges
}

/** Carries an error the sink threw past the copy fallback, which is only for errors reading a copy. */
class SinkFailure {
  constructor(readonly error: unknown) {}
}

/** Errors after which another copy of the same file is worth trying. */
function isCopyProblem(e: unknown): boolean {
  return isKeyedStateError(e) && ['CORRUPTION', 'CHECKSUM_MISMATCH', 'TRUNCATED', 'MISSING_FILE', 'IO_ERROR', 'PATH_ESCAPE'].includes(e.code)
}

function sameStateLayout(a: StateMetaInfo, b: StateMetaInfo): boolean {
  return (
    sameSerializerConfig(a.namespaceSerializer, b.namespaceSerializer) &&
    sameSerializerConfig(a.valueSerializer, b.valueSerializer) &&
    (a.userKeySerializer === undefined) === (b.userKeySerializer === undefined) &&
    (a.userKeySerializer === undefined || sameSerializerConfig(a.userKeySerializer, b.userKeySerializer!)) &&
    a.ttl?.ttlMs === b.ttl?.ttlMs
  )
}

function checkHandle(h: FullSnapshotHandle, i: number): void {
  const bad = (why: string): KeyedStateError => new KeyedStateError('INVALID_ARGUMENT', `handle #${i}: ${why}`, { file: h?.file?.path })
  if (h?.type !== 'full') throw bad(`expected a full snapshot handle, got type ${JSON.stringify(h?.type)}`)
  if (!h.file || typeof h.file.path !== 'string' || !Number.isSafeInteger(h.file.sizeBytes)) throw bad('has no file')
  if (!h.keyGroupRange || !Array.isArray(h.keyGroupOffsets) || h.keyGroupOffsets.length !== rangeSize(h.keyGroupRange)) {
    throw bad(`has ${h.keyGroupOffsets?.length} key-group offsets for range ${h.keyGroupRange ? formatRange(h.keyGroupRange) : '?'}`)
  }
}

/** Throws unless the file is the one the handle describes. */
function checkLayoutMatchesHandle(layout: SnapshotLayout, h: FullSnapshotHandle): void {
  const mismatch = (what: string): never => {
    throw corruptSnapshot('CORRUPTION', layout.file, `the file does not match its handle: ${what}`)
  }
  if (layout.formatVersion !== h.formatVersion) mismatch(`format version ${layout.formatVersion} vs ${h.formatVersion}`)
  if (layout.meta.maxParallelism !== h.maxParallelism) mismatch(`maxParallelism ${layout.meta.maxParallelism} vs ${h.maxParallelism}`)
  const r = layout.meta.keyGroupRange
  if (r.start !== h.keyGroupRange.start || r.end !== h.keyGroupRange.end) mismatch(`key groups ${formatRange(r)} vs ${formatRange(h.keyGroupRange)}`)
  for (let i = 0; i < layout.keyGroupOffsets.length; i++) {
    if (layout.keyGroupOffsets[i] !== h.keyGroupOffsets[i]) mismatch(`offset of key group ${r.start + i}: ${layout.keyGroupOffsets[i]} vs ${h.keyGroupOffsets[i]}`)
  }
}

/**
 * Refuses a file whose keys were written with a key serializer the restoring
 * one cannot read: the entries would restore without error and then be
 * invisible (RocksDB looks keys up by their new bytes) or read as garbage.
 * Files written before the key serializer was recorded cannot be checked.
 */
function checkKeySerializer(layout: SnapshotLayout, h: FullSnapshotHandle, keySerializer: Serializer<unknown> | undefined): void {
  const recorded = layout.meta.keySerializer
  if (!keySerializer || !recorded || serializerCanRead(keySerializer, recorded)) return
  throw new StateConflictError(
    'SERIALIZER_MISMATCH',
    `the keys of checkpoint ${h.checkpointId} (${h.file.path}) were written with key serializer ${describeSerializer(recorded)}, ` +
      `which the given key serializer ${describeSerializer(serializerConfig(keySerializer))} cannot read`,
    { file: h.file.path },
  )
}

/** A local copy is the same file when it has the checkpoint, range, size, checksum and offsets of the handle. */
export function findLocalCopy(h: FullSnapshotHandle, local: readonly LocalStateHandle[] | undefined): LocalStateHandle | undefined {
  return local?.find((l) => {
    const c = l.handle
    return (
      l.type === 'local-full' && c?.type === 'full' && l.checkpointId === h.checkpointId && c.checkpointId === h.checkpointId &&
      c.keyGroupRange.start === h.keyGroupRange.start && c.keyGroupRange.end === h.keyGroupRange.end &&
      c.file.sizeBytes === h.file.sizeBytes && c.file.crc32 === h.file.crc32 &&
      c.keyGroupOffsets.length === h.keyGroupOffsets.length && c.keyGroupOffsets.every((o, i) => o === h.keyGroupOffsets[i])
    )
  })
}

interface OpenedCopy {
  src: ByteSource
  layout: SnapshotLayout
  local: LocalStateHandle | undefined
}

async function openStorageCopy(h: FullSnapshotHandle, storage: CheckpointStorage): Promise<OpenedCopy> {
  const src = storageByteSource(storage, h.file.path)
  const layout = await readLayout(src, h.file.sizeBytes)
  checkLayoutMatchesHandle(layout, h)
  return { src, layout, local: undefined }
}

async function openLocalCopy(h: FullSnapshotHandle, l: LocalStateHandle): Promise<OpenedCopy> {
  const src = storageByteSource(new FileSystemCheckpointStorage(l.directory), (l.handle as FullSnapshotHandle).file.path)
  const layout = await readLayout(src, h.file.sizeBytes)
  checkLayoutMatchesHandle(layout, h)
  return { src, layout, local: l }
}

/**
 * Restores the key groups of `targetRange` from full handles into `sink`:
 * checks coverage, reads and merges the meta-info of every handle that
 * intersects the target, registers it once, then delivers each key group's
 * verified entries.
 */
export async function restoreFull(
  handles: readonly FullSnapshotHandle[],
  storage: CheckpointStorage,
  targetRange: KeyGroupRange,
  sink: RestoreSink,
  local?: readonly LocalStateHandle[],
  options: FullRestoreOptions = {},
): Promise<FullRestoreResult> {
  if (!Array.isArray(handles)) throw new KeyedStateError('INVALID_ARGUMENT', 'restore needs a list of handles')
  handles.forEach(checkHandle)
  const maxParallelism = options.maxParallelism ?? handles[0]?.maxParallelism
  if (maxParallelism !== undefined) {
    const whose = options.maxParallelism !== undefined ? 'the backend has' : 'handle #0 has'
    for (const [i, h] of handles.entries()) checkHandleMaxParallelism(h, i, maxParallelism, whose)
  }
  if (maxParallelism !== undefined) checkKeyGroupRange(targetRange, maxParallelism)
  checkCoverage([...handles.map((h) => h.keyGroupRange), ...(options.knownEmptyRanges ?? [])], targetRange)
  const overlap = firstOverlap(handles.map((h) => h.keyGroupRange), targetRange)
  if (overlap) {
    throw new KeyedStateError(
      'INVALID_ARGUMENT',
      `key group ${overlap.keyGroup} is covered by two handles (${handles[overlap.a]!.file.path} and ${handles[overlap.b]!.file.path})`,
      { keyGroup: overlap.keyGroup },
    )
  }
  const relevant = handles
    .filter((h) => rangeSize(rangeIntersection(h.keyGroupRange, targetRange)) > 0)
    .sort((a, b) => a.keyGroupRange.start - b.keyGroupRange.start)
  const result: FullRestoreResult = { handlesRead: 0, localHandlesUsed: 0, localFallbacks: 0, keyGroups: 0, blocks: 0, entries: 0 }

  // Open every handle first: the sink must learn all states before the first entry.
  const opened: OpenedCopy[] = []
  for (const h of relevant) {
    const l = findLocalCopy(h, local)
    let copy: OpenedCopy | undefined
    if (l) {
      try {
        copy = await openLocalCopy(h, l)
      } catch (e) {
        if (!isCopyProblem(e)) throw e
        result.localFallbacks++
        options.onLocalFallback?.(l, e)
      }
    }
    copy ??= await openStorageCopy(h, storage)
    checkKeySerializer(copy.layout, h, options.keySerializer)
    opened.push(copy)
  }

  const union = new Map<string, StateMetaInfo>()
  for (const { layout } of opened) {
    for (const s of layout.meta.states) {
      const seen = union.get(s.name)
      if (!seen) union.set(s.name, s)
      else if (seen.kind !== s.kind) {
        throw new StateConflictError('STATE_CONFLICT', `restored state '${s.name}' is ${seen.kind} state in one handle and ${s.kind} in ${layout.file}`, { state: s.name, file: layout.file })
      } else if (!sameStateLayout(seen, s)) {
        throw new StateConflictError('SERIALIZER_MISMATCH', `restored state '${s.name}' was written with different serializers or TTL in ${layout.file} than in another handle`, {
          state: s.name,
          file: layout.file,
        })
      }
    }
  }
  sink.restoreMetaInfos([...union.values()])

  const yielder = { last: performance.now() }
  for (let i = 0; i < relevant.length; i++) {
    const h = relevant[i]!
    const opening = opened[i]!
    result.handlesRead++
    if (opening.local) result.localHandlesUsed++
    const wanted = rangeIntersection(h.keyGroupRange, targetRange)
    const lanes = splitIntoLanes(h, opening.layout, wanted, options.readLanes ?? 1, options.readLaneMinBytes)
    // One storage copy per handle, opened by the first lane whose local copy fails.
    let storageCopy: Promise<OpenedCopy> | undefined
    const fallBack = (local: LocalStateHandle, e: unknown): Promise<OpenedCopy> => {
      if (!storageCopy) {
        result.localFallbacks++
        options.onLocalFallback?.(local, e)
        storageCopy = openStorageCopy(h, storage)
      }
      return storageCopy
    }
    const stop = { failed: false }
    const settled = await Promise.allSettled(
      lanes.map((range, lane) => readLane(opening, range, lane, sink, result, fallBack, stop, yielder, options)),
    )
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
    await sink.flushRestore?.()
  }
  return result
}

/**
 * Reads the key groups of `range` of one handle into the sink, switching to
 * the storage copy where the local one fails (the copies are byte-identical,
 * so storage continues exactly there). Stops early once another lane failed.
 */
async function readLane(
  opening: OpenedCopy,
  range: KeyGroupRange,
  lane: number,
  sink: RestoreSink,
  result: FullRestoreResult,
  fallBack: (local: LocalStateHandle, e: unknown) => Promise<OpenedCopy>,
  stop: { failed: boolean },
  yielder: { last: number },
  options: FullRestoreOptions,
): Promise<void> {
  let copy = opening
  // Where to continue after a fallback: the next key group, or the next block inside one.
  let next: { keyGroup: number; offset?: number } = { keyGroup: range.start }
  // One key order per lane: a resume on the storage copy continues the order checks of the local one.
  const order = new KeyOrder()
  try {
    for (;;) {
      try {
        const rest = { start: next.keyGroup, end: range.end }
        for await (const block of readKeyGroupBlocks(copy.src, copy.layout, rest, { windowBytes: options.windowBytes, resumeOffset: next.offset, order, blockWork: options.blockWork })) {
          if (stop.failed) return
          const states = copy.layout.meta.states
          try {
            for (const section of block.sections) {
              const wait = sink.restoreChunk(states[section.stateIndex]!.name, block.keyGroup, section.chunk, lane)
              if (wait) await wait
              result.entries += section.entryCount
            }
          } catch (e) {
            // The sink's failure is never the copy's: retrying from storage would deliver this
            // block's earlier sections twice (ListState elements doubled) and blame a good file.
            throw new SinkFailure(e)
          }
          result.blocks++
          if (block.last) result.keyGroups++
          next = block.last ? { keyGroup: block.keyGroup + 1 } : { keyGroup: block.keyGroup, offset: block.nextOffset }
          if (performance.now() - yielder.last > YIELD_EVERY_MS) {
            await yieldToEventLoop()
            yielder.last = performance.now()
          }
        }
        return
      } catch (e) {
        if (e instanceof SinkFailure) throw e.error
        if (!copy.local || !isCopyProblem(e)) throw e
        copy = await fallBack(copy.local, e)
      }
    }
  } catch (e) {
    stop.failed = true
    throw e
  }
}
