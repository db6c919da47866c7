// Group 1: per-record state access on both backends against the physical limit
// (the addon's C++ loop, a raw loop over our binding), the ceiling of the heap
// (a JS Map), and what a Node user would use instead (classic-level, better-sqlite3).
import { GOALS, goalCell, judge, type GoalResult } from '../lib/goals.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { attempt, benchNativeBinding, describeFailure, isUnavailable, nativeBinding } from '../lib/pieces.js'
import { table } from '../lib/table.js'
import { interleavedRounds, median, ratioSpread, type ThroughputTask } from '../lib/timing.js'
import { classicLevelSubject } from '../lib/subjects/classic-level.js'
import { jsCheckedMapSubject, jsMapSubject } from '../lib/subjects/js-map.js'
import { keyedStateSubject } from '../lib/subjects/keyed-state.js'
import { rawBindingSubject, rawCppSubject } from '../lib/subjects/raw-native.js'
import { sqliteSubject } from '../lib/subjects/sqlite.js'
import { ACCESS_OPS, accessWorkload, type AccessOp, type AccessSubject, type AccessWorkload } from '../lib/subjects/types.js'

type SubjectId = 'rocksdb' | 'heap' | 'cpp' | 'binding' | 'map' | 'checked-map' | 'level' | 'sqlite'

const SUBJECTS: ReadonlyArray<{ id: SubjectId; header: string }> = [
  { id: 'rocksdb', header: 'RocksDB' },
  { id: 'heap', header: 'heap' },
  { id: 'cpp', header: 'raw C++' },
  { id: 'binding', header: 'raw binding' },
  { id: 'map', header: 'JS Map' },
  { id: 'checked-map', header: 'JS Map, checked' },
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
    case 'cpp': {
      const bench = benchNativeBinding()
      if (isUnavailable(bench)) throw bench
      return rawCppSubject(bench, ctx.tmp, w)
    }
    case 'binding':
      return rawBindingSubject(native(), ctx.tmp, w)
    case 'map':
      return jsMapSubject(w)
    case 'checked-map':
      return jsCheckedMapSubject(w)
    case 'level':
      return classicLevelSubject(ctx.tmp, w)
    case 'sqlite':
      return sqliteSubject(ctx.tmp, w)
  }
}

/** ops/s per subject and op (median of the rounds); a string cell says why a measure is missing. */
type Matrix = Record<SubjectId, Partial<Record<AccessOp, number | string>>>
/** Each round's ops/s per subject and op, for ratios taken round by round. */
type RoundRates = Record<SubjectId, Partial<Record<AccessOp, number[]>>>

/**
 * Measures every subject × op in interleaved rounds and keeps the median per
 * cell: load from other processes drifts over a run, and interleaving spreads
 * it over all subjects instead of penalising whichever ran during a spike.
 */
