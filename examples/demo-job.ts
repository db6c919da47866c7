#!/usr/bin/env node
// The demo job that `npm start` runs: a keyed stream job on the runtime
// (runJob) that counts user events, survives a SIGKILL of one of its workers,
// rescales, and proves that every count is exact (exactly once with respect
// to state).
//
//   1. run      2 workers (child processes) read a replayable event source,
//               each only its key groups; the coordinator takes an incremental
//               checkpoint every --checkpoint-interval-ms, recording each key
//               group's source position with its state.
//   2. failure  one worker gets SIGKILL at a seeded random point (once a
//               checkpoint has completed).
//   3. recover  the runtime notices, and restarts every worker from the latest
//               complete checkpoint; each key group resumes at its position.
//   4. rescale  after a few more checkpoints the job is rescaled to 3 workers
//               while the source keeps producing (key groups re-split).
//   5. check    at the end of the stream the final checkpoint is read back and
//               every user's state is compared with values computed straight
//               from the generator.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Command, InvalidArgumentError, Option } from 'commander'
import {
  DEFAULT_MAX_PARALLELISM,
  openCheckpointStorage,
  parseStorageLocation,
  s3OptionsFromEnv,
  type CheckpointStorage,
  isKeyedStateError,
  runJob,
  stringSerializer,
  type BackendKind,
  type CheckpointMetadata,
  type Job,
  type JobEvent,
  type RunJobOptions,
  withSnapshotState,
} from '../src/index.js'
import { seededRandom, streamTimeAt, type StreamConfig } from './demo/events.js'
import { compareResults, expectedResults } from './demo/expected.js'
import type { DemoJobParams } from './demo/job.js'
import { EventCounterStates, StreamClock, type KeyResult } from './demo/operator.js'
import { checkpointStats, formatReport, type AttemptReport, type DemoReport } from './demo/summary.js'

interface DemoOptions {
  events: number
  keys: number
  parallelism: number
  rescaleTo: number
  backend: BackendKind
  storage?: string
  seed: number
  checkpointIntervalMs: number
  rate?: number
  json?: boolean
  selfTestMismatch?: boolean
}

function positiveInteger(text: string): number {
  const v = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError('expected a positive integer')
  return v
}

function nonNegativeInteger(text: string): number {
  const v = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v)) throw new InvalidArgumentError('expected a non-negative integer')
  return v
}

function parseOptions(argv: string[]): DemoOptions {
  const program = new Command()
    .name('demo-job')
    .description('A keyed stream job that is killed, recovers, rescales and checks that every count is exact.')
    .option('--events <n>', 'events in the stream', positiveInteger, 50_000)
    .option('--keys <n>', 'distinct users (keys)', positiveInteger, 500)
    .option('--parallelism <n>', 'operator instances before the failure', positiveInteger, 2)
    .option('--rescale-to <n>', 'operator instances after the rescale', positiveInteger, 3)
    .addOption(new Option('--backend <kind>', 'state backend').choices(['rocksdb', 'heap']).default('rocksdb'))
    .option('--storage <location>', 'checkpoint storage, kept afterwards: a directory or s3://bucket/prefix (default: a temporary directory, removed)')
    .option('--seed <n>', 'seed of the events and of the failure', nonNegativeInteger, 42)
    .option('--checkpoint-interval-ms <ms>', 'time between checkpoints', positiveInteger, 250)
    .option('--rate <n>', 'events per second the source releases (default: the stream over about 5 s)', positiveInteger)
    .option('--json', 'print the report as JSON')
    // Makes the check expect one wrong value, to prove that a mismatch fails the run.
    .addOption(new Option('--self-test-mismatch').hideHelp())
    .parse(argv)
  const o = program.opts<DemoOptions>()
  for (const [name, p] of [['--parallelism', o.parallelism], ['--rescale-to', o.rescaleTo]] as const) {
    if (p > DEFAULT_MAX_PARALLELISM) program.error(`${name} must be at most ${DEFAULT_MAX_PARALLELISM} (the number of key groups)`)
  }
  return o
}

/** Every user's state in the final checkpoint, read back into one backend owning every key group. */
function readFinalState(md: CheckpointMetadata, o: DemoOptions, storage: CheckpointStorage): Promise<Map<string, KeyResult>> {
  return withSnapshotState(storage, md, stringSerializer, (backend) => {
    // TTL'd state is judged at the stream time of the end of input, as the operator did.
    const clock = new StreamClock()
    clock.nowMs = streamTimeAt(o.events)
    const states = new EventCounterStates(backend, clock)
    return new Map(states.keys().map((key) => [key, states.resultFor(key)]))
  })
}

