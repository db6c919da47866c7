// `npm run bench`: runs the bench groups, prints a table per group, judges the
// goals, and (for full runs) rewrites bench/RESULTS.md and the checkpoint chart.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { getHeapStatistics } from 'node:v8'
import { Command, Option } from 'commander'
import { checkpointChartSpec, renderSvg } from './lib/chart.js'
import { defaultConfig, RunContext, type BenchConfig, type BenchGroup, type CostPoint } from './lib/context.js'
import { formatMs, parseSize, sizeLabel } from './lib/format.js'
import type { GoalResult } from './lib/goals.js'
import { describeMachine, machineInfo } from './lib/machine.js'
import { isUnavailable, nativeBinding } from './lib/pieces.js'
import { Progress } from './lib/progress.js'
import { goalsTable, renderGroupText, renderResultsMarkdown, type GroupReport, type RunReport } from './lib/report.js'
import { renderText } from './lib/table.js'
import { TempSpace } from './lib/tmp.js'
import { checkpointsGroup } from './groups/checkpoints.js'
import { durabilityGroup } from './groups/durability.js'
import { growthGroup } from './groups/growth.js'
import { hotPathGroup } from './groups/hot-path.js'
import { manyStatesGroup } from './groups/many-states.js'
import { restoreGroup } from './groups/restore.js'
import { stateAccessGroup } from './groups/state-access.js'
import { ttlTimersGroup } from './groups/ttl-timers.js'

const GROUPS: BenchGroup[] = [stateAccessGroup, hotPathGroup, checkpointsGroup, durabilityGroup, restoreGroup, growthGroup, ttlTimersGroup, manyStatesGroup]

const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url))
const RESULTS_FILE = `${BENCH_DIR}RESULTS.md`
/** The same results as data: RESULTS.md and the chart can be rendered again from it (--render-only). */
const RESULTS_JSON_FILE = `${BENCH_DIR}results.json`
const CHART_FILE = 'checkpoint-cost.svg'
const PROFILE_NOTES_FILE = `${BENCH_DIR}notes/profiles.md`
const CHILD_ENV = 'KEYED_STATE_BENCH_CHILD'

interface CliOptions {
  quick: boolean
  json: boolean
  only?: string
  sizes?: string
  hotKeys?: string
  writeResults: boolean
  renderOnly: boolean
  progress: boolean
}

function parseArgs(argv: string[]): CliOptions {
  const program = new Command()
    .name('npm run bench --')
    .description('Measures keyed-state against the physical limit and the alternatives; ratios come from one run.')
    .option('--quick', 'one-minute smoke run: small sizes, short samples', false)
    .option('--json', 'print the results as JSON on stdout (no tables)', false)
    .addOption(new Option('--only <groups>', `comma-separated groups: ${GROUPS.map((g) => g.id).join(', ')}`))
    .option('--sizes <list>', 'state sizes for the size-dependent groups, e.g. 10MB,100MB,1GB')
    .option('--hot-keys <n>', 'distinct keys in the hot-path group (default 1000000, 50000 with --quick)')
    .option('--write-results', 'rewrite bench/RESULTS.md and the chart (default for full runs of every group)', false)
    .option('--render-only', 'measure nothing: rewrite RESULTS.md and the chart from bench/results.json (e.g. after editing bench/notes/)', false)
    .option('--no-progress', 'no progress bar on stderr')
    .allowExcessArguments(false)
  program.parse(argv, { from: 'user' })
  return program.opts<CliOptions>()
}

function selectGroups(only: string | undefined): BenchGroup[] {
  if (!only) return GROUPS
  const ids = only.split(',').map((s) => s.trim()).filter(Boolean)
  for (const id of ids) {
    if (!GROUPS.some((g) => g.id === id)) {
      throw new Error(`unknown group '${id}' (groups: ${GROUPS.map((g) => g.id).join(', ')})`)
    }
  }
  return GROUPS.filter((g) => ids.includes(g.id))
}

function configFor(opts: CliOptions): BenchConfig {
  const config = defaultConfig(opts.quick)
  if (opts.hotKeys !== undefined) config.hotPathKeys = Number(opts.hotKeys)
  if (opts.sizes) config.sizes = opts.sizes.split(',').map(parseSize).sort((a, b) => a - b)
  return config
}

/**
 * The heap backend and the JSON/Map alternative hold the whole state in the JS
 * heap; with 1 GB of state that needs more than V8's default limit. Re-runs
 * this script in a child with a larger heap instead of failing halfway.
 */
