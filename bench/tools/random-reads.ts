// Random ValueState reads of a state larger than the block cache, as the
// checkpoints group measures them (fill through the state API, then random
// reads over all keys), with the write rate of the fill beside it: what a
// RocksDB table option costs writes. A smaller memory budget stands in for a
// larger state (100 MB under a 25 MB budget is 1 GB under the default 256 MB):
//   node dist/bench/tools/random-reads.js 100MB 25MB
//   node dist/bench/tools/random-reads.js 1GB          (the default budget)
//   node dist/bench/tools/random-reads.js 1GB "" 200000 8 off   (rocksdbMmapReads false: pread per block)
import { loadavg } from 'node:os'
import { datasetOfSize } from '../lib/data.js'
import { parseSize, sizeLabel } from '../lib/format.js'
import { openBackend, randomReadsPerSec, writeValues } from '../lib/keyed.js'
import { median, timed } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const [sizeText = '100MB', budgetText, readsText = '200000', roundsText = '3', mmapText = 'on'] = process.argv.slice(2)
if (mmapText !== 'on' && mmapText !== 'off') throw new Error(`mmap reads: 'on' or 'off', got ${mmapText}`)
const sizeBytes = parseSize(sizeText)
const budgetBytes = budgetText ? parseSize(budgetText) : undefined
const loadStart = loadavg()[0]!
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000
const tmp = new TempSpace()
const data = datasetOfSize(sizeBytes, 200)
const opened = await openBackend(tmp, 'rocksdb', 'random-reads', {
  ...(budgetBytes === undefined ? {} : { memory: { budgetBytes } }),
  rocksdbMmapReads: mmapText === 'on',
})
try {
  const cpuFill = process.cpuUsage()
  const fill = await timed(() => writeValues(opened.backend, data))
  const fillCpuMs = cpuMs(process.cpuUsage(cpuFill))
  const rounds: number[] = []
  const perCpuSecond: number[] = []
  const reads = Number(readsText)
  for (let r = 0; r < Number(roundsText); r++) {
    // Reads per CPU second of the whole process: on a loaded host the wall clock mostly measures the other
    // processes; CPU time moves much less (it still includes background compactions, which the fill starts).
    const cpu = process.cpuUsage()
    rounds.push(randomReadsPerSec(opened.backend, data, reads, 7 + r))
    perCpuSecond.push((reads * 1000) / cpuMs(process.cpuUsage(cpu)))
  }
  const k = (v: number) => (v / 1e3).toFixed(1)
  process.stdout.write(
    `${sizeLabel(sizeBytes)} (${data.count.toLocaleString('en-US')} keys), budget ${budgetBytes === undefined ? 'default' : sizeLabel(budgetBytes)}, mmap reads ${mmapText}: ` +
      `fill ${k((data.count / fill.ms) * 1000)} k writes/s (${k((data.count / fillCpuMs) * 1000)} k per CPU s); ` +
      `random reads ${rounds.map(k).join(' / ')} k/s (median ${k(median(rounds))} k/s; ${perCpuSecond.map(k).join(' / ')} k per CPU s); ` +
      `load ${loadStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}\n`,
  )
} finally {
  await opened.dispose()
  tmp.removeAll()
}
