// Runs the crash child (child.ts) and kills it with SIGKILL: when it reports
// that it froze at the chosen point, or after a delay; then checks what the
// crash left in storage. Everything real: processes, RocksDB, files.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { findLatestCompleteCheckpoint, listSnapshots, missingFiles } from '../../src/checkpoint/catalog.js'
import { collectGarbage } from '../../src/checkpoint/gc.js'
import { HISTORY_FILE_NAME } from '../../src/checkpoint/layout.js'
import { referencedPaths, type CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { restoreAssignment } from '../../src/checkpoint/assignment.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { assertStateAt, MAX_PARALLELISM, readState } from './model.js'

const CHILD_PATH = fileURLToPath(new URL('./child.js', import.meta.url))
const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
/** A child that neither freezes nor gets killed within this long is hung. */
const ROUND_TIMEOUT_MS = 60_000

export const KILL_POINTS = [
  'sync',
  'afterSyncPart',
  'upload',
  'beforeMetaFile',
  'beforeMetadataWrite',
  'metadataWrite',
  'afterMetadataWrite',
  'beforeNotifyComplete',
  'afterDiscardMetadata',
] as const
export type KillPoint = (typeof KILL_POINTS)[number]

export type Kill = { point: KillPoint; hits: number } | { afterReadyMs: number }

export interface ChildRun {
  /** The checkpoint the child restored from (0: none). */
  restoredId: number
  /** Checkpoints the child's coordinator reported complete. */
  completed: number[]
  frozen?: { point: string; checkpointId: number }
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
}

/** Starts the child and SIGKILLs it as `kill` says. */
export async function runChild(options: { storageDir: string; workDir: string; parallelism: number; kill: Kill }): Promise<ChildRun> {
  const { kill } = options
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CRASH_STORAGE: options.storageDir,
    CRASH_WORK: options.workDir,
    CRASH_PARALLELISM: String(options.parallelism),
  }
  if ('point' in kill) env.CRASH_KILL_AT = `${kill.point}:${kill.hits}`
  else delete env.CRASH_KILL_AT
  const child = spawn(process.execPath, [CHILD_PATH], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const run: ChildRun = { restoredId: -1, completed: [], signal: null, code: null, stderr: '' }
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    if (run.stderr.length < 64 * 1024) run.stderr += s
  })
  const killNow = (): void => {
    child.kill('SIGKILL')
  }
  const timeout = setTimeout(killNow, ROUND_TIMEOUT_MS)
  let delayed: NodeJS.Timeout | undefined
  createInterface({ input: child.stdout }).on('line', (text) => {
    const [what, a, b] = text.split(' ')
    if (what === 'READY') {
      run.restoredId = Number(a)
      if ('afterReadyMs' in kill) delayed = setTimeout(killNow, kill.afterReadyMs)
    } else if (what === 'COMPLETED') {
      run.completed.push(Number(a))
    } else if (what === 'FROZEN') {
      run.frozen = { point: a!, checkpointId: Number(b) }
      killNow()
    }
  })
  const [code, signal] = (await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))) as [number | null, NodeJS.Signals | null]
  clearTimeout(timeout)
  clearTimeout(delayed)
  run.code = code
  run.signal = signal
  return run
}

/** Opens RocksDB backends restored from `md` at `parallelism`, hands them to `fn`, and removes them. */
export async function withRestored<T>(
  storage: FileSystemCheckpointStorage,
  md: CheckpointMetadata,
  parallelism: number,
  fn: (backends: KeyedStateBackend<string>[]) => T,
): Promise<T> {
  const workDir = await mkdtemp(join(tmpdir(), 'ks-crash-verify-'))
  const backends: KeyedStateBackend<string>[] = []
  try {
    for (const a of restoreAssignment(md, parallelism)) {
      backends.push(
        await openKeyedStateBackend({
          kind: 'rocksdb',
          keySerializer: stringSerializer,
          maxParallelism: MAX_PARALLELISM,
          keyGroupRange: a.keyGroupRange,
          dir: join(workDir, `instance-${a.index}`),
          storage,
          restoreFrom: a.restoreFrom,
          knownEmptyRanges: a.knownEmptyRanges,
        }),
      )
    }
    return fn(backends)
  } finally {
    await Promise.all(backends.map((b) => b.close()))
    await rm(workDir, { recursive: true, force: true })
  }
}

/** Restores the latest complete checkpoint and checks it holds the state of its id; returns it. */
export async function checkLatestRestores(storage: FileSystemCheckpointStorage, parallelism: number, where: string): Promise<CheckpointMetadata | undefined> {
  const latest = await findLatestCompleteCheckpoint(storage)
  if (!latest) return undefined
  assert.deepEqual(await missingFiles(storage, latest), [], `${where}: files of checkpoint ${latest.checkpointId}`)
  await withRestored(storage, latest, parallelism, (backends) => assertStateAt(readState(backends), latest.checkpointId, where))
  return latest
}

/**
 * Runs gc (delete, no grace period) and checks that it deleted exactly the
 * files no valid `_metadata` references, and that afterwards storage holds
 * exactly the referenced files, all present.
 */
export async function checkGcRemovesExactlyTheOrphans(storage: FileSystemCheckpointStorage, where: string): Promise<{ orphans: number }> {
  const listings = await listSnapshots(storage)
  // A crash never leaves a torn `_metadata`: a directory either has a valid one or none.
  assert.deepEqual(listings.filter((l) => !l.complete && !l.problem?.startsWith('no ')).map((l) => `${l.dir}: ${l.problem}`), [], `${where}: damaged _metadata`)
  const complete = listings.filter((l) => l.complete).map((l) => l.metadata!)
  const referenced = new Set(complete.flatMap((md) => [...referencedPaths(md)]))
  // The checkpoint history is kept by gc although no `_metadata` references it.
  const checkpointFiles = async (): Promise<string[]> => (await storage.list('')).map((e) => e.path).filter((p) => p !== HISTORY_FILE_NAME)
  const before = await checkpointFiles()
  const orphans = before.filter((p) => !referenced.has(p)).sort()

  const report = await collectGarbage(storage, { delete: true, gracePeriodMs: 0 })
  assert.deepEqual([...report.deleted].sort(), orphans, `${where}: gc deleted exactly the orphans`)
  assert.deepEqual(report.failed, [], `${where}: gc failures`)
  assert.deepEqual(report.problems, [], `${where}: gc problems`)
  assert.deepEqual(report.foreign.map((e) => e.path), [], `${where}: foreign files`)

  const after = (await checkpointFiles()).sort()
  assert.deepEqual(after, [...referenced].sort(), `${where}: after gc storage holds exactly the referenced files`)
  for (const md of complete) assert.deepEqual(await missingFiles(storage, md), [], `${where}: files of checkpoint ${md.checkpointId} after gc`)
  return { orphans: orphans.length }
}

/** The CLI's verify on a checkpoint directory: exit code and output. */
export function cliVerify(dir: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [CLI_PATH, 'verify', dir], { encoding: 'utf8' })
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}