function respawnWithLargerHeap(config: BenchConfig): boolean {
  if (process.env[CHILD_ENV]) return false
  const largest = Math.max(...config.sizes)
  const wantBytes = Math.min(largest * 8 + 2e9, totalmem() * 0.7)
  if (getHeapStatistics().heap_size_limit >= wantBytes) return false
  const mb = Math.floor(wantBytes / 2 ** 20)
  const child = spawnSync(process.execPath, [...process.execArgv, `--max-old-space-size=${mb}`, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [CHILD_ENV]: '1' },
  })
  process.exitCode = child.status ?? 1
  return true
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ')
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${args ? ` -- ${args}` : ''}` : `node dist/bench/run.js ${args}`.trim()
}

async function writeResultFiles(report: RunReport, chart: readonly CostPoint[]): Promise<void> {
  if (chart.length) {
    writeFileSync(`${BENCH_DIR}${CHART_FILE}`, await renderSvg(checkpointChartSpec(chart)))
    report.chartFile = CHART_FILE
  }
  writeFileSync(RESULTS_FILE, renderResultsMarkdown(report, PROFILE_NOTES_FILE))
}

async function renderOnly(): Promise<void> {
  const saved = JSON.parse(readFileSync(RESULTS_JSON_FILE, 'utf8')) as { report: RunReport; chart: CostPoint[] }
  await writeResultFiles(saved.report, saved.chart)
  process.stdout.write(`rewrote ${RESULTS_FILE} from ${RESULTS_JSON_FILE}\n`)
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.renderOnly) return renderOnly()
  const groups = selectGroups(opts.only)
  const config = configFor(opts)
  if (respawnWithLargerHeap(config)) return

  const startedMs = Date.now()
  const date = new Date().toISOString()
  const native = nativeBinding()
  const machine = machineInfo(isUnavailable(native) ? native.reason : native.rocksdbVersion)
  const progress = new Progress(opts.progress)
  const tmp = new TempSpace()
  const ctx = new RunContext(config, tmp, progress)
  const print = (text: string) => {
    if (opts.json) return
    if (progress.drawing && process.stdout.isTTY) progress.log(text)
    else process.stdout.write(`${text}\n`)
  }

  print(`keyed-state bench${config.quick ? ' (quick)' : ''}: ${groups.map((g) => g.id).join(', ')}; sizes ${config.sizes.map(sizeLabel).join(', ')}; temp data in ${tmp.root}`)
  progress.addTotal(groups.reduce((n, g) => n + g.steps(config), 0))

  const reports: GroupReport[] = []
  const goals: GoalResult[] = []
  const chart: CostPoint[] = []
  for (const g of groups) {
    const report: GroupReport = { id: g.id, title: g.title, description: g.description, tables: [], notes: [] }
    try {
      const r = await g.run(ctx)
      report.tables = r.tables
      report.notes = r.notes
      goals.push(...r.goals)
      chart.push(...r.chart)
    } catch (e) {
      ctx.recordFailure(`group ${g.id}`, e)
      report.notes.push(`the group failed: ${e instanceof Error ? e.message : String(e)}`)
    }
    reports.push(report)
    print(renderGroupText(report))
  }
  progress.stop()
  tmp.removeAll()
  machine.loadAverageEnd = loadavg()[0]!

  const report: RunReport = {
    command: commandLine(),
    date,
    durationMs: Date.now() - startedMs,
    quick: config.quick,
    config,
    machine,
    groups: reports,
    goals,
    failures: ctx.failures,
  }
  if (!opts.json) {
    process.stdout.write(`\n${renderText(goalsTable(goals))}\n\ntook ${formatMs(report.durationMs)}; ${describeMachine(machine).at(-1)}\n`)
  }

  const writeResults = opts.writeResults || (!config.quick && !opts.only)
  if (writeResults) {
    writeFileSync(RESULTS_JSON_FILE, `${JSON.stringify({ report, chart }, null, 1)}\n`)
    await writeResultFiles(report, chart)
    if (!opts.json) process.stdout.write(`\nwrote ${RESULTS_FILE}${report.chartFile ? ` and ${BENCH_DIR}${CHART_FILE}` : ''}\n`)
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ ...report, chart }, null, 2)}\n`)
  if (ctx.failures.length) {
    process.stderr.write(`\n${ctx.failures.length} measure(s) failed (see above${writeResults ? ' and RESULTS.md' : ''}).\n`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})
