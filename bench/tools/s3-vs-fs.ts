// Checkpoint storage side by side: the file system and S3 (a local
// S3-compatible server, s3rver, in a child process on 127.0.0.1, started by
// the tests' helper) in the same run, on the same RocksDB state:
//   node dist/bench/tools/s3-vs-fs.js [size=100MB]
// Two backends with the same state, one per storage, measured in interleaved
// rounds (the machine is shared, so a busy phase hits both alike), medians:
// the first (full) upload, incremental checkpoints after 1 % of keys changed
// (5 rounds), full savepoints (3 rounds), and restores from the last
// incremental checkpoint and from a savepoint without a local copy (every
// file comes from storage). Goal: S3 within 2x of the file system for the
// incremental checkpoint. Uploads overlap: 4 files at once per instance, and
// 4 parts at once within a file larger than a part.
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { startS3Server } from '../../test/s3/server.js'
import { takeCompletedCheckpoint, takeSnapshot, type CheckpointCost } from '../lib/checkpointing.js'
import { datasetOfSize, sampleIndices } from '../lib/data.js'
import { formatMs, parseSize } from '../lib/format.js'
import { openBackend, writeValues, type Backend } from '../lib/keyed.js'
import { median } from '../lib/timing.js'
import { TempSpace } from '../lib/tmp.js'

const size = parseSize(process.argv[2] ?? '100MB')
const INCREMENTAL_ROUNDS = 5
const SAVEPOINT_ROUNDS = 3
const tmp = new TempSpace()
const data = datasetOfSize(size, 200)

interface Subject {
  name: string
  storage: CheckpointStorage
  backend: Backend
  dispose(): Promise<void>
  first?: CheckpointCost
  incremental: CheckpointCost[]
  savepoints: CheckpointCost[]
  restoreIncrementalMs: number[]
  restoreSavepointMs: number[]
}

async function timeRestore(storage: CheckpointStorage, handle: KeyedStateHandle, label: string): Promise<number> {
  const start = performance.now()
  const opened = await openBackend(tmp, 'rocksdb', label, { restoreFrom: [handle], storage })
  const ms = performance.now() - start
  await opened.dispose()
  return ms
}

/** Runs `fn` on both subjects, in alternating order from round to round. */
async function interleaved(subjects: Subject[], round: number, fn: (s: Subject) => Promise<void>): Promise<void> {
  for (const s of round % 2 === 0 ? subjects : [...subjects].reverse()) await fn(s)
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`
const cost = (cs: CheckpointCost[], key: 'totalMs' | 'asyncMs'): number => median(cs.map((c) => c[key]))
const server = await startS3Server()
const subjects: Subject[] = []
try {
  for (const [name, storage] of [['file system', new FileSystemCheckpointStorage(tmp.dir('fs-storage'))], ['S3 (local s3rver)', server.storage('bench')]] as const) {
    const opened = await openBackend(tmp, 'rocksdb', `${name.split(' ')[0]}-source`, { storage })
    writeValues(opened.backend, data)
    subjects.push({ name, storage, backend: opened.backend, dispose: opened.dispose, incremental: [], savepoints: [], restoreIncrementalMs: [], restoreSavepointMs: [] })
  }
  await interleaved(subjects, 0, async (s) => {
    s.first = await takeCompletedCheckpoint(s.backend, 1, s.storage)
  })
  for (let round = 0; round < INCREMENTAL_ROUNDS; round++) {
    const changed = sampleIndices(data.count, 0.01, 100 + round)
    for (const s of subjects) writeValues(s.backend, data, round + 1, changed)
    await interleaved(subjects, round, async (s) => {
      s.incremental.push(await takeCompletedCheckpoint(s.backend, 2 + round, s.storage))
    })
  }
  for (let round = 0; round < SAVEPOINT_ROUNDS; round++) {
    await interleaved(subjects, round, async (s) => {
      s.savepoints.push(await takeSnapshot(s.backend, 100 + round, s.storage, 'savepoint'))
    })
  }
  for (let round = 0; round < 2; round++) {
    await interleaved(subjects, round, async (s) => {
      s.restoreIncrementalMs.push(await timeRestore(s.storage, s.incremental.at(-1)!.result.handle!, `restore-inc-${round}`))
      s.restoreSavepointMs.push(await timeRestore(s.storage, s.savepoints.at(-1)!.result.handle!, `restore-sp-${round}`))
    })
  }
  console.log(`## Checkpoint storage: file system vs S3, ${mb(size)} of state (${data.count.toLocaleString('en-US')} keys)\n`)
  console.log(`| storage | first checkpoint | incremental, 1 % changed: total (async part) | full savepoint | restore from incremental | restore from savepoint |`)
  console.log('|---|---|---|---|---|---|')
  for (const s of subjects) {
    console.log(
      `| ${s.name} | ${formatMs(s.first!.totalMs)} (${mb(s.first!.bytesWritten)}) | ${formatMs(cost(s.incremental, 'totalMs'))} (${formatMs(cost(s.incremental, 'asyncMs'))}), ${mb(median(s.incremental.map((c) => c.bytesWritten)))} | ` +
        `${formatMs(cost(s.savepoints, 'totalMs'))} (${mb(s.savepoints[0]!.bytesWritten)}) | ${formatMs(median(s.restoreIncrementalMs))} | ${formatMs(median(s.restoreSavepointMs))} |`,
    )
  }
  const [fs, remote] = subjects as [Subject, Subject]
  const ratio = cost(remote.incremental, 'totalMs') / cost(fs.incremental, 'totalMs')
  console.log(`\nMedians of ${INCREMENTAL_ROUNDS} incremental and ${SAVEPOINT_ROUNDS} savepoint rounds, 2 restores each, interleaved.`)
  console.log(`S3 / file system, incremental checkpoint: ${ratio.toFixed(2)}x (goal: within 2x) ${ratio <= 2 ? 'PASS' : 'MISS'}; async part ${(cost(remote.incremental, 'asyncMs') / cost(fs.incremental, 'asyncMs')).toFixed(2)}x`)
  console.log(
    `S3 / file system: first checkpoint ${(remote.first!.totalMs / fs.first!.totalMs).toFixed(2)}x, savepoint ${(cost(remote.savepoints, 'totalMs') / cost(fs.savepoints, 'totalMs')).toFixed(2)}x, ` +
      `restore (incremental) ${(median(remote.restoreIncrementalMs) / median(fs.restoreIncrementalMs)).toFixed(2)}x, restore (savepoint) ${(median(remote.restoreSavepointMs) / median(fs.restoreSavepointMs)).toFixed(2)}x`,
  )
} finally {
  for (const s of subjects) await s.dispose().catch(() => {})
  for (const s of subjects) s.storage.close?.()
  await server.stop()
  tmp.removeAll()
}
