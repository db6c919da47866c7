// `keyed-state ui <root>` as a user runs it: a child process prints its
// address (127.0.0.1 by default), serves the history as JSON and the page, and
// exits 0 on SIGTERM. A path that is not a directory fails with a clear message.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import type { Overview } from '../../src/ui/data.js'
import { FakeInstance, tempStorage } from '../checkpoint/helpers.js'

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js')

test('keyed-state ui serves the history of a storage on 127.0.0.1 until SIGTERM', async () => {
  const { storage, root, cleanup } = await tempStorage('ks-cli-ui-')
  const instances = FakeInstance.many(2, 8, storage)
  const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1 })
  for (let i = 0; i < 3; i++) {
    for (const inst of instances) inst.flush()
    await c.triggerCheckpoint()
  }
  await c.close()
  const child = spawn(process.execPath, [cli, 'ui', root], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string]
    const url = /(http:\/\/\S+)/.exec(line)?.[1]
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/)
    const overview = (await (await fetch(new URL('api/checkpoints', url))).json()) as Overview
    assert.deepEqual(overview.rows.map((r) => [r.checkpointId, r.status, r.retained]), [[1, 'completed', false], [2, 'completed', false], [3, 'completed', true]])
    const page = await fetch(url!)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<title>Checkpoints/)
    assert.equal((await fetch(new URL('assets/uPlot.iife.min.js', url))).status, 200)
    assert.equal((await fetch(new URL('api/snapshot?dir=../etc', url))).status, 404)
    // The page shows what `inspect --json` prints: one reader, one shape.
    const details = await (await fetch(new URL('api/snapshot?dir=chk-3', url))).json()
    const inspected = spawnSync(process.execPath, [cli, 'inspect', join(root, 'chk-3'), '--json'], { encoding: 'utf8' })
    assert.equal(inspected.status, 0, inspected.stderr)
    assert.deepEqual(details, JSON.parse(inspected.stdout))
    assert.equal(details.instances.length, 2)
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = (await exited) as [number | null]
    assert.equal(code, 0)
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await cleanup()
  }
  const bad = spawnSync(process.execPath, [cli, 'ui', join(root, 'nope')], { encoding: 'utf8' })
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /does not exist|no such file|ENOENT/i)
})
