// Runs one state-access operation of one subject in a loop for a while, so a
// profiler sees nothing else:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/tools/hot-loop.js heap value 5
//   node dist/bench/tools/profile-top.js /tmp/prof/*.cpuprofile
import { jsMapSubject } from '../lib/subjects/js-map.js'
import { keyedStateSubject } from '../lib/subjects/keyed-state.js'
import { rawBindingSubject } from '../lib/subjects/raw-native.js'
import { accessWorkload, ACCESS_OPS, type AccessOp, type AccessSubject } from '../lib/subjects/types.js'
import { isUnavailable, nativeBinding } from '../lib/pieces.js'
import { TempSpace } from '../lib/tmp.js'

const [subjectName = 'heap', opName = 'value', secondsText = '5', keysText = '100000'] = process.argv.slice(2)
const op = opName as AccessOp
if (!ACCESS_OPS.some((o) => o.op === op)) throw new Error(`op must be one of ${ACCESS_OPS.map((o) => o.op).join(', ')}`)

const tmp = new TempSpace()
const w = accessWorkload(Number(keysText), 100)
let subject: AccessSubject
switch (subjectName) {
  case 'heap':
  case 'rocksdb':
    subject = await keyedStateSubject(tmp, subjectName, w)
    break
  case 'map':
    subject = jsMapSubject(w)
    break
  case 'binding': {
    const native = nativeBinding()
    if (isUnavailable(native)) throw new Error(native.reason)
    subject = rawBindingSubject(native, tmp, w)
    break
  }
  default:
    throw new Error('subject must be heap, rocksdb, map or binding')
}
const run = subject.ops[op]!
const endMs = Date.now() + Number(secondsText) * 1000
let ops = 0
const start = process.hrtime.bigint()
while (Date.now() < endMs) {
  await run(1000)
  ops += 1000
}
const sec = Number(process.hrtime.bigint() - start) / 1e9
process.stdout.write(`${subjectName} ${op}: ${(ops / sec / 1e3).toFixed(1)} k ops/s\n`)
await subject.close()
tmp.removeAll()
