// RSS and write throughput of 10 states on 2 RocksDB backends in one process,
// at a few process memory budgets (the `memory` backend option). Each budget
// runs in its own child process, since RSS only shows what a process reached.
//   node dist/bench/tools/memory-budget.js [keysMillions=2] [budgetsMiB=32,64,128] [mmapReads=on|off]
// Prints one table row per budget: keys written per second, the RSS before any
// backend (node, V8, librocksdb, the addon), the peak RSS and its growth, the
// growth of its anonymous part (RssAnon: what the process allocated; the rest
// is file pages, among them the SST pages that memory-mapped reads touched,
// page cache the kernel reclaims) against budget + JS heap growth (+ 15 %), and
// the block-cache usage RocksDB reports.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { bytesSerializer, openKeyedStateBackend, stringSerializer, ValueStateDescriptor, type ValueState } from '../../src/index.js'
import { nativeBinding } from '../lib/pieces.js'
import { TempSpace } from '../lib/tmp.js'

const MiB = 1024 * 1024
const BACKENDS = 2
const STATES_PER_BACKEND = 5
const VALUE_BYTES = 100

/** Anonymous resident memory (Linux RssAnon); the whole RSS where /proc is not there. */
function anonRss(): number {
  try {
    const kb = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    if (kb !== undefined) return Number(kb) * 1024
  } catch {
    // not Linux
  }
  return process.memoryUsage.rss()
}

async function child(keys: number, budgetBytes: number, mmapReads: boolean): Promise<void> {
  const tmp = new TempSpace()
  // What the process holds before any backend: node, V8, librocksdb's code, the addon.
  nativeBinding()
  const startRss = process.memoryUsage.rss()
  const startAnon = anonRss()
  const startHeap = process.memoryUsage().heapTotal
  const backends = []
  for (let i = 0; i < BACKENDS; i++) {
    backends.push(await openKeyedStateBackend({ kind: 'rocksdb', dir: tmp.dir(`b${i}`), keySerializer: stringSerializer, maxParallelism: 128, memory: { budgetBytes }, rocksdbMmapReads: mmapReads }))
  }
  const states: Array<{ backend: (typeof backends)[number]; state: ValueState<Uint8Array> }> = []
  for (const backend of backends) {
    for (let s = 0; s < STATES_PER_BACKEND; s++) states.push({ backend, state: backend.getState(new ValueStateDescriptor(`s${s}`, bytesSerializer)) })
  }
  const value = new Uint8Array(VALUE_BYTES).fill(120)
  let peakRss = 0
  let peakAnon = 0
  const samplePeaks = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    peakAnon = Math.max(peakAnon, anonRss())
  }
  const start = performance.now()
  for (let i = 0; i < keys; i++) {
    const { backend, state } = states[i % states.length]!
    backend.setCurrentKey(`key-${i}`)
    state.update(value)
    if (i % 20_000 === 0) {
      samplePeaks()
      await nextTurn()
    }
  }
  const seconds = (performance.now() - start) / 1000
  samplePeaks()
  const heap = process.memoryUsage().heapTotal - startHeap
  const db = (backends[0] as unknown as { db: { getProperty(cf: number, name: string): string } }).db
  const cacheUsage = Number(db.getProperty(0, 'rocksdb.block-cache-usage'))
  for (const b of backends) await b.close()
  process.stdout.write(JSON.stringify({ keysPerSecond: keys / seconds, peakRss, startRss, peakAnon, startAnon, heap, cacheUsage }))
}

async function parent(keysMillions: number, budgetsMiB: number[], mmap: string): Promise<void> {
  const keys = Math.round(keysMillions * 1e6)
  console.log(`# ${BACKENDS} backends × ${STATES_PER_BACKEND} ValueStates, ${keys} keys of ~10 bytes, ${VALUE_BYTES}-byte values, mmap reads ${mmap}, load average ${loadavg()[0]!.toFixed(1)}`)
  console.log('| budget | keys written / s | RSS before the backends | peak RSS | its growth | growth of anonymous RSS | budget + JS heap growth + 15 % | anonymous growth within | block-cache usage at the end |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  const self = fileURLToPath(import.meta.url)
  for (const budget of budgetsMiB) {
    const r = spawnSync(process.execPath, [self, 'child', String(keys), String(budget * MiB), mmap], { encoding: 'utf8', maxBuffer: 1 << 20 })
    if (r.status !== 0) throw new Error(`child for ${budget} MiB failed: ${r.stderr}`)
    const m = JSON.parse(r.stdout) as { keysPerSecond: number; peakRss: number; startRss: number; peakAnon: number; startAnon: number; heap: number; cacheUsage: number }
    const limit = (budget * MiB + m.heap) * 1.15
    const growth = m.peakRss - m.startRss
    const anonGrowth = m.peakAnon - m.startAnon
    const mib = (x: number): string => `${(x / MiB).toFixed(0)} MiB`
    console.log(
      `| ${budget} MiB | ${Math.round(m.keysPerSecond).toLocaleString('en')} | ${mib(m.startRss)} | ${mib(m.peakRss)} | ${mib(growth)} | ${mib(anonGrowth)} | ${mib(limit)} | ${anonGrowth <= limit ? 'yes' : 'NO'} | ${(m.cacheUsage / MiB).toFixed(1)} MiB |`,
    )
  }
}

const [mode = '2', second = '32,64,128', third = 'on', fourth] = process.argv.slice(2)
if (mode === 'child') await child(Number(second), Number(third), fourth !== 'off')
else if (third !== 'on' && third !== 'off') throw new Error(`mmap reads: 'on' or 'off', got ${third}`)
else await parent(Number(mode), second.split(',').map(Number), third)
