// The demo job on S3: `demo-job --storage s3://bucket/prefix`, configured
// through the environment only, as a user runs it; every count must be exact
// after the kill, the recovery and the rescale.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startS3Server } from './server.js'

const DEMO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'demo-job.js')

test('demo-job --storage s3://bucket/prefix: kill, recovery and rescale on S3 end with every value exact', async () => {
  const server = await startS3Server()
  try {
    const env = server.childEnv()
    const location = `s3://${server.bucket}/demo/run-1`
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [DEMO, '--storage', location, '--events', '8000', '--keys', '200', '--json'], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr })
      })
    })
    assert.equal(run.code, 0, run.stderr)
    const report = JSON.parse(run.stdout)
    assert.equal(report.pass, true)
    assert.equal(report.settings.storage, location)
    assert.equal(report.check.mismatches, 0)
    const storage = server.storage('demo/run-1')
    assert.ok((await storage.list('')).some((e) => e.path.endsWith('/_metadata')), 'the checkpoints are in the bucket')
    storage.close()
  } finally {
    await server.stop()
  }
})
