// Result tables: numbers stay numbers (for --json); rendering formats them by
// the column's unit, for the terminal and for RESULTS.md.
import { formatCell, type Cell, type Unit } from './format.js'

export interface Column {
  header: string
  unit: Unit
}

export interface Table {
  title: string
  columns: Column[]
  rows: Cell[][]
  /** Printed under the table: how it was measured, caveats. */
  notes: string[]
}

export function table(title: string, columns: Array<[string, Unit]>): Table {
  return { title, columns: columns.map(([header, unit]) => ({ header, unit })), rows: [], notes: [] }
}

function rendered(t: Table): string[][] {
  return t.rows.map((row) => t.columns.map((c, i) => formatCell(row[i] ?? null, c.unit)))
}

function isNumeric(c: Column): boolean {
  return c.unit !== 'text'
}

export function renderText(t: Table): string {
  const cells = rendered(t)
  const widths = t.columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (parts: string[]) =>
    parts.map((p, i) => (isNumeric(t.columns[i]!) && i > 0 ? p.padStart(widths[i]!) : p.padEnd(widths[i]!))).join('  ').trimEnd()
  const out = [t.title, line(t.columns.map((c) => c.header)), widths.map((w) => '─'.repeat(w)).join('  ')]
  for (const r of cells) out.push(line(r))
  for (const n of t.notes) out.push(`  · ${n}`)
  return out.join('\n')
}

function escapeMd(s: string): string {
  return s.replace(/\|/g, '\\|')
}

export function renderMarkdown(t: Table): string {
  const cells = rendered(t)
  const out = [
    ...(t.title ? [`**${escapeMd(t.title)}**`, ''] : []),
    `| ${t.columns.map((c) => escapeMd(c.header)).join(' | ')} |`,
    `| ${t.columns.map((c, i) => (isNumeric(c) && i > 0 ? '---:' : ':---')).join(' | ')} |`,
  ]
  for (const r of cells) out.push(`| ${r.map(escapeMd).join(' | ')} |`)
  if (t.notes.length) {
    out.push('')
    for (const n of t.notes) out.push(`- ${n}`)
  }
  return out.join('\n')
}
