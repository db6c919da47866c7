// Runs the compiled demo job (what `npm start` runs) as a child process, on
// both backends with a short stream: it must kill an instance, recover,
// rescale and find every count exact. A planted wrong expectation must fail
// it, so a PASS means something.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { listSnapshots } from '../../src/checkpoint/catalog.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'

const DEMO = fileURLToPath(new URL('../../examples/demo-job.js', import.meta.url))
const SMALL = ['--events', '4000', '--keys', '200', '--checkpoint-interval-ms', '20']

function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

test('demo on RocksDB: killed, recovered, rescaled 2 → 3, every count exact (JSON report)', async () => {
  const r = await runDemo([...SMALL, '--backend', 'rocksdb', '--seed', '7', '--json'])
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
  const report = JSON.parse(r.stdout) as {
    pass: boolean
    attempts: { label: string; instances: number }[]
    checkpoints: { completed: number }
    check: { keys: number; events: number; mismatches: number; minuteWindows: number; ttlLive: number }
  }
  assert.equal(report.pass, true)
  assert.deepEqual(report.attempts.map((a) => [a.label, a.instances]), [['run', 2], ['recovery', 2], ['rescaled', 3]])
  assert.ok(report.checkpoints.completed > 0, 'checkpoints completed')
  assert.equal(report.check.events, 4000)
  assert.equal(report.check.mismatches, 0)
  assert.ok(report.check.keys > 0 && report.check.minuteWindows > 0 && report.check.ttlLive > 0)
})

test('demo on the heap backend with --storage: PASS, and the checkpoints stay for the CLI', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-demo-storage-'))
  try {
    const r = await runDemo([...SMALL, '--backend', 'heap', '--parallelism', '3', '--rescale-to', '2', '--storage', dir])
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /^PASS\b/m)
    assert.match(r.stdout, /SIGKILL/)
    assert.match(r.stdout, /3 → 2 instances/)
    const complete = (await listSnapshots(new FileSystemCheckpointStorage(dir))).filter((l) => l.complete)
    assert.ok(complete.length > 0, 'complete checkpoints kept in --storage')
    assert.equal(complete.at(-1)!.metadata!.parallelism, 2)

    // A directory that already holds something is refused: the demo starts a new job.
    const again = await runDemo([...SMALL, '--backend', 'heap', '--storage', dir])
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /not empty/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('demo: a wrong expectation fails the run; bad options exit non-zero', async () => {
  const wrong = await runDemo(['--events', '1500', '--keys', '50', '--checkpoint-interval-ms', '20', '--backend', 'heap', '--self-test-mismatch'])
  assert.equal(wrong.code, 1, `${wrong.stdout}\n${wrong.stderr}`)
  assert.match(wrong.stdout, /^FAIL\b/m)
  assert.match(wrong.stdout, /count: expected \d+, got \d+/)

  const bad = await runDemo(['--backend', 'leveldb'])
  assert.notEqual(bad.code, 0)
  assert.match(bad.stderr, /leveldb/)
  const zero = await runDemo(['--events', '0'])
  assert.notEqual(zero.code, 0)
  assert.match(zero.stderr, /positive integer/)
})