async function measureAll(ctx: RunContext, w: AccessWorkload, notes: string[], perRound: RoundRates): Promise<Matrix> {
  const m = {} as Matrix
  const subjects = new Map<SubjectId, AccessSubject>()
  for (const s of SUBJECTS) {
    m[s.id] = {}
    perRound[s.id] = {}
    ctx.progress.step(`state access: set up ${s.header}`)
    const subject = await attempt(() => createSubject(ctx, s.id, w), ctx.onError(`state access: ${s.header}`))
    if (isUnavailable(subject)) {
      for (const { op } of ACCESS_OPS) m[s.id][op] = subject.reason
      continue
    }
    if (subject.note) notes.push(subject.note)
    subjects.set(s.id, subject)
  }
  const tasks: Array<{ id: SubjectId; op: AccessOp; task: ThroughputTask }> = []
  for (const { op } of ACCESS_OPS) {
    for (const s of SUBJECTS) {
      const subject = subjects.get(s.id)
      const run = subject?.ops[op]
      if (!subject || !run) continue
      const opsPerCall = subject.opsPerCall ?? 1000
      tasks.push({ id: s.id, op, task: { name: `${s.header} ${op}`, fn: () => run(opsPerCall), opsPerCall, selfTimed: subject.selfTimed?.[op] ?? false } })
    }
  }
  try {
    const results = await interleavedRounds(
      tasks.map((t) => t.task),
      ctx.config.rounds,
      { timeMs: ctx.config.benchTimeMs, warmupMs: ctx.config.benchWarmupMs },
      (round) => ctx.progress.step(`state access: round ${round}/${ctx.config.rounds}`),
    )
    for (const [i, r] of results.entries()) {
      const { id, op, task } = tasks[i]!
      if (Array.isArray(r)) {
        m[id][op] = median(r)
        perRound[id][op] = r
      } else {
        ctx.recordFailure(`state access: ${task.name}`, r.error)
        m[id][op] = describeFailure(r.error)
      }
    }
  } finally {
    for (const subject of subjects.values()) await subject.close()
  }
  return m
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
    'against the raw C++ loop inside the addon, a raw JS loop over our binding with prebuilt keys, a plain JS Map (and one that ' +
    'checks the type of what it writes, as the heap does), ' +
    'classic-level and better-sqlite3 doing the same key-value work. Each cell is measured in interleaved rounds (every subject ' +
    'once per round; 5 rounds, 3 with --quick) and the median of the rounds is shown; within a round, throughput is the median of ' +
    'tinybench samples. The raw RocksDB references open their DB with the options the backend uses (WAL off, universal compaction).',
  steps: (config) => SUBJECTS.length + config.rounds,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const w = accessWorkload(ctx.config.accessKeys, ctx.config.accessValueChars)
    const notes: string[] = []
    const perRound = {} as RoundRates
    const m = await measureAll(ctx, w, notes, perRound)

    const throughput = table(`State access: operations per second (${w.keys.length.toLocaleString('en-US')} keys, ${w.valueChars}-byte values)`, [
      ['operation', 'text'],
      ...SUBJECTS.map((s) => [s.header, 'ops/s'] as [string, 'ops/s']),
    ])
    for (const { op, label } of ACCESS_OPS) throughput.rows.push([label, ...SUBJECTS.map((s) => m[s.id][op] ?? '—')])
    throughput.notes.push('— = no equivalent operation; each keyed-state op includes setCurrentKey (RocksDB: serialize + murmur3 of the key; heap, which owns the whole key-group range here: neither, the key is the Map key).', ...notes)
    result.tables.push(throughput)

    const value = (id: SubjectId) => m[id].value
    const rocksGoal: GoalResult = judge(GOALS.rocksdbValueVsRaw, numberOrNull(ratio(value('rocksdb'), value('binding'))), 'state access, ValueState update+value')
    // The heap / JS Map ratio follows the host's quiet and busy phases (bench/notes/profiles.md): judged
    // on the median of the ratios taken round by round, with their range beside it (issue 17 item 5).
    const heapRounds = perRound.heap?.value
    const mapRounds = perRound.map?.value
    const heapSpread = heapRounds && mapRounds ? ratioSpread(heapRounds, mapRounds) : undefined
    const heapGoal: GoalResult = heapSpread
      ? judge(GOALS.heapVsMap, heapSpread.median, 'state access, ValueState update+value', `median of ${heapSpread.rounds} rounds, range ${heapSpread.min.toFixed(2)}–${heapSpread.max.toFixed(2)}×`)
      : judge(GOALS.heapVsMap, null, 'state access, ValueState update+value')
    result.goals.push(rocksGoal, heapGoal)

    const ratios = table('State access: ratios (higher is better for keyed-state)', [
      ['operation', 'text'],
      ['RocksDB / raw binding', 'ratio'],
      ['RocksDB / raw C++', 'ratio'],
      ['heap / JS Map', 'ratio'],
      ['heap / JS Map, checked', 'ratio'],
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
        ratio(x.heap[op], x['checked-map'][op]) ?? '—',
        ratio(x.rocksdb[op], x.level[op]) ?? '—',
        ratio(x.rocksdb[op], x.sqlite[op]) ?? '—',
        ratio(x.heap[op], x.rocksdb[op]) ?? '—',
        op === 'value' ? `RocksDB/binding ${goalCell(rocksGoal)}; heap/Map ${goalCell(heapGoal)}` : '',
      ])
    }
    if (heapSpread) {
      ratios.notes.push(
        `heap / JS Map, ValueState update+value, round by round: median ${heapSpread.median.toFixed(2)}×, range ${heapSpread.min.toFixed(2)}–${heapSpread.max.toFixed(2)}× over ${heapSpread.rounds} rounds (the goal is judged on this median; the table's ratio divides the two medians).`,
      )
    }
    result.tables.push(ratios)
    return result
  },
}

function numberOrNull(v: number | string | null): number | null {
  return typeof v === 'number' ? v : null
}
