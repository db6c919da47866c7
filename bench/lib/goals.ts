// The goals of issues 3, 4, 6 and 17, judged on ratios measured in the same run.

export type Direction = 'atLeast' | 'atMost'

export interface GoalSpec {
  id: string
  text: string
  target: number
  direction: Direction
  /** How the ratio is displayed: '×' (throughput/speed-up) or '%' (share). */
  display: 'x' | 'pct'
}

export const GOALS = {
  rocksdbValueVsRaw: {
    id: 'rocksdb-value-vs-raw-binding',
    text: 'RocksDB ValueState update+value ≥ 0.7× raw binding loop',
    target: 0.7,
    direction: 'atLeast',
    display: 'x',
  },
  heapVsMap: {
    id: 'heap-value-vs-map',
    text: 'heap ValueState update+value ≥ 0.5× plain JS Map',
    target: 0.5,
    direction: 'atLeast',
    display: 'x',
  },
  incrementalBytes: {
    id: 'incremental-bytes-1pct',
    text: 'incremental checkpoint bytes after 1 % of keys changed ≤ 5 % of full',
    target: 5,
    direction: 'atMost',
    display: 'pct',
  },
  fullVsRawIteration: {
    id: 'full-snapshot-vs-raw-iteration',
    text: 'full snapshot write throughput ≥ 0.7× raw packed iteration',
    target: 0.7,
    direction: 'atLeast',
    display: 'x',
  },
  rescaleVsReinsert: {
    id: 'rescale-ingestion-vs-reinsert',
    text: 'rescale by ingestion ≥ 5× faster than re-inserting through the state API',
    target: 5,
    direction: 'atLeast',
    display: 'x',
  },
  checkpointVsJson: {
    id: 'checkpoint-vs-json',
    text: 'checkpoint of the largest state (default mode: incremental, 1 % of keys changed) ≥ 10× faster than JSON.stringify of a Map to a file + fsync',
    target: 10,
    direction: 'atLeast',
    display: 'x',
  },
  checkpointVsSqlite: {
    id: 'checkpoint-vs-sqlite-backup',
    text: 'checkpoint of the largest state (default mode: incremental, 1 % of keys changed) ≥ 10× faster than better-sqlite3 online backup + fsync',
    target: 10,
    direction: 'atLeast',
    display: 'x',
  },
  hotUpdateVsBinding: {
    id: 'hot-update-vs-raw-binding',
    text: 'RocksDB ValueState update ≥ 0.7× raw binding put loop (string and integer keys)',
    target: 0.7,
    direction: 'atLeast',
    display: 'x',
  },
  hotUpdateVsCpp: {
    id: 'hot-update-vs-raw-cpp',
    text: 'RocksDB ValueState update ≥ 0.5× raw C++ puts (string and integer keys)',
    target: 0.5,
    direction: 'atLeast',
    display: 'x',
  },
  hotValueVsCpp: {
    id: 'hot-value-vs-raw-cpp',
    text: 'RocksDB random ValueState value() ≥ 0.8× raw C++ gets (string and integer keys)',
    target: 0.8,
    direction: 'atLeast',
    display: 'x',
  },
  hotListAddVsMerge: {
    id: 'hot-list-add-vs-raw-merge',
    text: 'RocksDB ListState add ≥ 0.7× raw binding merge (string and integer keys)',
    target: 0.7,
    direction: 'atLeast',
    display: 'x',
  },
  hotMapVsBinding: {
    id: 'hot-map-vs-raw-binding',
    text: 'RocksDB MapState get and put ≥ 0.7× raw binding (string and integer keys)',
    target: 0.7,
    direction: 'atLeast',
    display: 'x',
  },
} as const satisfies Record<string, GoalSpec>

export type Verdict = 'PASS' | 'MISS' | 'n/a'

export interface GoalResult {
  id: string
  text: string
  target: number
  direction: Direction
  display: 'x' | 'pct'
  /** The measured ratio (or percentage), null when it could not be measured. */
  measured: number | null
  verdict: Verdict
  /** Where it was measured, e.g. 'state access, 100k keys' or 'checkpoints at 1 GB'. */
  where: string
  /** Why it is n/a, or a caveat (e.g. quick run: smaller size than the goal names). */
  note?: string
}

export function judge(spec: GoalSpec, measured: number | null | undefined, where: string, note?: string): GoalResult {
  const ok = measured !== null && measured !== undefined && Number.isFinite(measured)
  const verdict: Verdict = !ok
    ? 'n/a'
    : (spec.direction === 'atLeast' ? measured >= spec.target : measured <= spec.target) ? 'PASS' : 'MISS'
  const r: GoalResult = { ...spec, measured: ok ? measured : null, verdict, where }
  if (note !== undefined) r.note = note
  return r
}

export function formatTarget(g: Pick<GoalSpec, 'target' | 'direction' | 'display'>): string {
  const op = g.direction === 'atLeast' ? '≥' : '≤'
  return g.display === 'pct' ? `${op} ${g.target} %` : `${op} ${g.target}×`
}

/** 'goal ≥ 0.7× PASS' — printed beside a ratio in a table. */
export function goalCell(g: GoalResult): string {
  return `${formatTarget(g)} ${g.verdict}`
}
