// Group 1: per-record state access on both backends against the physical limit
// (the addon's C++ loop, a raw loop over our binding), the ceiling of the heap
// (a JS Map), and what a Node user would use instead (classic-level, better-sqlite3).
import { GOALS, goalCell, judge, type GoalResult } from '../lib/goals.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { attempt, isUnavailable, nativeBinding, Unavailable } from '../lib/pieces.js'
import { table } from '../lib/table.js'
import { measureThroughput } from '../lib/timing.js'
import { classicLevelSubject } from '../lib/subjects/classic-level.js'
import { jsMapSubject } from '../lib/subjects/js-map.js'
import { keyedStateSubject } from '../lib/subjects/keyed-state.js'
import { rawBindingSubject, rawCppSubject } from '../lib/subjects/raw-native.js'
import { sqliteSubject } from '../lib/subjects/sqlite.js'
import { ACCESS_OPS, accessWorkload, type AccessOp, type AccessSubject, type AccessWorkload } from '../lib/subjects/types.js'

type SubjectId = 'rocksdb' | 'heap' | 'cpp' | 'binding' | 'map' | 'level' | 'sqlite'

const SUBJECTS: ReadonlyArray<{ id: SubjectId; header: string }> = [
  { id: 'rocksdb', header: 'RocksDB' },
  { id: 'heap', header: 'heap' },
  { id: 'cpp', header: 'raw C++' },
  { id: 'binding', header: 'raw binding' },
  { id: 'map', header: 'JS Map' },
  { id: 'level', header: 'classic-level' },
  { id: 'sqlite', header: 'better-sqlite3' },
]

async function createSubject(ctx: RunContext, id: SubjectId, w: AccessWorkload): Promise<AccessSubject> {
  const native = () => {
    const n = nativeBinding()
    if (isUnavailable(n)) throw n
    return n
  }
  switch (id) {
    case 'rocksdb':
      return keyedStateSubject(ctx.tmp, 'rocksdb', w)
    case 'heap':
      return keyedStateSubject(ctx.tmp, 'heap', w)
    case 'cpp':
      return rawCppSubject(native(), ctx.tmp, w)
    case 'binding':
      return rawBindingSubject(native(), ctx.tmp, w)
    case 'map':
      return jsMapSubject(w)
    case 'level':
      return classicLevelSubject(ctx.tmp, w)
    case 'sqlite':
      return sqliteSubject(ctx.tmp, w)
  }
}

/** ops/s per subject and op; a string cell says why a measure is missing. */
type Matrix = Record<SubjectId, Partial<Record<AccessOp, number | string>>>

async function measureSubject(ctx: RunContext, id: SubjectId, header: string, w: AccessWorkload, notes: string[]): Promise<Partial<Record<AccessOp, number | string>>> {
  const where = `state access: ${header}`
  const out: Partial<Record<AccessOp, number | string>> = {}
  const subject = await attempt(() => createSubject(ctx, id, w), ctx.onError(where))
  if (isUnavailable(subject)) {
    for (const { op } of ACCESS_OPS) {
      ctx.progress.step(`${where} ${op}`)
      out[op] = subject.reason
    }
    return out
  }
  if (subject.note) notes.push(subject.note)
  try {
    for (const { op } of ACCESS_OPS) {
      ctx.progress.step(`${where} ${op}`)
      const run = subject.ops[op]
      if (!run) continue
      const opsPerCall = subject.opsPerCall ?? 1000
      const r = await attempt(
        () =>
          measureThroughput(
            { name: `${header} ${op}`, fn: () => run(opsPerCall), opsPerCall, selfTimed: subject.selfTimed?.[op] ?? false },
            { timeMs: ctx.config.benchTimeMs, warmupMs: ctx.config.benchWarmupMs },
          ),
        ctx.onError(`${where} ${op}`),
      )
      out[op] = r instanceof Unavailable ? r.reason : r
    }
  } finally {
    await subject.close()
  }
  return out
}

function ratio(a: number | string | undefined, b: number | string | undefined): number | string | null {
  if (typeof a === 'number' && typeof b === 'number') return a / b
  if (typeof a === 'string') return a
  if (typeof b === 'string') return b
  return null
}

export const stateAccessGroup: BenchGroup = {
  id: 'access',
  title: 'State access',
  description:
    'Per-record state access as a stream operator does it (setCurrentKey, then the state call), on the RocksDB and heap backends, ' +
    'against the raw C++ loop inside the addon, a raw JS loop over our binding with prebuilt keys, a plain JS Map, ' +
    'classic-level and better-sqlite3 doing the same key-value work. Throughput is the median of tinybench samples.',
  steps: () => SUBJECTS.length * ACCESS_OPS.length,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const w = accessWorkload(ctx.config.accessKeys, ctx.config.accessValueChars)
    const notes: string[] = []
    const m = {} as Matrix
    for (const s of SUBJECTS) m[s.id] = await measureSubject(ctx, s.id, s.header, w, notes)

    const throughput = table(`State access: operations per second (${w.keys.length.toLocaleString('en-US')} keys, ${w.valueChars}-byte values)`, [
      ['operation', 'text'],
      ...SUBJECTS.map((s) => [s.header, 'ops/s'] as [string, 'ops/s']),
    ])
    for (const { op, label } of ACCESS_OPS) throughput.rows.push([label, ...SUBJECTS.map((s) => m[s.id][op] ?? '—')])
    throughput.notes.push('— = no equivalent operation; each keyed-state op includes setCurrentKey (serialize + murmur3 of the key).', ...notes)
    result.tables.push(throughput)

    const value = (id: SubjectId) => m[id].value
    const rocksGoal: GoalResult = judge(GOALS.rocksdbValueVsRaw, numberOrNull(ratio(value('rocksdb'), value('binding'))), 'state access, ValueState update+value')
    const heapGoal: GoalResult = judge(GOALS.heapVsMap, numberOrNull(ratio(value('heap'), value('map'))), 'state access, ValueState update+value')
    result.goals.push(rocksGoal, heapGoal)

    const ratios = table('State access: ratios (higher is better for keyed-state)', [
      ['operation', 'text'],
      ['RocksDB / raw binding', 'ratio'],
      ['RocksDB / raw C++', 'ratio'],
      ['heap / JS Map', 'ratio'],
      ['RocksDB / classic-level', 'ratio'],
      ['RocksDB / better-sqlite3', 'ratio'],
      ['heap / RocksDB', 'ratio'],
      ['goals', 'text'],
    ])
    for (const { op, label } of ACCESS_OPS) {
      const x = m
      ratios.rows.push([
        label,
        ratio(x.rocksdb[op], x.binding[op]) ?? '—',
        ratio(x.rocksdb[op], x.cpp[op]) ?? '—',
        ratio(x.heap[op], x.map[op]) ?? '—',
        ratio(x.rocksdb[op], x.level[op]) ?? '—',
        ratio(x.rocksdb[op], x.sqlite[op]) ?? '—',
        ratio(x.heap[op], x.rocksdb[op]) ?? '—',
        op === 'value' ? `RocksDB/binding ${goalCell(rocksGoal)}; heap/Map ${goalCell(heapGoal)}` : '',
      ])
    }
    result.tables.push(ratios)
    return result
  },
}

function numberOrNull(v: number | string | null): number | null {
  return typeof v === 'number' ? v : null
}
