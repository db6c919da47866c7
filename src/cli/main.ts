#!/usr/bin/env node
// keyed-state: look inside checkpoint storage, and run or stop a job. Data goes to stdout (text, or
// JSON with --json), progress and errors to stderr. Exit codes: 0 success,
// 1 the command failed or found problems, 2 the command line was wrong.
import { readFileSync, realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { DEFAULT_GC_GRACE_PERIOD_MS } from '../checkpoint/gc.js'
import { isKeyedStateError } from '../errors.js'
import { dumpCommand } from './commands/dump.js'
import { gcCommand } from './commands/gc.js'
import { inspectCommand } from './commands/inspect.js'
import { listCommand } from './commands/list.js'
import { uiCommand } from './commands/ui.js'
import { runCommand, stopCommand, type RunOptions } from './commands/run.js'
import { workerCommand } from './commands/worker.js'
import { verifyCommand } from './commands/verify.js'
import { KEY_SERIALIZER_IDS } from './lib/decode.js'
import { LATEST, resolveSnapshotArgument } from './lib/open.js'

export const EXIT_OK = 0
export const EXIT_FAILED = 1
export const EXIT_USAGE = 2

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '0.0.0'
  } catch {
    return '0.0.0'
  }
}

function nonNegativeInteger(text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer (milliseconds)')
  return n
}

