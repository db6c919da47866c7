// The broker examples (npm run example:nats / example:redis) run as a user
// runs them, starting their own local server, on a small stream: PASS, with
// a worker killed and a rescale on the way.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isInstalled } from '../../examples/brokers/local-servers.js'

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(`../../examples/${script}`, import.meta.url)), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

for (const [script, binary] of [['nats-job.js', 'nats-server'], ['redis-job.js', 'redis-server']] as const) {
  test(`example ${script}: starts its server, survives a worker kill and a rescale, PASS`, async (t) => {
    if (!isInstalled(binary) && !process.env.CI) return t.skip(`${binary} is not installed`)
    const r = await run(script, ['--events', '3000', '--keys', '100'])
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /started here, pid \d+/)
    assert.match(r.stdout, /SIGKILL/)
    assert.match(r.stdout, /started {3}3 workers, restored from checkpoint \d+/)
    assert.match(r.stdout, /every count equals what was written\nPASS\n$/)
  })
}
