// Crash test: a child process checkpointing RocksDB state in a loop is killed
// with SIGKILL again and again, at named points of the checkpoint lifecycle
// (the synchronous barrier, uploads, `_metadata` being written, completion,
// subsumption) and at random times. After every kill:
//   - the latest complete checkpoint restores (at another parallelism) to
//     exactly the state recorded at that checkpoint, and is never older than
//     one the coordinator reported complete;
//   - gc removes exactly the files no `_metadata` references, nothing else;
//   - the next child restores from what is left and checks its state too.
// Default: every kill point once plus random-time kills (about 10 kills);
// SOAK=1: 40 kills at random points. CRASH_SEED picks another schedule.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findLatestCompleteCheckpoint, listSnapshots } from '../../src/checkpoint/catalog.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { rng } from '../checkpoint/job.js'
import {
  checkGcRemovesExactlyTheOrphans,
  checkLatestRestores,
  cliVerify,
  KILL_POINTS,
  runChild,
  type Kill,
  type KillPoint,
} from './harness.js'

const SOAK = process.env.SOAK === '1'
const SEED = Number(process.env.CRASH_SEED ?? 20240101)

/** The kills of this run: every point once (shuffled) and two random-time kills, or 40 random ones with SOAK=1. */
function schedule(random: () => number): Kill[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const killAtPoint = (point: KillPoint): Kill => ({ point, hits: 1 + Math.floor(random() * (point === 'upload' ? 6 : 3)) })
  const randomTime = (): Kill => ({ afterReadyMs: Math.floor(random() * 800) })
  if (SOAK) return Array.from({ length: 40 }, () => (random() < 0.3 ? randomTime() : killAtPoint(pick(KILL_POINTS))))
  const kills: Kill[] = [...KILL_POINTS.map(killAtPoint), randomTime(), randomTime()]
  for (let i = kills.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[kills[i], kills[j]] = [kills[j]!, kills[i]!]
  }
  return kills
}

function describe(kill: Kill): string {
  return 'point' in kill ? `at ${kill.point} (hit ${kill.hits})` : `${kill.afterReadyMs} ms after start`
}

test(`crash: SIGKILL during checkpoints, then restore and gc (seed ${SEED}${SOAK ? ', soak' : ''})`, { timeout: SOAK ? 30 * 60_000 : 5 * 60_000 }, async (t) => {
  const random = rng(SEED)
  const root = await mkdtemp(join(tmpdir(), 'ks-crash-storage-'))
  const workRoot = await mkdtemp(join(tmpdir(), 'ks-crash-work-'))
  const storage = new FileSystemCheckpointStorage(root)
  let orphansDeleted = 0
  try {
    const kills = schedule(random)
    for (const [round, kill] of kills.entries()) {
      const parallelism = 'point' in kill && kill.point === 'sync' ? 2 + Math.floor(random() * 2) : 1 + Math.floor(random() * 3)
      const where = `kill ${round + 1}/${kills.length} ${describe(kill)}, parallelism ${parallelism}`
      const run = await runChild({ storageDir: root, workDir: join(workRoot, `round-${round}`), parallelism, kill })
      const diagnosis = `${where}: child exited with ${run.signal ?? `code ${run.code}`}\n${run.stderr}`
      // Killed by us, never finished or failed by itself (a failed state check after restore exits 2).
      assert.equal(run.signal, 'SIGKILL', diagnosis)
      if ('point' in kill) assert.equal(run.frozen?.point, kill.point, `${where}: the child never reached the point`)

      const latest = await findLatestCompleteCheckpoint(storage)
      const reported = Math.max(0, ...run.completed)
      assert.ok((latest?.checkpointId ?? 0) >= reported, `${where}: checkpoint ${reported} was reported complete but the latest complete one is ${latest?.checkpointId}`)
      if (run.frozen) {
        const id = run.frozen.checkpointId
        const completeIds = new Set((await listSnapshots(storage)).filter((l) => l.complete).map((l) => l.checkpointId))
        if (run.frozen.point === 'afterMetadataWrite' || run.frozen.point === 'beforeNotifyComplete') {
          assert.ok(completeIds.has(id), `${where}: checkpoint ${id} has a durable _metadata and must be complete`)
        } else if (run.frozen.point !== 'metadataWrite') {
          assert.ok(!completeIds.has(id), `${where}: checkpoint ${id} must not be complete`)
        }
      }

      const restored = await checkLatestRestores(storage, 1 + Math.floor(random() * 3), where)
      const gc = await checkGcRemovesExactlyTheOrphans(storage, where)
      orphansDeleted += gc.orphans
      t.diagnostic(`${where}: restored ${run.restoredId || '-'}, completed [${run.completed.join(',')}]` +
        `${run.frozen ? `, frozen in checkpoint ${run.frozen.checkpointId}` : ''}; latest ${restored?.checkpointId ?? '-'}, gc removed ${gc.orphans} orphans`)
    }

    // The last survivor: a fresh child restores it and checks its state before it says READY; the CLI verifies it.
    const survivor = await findLatestCompleteCheckpoint(storage)
    assert.ok(survivor, 'some checkpoint survived the crashes')
    const last = await runChild({ storageDir: root, workDir: join(workRoot, 'final'), parallelism: 2, kill: { afterReadyMs: 0 } })
    assert.equal(last.restoredId, survivor.checkpointId, `final child: ${last.stderr}`)
    await checkGcRemovesExactlyTheOrphans(storage, 'after the final child')
    const latest = (await findLatestCompleteCheckpoint(storage))!
    const verify = cliVerify(join(root, latest.dir))
    assert.equal(verify.status, 0, `keyed-state verify ${latest.dir}:\n${verify.output}`)
    assert.ok(orphansDeleted > 0, 'the crashes left orphans for gc to remove')
  } finally {
    await rm(root, { recursive: true, force: true })
    await rm(workRoot, { recursive: true, force: true })
  }
})
