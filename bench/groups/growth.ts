// Group 5: how each cost grows with state size. It reads the per-size measures
// of the other groups (running them if this group runs alone) and fits the
// growth: exponent 1 = linear in state size, 0 = independent of it.
import type { CheckpointCost } from '../lib/checkpointing.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { formatCell, sizeLabel, type Cell, type Unit } from '../lib/format.js'
import { isUnavailable, type Unavailable } from '../lib/pieces.js'
import type { PerSize } from '../lib/sizes.js'
import { table } from '../lib/table.js'
import { allHeapMeasures, allRocksMeasures, type HeapCheckpointMeasures, type RocksCheckpointMeasures } from './checkpoints.js'
import { allDurabilityMeasures, type DurabilityMeasures } from './durability.js'
import { allRestoreMeasures } from './restore.js'

type Maybe<T> = T | Unavailable
type Picker<T> = (m: T) => Maybe<number> | number

interface Row {
  label: string
  unit: Unit
  values: Map<number, number | string>
}

function row<T>(label: string, unit: Unit, perSize: PerSize<T>, pick: Picker<T>): Row {
  const values = new Map<number, number | string>()
  for (const [size, m] of perSize) {
    if (isUnavailable(m)) values.set(size, m.reason)
    else {
      const v = pick(m)
      values.set(size, isUnavailable(v) ? v.reason : v)
    }
  }
  return { label, unit, values }
}

const total = (c: Maybe<CheckpointCost>): Maybe<number> => (isUnavailable(c) ? c : c.totalMs)
const written = (c: Maybe<CheckpointCost>): Maybe<number> => (isUnavailable(c) ? c : c.bytesWritten)
const sync = (c: Maybe<CheckpointCost>): Maybe<number> => (isUnavailable(c) ? c : c.syncMs)

/** Least-squares slope of log(cost) over log(size): the growth exponent. */
export function growthExponent(points: ReadonlyArray<[number, number]>): number | null {
  const usable = points.filter(([s, v]) => s > 0 && v > 0)
  if (usable.length < 2) return null
  const xs = usable.map(([s]) => Math.log(s))
  const ys = usable.map(([, v]) => Math.log(v))
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  let num = 0
  let den = 0
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? null : num / den
}

function rowsOf(
  rocks: PerSize<RocksCheckpointMeasures>,
  heap: PerSize<HeapCheckpointMeasures>,
  durability: PerSize<DurabilityMeasures>,
  restore: Awaited<ReturnType<typeof allRestoreMeasures>>,
): Row[] {
  const alt = (pick: (d: DurabilityMeasures) => Maybe<{ ms: number; bytes: number }>) => (d: DurabilityMeasures) => {
    const v = pick(d)
    return isUnavailable(v) ? v : v.ms
  }
  return [
    row('fill through the state API (RocksDB)', 'ms', rocks, (m) => m.fillMs),
    row('ValueState random reads (RocksDB)', 'ops/s', rocks, (m) => m.randomReadsPerSec),
    row('RocksDB working directory', 'bytes', rocks, (m) => m.workingDirBytes),
    row('heap backend: JS heap used', 'bytes', heap, (m) => m.heapUsedBytes),
    row('checkpoint sync pause (incremental, 1 %)', 'ms', rocks, (m) => sync(m.incremental1pct)),
    row('checkpoint: incremental, first', 'ms', rocks, (m) => total(m.incrementalFirst)),
    row('checkpoint: incremental, 1 % changed', 'ms', rocks, (m) => total(m.incremental1pct)),
    row('  bytes written', 'bytes', rocks, (m) => written(m.incremental1pct)),
    row('checkpoint: RocksDB full snapshot', 'ms', rocks, (m) => total(m.full)),
    row('  bytes written', 'bytes', rocks, (m) => written(m.full)),
    row('checkpoint: heap full snapshot', 'ms', heap, (m) => total(m.full)),
    row('JSON file of a Map', 'ms', durability, alt((d) => d.json)),
    row('better-sqlite3 backup', 'ms', durability, alt((d) => d.sqlite)),
    row('restore from local recovery', 'ms', restore, (m) => m.fromLocalMs),
    row('restore from storage', 'ms', restore, (m) => m.fromStorageMs),
    row('rescale 2→3, ours', 'ms', restore, (m) => m.rescale2to3.ingestionMs),
    row('rescale 2→3, re-insert', 'ms', restore, (m) => m.rescale2to3.reinsertMs),
  ]
}

export const growthGroup: BenchGroup = {
  id: 'growth',
  title: 'Cost growth with state size',
  description:
    'The measures of the other groups at each state size side by side. Growth exponent = slope of log(cost) against log(state size) ' +
    'over the measured sizes: 1 means the cost grows in proportion to the state, 0 means it does not depend on it ' +
    '(a checkpoint after 1 % of keys changed should grow with the change, not with the state).',
  steps: () => 0,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const rows = rowsOf(await allRocksMeasures(ctx), await allHeapMeasures(ctx), await allDurabilityMeasures(ctx), await allRestoreMeasures(ctx))
    const t = table('Cost at each state size', [
      ['measure', 'text'],
      ...ctx.config.sizes.map((s) => [sizeLabel(s), 'text'] as [string, Unit]),
      ['growth exponent', 'text'],
    ])
    // Each row has its own unit: format here and keep the columns as text.
    for (const r of rows) {
      const cells: Cell[] = [r.label]
      const points: Array<[number, number]> = []
      for (const size of ctx.config.sizes) {
        const v = r.values.get(size)
        if (typeof v === 'number') points.push([size, v])
        cells.push(v === undefined ? 'n/a' : typeof v === 'number' ? formatCell(v, r.unit) : shortReason(v))
      }
      const e = growthExponent(points)
      cells.push(e === null ? 'n/a' : e.toFixed(2))
      t.rows.push(cells)
    }
    t.notes.push('n/a: the piece is not built yet or the size did not fit (see the other groups for the reason).')
    result.tables.push(t)
    return result
  },
}

function shortReason(reason: string): string {
  return reason.startsWith('skipped') ? 'skipped' : reason.startsWith('error') ? 'error' : 'n/a'
}
