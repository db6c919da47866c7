// Output for the CLI: data to stdout (JSON or text), progress and errors to
// stderr. The progress bar only appears when stderr is a terminal, so pipes
// and test harnesses get clean output.
import cliProgress from 'cli-progress'

/** Writes one line to stdout, waiting when the pipe is full (bounded memory for large dumps). */
export async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve))
  }
}

export async function writeJson(value: unknown): Promise<void> {
  await writeLine(JSON.stringify(value, jsonReplacer, 2))
}

/**
 * JSON for values that JSON.stringify cannot take as they are. Bytes are read
 * from the holder: a Buffer's toJSON runs before the replacer and would give
 * { type: 'Buffer', data: [...] }.
 */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key]
  if (original instanceof Uint8Array) return { base64: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') }
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (value instanceof Map) return [...value.entries()]
  if (value instanceof Set) return [...value]
  return value
}

export interface Progress {
  increment(by?: number): void
  setTotal(total: number): void
  stop(): void
}

const silent: Progress = { increment() {}, setTotal() {}, stop() {} }

/** A progress bar on stderr, or nothing when stderr is not a terminal. */
export function progress(label: string, total: number, unit = 'files'): Progress {
  if (!process.stderr.isTTY || total <= 0) return silent
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`,
      clearOnComplete: true,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  )
  bar.start(total, 0)
  return {
    increment: (by = 1) => bar.increment(by),
    setTotal: (t) => bar.setTotal(t),
    stop: () => bar.stop(),
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

export function formatTime(ms: number | undefined): string {
  return ms === undefined || ms === 0 ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
