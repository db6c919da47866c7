// Runs one hot-path operation (bench/groups/hot-path.ts) of one subject in a
// loop, so a profiler sees nothing else, or two subjects in alternating rounds:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/tools/hot-path-loop.js api string update 5 1000000
//   perf record -g node --perf-basic-prof dist/bench/tools/hot-path-loop.js api int value 5
//   node dist/bench/tools/hot-path-loop.js api/cpp string value 10 100000
// Subjects: api (the public state API), binding (raw binding loop), cpp (the
// addon's C++ loop). Ops: update, value, list-add, map-put, map-get. At 1 M keys give node
// --max-old-space-size=8192: the raw subjects prebuild 16 M composite map keys.
import { benchNativeBinding, isUnavailable } from '../lib/pieces.js'
import { dataset } from '../lib/data.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'
import { apiSubject, bindingRunners, cppRunners, HOT_OPS, hotWorkload, openRawHotDb, type HotOp, type HotRunners, type HotWorkload } from '../lib/subjects/hot-path.js'
import type { OpRunner } from '../lib/subjects/types.js'

const [subjectNames = 'api', kind = 'string', opName = 'update', secondsText = '5', keysText = '100000'] = process.argv.slice(2)
const op = opName as HotOp
if (!HOT_OPS.some((o) => o.op === op)) throw new Error(`op must be one of ${HOT_OPS.map((o) => o.op).join(', ')}`)
if (kind !== 'string' && kind !== 'int') throw new Error('keys must be string or int')
const native = benchNativeBinding()
if (isUnavailable(native)) throw new Error(native.reason)

const ROUND_MS = 250
const BATCH = 1000

/** Operations per second of `run` over about `ms`; the C++ runner returns its own time. */
function rate(run: OpRunner, ms: number, selfTimed: boolean): number {
  const endMs = Date.now() + ms
  let ops = 0
  let timedMs = 0
  const start = process.hrtime.bigint()
  while (Date.now() < endMs) {
    const r = run(BATCH)
    if (selfTimed) timedMs += r as number
    ops += BATCH
  }
  const elapsedMs = selfTimed ? timedMs : Number(process.hrtime.bigint() - start) / 1e6
  return (ops * 1000) / elapsedMs
}

async function main<K>(w: HotWorkload<K>): Promise<void> {
  const tmp = new TempSpace()
  const names = subjectNames.split('/')
  const closers: Array<() => Promise<void> | void> = []
  const runnersOf = async (name: string): Promise<HotRunners> => {
    if (name === 'api') {
      const api = await apiSubject(tmp, w)
      closers.push(api.close)
      return api.ops
    }
    if (isUnavailable(native)) throw new Error(native.reason)
    const raw = openRawHotDb(native, tmp, w)
    closers.push(raw.close)
    if (name === 'binding') return bindingRunners(raw, w)
    if (name === 'cpp') return cppRunners(native, raw, w)
    throw new Error('subject must be api, binding or cpp (two joined by / to compare)')
  }
  const subjects: Array<{ name: string; run: OpRunner }> = []
  for (const name of names) {
    const run = (await runnersOf(name))[op]
    if (!run) throw new Error(`${name} has no ${op}`)
    subjects.push({ name, run })
  }
  const totalMs = Number(secondsText) * 1000
  if (subjects.length === 1) {
    const s = subjects[0]!
    process.stdout.write(`${s.name} ${kind} ${op}: ${(rate(s.run, totalMs, s.name === 'cpp') / 1e3).toFixed(1)} k ops/s\n`)
  } else {
    const [a, b] = subjects as [(typeof subjects)[0], (typeof subjects)[0]]
    const rates: [number[], number[]] = [[], []]
    const ratios: number[] = []
    for (let round = 0; round * 2 * ROUND_MS < totalMs; round++) {
      const ra = rate(a.run, ROUND_MS, a.name === 'cpp')
      const rb = rate(b.run, ROUND_MS, b.name === 'cpp')
      rates[0].push(ra)
      rates[1].push(rb)
      // The first rounds include the JIT warming up.
      if (round >= 2) ratios.push(ra / rb)
    }
    process.stdout.write(
      `${kind} ${op}: ${a.name} ${(median(rates[0]) / 1e3).toFixed(1)} k ops/s, ${b.name} ${(median(rates[1]) / 1e3).toFixed(1)} k ops/s, ` +
        `ratio median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}, ${ratios.length} rounds)\n`,
    )
  }
  for (const close of closers) await close()
  tmp.removeAll()
}

const count = Number(keysText)
const data = dataset(count, 100)
const values = Array.from({ length: count }, (_, i) => data.value(i))
await (kind === 'string' ? main(hotWorkload('string', count, values)) : main(hotWorkload('int', count, values)))
