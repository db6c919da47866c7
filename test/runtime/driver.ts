// A coordinator process for the crash tests: runs the counting job with
// runJob and reports on stdout, one JSON line each, when its workers started
// (their pids), each completed checkpoint, and the end. The test kills it
// (alone, or with its workers) and starts it again with restoreFrom 'latest'.
// On a line "stop" on stdin (unbounded broker sources) it waits until the
// workers have read everything, stops with a savepoint and reports it.
import { createInterface } from 'node:readline'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { runJob } from '../../src/runtime/job.js'
import { COUNTING_JOB } from './helpers.js'

const args = JSON.parse(process.argv[2]!) as { storage: string; localDir: string; params: object; parallelism: number; restoreFrom?: 'latest' }
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`)
let restoredFrom: number | null | undefined
const job = await runJob({
  job: COUNTING_JOB,
  params: args.params,
  parallelism: args.parallelism,
  maxParallelism: 16,
  storage: new FileSystemCheckpointStorage(args.storage),
  localDir: args.localDir,
  checkpointIntervalMs: 50,
  ...(args.restoreFrom ? { restoreFrom: args.restoreFrom } : {}),
  onEvent: (e) => {
    if (e.type === 'started') restoredFrom ??= e.restoredFrom?.checkpointId ?? null
    if (e.type === 'checkpoint') say({ type: 'checkpoint', id: e.metadata.checkpointId })
  },
})
say({ type: 'started', pids: job.workers.map((w) => (w as unknown as { pid: number }).pid), restoredFrom })
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stop') return
  void job.waitUntilCaughtUp().then(() => job.stop({ savepoint: true }))
})
const result = await job.done
say({ type: 'done', state: result.state, dir: result.snapshot?.dir })
process.exit(0)
