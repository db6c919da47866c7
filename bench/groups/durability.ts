// Group 3: what Node users do today to make state durable, on the same data as
// the checkpoints group: JSON.stringify of a Map written to a file (+ fsync),
// and better-sqlite3's online backup of a database holding it (+ fsync).
import { closeSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { emptyResult, type BenchGroup, type CostPoint, type GroupResult, type RunContext } from '../lib/context.js'
import { datasetOfSize, type Dataset } from '../lib/data.js'
import { sizeLabel } from '../lib/format.js'
import { GOALS, goalCell, judge, type GoalResult } from '../lib/goals.js'
import type { Footprint } from '../lib/machine.js'
import { attempt, isUnavailable, type Unavailable } from '../lib/pieces.js'
import { forEachSize, whereLabel } from '../lib/sizes.js'
import { fillSqlite, openSqlite } from '../lib/subjects/sqlite.js'
import { table } from '../lib/table.js'
import { timed } from '../lib/timing.js'
import { allHeapMeasures, allRocksMeasures, METHOD, type RocksCheckpointMeasures } from './checkpoints.js'
import type { CheckpointCost } from '../lib/checkpointing.js'

const FOOTPRINT: Footprint = { diskFactor: 5, memoryFactor: 4 }
const METHOD_JSON = 'JSON file of a Map'
const METHOD_SQLITE = 'better-sqlite3 backup'

export interface AlternativeCost {
  ms: number
  bytes: number
}

export interface DurabilityMeasures {
  json: AlternativeCost | Unavailable
  sqlite: AlternativeCost | Unavailable
}

/** One V8 string cannot hold 1 GB of JSON: stringify slices of entries, as a user must. */
const JSON_SLICE_ENTRIES = 65_536

function writeMapAsJson(map: Map<string, string>, file: string): number {
  const fd = openSync(file, 'w')
  try {
    writeSync(fd, '[')
    let slice: Array<[string, string]> = []
    let first = true
    const flush = () => {
      const text = JSON.stringify(slice)
      writeSync(fd, (first ? '' : ',') + text.slice(1, -1))
      first = false
      slice = []
    }
    for (const entry of map) {
      slice.push(entry)
      if (slice.length === JSON_SLICE_ENTRIES) flush()
    }
    if (slice.length) flush()
    writeSync(fd, ']')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  return statSync(file).size
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

async function measureJson(ctx: RunContext, data: Dataset): Promise<AlternativeCost> {
  const dir = ctx.tmp.dir(`json-${sizeLabel(data.logicalBytes)}`)
  try {
    const map = new Map<string, string>()
    for (let i = 0; i < data.count; i++) map.set(data.key(i), data.value(i))
    const t = await timed(() => writeMapAsJson(map, join(dir, 'state.json')))
    return { ms: t.ms, bytes: t.value }
  } finally {
    ctx.tmp.remove(dir)
  }
}

async function measureSqlite(ctx: RunContext, data: Dataset): Promise<AlternativeCost> {
  const dir = ctx.tmp.dir(`sqlite-${sizeLabel(data.logicalBytes)}`)
  const db = openSqlite(join(dir, 'state.db'))
  try {
    fillSqlite(db, data)
    const target = join(dir, 'backup.db')
    const t = await timed(async () => {
      await db.backup(target)
      fsyncFile(target)
    })
    return { ms: t.ms, bytes: statSync(target).size }
  } finally {
    db.close()
    ctx.tmp.remove(dir)
  }
}

const memoKey = (sizeBytes: number) => `durability:${sizeBytes}`

export function durabilityMeasures(ctx: RunContext, size: number): Promise<DurabilityMeasures> {
  return ctx.memo(memoKey(size), async () => {
    const data = datasetOfSize(size, ctx.config.stateValueChars)
    ctx.progress.step(`durability ${sizeLabel(size)}: JSON.stringify of a Map`)
    const json = await attempt(() => measureJson(ctx, data), ctx.onError(`durability ${sizeLabel(size)} JSON`))
    ctx.progress.step(`durability ${sizeLabel(size)}: better-sqlite3 backup`)
    const sqlite = await attempt(() => measureSqlite(ctx, data), ctx.onError(`durability ${sizeLabel(size)} SQLite`))
    return { json, sqlite }
  })
}

export function allDurabilityMeasures(ctx: RunContext) {
  return forEachSize(ctx, FOOTPRINT, (size) => durabilityMeasures(ctx, size), memoKey)
}

type Ours = { method: string; cost: CheckpointCost | Unavailable }

function oursAt(r: RocksCheckpointMeasures | Unavailable | undefined): Ours[] {
  if (!r || isUnavailable(r)) return []
  return [
    { method: METHOD.incremental1pct, cost: r.incremental1pct },
    { method: METHOD.incrementalFirst, cost: r.incrementalFirst },
    { method: METHOD.fullRocks, cost: r.full },
  ]
}

export const durabilityGroup: BenchGroup = {
  id: 'durability',
  title: 'Durability alternatives',
  description:
    'The same state (keys and values as in the checkpoints group) made durable the ways a Node.js user would without keyed-state: ' +
    'JSON.stringify of a Map written to a file and fsynced (in slices of 65,536 entries, because one V8 string cannot exceed ~512 MiB; ' +
    'this blocks the event loop for the whole time), and better-sqlite3 v12 online backup of a database holding the data (WAL, ' +
    'one WITHOUT ROWID table) to a file, fsynced. Ratios = alternative time / our checkpoint time (higher is better for keyed-state).',
  steps: (config) => config.sizes.length * 2,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const alternatives = await allDurabilityMeasures(ctx)
    const rocks = await allRocksMeasures(ctx)
    const heap = await allHeapMeasures(ctx)

    const costs = table('Time to make the state durable', [
      ['state', 'text'],
      ['method', 'text'],
      ['time', 'ms'],
      ['event-loop pause', 'ms'],
      ['bytes written', 'bytes'],
    ])
    const ratios = table('Alternative time / our checkpoint time', [
      ['state', 'text'],
      ['our checkpoint', 'text'],
      ['JSON / ours', 'ratio'],
      ['SQLite backup / ours', 'ratio'],
      ['goals', 'text'],
    ])
    const goals = goalsAt(ctx, alternatives, rocks)
    const points: CostPoint[] = []
    for (const size of ctx.config.sizes) {
      const label = sizeLabel(size)
      const alt = alternatives.get(size)
      if (!alt || isUnavailable(alt)) {
        costs.rows.push([label, 'alternatives', alt?.reason ?? 'n/a'])
        continue
      }
      for (const [method, c] of [[METHOD_JSON, alt.json], [METHOD_SQLITE, alt.sqlite]] as const) {
        if (isUnavailable(c)) costs.rows.push([label, method, c.reason])
        else {
          // JSON.stringify and writeSync never yield; the SQLite backup copies 100 pages per event-loop turn.
          costs.rows.push([label, method, c.ms, method === METHOD_JSON ? c.ms : 'steps of 100 pages', c.bytes])
          points.push({ method, stateBytes: size, timeMs: c.ms, bytesWritten: c.bytes })
        }
      }
      for (const o of oursAt(rocks.get(size))) {
        if (isUnavailable(o.cost)) costs.rows.push([label, o.method, o.cost.reason])
        else costs.rows.push([label, o.method, o.cost.totalMs, o.cost.syncMs, o.cost.bytesWritten])
        const judged = goals.size === size && o.method === METHOD.incremental1pct
        ratios.rows.push([
          label,
          o.method,
          ratioOf(alt.json, o.cost),
          ratioOf(alt.sqlite, o.cost),
          judged ? `JSON ${goalCell(goals.results[0]!)}; SQLite ${goalCell(goals.results[1]!)}` : '',
        ])
      }
      const h = heap.get(size)
      if (h && !isUnavailable(h)) {
        const c = h.full
        if (isUnavailable(c)) costs.rows.push([label, METHOD.fullHeap, c.reason])
        else costs.rows.push([label, METHOD.fullHeap, c.totalMs, c.syncMs, c.bytesWritten])
        ratios.rows.push([label, METHOD.fullHeap, ratioOf(alt.json, c), ratioOf(alt.sqlite, c), ''])
      }
    }
    costs.notes.push('Event-loop pause of our checkpoints = the synchronous part; the rest runs while the job keeps processing.')
    result.tables.push(costs, ratios)
    result.chart.push(...points)
    result.goals.push(...goals.results)
    return result
  },
}

function ratioOf(alt: AlternativeCost | Unavailable, ours: CheckpointCost | Unavailable): number | string {
  if (isUnavailable(ours)) return ours.reason
  if (isUnavailable(alt)) return alt.reason
  return alt.ms / ours.totalMs
}

function goalsAt(
  ctx: RunContext,
  alternatives: Map<number, DurabilityMeasures | Unavailable>,
  rocks: Map<number, RocksCheckpointMeasures | Unavailable>,
): { size: number | undefined; results: GoalResult[] } {
  const sizes = [...ctx.config.sizes].reverse()
  const size = sizes.find((s) => {
    const a = alternatives.get(s)
    const r = rocks.get(s)
    return a && !isUnavailable(a) && r && !isUnavailable(r)
  })
  const where = `durability at ${whereLabel(ctx, size)}`
  if (size === undefined) return { size, results: [judge(GOALS.checkpointVsJson, null, where), judge(GOALS.checkpointVsSqlite, null, where)] }
  const a = alternatives.get(size) as DurabilityMeasures
  const r = rocks.get(size) as RocksCheckpointMeasures
  const ours = r.incremental1pct
  const note = isUnavailable(ours) ? `incremental: ${ours.reason}` : undefined
  const json = ratioOf(a.json, ours)
  const sqlite = ratioOf(a.sqlite, ours)
  return {
    size,
    results: [
      judge(GOALS.checkpointVsJson, typeof json === 'number' ? json : null, where, note),
      judge(GOALS.checkpointVsSqlite, typeof sqlite === 'number' ? sqlite : null, where, note),
    ],
  }
}