function positiveInteger(text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command()
  program
    .name('keyed-state')
    .description('Inspect, verify and clean up keyed-state checkpoints and savepoints; run and stop jobs. Locations are paths, file:// URLs or s3://bucket/prefix (credentials, region and AWS_ENDPOINT_URL_S3 from the AWS SDK chain; KEYED_STATE_S3_PATH_STYLE=1 for path-style servers).')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })

  const json = new Option('--json', 'print machine-readable JSON')
  const run = (fn: (...args: any[]) => Promise<number>) => async (...args: any[]): Promise<void> => setExitCode(await fn(...args))

  program
    .command('list')
    .description('list the checkpoints and savepoints under a checkpoint root: id, time, size, complete or not, incremental bytes')
    .argument('<root>', 'checkpoint storage root: a directory or s3://bucket/prefix')
    .option('--all', 'also the checkpoints retention removed (their _metadata deleted) whose files are still in storage, marked REMOVED')
    .addOption(json)
    .action(run((root: string, opts: { json?: boolean; all?: boolean }) => listCommand(root, opts)))

  const dirArgument = 'a chk-<id> or savepoint directory (or its _metadata file), local or s3://...; or a checkpoint root followed by [which]'
  const whichArgument = `with a checkpoint root as <dir>: '${LATEST}' (the newest complete checkpoint or savepoint) or a checkpoint id`

  program
    .command('inspect')
    .description('show a checkpoint or savepoint: a summary (states, key-group ranges, sizes, shared vs exclusive, operator state); its files with --files')
    .argument('<dir>', dirArgument)
    .argument('[which]', whichArgument)
    .option('--files', 'list every file of every instance (role, size, CRC-32, shared or exclusive)')
    .addOption(json)
    .action(run(async (dir: string, which: string | undefined, opts: { json?: boolean; files?: boolean }) => inspectCommand(await resolveSnapshotArgument(dir, which), opts)))

  program
    .command('dump')
    .description('print the entries of one state, one JSON object per line (always JSON lines), decoded with the built-in serializers (unknown ones as base64)')
    .argument('<dir>', dirArgument)
    .argument('[which]', whichArgument)
    .option('--json', 'accepted for symmetry with the other commands: dump always prints JSON lines')
    .requiredOption('--state <name>', 'the state to dump')
    .option('--key <key>', 'only this key (parsed with --key-serializer)')
    .addOption(
      new Option('--key-serializer <id>', 'how keys were serialized (default: the one the snapshot recorded, else string)').choices([...KEY_SERIALIZER_IDS]),
    )
    .action(run(async (dir: string, which: string | undefined, opts: { state: string; key?: string; keySerializer?: string }) =>
      dumpCommand(await resolveSnapshotArgument(dir, which), { state: opts.state, ...(opts.key !== undefined ? { key: opts.key } : {}), ...(opts.keySerializer !== undefined ? { keySerializer: opts.keySerializer } : {}) })))

  program
    .command('verify')
    .description('check that every referenced file exists with its recorded size and checksum and every key group decodes')
    .argument('<dir>', dirArgument)
    .argument('[which]', whichArgument)
    .addOption(json)
    .action(run(async (dir: string, which: string | undefined, opts: { json?: boolean }) => verifyCommand(await resolveSnapshotArgument(dir, which), opts)))

  program
    .command('gc')
    .description('find files that no _metadata references (left by crashes); delete them with --delete')
    .argument('<root>', 'checkpoint storage root: a directory or s3://bucket/prefix')
    .option('--delete', 'delete the orphans (default: only list them)')
    .option('--grace-ms <ms>', `keep unreferenced files modified within this many milliseconds (default ${DEFAULT_GC_GRACE_PERIOD_MS}); keep it above the checkpoint timeout`, nonNegativeInteger)
    .addOption(json)
    .action(run((root: string, opts: { delete?: boolean; graceMs?: number; json?: boolean }) => gcCommand(root, opts)))

  program
    .command('ui')
    .description('serve a page of the checkpoints and savepoints of a storage: history, charts, details (refreshes while a job runs)')
    .argument('<root>', 'checkpoint storage root: a directory or s3://bucket/prefix')
    .option('--host <address>', 'address to bind (another than 127.0.0.1 lets other machines see paths and operator state)', '127.0.0.1')
    .option('--port <port>', 'port (default: any free one)', nonNegativeInteger, 0)
    .action(run((root: string, opts: { host: string; port: number }) => uiCommand(root, opts)))

  program
    .command('run')
    .description('run a job from its module (default export: defineJob(...)) until it finishes or gets SIGTERM/SIGINT, which stop it with a savepoint; prints the final checkpoint or savepoint directory')
    .argument('<module>', 'the job module (path or file URL)')
    .requiredOption('--storage <location>', 'checkpoint storage: a directory or s3://bucket/prefix')
    .option('--parallelism <n>', 'workers', positiveInteger, 1)
    .option('--max-parallelism <n>', 'key groups (fixed for the life of the job; default 128)', positiveInteger)
    .addOption(new Option('--backend <kind>', 'state backend').choices(['rocksdb', 'heap']).default('rocksdb'))
    .option('--params <json>', "the job's parameters (JSON)")
    .option('--checkpoint-interval-ms <ms>', 'time between checkpoints', positiveInteger)
    .option('--restore-from <dir>', "'latest', or a checkpoint or savepoint directory in the storage")
    .option('--pid-file <path>', 'write the pid here while running (for keyed-state stop)')
    .option('--no-savepoint', 'stop without a savepoint')
    .option('--metrics-port <port>', "serve the job's Prometheus metrics on http://<host>:<port>/metrics (0: any free port; the URL is logged)", nonNegativeInteger)
    .option('--metrics-host <address>', 'address the metrics server binds', '127.0.0.1')
    .option('--rocksdb-statistics', 'keep RocksDB statistics in the workers for the block cache and write stall metrics (about 6% of the CPU time of a state read)')
    .action(run((module: string, opts: RunOptions) => runCommand(module, opts)))

  program
    .command('stop')
    .description('stop a `keyed-state run` (SIGTERM: it takes a savepoint, prints its directory and exits) and wait until it has')
    .argument('<pid>', 'its pid, or its --pid-file')
    .option('--timeout-ms <ms>', 'give up after this long', positiveInteger, 120_000)
    .action(run((target: string, opts: { timeoutMs: number }) => stopCommand(target, opts)))

  program
    .command('worker')
    .description("a worker on this host for a job whose coordinator runs elsewhere (runJob with workers: { connect, jobId }); serves assignments until SIGTERM/SIGINT")
    .argument('<module>', 'the job module on this host (path or file URL)')
    .requiredOption('--connect <url>', 'the NATS server the coordinator uses, e.g. nats://host:4222')
    .requiredOption('--job-id <id>', "the job's id (runJob's workers.jobId)")
    .action(run((module: string, opts: { connect: string; jobId: string }) => workerCommand(module, opts)))

  return program
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK
  const program = buildProgram((code) => {
    exitCode = code
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version end here too; commander has already printed what it had to say.
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE
    }
    const message = isKeyedStateError(e) ? `${e.message} [${e.code}]` : e instanceof Error ? e.stack ?? e.message : String(e)
    process.stderr.write(`keyed-state: error: ${message}\n`)
    return EXIT_FAILED
  }
  return exitCode
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (invokedDirectly()) {
  // `| head` closes stdout early: stop quietly instead of failing with EPIPE.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK)
    throw e
  })
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (e: unknown) => {
      process.stderr.write(`keyed-state: error: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = EXIT_FAILED
    },
  )
}
