// Group: the hot path against raw RocksDB with the same options (issue 17
// item 2). The public API (setCurrentKey + one state call) with string keys
// (`user-123`) and with integer keys, 100-byte string values, next to a JS loop
// over our binding and the addon's C++ loop on the same composite keys in the
// same random order; ratios judged against the goals.
import { GOALS, goalCell, judge, type GoalResult, type GoalSpec } from '../lib/goals.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { dataset } from '../lib/data.js'
import { benchNativeBinding, isUnavailable } from '../lib/pieces.js'
import { table } from '../lib/table.js'
import { interleavedMedians, type ThroughputTask } from '../lib/timing.js'
import {
  apiSubject,
  bindingRunners,
  cppRunners,
  HOT_OPS,
  hotWorkload,
  openRawHotDb,
  settleDb,
  type HotOp,
  type HotRunners,
  type HotWorkload,
  type KeyKind,
} from '../lib/subjects/hot-path.js'

const KINDS: ReadonlyArray<{ kind: KeyKind; label: string }> = [
  { kind: 'string', label: "string keys ('user-123')" },
  { kind: 'int', label: 'integer keys (int32)' },
]
const OPS_PER_CALL = 1000
const READ_OPS: readonly HotOp[] = ['value', 'map-get']
const WRITE_OPS: readonly HotOp[] = ['update', 'list-add', 'map-put']

type Rates = Record<'api' | 'binding' | 'cpp', Partial<Record<HotOp, number | string>>>

async function measureKind<K>(ctx: RunContext, w: HotWorkload<K>): Promise<Rates> {
  const native = benchNativeBinding()
  if (isUnavailable(native)) throw new Error(`the bench addon: ${native.reason}`)
  ctx.progress.step(`hot path (${w.kind} keys): fill ${w.keys.length.toLocaleString('en-US')} keys twice`)
  const api = await apiSubject(ctx.tmp, w)
  const raw = openRawHotDb(native, ctx.tmp, w)
  try {
    const runners: Record<keyof Rates, HotRunners> = { api: api.ops, binding: bindingRunners(raw, w), cpp: cppRunners(native, raw, w) }
    const rates: Rates = { api: {}, binding: {}, cpp: {} }
    // Reads first, on DBs settled to one sorted run each (settleDb), then the writes.
    api.settle()
    settleDb(raw.db)
    for (const [phase, ops] of [['reads', READ_OPS], ['writes', WRITE_OPS]] as const) {
      const tasks: Array<{ who: keyof Rates; op: HotOp; task: ThroughputTask }> = []
      for (const op of ops) {
        for (const who of ['api', 'binding', 'cpp'] as const) {
          const run = runners[who][op]
          if (run) tasks.push({ who, op, task: { name: `${w.kind} ${who} ${op}`, fn: () => run(OPS_PER_CALL), opsPerCall: OPS_PER_CALL, selfTimed: who === 'cpp' } })
        }
      }
      const results = await interleavedMedians(
        tasks.map((t) => t.task),
        ctx.config.rounds,
        { timeMs: ctx.config.benchTimeMs, warmupMs: ctx.config.benchWarmupMs },
        (round) => ctx.progress.step(`hot path (${w.kind} keys, ${phase}): round ${round}/${ctx.config.rounds}`),
      )
      for (const [i, r] of results.entries()) {
        const { who, op, task } = tasks[i]!
        if (typeof r === 'number') rates[who][op] = r
        else {
          ctx.recordFailure(`hot path: ${task.name}`, r.error)
          rates[who][op] = r.error instanceof Error ? r.error.message : String(r.error)
        }
      }
    }
    return rates
  } finally {
    await api.close()
    raw.close()
  }
}

function ratio(a: number | string | undefined, b: number | string | undefined): number | null {
  return typeof a === 'number' && typeof b === 'number' ? a / b : null
}

/** The smaller of the ratios (a goal holds for every key kind and op it names), null when one is missing. */
function worst(values: Array<number | null>): number | null {
  return values.some((v) => v === null) ? null : Math.min(...(values as number[]))
}

