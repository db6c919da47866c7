// Where the time of a full snapshot goes, stage by stage, on the same data
// (a RocksDB DB filled through the binding in the backend's key layout):
//   node dist/bench/tools/snapshot-breakdown.js [size=100MB]
// Each line adds one stage of what the full-snapshot writer does to the one
// before, so the differences are the cost of each stage.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { compressSync } from 'snappy'
import { keyGroupPrefix } from '../../src/encoding.js'
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

function stage(name: string, fn: () => number): void {
  const times: number[] = []
  let bytes = 0
  for (let r = 0; r < 3; r++) {
    const start = process.hrtime.bigint()
    bytes = fn()
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  const ms = median(times)
  process.stdout.write(`${name.padEnd(58)} ${formatMs(ms).padStart(9)}  ${mbPerSec(bytes, ms).toFixed(0).padStart(5)} MB/s\n`)
}

const file = join(tmp.dir('out'), 'snapshot.bin')
stage('one iterator over everything (raw packed iteration)', () => packedIteration(raw))
stage('one iterator per key group', () => perKeyGroup(raw, () => {}))
stage('+ copy into 1 MiB blocks', () => {
  const block = Buffer.allocUnsafe(2 * BLOCK)
  let used = 0
  return perKeyGroup(raw, (c) => {
    if (used + c.length > block.length) used = 0
    c.copy(block, used)
    used += c.length
  })
})
stage('+ snappy per chunk (compressSync)', () => perKeyGroup(raw, (c) => void compressSync(c)))
stage('+ snappy + crc32 of raw and stored bytes', () =>
  perKeyGroup(raw, (c) => {
    const stored = compressSync(c)
    crc32(stored)
    crc32(stored)
  }),
)
stage('+ snappy + crc32 + write (sync) + fsync', () => {
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
raw.close()
tmp.removeAll()
