// Runs one state-access operation of one subject in a loop for a while, so a
// profiler sees nothing else:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/tools/hot-loop.js heap value 5
//   node dist/bench/tools/profile-top.js /tmp/prof/*.cpuprofile
// `ops:N` instead of seconds runs exactly N operations (for instruction counts:
// valgrind --tool=callgrind at two N, the difference divided by the difference in N),
// or compares two subjects in interleaved rounds in one process (the machine's
// load moves absolute numbers; the median ratio of adjacent rounds moves less):
//   node dist/bench/tools/hot-loop.js heap/map value 10 100000
import { jsMapSubject } from '../lib/subjects/js-map.js'
import { keyedStateSubject } from '../lib/subjects/keyed-state.js'
import { rawBindingSubject } from '../lib/subjects/raw-native.js'
import { accessWorkload, ACCESS_OPS, type AccessOp, type AccessSubject, type AccessWorkload } from '../lib/subjects/types.js'
import { isUnavailable, nativeBinding } from '../lib/pieces.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const [subjectNames = 'heap', opName = 'value', secondsText = '5', keysText = '100000'] = process.argv.slice(2)
const op = opName as AccessOp
if (!ACCESS_OPS.some((o) => o.op === op)) throw new Error(`op must be one of ${ACCESS_OPS.map((o) => o.op).join(', ')}`)

const ROUND_MS = 250

async function openSubject(name: string, tmp: TempSpace, w: AccessWorkload): Promise<AccessSubject> {
  switch (name) {
    case 'heap':
    case 'rocksdb':
      return keyedStateSubject(tmp, name, w)
    case 'map':
      return jsMapSubject(w)
    case 'binding': {
      const native = nativeBinding()
      if (isUnavailable(native)) throw new Error(native.reason)
      return rawBindingSubject(native, tmp, w)
    }
    default:
      throw new Error('subject must be heap, rocksdb, map or binding (two joined by / to compare)')
  }
}

/** Operations per second of `run` over about `ms`. */
async function rate(run: (n: number) => unknown, ms: number): Promise<number> {
  const endMs = Date.now() + ms
  let ops = 0
  const start = process.hrtime.bigint()
  while (Date.now() < endMs) {
    await run(1000)
    ops += 1000
  }
  return ops / (Number(process.hrtime.bigint() - start) / 1e9)
}

const tmp = new TempSpace()
const w = accessWorkload(Number(keysText), 100)
const names = subjectNames.split('/')
const subjects = [] as AccessSubject[]
for (const name of names) subjects.push(await openSubject(name, tmp, w))
const totalMs = Number(secondsText) * 1000
if (secondsText.startsWith('ops:')) {
  const run = subjects[0]!.ops[op]!
  const n = Number(secondsText.slice(4))
  for (let done = 0; done < n; done += 1000) await run(1000)
} else if (subjects.length === 1) {
  const perSecond = await rate(subjects[0]!.ops[op]!, totalMs)
  process.stdout.write(`${names[0]} ${op}: ${(perSecond / 1e3).toFixed(1)} k ops/s\n`)
} else {
  const [a, b] = subjects as [AccessSubject, AccessSubject]
  const ratios: number[] = []
  const rates: [number[], number[]] = [[], []]
  for (let round = 0; round * 2 * ROUND_MS < totalMs; round++) {
    const ra = await rate(a.ops[op]!, ROUND_MS)
    const rb = await rate(b.ops[op]!, ROUND_MS)
    rates[0].push(ra)
    rates[1].push(rb)
    // The first rounds include the JIT warming up.
    if (round >= 2) ratios.push(ra / rb)
  }
  process.stdout.write(
    `${op}: ${names[0]} ${(median(rates[0]) / 1e3).toFixed(1)} k ops/s, ${names[1]} ${(median(rates[1]) / 1e3).toFixed(1)} k ops/s, ` +
      `ratio median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}, ${ratios.length} rounds)\n`,
  )
}
for (const s of subjects) await s.close()
tmp.removeAll()