export const hotPathGroup: BenchGroup = {
  id: 'hotpath',
  title: 'Hot path against raw RocksDB',
  description:
    'The public state API as a stream operator calls it per record (setCurrentKey, then one state call), with string keys ' +
    "('user-123') and with integer keys (int32Serializer), 100-byte string values, against a JS loop over our binding " +
    '(db.put / getInto / merge with the composite keys and value bytes prebuilt) and the addon\'s C++ loop (benchRawOps: ' +
    'the same composite keys, packed, in the same random order). All three open RocksDB with the backend\'s options ' +
    '(WAL on with manual flush, universal compaction, the default memory budget). Every state is filled with all keys ' +
    'first, so reads hit; both DBs are then flushed and compacted to one sorted run each, the reads measured, then the ' +
    'writes. Interleaved rounds, median per cell.',
  steps: (config) => KINDS.length * (1 + 2 * config.rounds),

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const count = ctx.config.hotPathKeys
    const data = dataset(count, ctx.config.accessValueChars)
    const values = Array.from({ length: count }, (_, i) => data.value(i))
    const measured = new Map<KeyKind, Rates>()
    for (const { kind } of KINDS) {
      const rates = kind === 'string' ? await measureKind(ctx, hotWorkload('string', count, values)) : await measureKind(ctx, hotWorkload('int', count, values))
      measured.set(kind, rates)
    }

    const throughput = table(`Hot path: operations per second (${count.toLocaleString('en-US')} keys, ${ctx.config.accessValueChars}-byte values)`, [
      ['keys', 'text'],
      ['operation', 'text'],
      ['public API', 'ops/s'],
      ['raw binding', 'ops/s'],
      ['raw C++', 'ops/s'],
      ['API / binding', 'ratio'],
      ['API / C++', 'ratio'],
    ])
    for (const { kind, label } of KINDS) {
      const r = measured.get(kind)!
      for (const { op, label: opLabel } of HOT_OPS) {
        throughput.rows.push([label, opLabel, r.api[op] ?? '—', r.binding[op] ?? '—', r.cpp[op] ?? '—', ratio(r.api[op], r.binding[op]) ?? '—', ratio(r.api[op], r.cpp[op]) ?? '—'])
      }
    }
    throughput.notes.push(
      'raw C++ = benchRawOps in the bench addon, timed inside the addon; — = no C++ loop for the op (map get/put compare with the binding).',
      'The goal rows judge the worse of string and integer keys (and of get and put for MapState).',
    )
    result.tables.push(throughput)

    const of = (kind: KeyKind, op: HotOp, against: 'binding' | 'cpp') => ratio(measured.get(kind)!.api[op], measured.get(kind)![against][op])
    const both = (op: HotOp, against: 'binding' | 'cpp') => KINDS.map(({ kind }) => of(kind, op, against))
    const goals: Array<[GoalSpec, number | null]> = [
      [GOALS.hotUpdateVsBinding, worst(both('update', 'binding'))],
      [GOALS.hotUpdateVsCpp, worst(both('update', 'cpp'))],
      [GOALS.hotValueVsCpp, worst(both('value', 'cpp'))],
      [GOALS.hotListAddVsMerge, worst(both('list-add', 'binding'))],
      [GOALS.hotMapVsBinding, worst([...both('map-put', 'binding'), ...both('map-get', 'binding')])],
    ]
    const judged: GoalResult[] = goals.map(([spec, value]) => judge(spec, value, `hot path, ${count.toLocaleString('en-US')} keys`))
    result.goals.push(...judged)

    const goalTable = table('Hot path: the goals of issue 17 (worse of string and integer keys)', [
      ['goal', 'text'],
      ['string keys', 'ratio'],
      ['integer keys', 'ratio'],
      ['verdict', 'text'],
    ])
    const perKind: Array<[string, (kind: KeyKind) => number | null]> = [
      ['update / raw binding put', (k) => of(k, 'update', 'binding')],
      ['update / raw C++ put', (k) => of(k, 'update', 'cpp')],
      ['random value() / raw C++ get', (k) => of(k, 'value', 'cpp')],
      ['ListState add / raw merge', (k) => of(k, 'list-add', 'binding')],
      ['MapState put and get / raw binding (worse)', (k) => worst([of(k, 'map-put', 'binding'), of(k, 'map-get', 'binding')])],
    ]
    for (const [i, [label, fn]] of perKind.entries()) goalTable.rows.push([label, fn('string') ?? '—', fn('int') ?? '—', goalCell(judged[i]!)])
    result.tables.push(goalTable)
    return result
  },
}
