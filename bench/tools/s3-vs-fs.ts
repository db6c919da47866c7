// Checkpoint storage side by side: the file system and S3 (a local
// S3-compatible server, s3rver, in a child process on 127.0.0.1, started by
// the tests' helper) in the same run, on the same RocksDB state:
//   node dist/bench/tools/s3-vs-fs.js [size=100MB]
// For each storage: the first (full) upload, incremental checkpoints after 1 %
// of keys changed (median of 3), a full savepoint, and restores from the last
// incremental checkpoint and from the savepoint without a local copy (every
// file comes from storage). Goal: S3 within 2x of the file system for the
// incremental checkpoint. Uploads overlap: 4 files at once per instance, and
// 4 parts at once within a file larger than a part.
import { join } from 'node:path'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { startS3Server } from '../../test/s3/server.js'
import { takeCompletedCheckpoint, takeSnapshot } from '../lib/checkpointing.js'
import { datasetOfSize, sampleIndices } from '../lib/data.js'
import { formatMs, parseSize } from '../lib/format.js'
import { openBackend, writeValues } from '../lib/keyed.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const size = parseSize(process.argv[2] ?? '100MB')
const ROUNDS = 3
const tmp = new TempSpace()
const data = datasetOfSize(size, 200)

interface Row {
  storage: string
  firstMs: number
  firstBytes: number
  incrementalMs: number
  incrementalBytes: number
  savepointMs: number
  savepointBytes: number
  restoreIncrementalMs: number
  restoreSavepointMs: number
}

async function timeRestore(storage: CheckpointStorage, handle: KeyedStateHandle, label: string): Promise<number> {
  const start = performance.now()
  const opened = await openBackend(tmp, 'rocksdb', label, { restoreFrom: [handle], storage })
  const ms = performance.now() - start
  await opened.dispose()
  return ms
}

async function measure(name: string, storage: CheckpointStorage): Promise<Row> {
  const { backend, dispose } = await openBackend(tmp, 'rocksdb', `${name}-source`, { storage })
  try {
    writeValues(backend, data)
    const first = await takeCompletedCheckpoint(backend, 1, storage)
    const incremental = []
    let last = first
    for (let round = 0; round < ROUNDS; round++) {
      writeValues(backend, data, round + 1, sampleIndices(data.count, 0.01, 100 + round))
      last = await takeCompletedCheckpoint(backend, 2 + round, storage)
      incremental.push(last)
    }
    const savepoint = await takeSnapshot(backend, 10, storage, 'savepoint')
    const restoreIncrementalMs = await timeRestore(storage, last.result.handle!, `${name}-restore-inc`)
    const restoreSavepointMs = await timeRestore(storage, savepoint.result.handle!, `${name}-restore-sp`)
    return {
      storage: name,
      firstMs: first.totalMs,
      firstBytes: first.bytesWritten,
      incrementalMs: median(incremental.map((c) => c.totalMs)),
      incrementalBytes: median(incremental.map((c) => c.bytesWritten)),
      savepointMs: savepoint.totalMs,
      savepointBytes: savepoint.bytesWritten,
      restoreIncrementalMs,
      restoreSavepointMs,
    }
  } finally {
    await dispose()
  }
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`
const server = await startS3Server()
const s3 = server.storage('bench')
try {
  const rows = [await measure('file system', new FileSystemCheckpointStorage(join(tmp.dir('fs-storage')))), await measure('S3 (local s3rver)', s3)]
  console.log(`## Checkpoint storage: file system vs S3, ${mb(size)} of state (${data.count.toLocaleString('en-US')} keys)\n`)
  console.log('| storage | first checkpoint | incremental, 1 % changed (median of 3) | full savepoint | restore from incremental | restore from savepoint |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(`| ${r.storage} | ${formatMs(r.firstMs)} (${mb(r.firstBytes)}) | ${formatMs(r.incrementalMs)} (${mb(r.incrementalBytes)}) | ${formatMs(r.savepointMs)} (${mb(r.savepointBytes)}) | ${formatMs(r.restoreIncrementalMs)} | ${formatMs(r.restoreSavepointMs)} |`)
  }
  const [fs, remote] = rows as [Row, Row]
  const ratio = remote.incrementalMs / fs.incrementalMs
  console.log(`\nS3 / file system, incremental checkpoint: ${ratio.toFixed(2)}x (goal: within 2x) ${ratio <= 2 ? 'PASS' : 'MISS'}`)
  console.log(`S3 / file system: first checkpoint ${(remote.firstMs / fs.firstMs).toFixed(2)}x, savepoint ${(remote.savepointMs / fs.savepointMs).toFixed(2)}x, restore (incremental) ${(remote.restoreIncrementalMs / fs.restoreIncrementalMs).toFixed(2)}x, restore (savepoint) ${(remote.restoreSavepointMs / fs.restoreSavepointMs).toFixed(2)}x`)
} finally {
  s3.close()
  await server.stop()
  tmp.removeAll()
}
