// Reading a Prometheus text scrape in tests: one series' value, or the sum of
// a metric's series that match some labels.

/** The value of the sample line `series value` (series as printed: `name{labels}`), undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** The series of metric `name` (exactly that name, not its _sum/_count) as [labels, value]. */
export function seriesOf(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!
    out.push({ labels, value: Number(m[3]) })
  }
  return out
}

/** The sum of the series of `name` whose labels include `match`. */
export function sumOf(text: string, name: string, match: Record<string, string> = {}): number {
  return seriesOf(text, name)
    .filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
}

/** Scrapes `registry` until `ok` holds for the text (heartbeats carry what workers report), or fails after `timeoutMs`. */
export async function scrapeUntil(registry: { metrics(): Promise<string> }, what: string, ok: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = await registry.metrics()
    if (ok(text)) return text
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape:\n${text}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
