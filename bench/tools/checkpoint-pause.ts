// How long a native checkpoint blocks the event loop while a job writes
// continuously: the old path (db.checkpoint: memtable flush and fsyncs inside
// the call) against the new one (db.checkpointAsync: capture at the call, the
// rest on the thread pool), alternating in one process over two databases
// loaded alike, so the machine's load moves both the same way.
//   node dist/bench/tools/checkpoint-pause.js [stateMB=100] [rounds=6] [columnFamilies=1]
// Prints, per path: the call's own time (first checkpoint = full memtable,
// then p50/p99/max of the later ones), the event-loop delay over
// the job's windows (a 1 ms timer's lateness; 1 % of the keys written in turns of 500 puts, the call,
// writing on until the directory is written; p50/p99/max), and for the new
// path whether the directory holds flushed SSTs or the WAL, and where its call
// spent its time (db.lastBarrierTimings(): wall and thread-CPU time per phase;
// CPU below wall is time the event loop's thread was off the CPU). The keys are
// spread over `columnFamilies` column families (one per state in the backend):
// the memtable switch at the barrier is one per column family with writes.
import { createHistogram, performance, PerformanceObserver, type RecordableHistogram } from 'node:perf_hooks'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { setImmediate as nextTick } from 'node:timers/promises'
import { loadNative } from '../../src/backends/rocksdb/native/binding.js'
import type { NativeBarrierTimings, NativeDb } from '../../src/backends/rocksdb/native/types.js'
import { TempSpace } from '../lib/tmp.js'

const [stateMbText = '100', roundsText = '6', columnFamiliesText = '1'] = process.argv.slice(2)
const COLUMN_FAMILIES = Number(columnFamiliesText)
const VALUE_BYTES = 200
const KEY_COUNT = Math.round((Number(stateMbText) * 1e6) / (VALUE_BYTES + 8))
const ROUNDS = Number(roundsText)
/** Puts per event-loop turn while the job writes: ~1 ms of work, so the delay histogram sees the checkpoint, not the writer. */
const PUTS_PER_TURN = 500
/** Writes between two checkpoints: 1 % of the keys. */
const WRITES_BETWEEN = Math.max(PUTS_PER_TURN, Math.round(KEY_COUNT / 100))

const native = loadNative()
const tmp = new TempSpace()
const value = Buffer.alloc(VALUE_BYTES, 'v')
const key = Buffer.alloc(8)

/** Column family ids 1..COLUMN_FAMILIES (0 is RocksDB's default family). */
function put(db: NativeDb, i: number): void {
  key.writeBigUInt64BE(BigInt(i))
  value.writeUInt32BE(i >>> 0, 0)
  db.put(1 + (i % COLUMN_FAMILIES), key, value)
}

let seed = 1
function nextKey(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % KEY_COUNT
}

/** The longest turn of puts in the current window: a write stall shows here, not in the call's time. */
let longestTurnMs = 0
function putTurn(db: NativeDb): void {
  const t0 = performance.now()
  for (let j = 0; j < PUTS_PER_TURN; j++) put(db, nextKey())
  longestTurnMs = Math.max(longestTurnMs, performance.now() - t0)
}

async function writeTurns(db: NativeDb, puts: number): Promise<void> {
  for (let done = 0; done < puts; done += PUTS_PER_TURN) {
    putTurn(db)
    await nextTick()
  }
}

/**
 * Event-loop delay over a path's windows only: a 1 ms timer records how late
 * it fires, from the window's start. (One perf_hooks.monitorEventLoopDelay
 * enabled and disabled per window is not that: its first sample after enable()
 * spans everything since its last sample, here the other paths' windows, which
 * printed ~150 ms maxima that no turn of the job had.)
 */
class WindowDelay {
  readonly histogram: RecordableHistogram = createHistogram()
  private timer: NodeJS.Timeout | undefined
  private last = 0

  enable(): void {
    this.last = performance.now()
    this.timer = setInterval(() => {
      const now = performance.now()
      this.histogram.record(Math.max(1, Math.round((now - this.last - 1) * 1e6)))
      this.last = now
    }, 1)
  }

  disable(): void {
    clearInterval(this.timer)
    // The time from the last tick to the end of the window is delay too (the closing turn).
    const late = performance.now() - this.last - 1
    if (late > 0) this.histogram.record(Math.round(late * 1e6))
  }
}

/** Longest GC pause in the current window (a pause of the event loop that is V8's, not the checkpoint's). */
let longestGcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) longestGcMs = Math.max(longestGcMs, e.duration)
}).observe({ entryTypes: ['gc'] })

type Path = 'none' | 'old' | 'new'

type Phase = Exclude<keyof NativeBarrierTimings, 'wallMs' | 'cpuMs'>
const PHASES: Phase[] = ['walFlush', 'capture', 'memtableSwitch', 'other']

interface PathStats {
  callMs: number[]
  /** The new path's calls: where each spent its time. */
  timings: NativeBarrierTimings[]
  delay: WindowDelay
  outcomes: Record<string, number>
  /** Per window: the longest turn of puts, the longest GC pause, and RocksDB's stall time. */
  longestTurnMs: number[]
  longestGcMs: number[]
  stallMs: number[]
}

