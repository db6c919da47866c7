// Where the time of a savepoint restore goes, and how it compares with another
// build of the library, side by side in one process:
//   node dist/bench/tools/restore-breakdown.js [size=100MB] [rounds=3] [--baseline <checkout>]
// One savepoint of a RocksDB backend and one of a heap backend (a ValueState,
// keys of 8 bytes and 200-byte values, maxParallelism 128, snappy). Each round
// measures, interleaved: reading and verifying the blocks only (the format
// reader into a sink that drops them); restoring each savepoint into a new
// RocksDB backend (open + restore, as the savepoint column of the restore
// group); the same into a heap backend; and with --baseline, the same RocksDB
// restores by the build in <checkout> (its dist/, e.g. /work/main before this
// change). Prints the median of the rounds, MB/s of state, CPU time of the
// whole process (thread pool included) and the load average.
import { loadavg } from 'node:os'
import { cpuUsage } from 'node:process'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { restoreFullHandles } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import type { KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { takeSnapshot } from '../lib/checkpointing.js'
import { datasetOfSize } from '../lib/data.js'
import { formatMs, mbPerSec, parseSize } from '../lib/format.js'
import { type Backend, type Kind, MAX_PARALLELISM, openBackend, writeValues } from '../lib/keyed.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'
import { stringSerializer } from '../../src/serializers/primitives.js'

type Open = (options: KeyedStateBackendOptions<string>) => Promise<Backend>

const args = process.argv.slice(2)
const baselineAt = args.indexOf('--baseline')
const baselineDir = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined
const size = parseSize(args[0] ?? '100MB')
const rounds = Number(args[1] ?? 3)
const tmp = new TempSpace()
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')
console.log(`load average at start: ${load()}`)

const baselineOpen: Open | undefined = baselineDir
  ? ((await import(new URL(`file://${baselineDir}/dist/src/backends/open.js`).href)) as { openKeyedStateBackend: Open }).openKeyedStateBackend
  : undefined

const data = datasetOfSize(size, 200)
const storage = new FileSystemCheckpointStorage(tmp.dir('storage'))

async function savepointOf(kind: Kind): Promise<FullSnapshotHandle> {
  const source = await openBackend(tmp, kind, `source-${kind}`)
  writeValues(source.backend, data)
  const handle = (await takeSnapshot(source.backend, 1, storage, 'savepoint')).result.handle as FullSnapshotHandle
  await source.dispose()
  return handle
}

const handles = { rocksdb: await savepointOf('rocksdb'), heap: await savepointOf('heap') }
const range = { start: 0, end: MAX_PARALLELISM - 1 }
console.log(
  `savepoints of ${data.count.toLocaleString('en-US')} keys (${(data.logicalBytes / 1e6).toFixed(1)} MB of state; files: ` +
    `RocksDB ${(handles.rocksdb.file.sizeBytes / 1e6).toFixed(1)} MB, heap ${(handles.heap.file.sizeBytes / 1e6).toFixed(1)} MB)`,
)

/** Opens a backend restored from `handle` with `open`, closes it, removes its directory. */
async function restoreWith(open: Open, kind: Kind, handle: FullSnapshotHandle): Promise<void> {
  const dir = kind === 'rocksdb' ? tmp.path('restored-db') : undefined
  const b = await open({
    kind,
    keySerializer: stringSerializer,
    maxParallelism: MAX_PARALLELISM,
    restoreFrom: [handle],
    storage,
    ...(dir ? { dir } : {}),
  })
  await b.close()
  if (dir) tmp.remove(dir)
}

const subjects: Array<[string, () => Promise<void>]> = [
  [
    'read + verify only (RocksDB savepoint)',
    async () => {
      await restoreFullHandles([handles.rocksdb], storage, range, { restoreMetaInfos() {}, restoreChunk() {} })
    },
  ],
  ['RocksDB savepoint → RocksDB', () => restoreWith(openKeyedStateBackend, 'rocksdb', handles.rocksdb)],
  ['heap savepoint → RocksDB', () => restoreWith(openKeyedStateBackend, 'rocksdb', handles.heap)],
  ['RocksDB savepoint → heap', () => restoreWith(openKeyedStateBackend, 'heap', handles.rocksdb)],
]
if (baselineOpen) {
  subjects.push(
    ['baseline: RocksDB savepoint → RocksDB', () => restoreWith(baselineOpen, 'rocksdb', handles.rocksdb)],
    ['baseline: heap savepoint → RocksDB', () => restoreWith(baselineOpen, 'rocksdb', handles.heap)],
  )
}

const wall = new Map<string, number[]>()
const cpu = new Map<string, number[]>()
for (let r = 0; r < rounds; r++) {
  for (const [label, fn] of subjects) {
    const c0 = cpuUsage()
    const t0 = performance.now()
    await fn()
    const ms = performance.now() - t0
    const c = cpuUsage(c0)
    wall.set(label, [...(wall.get(label) ?? []), ms])
    cpu.set(label, [...(cpu.get(label) ?? []), (c.user + c.system) / 1000])
  }
}
const medians = new Map<string, number>()
for (const [label] of subjects) {
  const w = median(wall.get(label)!)
  medians.set(label, w)
  const range = `${formatMs(Math.min(...wall.get(label)!))}–${formatMs(Math.max(...wall.get(label)!))}`
  console.log(
    `${label.padEnd(40)} ${formatMs(w).padStart(9)}  ${mbPerSec(data.logicalBytes, w).toFixed(1).padStart(7)} MB/s  ` +
      `cpu ${formatMs(median(cpu.get(label)!)).padStart(9)}  (range ${range})`,
  )
}
if (baselineOpen) {
  for (const from of ['RocksDB', 'heap']) {
    const label = `${from} savepoint → RocksDB`
    console.log(`speed-up over the baseline, ${label}: ${(medians.get(`baseline: ${label}`)! / medians.get(label)!).toFixed(2)}×`)
  }
}
console.log(`load average at end: ${load()}`)