async function until(job: Job, condition: () => boolean): Promise<void> {
  while (!condition()) {
    if (job.state === 'FAILED') await job.done
    await sleep(5)
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv)
  const log = (line: string): void => {
    if (!o.json) console.log(line)
  }
  const startedMs = performance.now()
  const stream: StreamConfig = { seed: o.seed, events: o.events, keys: o.keys }
  const location = o.storage ? parseStorageLocation(o.storage) : undefined
  const storageDir = location?.kind === 'fs' ? resolve(location.dir) : location ? undefined : await mkdtemp(join(tmpdir(), 'keyed-state-demo-checkpoints-'))
  // S3: credentials, region and endpoint from the AWS SDK's chain (AWS_ENDPOINT_URL_S3 and KEYED_STATE_S3_PATH_STYLE=1 for a
  // compatible server); the workers inherit the environment and open the same location.
  const storage = openCheckpointStorage(storageDir ?? o.storage!, { s3: s3OptionsFromEnv() })
  if (o.storage && (await storage.list('')).length > 0) {
    throw new Error(`--storage ${storage.location} is not empty; the demo starts a new job and needs an empty location`)
  }
  const localDir = await mkdtemp(join(tmpdir(), 'keyed-state-demo-local-'))
  const params: DemoJobParams = { stream, ratePerSecond: o.rate ?? Math.ceil(o.events / 5) }
  log(`keyed-state demo: ${o.events.toLocaleString('en-US')} events from ${o.keys} users at ${params.ratePerSecond.toLocaleString('en-US')}/s, ` +
    `${o.parallelism} workers on ${o.backend}, ${o.backend === 'rocksdb' ? 'incremental ' : ''}checkpoint every ${o.checkpointIntervalMs} ms (seed ${o.seed})`)
  log(`checkpoints in ${storage.location}${o.storage ? '' : ' (removed at exit)'}`)

  // What happened, from the job's events: one attempt per start (first run, restart, rescale).
  const attempts: AttemptReport[] = []
  const completed: CheckpointMetadata[] = []
  let aborted = 0
  let nextLabel = 'run'
  const onEvent = (e: JobEvent): void => {
    if (e.type === 'started') {
      attempts.push({ label: nextLabel, instances: e.parallelism, restoredFrom: e.restoredFrom?.checkpointId ?? null, startMs: e.startMs, checkpointsCompleted: 0, checkpointsAborted: 0 })
    } else if (e.type === 'checkpoint' && e.metadata.type === 'checkpoint') {
      completed.push(e.metadata)
      attempts.at(-1)!.checkpointsCompleted++
    } else if (e.type === 'checkpoint-aborted') {
      aborted++
      attempts.at(-1)!.checkpointsAborted++
    }
  }
  let job: Job | undefined
  try {
    const jobOptions: RunJobOptions = {
      job: new URL('./demo/job.js', import.meta.url),
      params,
      parallelism: o.parallelism,
      maxParallelism: DEFAULT_MAX_PARALLELISM,
      backend: o.backend,
      storage,
      localDir,
      checkpointIntervalMs: o.checkpointIntervalMs,
      restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 100 },
      onEvent,
    }
    job = await runJob(jobOptions)

    // 1. Run, and 2. kill one worker at a seeded random point of its share of the stream,
    // not before the first checkpoint completed, so that there is something to recover from.
    const random = seededRandom(o.seed)
    const victimIndex = Math.floor(random() * o.parallelism)
    const killAfter = Math.floor((o.events / o.parallelism) * (0.2 + 0.3 * random()))
    const victim = job.workers[victimIndex]!
    await until(job, () => (victim.progress.processed >= killAfter && completed.length > 0) || victim.progress.finished)
    const pid = (victim as unknown as { pid: number }).pid
    const failure = { instance: victim.name, pid, processed: victim.progress.processed, latestCheckpoint: job.latestSnapshot?.checkpointId ?? null }
    nextLabel = 'recovery'
    process.kill(pid, 'SIGKILL')

    // 3. The runtime restarts the job from the latest checkpoint; wait for a checkpoint of the new attempt.
    await until(job, () => job!.state === 'FINISHED' || (attempts.length >= 2 && attempts[1]!.checkpointsCompleted >= 1))

    // 4. Rescale while the source keeps producing, then run to the end of the stream.
    nextLabel = 'rescaled'
    if (job.state === 'RUNNING') await job.rescale(o.rescaleTo).catch((e: unknown) => {
      if (!isKeyedStateError(e, 'CLOSED')) throw e // the stream ended first
    })
    let result = await job.done
    if (attempts.length < 3 && result.snapshot) {
      // A slow machine let the stream end before the rescale: rescale from the final checkpoint instead.
      job = await runJob({ ...jobOptions, parallelism: o.rescaleTo, restoreFrom: result.snapshot })
      result = await job.done
    }
    if (!result.snapshot) throw new Error(`the job ended ${result.state} without a final checkpoint`)
    const actual = await readFinalState(result.snapshot, o, storage)

    // 5. Check every user's state against the generator.
    const expected = expectedResults(stream)
    if (o.selfTestMismatch) {
      const [key, r] = expected.entries().next().value!
      expected.set(key, { ...r, count: r.count + 1 })
    }
    const mismatches = compareResults(expected, actual)
    const report: DemoReport = {
      pass: mismatches.length === 0,
      settings: {
        events: o.events,
        keys: o.keys,
        seed: o.seed,
        backend: o.backend,
        parallelism: o.parallelism,
        rescaleTo: o.rescaleTo,
        checkpointIntervalMs: o.checkpointIntervalMs,
        storage: storage.location,
      },
      attempts,
      failure,
      checkpoints: checkpointStats(completed, aborted),
      check: {
        keys: expected.size,
        events: o.events,
        ttlLive: [...actual.values()].filter((r) => r.lastActivityOffset !== null).length,
        ttlExpired: [...actual.values()].filter((r) => r.lastActivityOffset === null).length,
        minuteWindows: [...actual.values()].reduce((s, r) => s + r.minuteCounts.length, 0),
        mismatches: mismatches.length,
        firstMismatches: mismatches.slice(0, 5),
      },
      durationMs: performance.now() - startedMs,
    }
    if (o.json) console.log(JSON.stringify(report, null, 2))
    else console.log(formatReport(report))
    if (o.storage) log(`look inside: npx keyed-state list ${storage.location}`)
    return report.pass ? 0 : 1
  } finally {
    // Whatever happened, no worker outlives the demo.
    await job?.stop().catch(() => {})
    await rm(localDir, { recursive: true, force: true })
    storage.close?.()
    if (!o.storage && storageDir !== undefined) await rm(storageDir, { recursive: true, force: true })
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    console.error(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    process.exitCode = 1
  },
)
