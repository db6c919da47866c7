// bench/RESULTS.md: the latest tables, the machine, the exact command, the
// goals with PASS/MISS, the chart, and the profile notes kept by hand in
// bench/notes/profiles.md (the run rewrites RESULTS.md, never the notes).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { BenchConfig } from './context.js'
import { formatCell, formatMs, sizeLabel } from './format.js'
import { formatTarget, type GoalResult } from './goals.js'
import { describeMachine, type MachineInfo } from './machine.js'
import { renderMarkdown, renderText, type Table } from './table.js'

export interface GroupReport {
  id: string
  title: string
  description: string
  tables: Table[]
  notes: string[]
}

export interface RunReport {
  command: string
  date: string
  durationMs: number
  quick: boolean
  config: BenchConfig
  machine: MachineInfo
  groups: GroupReport[]
  goals: GoalResult[]
  failures: string[]
  /** Relative path of the chart from RESULTS.md, when one was drawn. */
  chartFile?: string
}

function measuredText(g: GoalResult): string {
  if (g.measured === null) return 'n/a'
  return g.display === 'pct' ? formatCell(g.measured, 'pct') : formatCell(g.measured, 'ratio')
}

export function goalsTable(goals: readonly GoalResult[]): Table {
  return {
    title: 'Goals',
    columns: [
      { header: 'goal', unit: 'text' },
      { header: 'measured', unit: 'text' },
      { header: 'target', unit: 'text' },
      { header: 'verdict', unit: 'text' },
      { header: 'where', unit: 'text' },
    ],
    rows: goals.map((g) => [g.text, measuredText(g), formatTarget(g), g.verdict, g.note ? `${g.where} (${g.note})` : g.where]),
    notes: [],
  }
}

export function renderGroupText(g: GroupReport): string {
  const parts = [`\n=== ${g.title} ===`]
  for (const t of g.tables) parts.push(renderText(t), '')
  for (const n of g.notes) parts.push(`* ${n}`)
  return parts.join('\n')
}

export function renderResultsMarkdown(r: RunReport, profileNotesFile: string): string {
  const out: string[] = [
    '# keyed-state benchmarks',
    '',
    `Written by \`${r.command}\` on ${r.date} (took ${formatMs(r.durationMs)}).` +
      (r.quick ? ' **Quick smoke run: small sizes and short samples, not the numbers to quote.**' : ''),
    '',
    'Absolute numbers depend on the machine; every ratio compares measures taken side by side in this one run. ' +
      'Re-run with `npm run bench` (all groups, 10 MB / 100 MB / 1 GB), `npm run bench -- --quick` (one-minute smoke run), ' +
      '`--only <group>`, `--sizes 10MB,100MB`, `--json`.',
    '',
    `Configuration: state sizes ${r.config.sizes.map(sizeLabel).join(', ')} (keys of 8 bytes, ${r.config.stateValueChars}-byte values); ` +
      `state access over ${r.config.accessKeys.toLocaleString('en-US')} keys with ${r.config.accessValueChars}-byte values, ` +
      `${r.config.benchTimeMs} ms of tinybench samples per throughput measure` +
      (r.config.rounds ? `, in ${r.config.rounds} interleaved rounds (median).` : '.'),
    '',
    '## Goals',
    '',
    renderMarkdown({ ...goalsTable(r.goals), title: '' }),
    '',
    '## Machine',
    '',
    ...describeMachine(r.machine).map((l) => `- ${l}`),
    '',
  ]
  for (const g of r.groups) {
    out.push(`## ${g.title}`, '', g.description, '')
    for (const t of g.tables) out.push(renderMarkdown(t), '')
    for (const n of g.notes) out.push(`- ${n}`)
    if (g.notes.length) out.push('')
    if (g.id === 'checkpoints' && r.chartFile) out.push(`![Checkpoint time and size against state size](${r.chartFile})`, '')
  }
  if (r.chartFile && !r.groups.some((g) => g.id === 'checkpoints')) {
    out.push('## Checkpoint cost chart', '', `![Checkpoint time and size against state size](${r.chartFile})`, '')
  }
  if (existsSync(profileNotesFile)) {
    out.push(readFileSync(profileNotesFile, 'utf8').trim(), '')
  }
  // Measures with scripts of their own (bench/runtime.ts, bench/nats-key-groups.ts, bench/statistics-cost.ts): their last results stay in the report.
  for (const name of ['runtime.md', 'nats-key-groups.md', 'metrics-statistics.md']) {
    const notes = join(dirname(profileNotesFile), name)
    if (existsSync(notes)) out.push(readFileSync(notes, 'utf8').trim(), '')
  }
  if (r.failures.length) {
    out.push('## Failures during this run', '', '```', ...r.failures.map((f) => f.split('\n').slice(0, 6).join('\n')), '```', '')
  }
  return out.join('\n')
}
