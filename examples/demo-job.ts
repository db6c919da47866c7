#!/usr/bin/env node
// The demo job that `npm start` runs: a keyed stream job that counts user
// events, survives a SIGKILL of one of its instances, rescales, and proves
// that every count is exact (exactly once with respect to state).
//
//   1. run      2 instances (child processes) read a replayable event source,
//               each applying the events of its key groups; the coordinator
//               takes an incremental checkpoint every --checkpoint-interval-ms,
//               recording each instance's source offsets with its state.
//   2. failure  one instance gets SIGKILL at a seeded random offset (once a
//               checkpoint has completed).
//   3. recover  every instance restarts from the latest complete checkpoint
//               and resumes the source at the offsets recorded in it.
//   4. rescale  after a few more checkpoints the job stops and restarts with 3
//               instances from the latest checkpoint (key groups re-split).
//   5. check    at the end of the stream every user's state is compared with
//               values computed straight from the generator.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { DEFAULT_MAX_PARALLELISM, findLatestCompleteCheckpoint, openCheckpointStorage, parseStorageLocation, s3OptionsFromEnv, type BackendKind } from '../src/index.js'
import { seededRandom, type StreamConfig } from './demo/events.js'
import { compareResults, expectedResults } from './demo/expected.js'
import { JobAttempt, type AttemptOptions } from './demo/job.js'
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

async function main(): Promise<number> {
  const o = parseOptions(process.argv)
  const log = (line: string): void => {
    if (!o.json) console.log(line)
  }
  const startedMs = performance.now()
  const stream: StreamConfig = { seed: o.seed, events: o.events, keys: o.keys }
  const location = o.storage ? parseStorageLocation(o.storage) : undefined
  const storageDir = location?.kind === 'fs' ? resolve(location.dir) : location ? undefined : await mkdtemp(join(tmpdir(), 'keyed-state-demo-checkpoints-'))
  // S3: credentials, region and endpoint from the AWS SDK's chain (AWS_ENDPOINT_URL_S3 and KEYED_STATE_S3_PATH_STYLE=1 for a compatible server).
  const storage = openCheckpointStorage(storageDir ?? o.storage!, { s3: s3OptionsFromEnv() })
  if (o.storage && (await storage.list('')).length > 0) {
    throw new Error(`--storage ${storage.location} is not empty; the demo starts a new job and needs an empty location`)
  }
  const localDir = await mkdtemp(join(tmpdir(), 'keyed-state-demo-local-'))
  const attempts: JobAttempt[] = []
  const base: Omit<AttemptOptions, 'label' | 'parallelism'> = {
    backend: o.backend,
    maxParallelism: DEFAULT_MAX_PARALLELISM,
    storage,
    localDir,
    stream,
    checkpointIntervalMs: o.checkpointIntervalMs,
  }
  log(`keyed-state demo: ${o.events.toLocaleString('en-US')} events from ${o.keys} users, ${o.parallelism} instances on ${o.backend}, ` +
    `${o.backend === 'rocksdb' ? 'incremental ' : ''}checkpoint every ${o.checkpointIntervalMs} ms (seed ${o.seed})`)
  log(`checkpoints in ${storage.location}${o.storage ? '' : ' (removed at exit)'}`)

  try {
    // 1. Run, and 2. kill one instance at a seeded random point of the stream.
    const random = seededRandom(o.seed)
    const victimIndex = Math.floor(random() * o.parallelism)
    const killAtOffset = Math.floor(o.events * (0.3 + 0.4 * random()))
    const run = await JobAttempt.start({ ...base, label: 'run', parallelism: o.parallelism })
    attempts.push(run)
    const victim = run.instances[victimIndex]!
    // Not before the first checkpoint completed, so that there is something to recover from.
    await run.waitUntil(() => (victim.progress.nextOffset >= killAtOffset && run.completed.length > 0) || victim.progress.finished)
    const killedAt = await run.kill(victim)
    await run.stop()

    // 3. Recover: every instance restarts from the latest complete checkpoint.
    const recoverFrom = await findLatestCompleteCheckpoint(storage)
    const recovery = await JobAttempt.start({ ...base, label: 'recovery', parallelism: o.parallelism, restoreFrom: recoverFrom })
    attempts.push(recovery)
    await recovery.waitUntil(() => recovery.completed.length >= 2 || recovery.finished)
    await recovery.stop()

    // 4. Rescale from the latest complete checkpoint, finish the stream, take a last checkpoint.
    const rescaleFrom = await findLatestCompleteCheckpoint(storage)
    const rescaled = await JobAttempt.start({ ...base, label: 'rescaled', parallelism: o.rescaleTo, restoreFrom: rescaleFrom })
    attempts.push(rescaled)
    await rescaled.waitUntil(() => rescaled.finished)
    await rescaled.checkpoint()
    const actual = await rescaled.drain()
    await rescaled.stop()

    // 5. Check every user's state against the generator.
    const expected = expectedResults(stream)
    if (o.selfTestMismatch) {
      const [key, r] = expected.entries().next().value!
      expected.set(key, { ...r, count: r.count + 1 })
    }
    const mismatches = compareResults(expected, actual)
    const completed = attempts.flatMap((a) => a.completed)
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
      attempts: attempts.map((a): AttemptReport => ({
        label: a.options.label,
        instances: a.instances.length,
        restoredFrom: a.options.restoreFrom?.checkpointId ?? null,
        startMs: a.startMs,
        slowestRestoreMs: Math.max(...a.instances.map((inst) => inst.restoreMs)),
        resumedAt: a.instances.map((inst) => inst.startOffset),
        checkpointsCompleted: a.completed.length,
        checkpointsAborted: a.aborted.length,
      })),
      failure: {
        instance: victim.name,
        pid: victim.pid,
        atOffset: killedAt.nextOffset,
        latestCheckpoint: recoverFrom?.checkpointId ?? null,
      },
      checkpoints: checkpointStats(completed, attempts.reduce((s, a) => s + a.aborted.length, 0)),
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
    // Whatever happened, no instance outlives the demo.
    await Promise.all(attempts.map((a) => a.stop().catch(() => {})))
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
