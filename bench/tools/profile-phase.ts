// Profiles one bulk phase on a state of a given size, excluding the fill:
//   node dist/bench/tools/profile-phase.js <phase> <size> <out.cpuprofile>
// phases: full-rocksdb (savepoint of the RocksDB backend; full-rocksdb-none without
// compression), full-heap (checkpoint
// of the heap backend), raw-iteration, rescale (2 instances -> 3 by restore),
// reinsert (2 -> 3 key by key).
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { takeCompletedCheckpoint, takeSnapshot } from '../lib/checkpointing.js'
import { datasetOfSize } from '../lib/data.js'
import { parseSize } from '../lib/format.js'
import { copyKeyByKey, MAX_PARALLELISM, openBackend, writeValues, type OpenedBackend } from '../lib/keyed.js'
import { fsStorageFactory, isUnavailable, nativeBinding } from '../lib/pieces.js'
import { withCpuProfile } from '../lib/profiler.js'
import { fillRawDb, packedIteration } from '../lib/raw-db.js'
import { timed } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const [phase = 'full-rocksdb', sizeText = '30MB', out = '/tmp/phase.cpuprofile'] = process.argv.slice(2)
const tmp = new TempSpace()
const data = datasetOfSize(parseSize(sizeText), 200)
const factory = await fsStorageFactory()
if (isUnavailable(factory)) throw new Error(factory.reason)
const storage = factory(tmp.dir('storage'))
const ranges = (p: number) => Array.from({ length: p }, (_, i) => keyGroupRangeForOperator(MAX_PARALLELISM, p, i))

let measured: () => Promise<unknown>
const cleanup: OpenedBackend[] = []
switch (phase) {
  case 'full-rocksdb':
  case 'full-rocksdb-none':
  case 'full-heap': {
    const opened = await openBackend(tmp, phase === 'full-heap' ? 'heap' : 'rocksdb', 'b')
    cleanup.push(opened)
    writeValues(opened.backend, data)
    // As in the checkpoints group: a checkpoint first, which flushes the memtable into SST files.
    await takeCompletedCheckpoint(opened.backend, 1, storage)
    let id = 1
    const compression = phase === 'full-rocksdb-none' ? 'none' : undefined
    measured = () => takeSnapshot(opened.backend, ++id, storage, phase === 'full-heap' ? 'checkpoint' : 'savepoint', compression)
    break
  }
  case 'raw-iteration': {
    const native = nativeBinding()
    if (isUnavailable(native)) throw new Error(native.reason)
    const raw = fillRawDb(native, tmp.path('raw'), data)
    measured = async () => packedIteration(raw)
    break
  }
  case 'rescale':
  case 'reinsert': {
    const sources: OpenedBackend[] = []
    for (const range of ranges(2)) {
      const o = await openBackend(tmp, 'rocksdb', 'src', { keyGroupRange: range })
      writeValues(o.backend, data)
      sources.push(o)
    }
    cleanup.push(...sources)
    const handles: KeyedStateHandle[] = []
    for (const s of sources) handles.push((await takeCompletedCheckpoint(s.backend, 1, storage)).result.handle!)
    measured = async () => {
      const targets: OpenedBackend[] = []
      for (const range of ranges(3)) {
        targets.push(await openBackend(tmp, 'rocksdb', 'dst', phase === 'rescale' ? { keyGroupRange: range, storage, restoreFrom: handles } : { keyGroupRange: range }))
      }
      if (phase === 'reinsert') copyKeyByKey(sources.map((s) => s.backend), targets.map((t) => t.backend))
      for (const t of targets) await t.dispose()
    }
    break
  }
  default:
    throw new Error(`unknown phase ${phase}`)
}
await measured() // warm-up (JIT, page cache)
const t = await withCpuProfile(out, () => timed(measured))
process.stdout.write(`${phase} at ${sizeText}: ${t.ms.toFixed(0)} ms, profile in ${out}\n`)
for (const o of cleanup) await o.dispose()
tmp.removeAll()
