// The checkpoint page in a real headless browser (Debian's chromium, driven by
// playwright-core): a RocksDB job takes checkpoints, a savepoint and a failed
// checkpoint; the page served by `keyed-state ui`'s server lists them all
// (the subsumed ones from the history), shows a checkpoint's states and
// instances, and picks up a checkpoint taken while it is open. A screenshot
// goes to test-artifacts/checkpoints-ui.png (UPDATE_SCREENSHOT=1 also writes
// docs/img/checkpoints-ui.png, the one README shows).
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { startCheckpointUi } from '../../src/ui/server.js'
import { tempStorage } from '../checkpoint/helpers.js'
import { Job } from '../checkpoint/job.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

test('the checkpoint page lists a job\'s checkpoints, shows one\'s details, and follows new ones', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (node scripts/setup.mjs --test installs it)` }, async () => {
  const { storage, root: storageRoot, cleanup } = await tempStorage('ks-ui-')
  const workDir = mkdtempSync(join(tmpdir(), 'ks-ui-work-'))
  const userDataDir = mkdtempSync(join(tmpdir(), 'ks-ui-chromium-'))
  const job = await Job.open({ parallelism: 2, maxParallelism: 32, storage, kind: 'rocksdb', workDir })
  let failId = -1
  const c = await CheckpointCoordinator.create({
    storage, instances: job.instances, retainedCheckpoints: 2,
    hooks: { beforeMetadataWrite: ({ checkpointId }) => { if (checkpointId === failId) throw new Error('disk on fire') } },
  })
  const ui = await startCheckpointUi({ storage })
  const browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1400, height: 1300 } })
  try {
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
    for (let i = 0; i < 5; i++) {
      job.process(400 + i * 300, 200)
      await c.triggerCheckpoint()
    }
    await c.triggerSavepoint()
    failId = 7
    job.process(100)
    await assert.rejects(c.triggerCheckpoint(), /disk on fire/)
    job.process(300, 200)
    await c.triggerCheckpoint()

    const page = await browser.newPage()
    await page.goto(ui.url)
    await page.waitForSelector('body[data-rows="8"]')
    const rows = await page.$$eval('#history tbody tr.row', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td as { textContent: string | null }).textContent ?? '')))
    // Newest first: ids, types and statuses; retained are the savepoint and the last two checkpoints.
    assert.deepEqual(rows.map((r) => r[0]), ['8', '7', '6', '5', '4', '3', '2', '1'])
    assert.deepEqual(rows.map((r) => r[2]), [
      'completed retained', 'failed IO_ERROR', 'completed retained', 'completed retained', 'completed', 'completed', 'completed', 'completed',
    ])
    assert.equal(rows[2]![1], 'savepoint')
    assert.equal(await page.locator('#chart-duration canvas').count(), 1)
    assert.equal(await page.locator('#chart-size canvas').count(), 1)

    // One checkpoint's details: its states and both instances with their key-group ranges; the per-instance breakdown row.
    await page.click('#history tbody tr.row[data-id="8"]')
    await page.waitForSelector('#details table')
    const details = await page.textContent('#details')
    assert.match(details ?? '', /count/)
    assert.match(details ?? '', /0\.\.15/)
    assert.match(details ?? '', /16\.\.31/)
    assert.equal(await page.locator('#history tr.breakdown').count(), 2)

    // A checkpoint taken while the page is open appears on the next refresh.
    job.process(200)
    await c.triggerCheckpoint()
    await page.waitForSelector('body[data-rows="9"]')
    await page.click('#history tbody tr.row[data-id="9"]')
    await page.waitForSelector('#details table')
    await page.waitForTimeout(300) // uPlot draws on the next frame
    const artifacts = join(root, 'test-artifacts')
    mkdirSync(artifacts, { recursive: true })
    const shot = join(artifacts, 'checkpoints-ui.png')
    await page.screenshot({ path: shot, fullPage: true })
    if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(root, 'docs', 'img', 'checkpoints-ui.png'))
    assert.ok(storageRoot.length > 0)
  } finally {
    await browser.close()
    await ui.close()
    await c.close()
    await job.close()
    await cleanup()
    rmSync(workDir, { recursive: true, force: true })
    rmSync(userDataDir, { recursive: true, force: true })
  }
})
