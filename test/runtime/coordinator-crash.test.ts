// SIGKILL of the coordinator process (the one that called runJob), alone and
// together with every worker: the workers do not outlive it, and a new
// coordinator started with restoreFrom 'latest' resumes every key group from
// the latest complete checkpoint; the final state is exact.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { readMetadata } from '../../src/checkpoint/metadata.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { assertExactlyOnce, countsIn, ENDLESS } from './helpers.js'

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url))

interface Line {
  type: string
  pids?: number[]
  id?: number
  dir?: string
  state?: string
  restoredFrom?: number | null
}

function startDriver(args: object): { child: ChildProcess; lines: Line[]; next: (type: string) => Promise<Line> } {
  // Its own process group, so that "kill everything" reaches the workers too.
  const child = spawn(process.execPath, [DRIVER, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true })
  const lines: Line[] = []
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Line))
  const next = async (type: string): Promise<Line> => {
    for (;;) {
      const found = lines.find((l) => l.type === type)
      if (found) return found
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`driver exited (${child.exitCode ?? child.signalCode}) before '${type}'`)
      await sleep(10)
    }
  }
  return { child, lines, next }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 500; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return true
    }
    await sleep(10)
  }
  return false
}

for (const what of ['the coordinator', 'everything'] as const) {
  test(`SIGKILL of ${what}: a new coordinator resumes from the latest checkpoint, counts exact`, async () => {
    const root = await mkdtemp(join(tmpdir(), 'ks-runtime-crash-'))
    const running: ChildProcess[] = []
    try {
      const storageDir = join(root, 'storage')
      await mkdir(storageDir)
      // The first run reads an endless stream (still reading when killed, however slow the machine);
      // the second ends it at 100 000 events, far beyond what the first read.
      const params = { events: 100_000, keys: 300 }
      const base = { storage: storageDir, localDir: join(root, 'local'), params, parallelism: 2 }
      const first = startDriver({ ...base, params: { events: ENDLESS, keys: params.keys, rate: 10_000 } })
      running.push(first.child)
      const { pids } = await first.next('started')
      await first.next('checkpoint')
      await sleep(200)
      if (what === 'everything') process.kill(-first.child.pid!, 'SIGKILL')
      else first.child.kill('SIGKILL')
      for (const pid of pids!) assert.ok(await gone(pid), `worker ${pid} exited with its coordinator`)

      const second = startDriver({ ...base, parallelism: 3, restoreFrom: 'latest' })
      running.push(second.child)
      const started = await second.next('started')
      assert.ok(started.restoredFrom !== null, 'restored from a checkpoint of the first run')
      const done = await second.next('done')
      assert.equal(done.state, 'FINISHED')
      const storage = new FileSystemCheckpointStorage(storageDir)
      assertExactlyOnce(await countsIn(storage, await readMetadata(storage, done.dir!)), params)
    } finally {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL')
      await rm(root, { recursive: true, force: true })
    }
  })
}