/** 1 % of the keys written, then one checkpoint while the job keeps writing until the directory is written. */
async function round(db: NativeDb, dir: string, path: Path, stats: PathStats, writesBefore: number): Promise<void> {
  longestTurnMs = 0
  longestGcMs = 0
  const stallBefore = db.tickers()?.stallMicros ?? 0
  const done = (): void => {
    stats.delay.disable()
    stats.longestTurnMs.push(longestTurnMs)
    stats.longestGcMs.push(longestGcMs)
    stats.stallMs.push(((db.tickers()?.stallMicros ?? 0) - stallBefore) / 1000)
  }
  stats.delay.enable()
  await writeTurns(db, writesBefore)
  if (path === 'none') {
    // The baseline: the job's own turns on this machine, no checkpoint (as many turns as a checkpoint window takes).
    await writeTurns(db, 40 * PUTS_PER_TURN)
    done()
    return
  }
  let settled = false
  const start = performance.now()
  let written: Promise<string>
  if (path === 'old') {
    db.checkpoint(dir)
    written = Promise.resolve('flushed at the call')
  } else {
    written = db.checkpointAsync(dir)
  }
  stats.callMs.push(performance.now() - start)
  const timings = path === 'new' ? db.lastBarrierTimings() : null
  if (timings) stats.timings.push(timings)
  void written.finally(() => (settled = true))
  while (!settled) {
    putTurn(db)
    await nextTick()
  }
  done()
  const outcome = await written
  stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}
const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(0))

async function main(): Promise<void> {
  const load = loadavg()[0]!.toFixed(1)
  const columnFamilies = Array.from({ length: COLUMN_FAMILIES }, (_, i) => `s${i}`)
  const openDb = (name: string): NativeDb => native.open(join(tmp.dir(name), 'db'), { columnFamilies, disableWal: false, statistics: true })
  const dbs = { old: openDb('old'), new: openDb('new') }
  for (const db of Object.values(dbs)) {
    if (columnFamilies.some((n, i) => db.columnFamily(n) !== i + 1)) throw new Error('expected column family ids 1..n in order')
    for (let i = 0; i < KEY_COUNT; i++) {
      put(db, i)
      if (i % 100_000 === 0) await nextTick()
    }
  }
  const newStats = (): PathStats => ({ callMs: [], timings: [], delay: new WindowDelay(), outcomes: {}, longestTurnMs: [], longestGcMs: [], stallMs: [] })
  const stats: Record<Path, PathStats> = { none: newStats(), old: newStats(), new: newStats() }
  const cps = tmp.dir('checkpoints')
  for (let i = 0; i < ROUNDS; i++) {
    for (const path of i % 2 === 0 ? (['old', 'new', 'none'] as const) : (['none', 'new', 'old'] as const)) {
      await round(dbs[path === 'none' ? 'new' : path], join(cps, `${path}-${i}`), path, stats[path], i === 0 ? 0 : WRITES_BETWEEN)
    }
  }
  console.log(`# ${stateMbText} MB state (${KEY_COUNT} keys of 8 + ${VALUE_BYTES} bytes) in ${COLUMN_FAMILIES} column families, ${ROUNDS} checkpoints per path, 1 % of the keys written between checkpoints, load average ${load} at the start, ${loadavg()[0]!.toFixed(1)} at the end`)
  console.log('| path | first call | later calls p50 / p99 / max | event-loop delay p50 / p99 / max | directory holds |')
  console.log('|---|---|---|---|---|')
  const d0 = stats.none.delay.histogram
  console.log(`| no checkpoint (the job's writes alone) | | | ${ms(d0.percentile(50) / 1e6)} / ${ms(d0.percentile(99) / 1e6)} / ${ms(d0.max / 1e6)} ms | |`)
  for (const path of ['old', 'new'] as const) {
    const s = stats[path]
    const later = s.callMs.slice(1)
    const d = s.delay.histogram
    const label = path === 'old' ? 'db.checkpoint (flush + fsync in the call)' : 'db.checkpointAsync (capture in the call)'
    console.log(
      `| ${label} | ${ms(s.callMs[0]!)} ms | ${ms(pct(later, 50))} / ${ms(pct(later, 99))} / ${ms(Math.max(...later))} ms | ` +
        `${ms(d.percentile(50) / 1e6)} / ${ms(d.percentile(99) / 1e6)} / ${ms(d.max / 1e6)} ms | ${Object.entries(s.outcomes).map(([k, v]) => `${k} ×${v}`).join(', ')} |`,
    )
  }
  console.log('\nWhat held the event loop in the windows (per window: the longest turn of 500 puts, the longest GC pause, RocksDB stall time; p50 / p99 / max over the windows)')
  console.log('| path | longest turn of puts | longest GC pause | write stall |')
  console.log('|---|---|---|---|')
  for (const path of ['none', 'old', 'new'] as const) {
    const s = stats[path]
    const cell = (xs: number[]): string => `${ms(pct(xs, 50))} / ${ms(pct(xs, 99))} / ${ms(Math.max(...xs))} ms`
    console.log(`| ${path} | ${cell(s.longestTurnMs)} | ${cell(s.longestGcMs)} | ${cell(s.stallMs)} |`)
  }
  const later = stats.new.timings.slice(1)
  if (later.length > 0) {
    console.log('\n`db.checkpointAsync` by phase, later calls (wall: the call\'s time; CPU: the thread\'s; wall - CPU: off the CPU)')
    console.log('| phase | wall p50 / p99 / max | CPU p50 / p99 / max |')
    console.log('|---|---|---|')
    const row = (label: string, pick: (t: NativeBarrierTimings) => { wallMs: number; cpuMs: number }): void => {
      const wall = later.map((t) => pick(t).wallMs)
      const cpu = later.map((t) => pick(t).cpuMs)
      console.log(`| ${label} | ${ms(pct(wall, 50))} / ${ms(pct(wall, 99))} / ${ms(Math.max(...wall))} ms | ${ms(pct(cpu, 50))} / ${ms(pct(cpu, 99))} / ${ms(Math.max(...cpu))} ms |`)
    }
    for (const phase of PHASES) row(phase, (t) => t[phase])
    row('the call', (t) => t)
  }
  for (const db of Object.values(dbs)) db.close()
}

await main()
