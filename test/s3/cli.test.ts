// The CLI on S3 locations, as users run it: a child process given
// s3://bucket/prefix, configured only through the environment (the SDK's
// chain plus KEYED_STATE_S3_PATH_STYLE), on checkpoints of a real RocksDB job.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { cloneModel, Job, type Model } from '../checkpoint/job.js'
import { storedPaths } from '../checkpoint/helpers.js'
import { startS3Server, type S3TestServer } from './server.js'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js')

let server: S3TestServer
let workDir: string
let model2: Model
let chk2: CheckpointMetadata
const ROOT = 'jobs/cli'

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = server.childEnv()
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr })
    })
  })
}

const url = (path = ''): string => `s3://${server.bucket}/${ROOT}${path === '' ? '' : `/${path}`}`

before(async () => {
  server = await startS3Server()
  workDir = await mkdtemp(join(tmpdir(), 'ks-s3-cli-'))
  const storage = server.storage(ROOT)
  const job = await Job.open({ parallelism: 2, maxParallelism: 16, storage, kind: 'rocksdb', workDir, seed: 5 })
  const c = await CheckpointCoordinator.create({ storage, instances: job.instances, retainedCheckpoints: 2 })
  job.process(300, 40)
  await c.triggerCheckpoint()
  job.process(100, 40)
  model2 = cloneModel(job.model)
  chk2 = await c.triggerCheckpoint()
  await c.triggerSavepoint('savepoints/sp')
  await c.close()
  await job.close()
  storage.close()
})

after(async () => {
  await server.stop()
  await rm(workDir, { recursive: true, force: true })
})

test('CLI on s3://: list, inspect, dump and verify a RocksDB job\'s incremental checkpoints and savepoint', async () => {
  const list = await cli('list', url(), '--json')
  assert.equal(list.code, 0, list.stderr)
  const rows = JSON.parse(list.stdout).snapshots
  assert.deepEqual(rows.map((x: any) => [x.dir, x.checkpointId, x.complete]), [['chk-1', 1, true], ['chk-2', 2, true], ['savepoints/sp', 3, true]])
  assert.equal(JSON.parse(list.stdout).root, url())

  const inspect = await cli('inspect', url('chk-2'), '--json')
  assert.equal(inspect.code, 0, inspect.stderr)
  const report = JSON.parse(inspect.stdout)
  assert.equal(report.checkpointId, 2)
  assert.equal(report.root, url())
  assert.deepEqual(report.instances.map((i: any) => i.handleType), ['incremental', 'incremental'])

  const dump = await cli('dump', url('chk-2/_metadata'), '--state', 'count')
  assert.equal(dump.code, 0, dump.stderr)
  const counts = new Map(dump.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)).map((e) => [e.key, e.value]))
  assert.deepEqual(counts, new Map([...model2].map(([k, m]) => [k, Number(m.count)])))

  for (const dir of ['chk-2', 'savepoints/sp']) {
    const verify = await cli('verify', url(dir), '--json')
    assert.equal(verify.code, 0, verify.stderr)
    assert.equal(JSON.parse(verify.stdout).ok, true)
  }
  assert.equal(chk2.checkpointId, 2)

  // `<root> latest` and `<root> <id>` find them in the bucket; the root alone points to list.
  const latest = await cli('inspect', url(), 'latest', '--json')
  assert.equal(latest.code, 0, latest.stderr)
  assert.equal(JSON.parse(latest.stdout).directory, url('savepoints/sp'))
  const byId = await cli('verify', url(), '2', '--json')
  assert.equal(JSON.parse(byId.stdout).checkpointId, 2)
  const root = await cli('inspect', url())
  assert.equal(root.code, 1)
  assert.match(root.stderr, /is a checkpoint root, not one checkpoint: run `keyed-state list s3:\/\/.*` .*s3:\/\/[^ ]*\/chk-<id>/)
})

test('CLI on s3://: verify reports a corrupted object; gc deletes orphans and aborts stale multipart uploads', async () => {
  const storage = server.storage(ROOT)
  try {
    // Corrupt one SST of checkpoint 2 (same size, one byte changed).
    const sst = (chk2.instances[0]!.handle as any).sharedFiles
    const path = (Object.values(sst)[0] as { path: string }).path
    const bytes = await storage.read(path)
    const original = Buffer.from(bytes)
    bytes[bytes.length >> 1] ^= 0xff
    await storage.writeAtomic(path, bytes)
    const verify = await cli('verify', url('chk-2'), '--json')
    assert.equal(verify.code, 1)
    assert.ok(JSON.parse(verify.stdout).problems.some((p: any) => p.code === 'CHECKSUM_MISMATCH' && p.file === path))
    await storage.writeAtomic(path, original)

    await storage.writeAtomic('chk-9/partial', Buffer.from('x'))
    await storage.writeAtomic('shared/orphan.sst', Buffer.from('y'))
    await storage.client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: `${ROOT}/shared/crashed.sst` }))
    const before = await storedPaths(storage)
    const dry = await cli('gc', url(), '--grace-ms', '0', '--json')
    assert.equal(dry.code, 0, dry.stderr)
    const dryReport = JSON.parse(dry.stdout)
    assert.deepEqual(dryReport.orphans.map((o: any) => o.path).sort(), ['chk-9/partial', 'shared/orphan.sst'])
    assert.deepEqual(dryReport.staleUploads.map((u: any) => u.path), ['shared/crashed.sst'])
    assert.deepEqual(await storedPaths(storage), before, 'a dry run deletes nothing')
    const gc = await cli('gc', url(), '--grace-ms', '0', '--delete')
    assert.equal(gc.code, 0, gc.stderr)
    assert.match(gc.stdout, /aborted 1 incomplete multipart upload/)
    assert.deepEqual(await storedPaths(storage), before.filter((p) => p !== 'chk-9/partial' && p !== 'shared/orphan.sst'))
    assert.deepEqual(await storage.listIncompleteUploads(), [])
  } finally {
    storage.close()
  }
})
