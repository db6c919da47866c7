// Where the time of a full snapshot goes, stage by stage, on the same data
// (a RocksDB DB filled through the binding in the backend's key layout):
//   node dist/bench/tools/snapshot-breakdown.js [size=100MB]
// Each line adds one stage of what the full-snapshot writer does to the one
// before, so the differences are the cost of each stage. The last lines run
// the writer itself (src/snapshot/full) over the same DB: with and without
// compression, and into a storage that skips fsync (the fixed cost of
// making the file durable).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { compressSync } from 'snappy'
import { captureFullSnapshotResources } from '../../src/backends/rocksdb/full-snapshot.js'
import { keyGroupPrefix } from '../../src/encoding.js'
import { runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { CompressionCodec } from '../../src/snapshot/types.js'
import type { StateMetaInfo } from '../../src/state/meta.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { datasetOfSize } from '../lib/data.js'
import { formatMs, mbPerSec, parseSize } from '../lib/format.js'
import { MAX_PARALLELISM } from '../lib/keyed.js'
import { isUnavailable, nativeBinding } from '../lib/pieces.js'
import { fillRawDb, packedIteration, type RawDb } from '../lib/raw-db.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const size = parseSize(process.argv[2] ?? '100MB')
const native = nativeBinding()
if (isUnavailable(native)) throw new Error(native.reason)
const tmp = new TempSpace()
const raw = fillRawDb(native, tmp.path('raw'), datasetOfSize(size, 200))
const BLOCK = 1024 * 1024

/** One iterator per key group (as the writer does), handing each chunk to `sink`. */
function perKeyGroup(db: RawDb, sink: (chunk: Buffer) => void): number {
  const snapshot = db.db.snapshot()
  let bytes = 0
  try {
    for (let kg = 0; kg < MAX_PARALLELISM; kg++) {
      const it = db.db.iterator(db.cf, { gte: keyGroupPrefix(kg), lt: keyGroupPrefix(kg + 1), snapshot })
      for (let c = it.nextChunk(8192, BLOCK); c; c = it.nextChunk(8192, BLOCK)) {
        bytes += c.length
        sink(c)
      }
      it.close()
    }
  } finally {
    snapshot.release()
  }
  return bytes
}

const ROUNDS = Number(process.env.ROUNDS ?? 3)

/**
 * Median wall time and CPU time (all threads of the process: the thread pool
 * compresses and writes) of ROUNDS runs. Other processes on the machine
 * stretch wall time; CPU time shows the work itself.
 */
async function stage(name: string, fn: () => number | Promise<number>): Promise<void> {
  const times: number[] = []
  const cpuTimes: number[] = []
  let bytes = 0
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage()
    const start = process.hrtime.bigint()
    bytes = await fn()
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
    const used = process.cpuUsage(cpu)
    cpuTimes.push((used.user + used.system) / 1000)
  }
  const ms = median(times)
  process.stdout.write(
    `${name.padEnd(58)} ${formatMs(ms).padStart(9)}  ${mbPerSec(bytes, ms).toFixed(0).padStart(5)} MB/s  cpu ${formatMs(median(cpuTimes)).padStart(9)}\n`,
  )
}

const file = join(tmp.dir('out'), 'snapshot.bin')
await stage('one iterator over everything (raw packed iteration)', () => packedIteration(raw))
await stage('one iterator per key group', () => perKeyGroup(raw, () => {}))
await stage('+ copy into 1 MiB blocks', () => {
  const block = Buffer.allocUnsafe(2 * BLOCK)
  let used = 0
  return perKeyGroup(raw, (c) => {
    if (used + c.length > block.length) used = 0
    c.copy(block, used)
    used += c.length
  })
})
await stage('+ snappy per chunk (compressSync)', () => perKeyGroup(raw, (c) => void compressSync(c)))
await stage('+ snappy + crc32 of raw and stored bytes', () =>
  perKeyGroup(raw, (c) => {
    const stored = compressSync(c)
    crc32(stored)
    crc32(stored)
  }),
)
await stage('+ snappy + crc32 + write (sync) + fsync', () => {
  const fd = openSync(file, 'w')
  const bytes = perKeyGroup(raw, (c) => {
    const stored = compressSync(c)
    crc32(stored)
    crc32(stored)
    writeSync(fd, stored)
  })
  fsyncSync(fd)
  closeSync(fd)
  return bytes
})
const meta: StateMetaInfo = {
  name: 'value',
  kind: 'value',
  namespaceSerializer: { id: 'void', version: 1 },
  valueSerializer: { id: 'string', version: 1 },
}
let checkpointId = 0
/** The writer over the raw DB, as the backend runs it (one iterator per state, no db snapshot). */
async function fullSnapshot(storage: CheckpointStorage, compression: CompressionCodec): Promise<number> {
  const range = { start: 0, end: MAX_PARALLELISM - 1 }
  const resources = captureFullSnapshotResources(raw.db, [{ meta, columnFamily: 'value', cf: raw.cf }], range)
  const run = runFullSnapshot(++checkpointId, resources, { type: 'savepoint', storage, compression }, { maxParallelism: MAX_PARALLELISM }, 0)
  const { handle } = await run.done
  if (handle?.type !== 'full') throw new Error('the snapshot wrote no file')
  await storage.delete(handle.file.path)
  return handle.file.sizeBytes
}
const storage = new FileSystemCheckpointStorage(tmp.dir('storage'))
/** The same storage without fsync: what durability costs. */
const unsynced = new FileSystemCheckpointStorage(tmp.dir('unsynced'))
const create = unsynced.create.bind(unsynced)
unsynced.create = async (scope, name) => {
  const out = await create(scope, name)
  const fh = (out as unknown as { fh: { sync(): Promise<void> } }).fh
  fh.sync = async () => {}
  return out
}
await stage('full snapshot writer, snappy (bytes stored)', () => fullSnapshot(storage, 'snappy'))
await stage('full snapshot writer, no compression', () => fullSnapshot(storage, 'none'))
await stage('full snapshot writer, no compression, no file fsync', () => fullSnapshot(unsynced, 'none'))

// The goal's ratio, measured as the bench does it: raw iteration and the writer alternated, so load
// from other processes falls on both; median of the per-round throughput ratios.
const ratios: Record<string, number[]> = { snappy: [], none: [] }
for (let r = 0; r < Math.max(ROUNDS, 5); r++) {
  for (const codec of ['snappy', 'none'] as const) {
    const rawStart = process.hrtime.bigint()
    const packed = packedIteration(raw)
    const rawMs = Number(process.hrtime.bigint() - rawStart) / 1e6
    const start = process.hrtime.bigint()
    await fullSnapshot(storage, codec)
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    ratios[codec]!.push(mbPerSec(packed, ms) / mbPerSec(packed, rawMs))
  }
}
for (const [codec, list] of Object.entries(ratios)) {
  process.stdout.write(`writer (${codec}) / raw packed iteration, alternated: median ${median(list).toFixed(2)}×  [${list.map((x) => x.toFixed(2)).join(' ')}]\n`)
}
raw.close()
tmp.removeAll()
