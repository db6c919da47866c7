// Group 2: checkpoints at each state size. Sync pause and async time of full
// and incremental checkpoints, bytes written, incremental after 1 % / 10 % of
// keys changed, and full snapshot throughput against raw packed iteration.
import type { CheckpointStorage } from '../../src/storage/types.js'
import { emptyResult, type BenchGroup, type CostPoint, type GroupResult, type RunContext } from '../lib/context.js'
import { datasetOfSize, sampleIndices, type Dataset } from '../lib/data.js'
import { mbPerSec, sizeLabel } from '../lib/format.js'
import { GOALS, goalCell, judge } from '../lib/goals.js'
import { openBackend, randomReadsPerSec, VALUE_STATE, writeValues, type Backend } from '../lib/keyed.js'
import type { RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import { columnFamilyOf } from '../../src/backends/rocksdb/meta-store.js'
import { forceGc, type Footprint } from '../lib/machine.js'
import { attempt, fsStorageFactory, isUnavailable, NOT_BUILT, Unavailable } from '../lib/pieces.js'
import { packedIterationOf } from '../lib/raw-db.js'
import type { NativeDb } from '../../src/backends/rocksdb/native/types.js'
import { forEachSize, largestMeasured, whereLabel, type PerSize } from '../lib/sizes.js'
import { table } from '../lib/table.js'
import { median, timed } from '../lib/timing.js'
import { dirSizeBytes } from '../lib/tmp.js'
import { takeCompletedCheckpoint, takeSnapshot, type CheckpointCost } from '../lib/checkpointing.js'

export const ROCKSDB_FOOTPRINT: Footprint = { diskFactor: 6, memoryFactor: 1 }
export const HEAP_FOOTPRINT: Footprint = { diskFactor: 2, memoryFactor: 6 }

type Maybe<T> = T | Unavailable

export interface RocksCheckpointMeasures {
  data: Dataset
  fillMs: number
  randomReadsPerSec: number
  workingDirBytes: number
  full: Maybe<CheckpointCost>
  /** The same full snapshot without compression: what the codec costs. */
  fullUncompressed: Maybe<CheckpointCost>
  incrementalFirst: Maybe<CheckpointCost>
  /** Checkpoints without changes right after the bulk load, until compactions stop rewriting files (summed). */
  settle: Maybe<CheckpointCost & { checkpoints: number }>
  /** The median (by bytes) of several checkpoints, each after another 1 % of keys changed: the steady state. */
  incremental1pct: Maybe<CheckpointCost>
  /** The one of those checkpoints that uploaded the most (a compaction merged larger runs). */
  incremental1pctMax: Maybe<CheckpointCost>
  incremental10pct: Maybe<CheckpointCost>
  /** 1 % changed again, after the full snapshots released their RocksDB read snapshot. */
  incremental1pctAfterFull: Maybe<CheckpointCost>
  rawIteration: Maybe<{ ms: number; packedBytes: number }>
}

export interface HeapCheckpointMeasures {
  data: Dataset
  fillMs: number
  heapUsedBytes: number
  full: Maybe<CheckpointCost>
}

/** Checkpoints after 1 % of keys changed, one after the other (each round changes another 1 %). */
const ONE_PERCENT_ROUNDS = 5

/**
 * Rounds of (raw iteration, full snapshot, full snapshot without compression)
 * at every size: a single round at 1 GB measured raw iteration once, right
 * after the warm-up pass, and the snapshots in whatever state the machine was
 * after it (the same raw loop took 1.1 s and 1.8 s in two rounds of one process).
 */
const FULL_VS_RAW_ROUNDS = 3

/** Small states finish in milliseconds: repeat those measures and take the median. */
function repeatsFor(sizeBytes: number): number {
  return sizeBytes <= 100e6 ? 3 : 1
}

/**
 * Whether RocksDB is running or about to run a compaction of the state. A
 * running one uploads nothing until it ends (a merge of a whole 1 GB bulk load
 * takes minutes), so a quiet checkpoint alone does not mean it settled.
 */
function compacting(b: Backend): boolean {
  const db = (b as Partial<RocksDBKeyedStateBackend<string>>).db
  if (!db) return false
  const cf = db.columnFamily(columnFamilyOf(VALUE_STATE))
  if (cf < 0) return false
  return db.getProperty(cf, 'rocksdb.num-running-compactions') !== '0' || db.getProperty(cf, 'rocksdb.compaction-pending') === '1'
}

/**
 * After a bulk load, RocksDB keeps merging the loaded files for a while, and
 * each checkpoint uploads what the compactions wrote. Takes checkpoints without
 * changing anything (2 s apart) until one uploads < 0.5 % of the first (or
 * 64 kB, the DB's own small files) and no compaction runs, so the
 * 1 % rounds after it measure the steady state; returns what they cost in sum.
 */
async function settleCompactions(
  b: Backend,
  storage: CheckpointStorage,
  nextId: () => number,
  firstBytes: number,
  intervalMs: number,
  maxMs: number,
): Promise<CheckpointCost & { checkpoints: number }> {
  // MANIFEST, OPTIONS and CURRENT go up with every checkpoint: a few kB that are not compaction output.
  const quietBytes = Math.max(firstBytes * 0.005, 64 * 1024)
  const start = Date.now()
  const sum = { syncMs: 0, asyncMs: 0, totalMs: 0, bytesWritten: 0, checkpoints: 0 }
  let last: CheckpointCost | undefined
  while (Date.now() - start < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
    last = await takeCompletedCheckpoint(b, nextId(), storage)
    sum.syncMs = Math.max(sum.syncMs, last.syncMs)
    sum.asyncMs += last.asyncMs
    sum.totalMs += last.totalMs
    sum.bytesWritten += last.bytesWritten
    sum.checkpoints++
    if (last.bytesWritten < quietBytes && !compacting(b)) break
  }
  return { ...sum, result: last!.result }
}

async function medianCost(repeats: number, take: (repeat: number) => Promise<CheckpointCost>): Promise<CheckpointCost> {
  const costs: CheckpointCost[] = []
  for (let r = 0; r < repeats; r++) costs.push(await take(r))
  return medianOf(costs)
}

function stateData(ctx: RunContext, sizeBytes: number): Dataset {
  return datasetOfSize(sizeBytes, ctx.config.stateValueChars)
}

const rocksMemoKey = (sizeBytes: number) => `rocksdb-checkpoints:${sizeBytes}`
const heapMemoKey = (sizeBytes: number) => `heap-checkpoints:${sizeBytes}`

/** Measures a RocksDB backend holding `sizeBytes` of ValueState (once per run; other groups reuse it). */
export function rocksCheckpointMeasures(ctx: RunContext, sizeBytes: number): Promise<Maybe<RocksCheckpointMeasures>> {
  return ctx.memo(rocksMemoKey(sizeBytes), () =>
    attempt(async () => {
      const label = sizeLabel(sizeBytes)
      const storageFactory = await fsStorageFactory()
      if (isUnavailable(storageFactory)) throw storageFactory
      const data = stateData(ctx, sizeBytes)
      const storageDir = ctx.tmp.dir(`chk-storage-${label}`)
      const storage = storageFactory(storageDir)
      ctx.progress.step(`checkpoints ${label}: fill RocksDB (${data.count.toLocaleString('en-US')} keys)`)
      const opened = await openBackend(ctx.tmp, 'rocksdb', `chk-${label}`)
      try {
        const b = opened.backend
        const fill = await timed(() => writeValues(b, data))
        const reads = randomReadsPerSec(b, data, ctx.config.quick ? 20_000 : 200_000, 7)

        ctx.progress.step(`checkpoints ${label}: incremental and full checkpoints`)
        const first = await takeCompletedCheckpoint(b, 1, storage)
        const incremental = first.result.handle?.type === 'incremental'
        const notBuilt = new Unavailable(NOT_BUILT)
        let incremental1pct: Maybe<CheckpointCost> = notBuilt
        let incremental1pctMax: Maybe<CheckpointCost> = notBuilt
        let incremental10pct: Maybe<CheckpointCost> = notBuilt
        let incremental1pctAfterFull: Maybe<CheckpointCost> = notBuilt
        const changeAndCheckpoint = (fraction: number, version: number, checkpointId: number, what: string) => {
          writeValues(b, data, version, sampleIndices(data.count, fraction, 10 + version))
          return attempt(() => takeCompletedCheckpoint(b, checkpointId, storage), ctx.onError(`checkpoints ${label}: ${what}`))
        }
        let version = 0
        let checkpointId = 1
        let settle: RocksCheckpointMeasures['settle'] = notBuilt
        if (incremental) {
          settle = await attempt(
            () => settleCompactions(b, storage, () => ++checkpointId, first.bytesWritten, ctx.config.quick ? 300 : 2000, ctx.config.quick ? 1500 : 300_000),
            ctx.onError(`checkpoints ${label}: settle`),
          )
          // One checkpoint after 1 % changed depends on which compaction happens to run: take several.
          const rounds: CheckpointCost[] = []
          for (let r = 0; r < ONE_PERCENT_ROUNDS; r++) {
            const c = await changeAndCheckpoint(0.01, ++version, ++checkpointId, 'incremental 1 %')
            if (isUnavailable(c)) {
              incremental1pct = c
              break
            }
            rounds.push(c)
          }
          if (rounds.length === ONE_PERCENT_ROUNDS) {
            const byBytes = [...rounds].sort((a, b) => a.bytesWritten - b.bytesWritten)
            incremental1pct = byBytes[Math.floor(byBytes.length / 2)]!
            incremental1pctMax = byBytes[byBytes.length - 1]!
          }
          incremental10pct = await changeAndCheckpoint(0.1, ++version, ++checkpointId, 'incremental 10 %')
        }
        ctx.progress.step(`checkpoints ${label}: full snapshots and raw packed iteration`)
        const { full, fullUncompressed, rawIteration } = await fullAgainstRaw(ctx, b, storage, sizeBytes)
        // Releasing the full snapshots' read snapshot lets RocksDB rewrite bottommost files (to zero
        // their sequence numbers); the next incremental checkpoint then uploads those files again.
        if (incremental) incremental1pctAfterFull = await changeAndCheckpoint(0.01, ++version, ++checkpointId, 'incremental 1 % after full snapshots')
        const workingDirBytes = opened.dir ? dirSizeBytes(opened.dir) : 0
        return {
          data,
          fillMs: fill.ms,
          randomReadsPerSec: reads,
          workingDirBytes,
          full,
          fullUncompressed,
          incrementalFirst: incremental ? first : new Unavailable(NOT_BUILT),
          settle,
          incremental1pct,
          incremental1pctMax,
          incremental10pct,
          incremental1pctAfterFull,
          rawIteration,
        }
      } finally {
        await opened.dispose()
        ctx.tmp.remove(storageDir)
      }
    }, ctx.onError(`checkpoints ${sizeLabel(sizeBytes)}`)),
  )
}

/**
 * The full snapshot (with and without compression) and raw packed iteration
 * of the same entries, alternated in rounds: load from other processes
 * drifts, and alternating spreads it over the three instead of whichever
 * ran during a spike. Median per measure. Raw iteration reads the backend's
 * own column family, the very files the snapshot reads (a freshly loaded copy
 * of the data has fewer, larger files after the rounds of changes and reads
 * about 20 % faster), after a first pass that is not measured, so that every
 * measure reads the files from the page cache.
 */
async function fullAgainstRaw(ctx: RunContext, b: Backend, storage: CheckpointStorage, sizeBytes: number) {
  const label = sizeLabel(sizeBytes)
  const db = (b as Partial<RocksDBKeyedStateBackend<string>>).db
  const cf = db?.columnFamily(columnFamilyOf(VALUE_STATE)) ?? -1
  const raw: Maybe<{ db: NativeDb; cf: number }> =
    db === undefined || cf < 0 ? { reason: 'the RocksDB backend exposes no native DB to read' } : { db, cf }
  const costs: { full: CheckpointCost[]; plain: CheckpointCost[]; raw: number[] } = { full: [], plain: [], raw: [] }
  let packedBytes = 0
  const errors: { full?: Unavailable; plain?: Unavailable; raw?: Unavailable } = {}
  const collect = async <T>(key: keyof typeof errors, into: T[], fn: () => Promise<T>) => {
    if (errors[key]) return
    const r = await attempt(fn, ctx.onError(`checkpoints ${label}: ${key}`))
    if (isUnavailable(r)) errors[key] = r
    else into.push(r)
  }
  if (!isUnavailable(raw)) await collect('raw', [], async () => packedIterationOf(raw.db, raw.cf))
  for (let round = 0; round < FULL_VS_RAW_ROUNDS; round++) {
    if (!isUnavailable(raw)) {
      await collect('raw', costs.raw, async () => {
        const t = await timed(() => packedIterationOf(raw.db, raw.cf))
        packedBytes = t.value
        return t.ms
      })
    }
    await collect('full', costs.full, () => takeSnapshot(b, 100 + round, storage, 'savepoint'))
    await collect('plain', costs.plain, () => takeSnapshot(b, 200 + round, storage, 'savepoint', 'none'))
  }
  return {
    full: errors.full ?? medianOf(costs.full),
    fullUncompressed: errors.plain ?? medianOf(costs.plain),
    rawIteration: isUnavailable(raw) ? raw : (errors.raw ?? { ms: median(costs.raw), packedBytes }),
  }
}

function medianOf(costs: readonly CheckpointCost[]): CheckpointCost {
  const m = median(costs.map((c) => c.totalMs))
  return costs.reduce((best, c) => (Math.abs(c.totalMs - m) < Math.abs(best.totalMs - m) ? c : best))
}

/** The heap backend with the same state: fill and one full checkpoint. */
export function heapCheckpointMeasures(ctx: RunContext, sizeBytes: number): Promise<Maybe<HeapCheckpointMeasures>> {
  return ctx.memo(heapMemoKey(sizeBytes), () =>
    attempt(async () => {
      const label = sizeLabel(sizeBytes)
      ctx.progress.step(`checkpoints ${label}: heap backend`)
      const storageFactory = await fsStorageFactory()
      if (isUnavailable(storageFactory)) throw storageFactory
      const data = stateData(ctx, sizeBytes)
      const storageDir = ctx.tmp.dir(`heap-storage-${label}`)
      forceGc()
      const heapBefore = process.memoryUsage().heapUsed
      const opened = await openBackend(ctx.tmp, 'heap', `heap-${label}`)
      try {
        const fill = await timed(() => writeValues(opened.backend, data))
        forceGc()
        const heapUsedBytes = process.memoryUsage().heapUsed - heapBefore
        const storage = storageFactory(storageDir)
        let id = 0
        const full = await attempt(
          () => medianCost(repeatsFor(sizeBytes), () => takeCompletedCheckpoint(opened.backend, ++id, storage)),
          ctx.onError(`checkpoints ${label}: heap full`),
        )
        return { data, fillMs: fill.ms, heapUsedBytes, full }
      } finally {
        await opened.dispose()
        ctx.tmp.remove(storageDir)
      }
    }, ctx.onError(`checkpoints ${sizeLabel(sizeBytes)} heap`)),
  )
}

export async function allRocksMeasures(ctx: RunContext): Promise<PerSize<RocksCheckpointMeasures>> {
  return forEachSize(ctx, ROCKSDB_FOOTPRINT, (size) => rocksCheckpointMeasures(ctx, size), rocksMemoKey)
}

export async function allHeapMeasures(ctx: RunContext): Promise<PerSize<HeapCheckpointMeasures>> {
  return forEachSize(ctx, HEAP_FOOTPRINT, (size) => heapCheckpointMeasures(ctx, size), heapMemoKey)
}

/** Our checkpoint methods as chart points (shared with the durability group's alternatives). */
export const METHOD = {
  incrementalFirst: 'RocksDB incremental, first',
  incremental1pct: 'RocksDB incremental, 1 % changed',
  fullRocks: 'RocksDB full snapshot',
  fullHeap: 'heap full snapshot',
} as const

function costCells(c: Maybe<CheckpointCost>, fullBytes: number | undefined, packedBytes: number | undefined) {
  if (isUnavailable(c)) return [c.reason, null, null, null, null, null]
  return [
    c.syncMs,
    c.asyncMs,
    c.totalMs,
    c.bytesWritten,
    fullBytes ? (100 * c.bytesWritten) / fullBytes : null,
    packedBytes !== undefined ? mbPerSec(packedBytes, c.totalMs) : null,
  ]
}

export const checkpointsGroup: BenchGroup = {
  id: 'checkpoints',
  title: 'Checkpoints',
  description:
    'A ValueState of each size (keys of 8 bytes, 200-byte alphanumeric values) on the RocksDB backend and on the heap backend. ' +
    'Sync pause = the synchronous part the job feels; async = the rest, while processing continues. Bytes written = growth of the ' +
    'checkpoint storage (incremental checkpoints do not re-upload SST files the last completed checkpoint holds). The full snapshot ' +
    "(canonical format, snappy; the path of savepoints and of checkpointMode 'full') is compared with raw packed iteration: one " +
    'native iterator over the backend\'s own column family (the files the snapshot reads), in 1 MiB chunks on the event loop, writing ' +
    'nothing; a first pass that is not measured brings those files into the page cache for every measure.',
  steps: (config) => config.sizes.length * 4,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const rocks = await allRocksMeasures(ctx)
    const heap = await allHeapMeasures(ctx)

    const cost = table('Checkpoint cost', [
      ['state', 'text'],
      ['method', 'text'],
      ['sync pause', 'ms'],
      ['async', 'ms'],
      ['total', 'ms'],
      ['bytes written', 'bytes'],
      ['% of full', 'pct'],
      ['MB/s', 'MB/s'],
    ])
    const vsRaw = table('Full snapshot write vs raw packed iteration', [
      ['state', 'text'],
      ['packed bytes', 'bytes'],
      ['raw iteration', 'MB/s'],
      ['full snapshot', 'MB/s'],
      ['full / raw', 'ratio'],
      ['goal', 'text'],
      ['full, no compression', 'MB/s'],
      ['ratio', 'ratio'],
    ])
    const points: CostPoint[] = []
    for (const size of ctx.config.sizes) {
      const label = sizeLabel(size)
      const r = rocks.get(size)
      const h = heap.get(size)
      if (!r || isUnavailable(r)) {
        cost.rows.push([label, 'RocksDB', r?.reason ?? 'n/a'])
        vsRaw.rows.push([label, r?.reason ?? 'n/a'])
      } else {
        const fullBytes = isUnavailable(r.full) ? undefined : r.full.bytesWritten
        const packed = isUnavailable(r.rawIteration) ? undefined : r.rawIteration.packedBytes
        const rows: Array<[string, Maybe<CheckpointCost>]> = [
          [METHOD.incrementalFirst, r.incrementalFirst],
          [settleLabel(r.settle), r.settle],
          [`RocksDB incremental, 1 % of keys changed (median of ${ONE_PERCENT_ROUNDS})`, r.incremental1pct],
          [`RocksDB incremental, 1 % of keys changed (largest of ${ONE_PERCENT_ROUNDS})`, r.incremental1pctMax],
          ['RocksDB incremental, 10 % of keys changed', r.incremental10pct],
          [METHOD.fullRocks, r.full],
          ['RocksDB full snapshot, no compression', r.fullUncompressed],
          ['RocksDB incremental, 1 % changed after the full snapshots', r.incremental1pctAfterFull],
        ]
        for (const [method, c] of rows) cost.rows.push([label, method, ...costCells(c, fullBytes, packed)])
        addPoint(points, METHOD.incrementalFirst, size, r.incrementalFirst)
        addPoint(points, METHOD.incremental1pct, size, r.incremental1pct)
        addPoint(points, METHOD.fullRocks, size, r.full)

        const rawMBs = isUnavailable(r.rawIteration) ? r.rawIteration.reason : mbPerSec(r.rawIteration.packedBytes, r.rawIteration.ms)
        const fullMBs = isUnavailable(r.full) || packed === undefined ? (isUnavailable(r.full) ? r.full.reason : null) : mbPerSec(packed, r.full.totalMs)
        const ratio = typeof rawMBs === 'number' && typeof fullMBs === 'number' ? fullMBs / rawMBs : null
        const plainMBs = isUnavailable(r.fullUncompressed) || packed === undefined ? null : mbPerSec(packed, r.fullUncompressed.totalMs)
        vsRaw.rows.push([
          label,
          packed ?? null,
          rawMBs,
          fullMBs,
          ratio,
          ratio === null ? '' : goalCell(judge(GOALS.fullVsRawIteration, ratio, label)),
          plainMBs,
          plainMBs !== null && typeof rawMBs === 'number' ? plainMBs / rawMBs : null,
        ])
      }
      if (!h || isUnavailable(h)) cost.rows.push([label, METHOD.fullHeap, h?.reason ?? 'n/a'])
      else {
        cost.rows.push([label, METHOD.fullHeap, ...costCells(h.full, isUnavailable(h.full) ? undefined : h.full.bytesWritten, undefined)])
        addPoint(points, METHOD.fullHeap, size, h.full)
      }
    }
    cost.notes.push(
      '% of full = bytes written / bytes of the full snapshot of the same state; MB/s = packed entry bytes / total time.',
      'The full snapshots and the raw iteration alternate in 3 rounds at every size (median shown).',
      `Order: fill, first incremental, checkpoints without changes every 2 s until compactions of the load settle (one uploads ` +
        `< 0.5 % of the first), ${ONE_PERCENT_ROUNDS} × (1 % changed + incremental), 10 % changed, full snapshots (savepoints), ` +
        '1 % changed again. A checkpoint uploads the SST files new since the last one: the flushed change plus whatever the ' +
        'compactions since then rewrote, so single checkpoints vary; the median is the steady state. The last row checks that ' +
        'a full snapshot leaves the next incremental checkpoint small: it reads through iterators, not a RocksDB read snapshot, ' +
        'whose release would let RocksDB rewrite bottommost files (to zero their sequence numbers) for the next checkpoint to upload.',
    )
    result.tables.push(cost, vsRaw)
    result.chart.push(...points)

    const top = largestMeasured(rocks)
    const where = `checkpoints at ${whereLabel(ctx, top?.size)}`
    const inc = top && !isUnavailable(top.value.incremental1pct) && !isUnavailable(top.value.full)
      ? (100 * top.value.incremental1pct.bytesWritten) / top.value.full.bytesWritten
      : null
    result.goals.push(
      judge(GOALS.incrementalBytes, inc, `${where}, median of ${ONE_PERCENT_ROUNDS} checkpoints`, inc === null ? reasonOf(top?.value.incremental1pct) : undefined),
    )
    const fullRatio = top && !isUnavailable(top.value.full) && !isUnavailable(top.value.rawIteration)
      ? mbPerSec(top.value.rawIteration.packedBytes, top.value.full.totalMs) / mbPerSec(top.value.rawIteration.packedBytes, top.value.rawIteration.ms)
      : null
    result.goals.push(judge(GOALS.fullVsRawIteration, fullRatio, where))
    return result
  },
}

function settleLabel(settle: RocksCheckpointMeasures['settle']): string {
  const n = isUnavailable(settle) ? '' : ` (${settle.checkpoints} checkpoint${settle.checkpoints === 1 ? '' : 's'}, summed)`
  return `RocksDB incremental, nothing changed: compactions after the load${n}`
}

function reasonOf(v: unknown): string | undefined {
  return isUnavailable(v) ? v.reason : undefined
}

function addPoint(points: CostPoint[], method: string, size: number, c: Maybe<CheckpointCost>): void {
  if (!isUnavailable(c)) points.push({ method, stateBytes: size, timeMs: c.totalMs, bytesWritten: c.bytesWritten })
}

