// A coordinator process for the crash tests: runs the counting job with
// runJob and reports on stdout, one JSON line each, every start of its
// workers (attempt, parallelism, pids, the checkpoint restored), every
// completed checkpoint, failure and finished rescale, and the end. The test
// kills it (alone, or with its workers) and starts it again with restoreFrom
// 'latest'. Lines on stdin steer it: "rescale <n>"; "stop" waits until the
// workers have read everything (unbounded broker sources), reports the job's
// metrics once the source lag they show is drained (NATS reports lag, Redis
// cannot), stops with a savepoint and reports it.
// argv[2]: JSON of DriverArgs. The storage is a directory or an s3:// location
// (the S3 client's endpoint and credentials come from the environment).
import { createInterface } from 'node:readline'
import { openCheckpointStorage, s3OptionsFromEnv } from '../../src/storage/open.js'
import { runJob, type Job, type JobEvent, type RunJobOptions } from '../../src/runtime/job.js'
import { COUNTING_JOB } from './helpers.js'
import { scrapeUntil, seriesOf, sumOf } from '../metrics/scrape.js'

export interface DriverArgs {
  storage: string
  localDir: string
  params: object
  parallelism: number
  restoreFrom?: 'latest'
  workers?: RunJobOptions['workers']
  heartbeatIntervalMs?: number
  heartbeatTimeoutMs?: number
}

export type DriverLine =
  | { type: 'started'; attempt: number; parallelism: number; pids: number[]; restoredFrom: number | null }
  | { type: 'checkpoint'; id: number; parallelism: number }
  | { type: 'failure'; message: string }
  | { type: 'rescaled'; parallelism: number }
  | { type: 'metrics'; text: string }
  | { type: 'done'; state: string; dir: string | undefined }

const args = JSON.parse(process.argv[2]!) as DriverArgs
const LAG = 'keyed_state_source_lag_records'
/** NATS sources report their lag (Redis Streams cannot): wait for a report, not only for the absence of lag. */
const reportsLag = (args.params as { broker?: { kind?: string } }).broker?.kind === 'nats'
const say = (line: DriverLine): void => void process.stdout.write(`${JSON.stringify(line)}\n`)
let job: Job | undefined
// The first attempt starts before runJob resolves (its workers are known only then).
let firstStart: Extract<JobEvent, { type: 'started' }> | undefined
const started = (e: Extract<JobEvent, { type: 'started' }>, j: Job): void =>
  say({
    type: 'started',
    attempt: e.attempt,
    parallelism: e.parallelism,
    pids: j.workers.flatMap((w) => ('pid' in w && typeof w.pid === 'number' ? [w.pid] : [])),
    restoredFrom: e.restoredFrom?.checkpointId ?? null,
  })
job = await runJob({
  job: COUNTING_JOB,
  params: args.params,
  parallelism: args.parallelism,
  maxParallelism: 16,
  storage: openCheckpointStorage(args.storage, { s3: s3OptionsFromEnv() }),
  localDir: args.localDir,
  checkpointIntervalMs: 50,
  restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 10 },
  ...(args.restoreFrom ? { restoreFrom: args.restoreFrom } : {}),
  ...(args.workers ? { workers: args.workers } : {}),
  ...(args.heartbeatIntervalMs ? { heartbeatIntervalMs: args.heartbeatIntervalMs } : {}),
  ...(args.heartbeatTimeoutMs ? { heartbeatTimeoutMs: args.heartbeatTimeoutMs } : {}),
  onEvent: (e) => {
    if (e.type === 'started') {
      if (job) started(e, job)
      else firstStart = e
    }
    if (e.type === 'checkpoint') say({ type: 'checkpoint', id: e.metadata.checkpointId, parallelism: e.metadata.parallelism })
    if (e.type === 'failure') say({ type: 'failure', message: e.error.message })
  },
})
started(firstStart!, job)
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, n] = line.trim().split(/\s+/)
  if (command === 'rescale') void job.rescale(Number(n)).then(() => say({ type: 'rescaled', parallelism: Number(n) }))
  if (command === 'stop')
    void job
      .waitUntilCaughtUp()
      .then(() => scrapeUntil(job.metrics, 'no source lag left', (text) => sumOf(text, LAG) === 0 && (!reportsLag || seriesOf(text, LAG).length > 0)))
      .then((text) => say({ type: 'metrics', text }))
      .then(() => job.stop({ savepoint: true }))
})
const result = await job.done
say({ type: 'done', state: result.state, dir: result.snapshot?.dir })
process.exit(0)
