// Where the time of a savepoint restore goes, stage by stage, on one savepoint
// (a ValueState of keys of 8 bytes and 200-byte values on one RocksDB instance,
// maxParallelism 128, snappy):
//   node dist/bench/tools/restore-breakdown.js [size=100MB] [rounds=3]
// Lines: reading and verifying the blocks only (src/snapshot/full reader into
// a sink that drops them); the whole restore into a new RocksDB backend; the
// same into a heap backend. The restore is what the savepoint column of the
// restore group measures.
import { cpuUsage } from 'node:process'
import { loadavg as osLoadavg } from 'node:os'
import { restoreFullHandles } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { takeSnapshot } from '../lib/checkpointing.js'
import { datasetOfSize } from '../lib/data.js'
import { formatMs, mbPerSec, parseSize } from '../lib/format.js'
import { openBackend, writeValues } from '../lib/keyed.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const size = parseSize(process.argv[2] ?? '100MB')
const rounds = Number(process.argv[3] ?? 3)
const tmp = new TempSpace()
const load = () => osLoadavg().map((l) => l.toFixed(2)).join(' ')
console.log(`load average at start: ${load()}`)
const data = datasetOfSize(size, 200)
const storage = new FileSystemCheckpointStorage(tmp.dir('storage'))
const source = await openBackend(tmp, 'rocksdb', 'source')
writeValues(source.backend, data)
const handle = (await takeSnapshot(source.backend, 1, storage, 'savepoint')).result.handle as FullSnapshotHandle
const range = source.backend.keyGroupRange
await source.dispose()
console.log(`savepoint of ${data.count.toLocaleString('en-US')} keys (${(data.logicalBytes / 1e6).toFixed(1)} MB of state, file ${(handle.file.sizeBytes / 1e6).toFixed(1)} MB)`)

async function measure(label: string, fn: () => Promise<void>): Promise<void> {
  const wall: number[] = []
  const cpu: number[] = []
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuUsage()
    const t0 = performance.now()
    await fn()
    wall.push(performance.now() - t0)
    const c = cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  const w = median(wall)
  console.log(`${label.padEnd(40)} ${formatMs(w).padStart(9)}  ${mbPerSec(data.logicalBytes, w).toFixed(1).padStart(7)} MB/s  cpu ${formatMs(median(cpu))}`)
}

await measure('read + verify (sink drops entries)', async () => {
  await restoreFullHandles([handle], storage, range, { restoreMetaInfos() {}, restoreChunk() {} })
})
await measure('restore into RocksDB', async () => {
  const b = await openBackend(tmp, 'rocksdb', 'restored', { restoreFrom: [handle], storage })
  await b.dispose()
})
await measure('restore into heap', async () => {
  const b = await openBackend(tmp, 'heap', 'restored', { restoreFrom: [handle], storage })
  await b.dispose()
})
console.log(`load average at end: ${load()}`)
await measure('open + close empty RocksDB', async () => {
  const b = await openBackend(tmp, 'rocksdb', 'empty')
  await b.dispose()
})
{
  const t0 = performance.now()
  const b = await openBackend(tmp, 'rocksdb', 'restored', { restoreFrom: [handle], storage })
  const t1 = performance.now()
  await b.backend.close()
  const t2 = performance.now()
  tmp.remove(b.dir!)
  console.log(`open+restore ${formatMs(t1 - t0)}, close ${formatMs(t2 - t1)}, rm ${formatMs(performance.now() - t2)}`)
}
