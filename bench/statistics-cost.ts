// What RocksDB statistics tickers (rocksdbStatistics: the block cache hit
// ratio and write stall metrics) cost on state access: ValueState reads from
// SST files (the block cache path, where tickers are recorded) and
// update+value, with and without statistics, side by side in interleaved
// rounds. Reports operations per CPU-second (stable on a busy machine) and per
// wall-second, and the ratios. Writes bench/notes/metrics-statistics.md.
//
//   node dist/bench/statistics-cost.js [--keys 100000] [--rounds 6] [--ms 1500]
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { int32Serializer, openKeyedStateBackend, stringSerializer, ValueStateDescriptor, type KeyedStateBackend } from '../src/index.js'

const NOTES = fileURLToPath(new URL('../../bench/notes/metrics-statistics.md', import.meta.url))

interface Rates {
  cpu: number
  wall: number
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Calls fn for `ms` of wall time; operations per CPU-second and per wall-second. */
function rate(ms: number, fn: (n: number) => void): Rates {
  const t0 = performance.now()
  const c0 = cpuSeconds()
  let n = 0
  while (performance.now() - t0 < ms) for (let i = 0; i < 1000; i++) fn(n++)
  return { cpu: n / (cpuSeconds() - c0), wall: n / ((performance.now() - t0) / 1000) }
}

async function measure(statistics: boolean, keys: number, ms: number): Promise<{ reads: Rates; updates: Rates }> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-bench-stats-'))
  let b: KeyedStateBackend<string> | undefined
  try {
    b = await openKeyedStateBackend({ kind: 'rocksdb', dir, keySerializer: stringSerializer, rocksdbStatistics: statistics })
    const backend = b
    const s = backend.getState(new ValueStateDescriptor('v', int32Serializer, 0))
    const names = Array.from({ length: keys }, (_, i) => `key-${i}`)
    for (const k of names) {
      backend.setCurrentKey(k)
      s.update(1)
    }
    ;(backend as unknown as { db: { flush(): void } }).db.flush()
    let sum = 0
    // A stride co-prime with the key count: every key, in an order the cache cannot predict.
    const reads = rate(ms, (n) => {
      backend.setCurrentKey(names[(n * 7919) % keys]!)
      sum += s.value()
    })
    const updates = rate(ms, (n) => {
      backend.setCurrentKey(names[(n * 7919) % keys]!)
      s.update(s.value() + 1)
    })
    if (sum < 0) throw new Error('unreachable')
    return { reads, updates }
  } finally {
    await b?.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--keys <n>', 'keys', (v) => Number(v), 100_000)
    .option('--rounds <n>', 'interleaved rounds', (v) => Number(v), 6)
    .option('--ms <n>', 'milliseconds per measure', (v) => Number(v), 1500)
    .parse()
    .opts<{ keys: number; rounds: number; ms: number }>()
  const loadStart = loadavg()[0]!
  const results = { off: [] as { reads: Rates; updates: Rates }[], on: [] as { reads: Rates; updates: Rates }[] }
  for (let r = 0; r < o.rounds; r++) {
    // Alternate which goes first, so neither always gets the warmer machine.
    for (const statistics of r % 2 === 0 ? [false, true] : [true, false]) results[statistics ? 'on' : 'off'].push(await measure(statistics, o.keys, o.ms))
  }
  const loadEnd = loadavg()[0]!
  const rows: string[] = []
  for (const op of ['reads', 'updates'] as const) {
    for (const unit of ['cpu', 'wall'] as const) {
      const off = median(results.off.map((x) => x[op][unit]))
      const on = median(results.on.map((x) => x[op][unit]))
      rows.push(`| ${op === 'reads' ? 'ValueState value() from SST files' : 'ValueState update+value'} | per ${unit === 'cpu' ? 'CPU' : 'wall'}-second | ${Math.round(off).toLocaleString('en')} | ${Math.round(on).toLocaleString('en')} | ${(on / off).toFixed(2)}× |`)
    }
  }
  const text = [
    '## RocksDB statistics tickers: what they cost',
    '',
    `Written by \`node dist/bench/statistics-cost.js --keys ${o.keys} --rounds ${o.rounds} --ms ${o.ms}\` on ${new Date().toISOString()}.`,
    `Load average (1 min): ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end (2 cores). Medians of ${o.rounds} interleaved rounds.`,
    '',
    '`rocksdbStatistics: true` gives each DB a `rocksdb::Statistics` at `kExceptHistogramOrTimers` (tickers',
    'only): the block cache hit/miss and write stall metrics. RocksDB records several tickers per read',
    '(per-core counters found through `sched_getcpu`), which is what this measures. Operations per CPU-second',
    'are the steadier number on a shared machine.',
    '',
    '| operation | rate | statistics off | statistics on | on / off |',
    '| :--- | :--- | ---: | ---: | ---: |',
    ...rows,
    '',
  ].join('\n')
  await writeFile(NOTES, text)
  process.stdout.write(text)
}

await main()
