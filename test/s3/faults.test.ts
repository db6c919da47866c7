// S3 under injected faults (fault-proxy.ts between the SDK and the server):
// storage operations retry 5xx, SlowDown and dropped connections and give the
// right bytes; failures that outlast the bounded retries end in a typed error
// naming the object; and a job checkpointing through faults either completes
// each checkpoint or fails it cleanly, restores the last completed one
// exactly, and leaves gc nothing but orphans it removes.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { crc32 } from 'node:zlib'
import { findLatestCompleteCheckpoint, listSnapshots } from '../../src/checkpoint/catalog.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import { collectGarbage } from '../../src/checkpoint/gc.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { isKeyedStateError } from '../../src/errors.js'
import { referencedByMetadata, storedPaths } from '../checkpoint/helpers.js'
import { cloneModel, Job, type Model } from '../checkpoint/job.js'
import { FaultProxy, PASS, randomFaults, type Fault } from './fault-proxy.js'
import { startS3Server } from './server.js'

const server = await startS3Server()
const proxy = await FaultProxy.start(server.port)
after(async () => {
  await proxy.stop()
  await server.stop()
})
const temps: string[] = []
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))))
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ks-s3-faults-'))
  temps.push(d)
  return d
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 131 + seed + (i >>> 9)) & 0xff
  return b
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

test('storage operations under 30 % injected faults complete with the right bytes', async () => {
  const random = randomFaults(0.3, 42)
  // A body cut off on an upload's completion would look like a lost answer, which this server cannot replay; covered below at checkpoint level.
  proxy.decide = (req) => {
    const f = random(req)
    return f.kind === 'reset-response-body' && req.method !== 'GET' ? PASS : f
  }
  proxy.seen.length = 0
  const storage = server.storage('faults/ops', { endpoint: proxy.endpoint, maxAttempts: 10, readResumesMax: 10 })
  try {
    const dir = await tempDir()
    const big = pattern(11 * 1024 * 1024, 1)
    await writeFile(join(dir, 'big.sst'), big)
    assert.deepEqual(await storage.upload({ kind: 'shared' }, 'big.sst', join(dir, 'big.sst')), { path: 'shared/big.sst', sizeBytes: big.length, crc32: crc32(big) >>> 0 })
    const out = await storage.create({ kind: 'exclusive', checkpointId: 3 }, 'full')
    await out.write(big.subarray(0, 100_000))
    await out.commit()
    for (let i = 0; i < 20; i++) await storage.writeAtomic(`chk-3/f-${i}`, pattern(1000 + i, i))
    assert.ok((await storage.read('shared/big.sst')).equals(big))
    assert.ok((await collect(storage.openReadStream('shared/big.sst', 5_000_000))).equals(big.subarray(5_000_000)))
    for (let i = 0; i < 20; i++) {
      assert.ok((await storage.readRange(`chk-3/f-${i}`, 10, 500)).equals(pattern(1000 + i, i).subarray(10, 510)))
      assert.equal(await storage.size(`chk-3/f-${i}`), 1000 + i)
    }
    assert.ok((await storage.read('chk-3/full')).equals(big.subarray(0, 100_000)))
    assert.equal((await storage.list('')).length, 22)
    assert.deepEqual((await storage.deleteMany((await storage.list('')).map((e) => e.path))).failed, [])
    assert.deepEqual(await storage.list(''), [])
    const kinds = new Set(proxy.seen.map((s) => s.fault))
    for (const k of ['status', 'reset-request', 'reset-response-body', 'latency'] as const) assert.ok(kinds.has(k), `the run saw a ${k} fault`)
  } finally {
    proxy.decide = () => PASS
    storage.close()
  }
})

test('a request that keeps failing ends after maxAttempts tries in STORAGE_UNAVAILABLE naming the object', async () => {
  const storage = server.storage('faults/down', { endpoint: proxy.endpoint, maxAttempts: 3, readResumesMax: 2 })
  const failures: Fault[] = [{ kind: 'status', status: 503, code: 'SlowDown' }, { kind: 'status', status: 500, code: 'InternalError' }, { kind: 'reset-request' }]
  try {
    for (const fault of failures) {
      proxy.decide = () => fault
      proxy.seen.length = 0
      await assert.rejects(storage.size('chk-1/data'), (e) => {
        assert.ok(isKeyedStateError(e, 'STORAGE_UNAVAILABLE'), `${fault.kind}: ${String(e)}`)
        assert.equal(e.file, 'chk-1/data')
        assert.match(e.message, /s3:\/\/checkpoints\/faults\/down\/chk-1\/data/)
        return true
      })
      assert.equal(proxy.seen.length, 3, `${JSON.stringify(fault)}: one try and two retries`)
    }
    // Uploads: nothing is left behind when they fail.
    proxy.decide = () => failures[0]!
    await assert.rejects(storage.writeAtomic('chk-1/_metadata', Buffer.from('x')), (e) => isKeyedStateError(e, 'STORAGE_UNAVAILABLE') && e.file === 'chk-1/_metadata')
    // A body cut off every time: resumed readResumesMax times, then STORAGE_UNAVAILABLE.
    proxy.decide = () => PASS
    await storage.writeAtomic('chk-1/data', pattern(100_000, 2))
    proxy.decide = (req) => (req.method === 'GET' ? { kind: 'reset-response-body' } : PASS)
    proxy.seen.length = 0
    await assert.rejects(storage.read('chk-1/data'), (e) => isKeyedStateError(e, 'STORAGE_UNAVAILABLE') && e.file === 'chk-1/data')
    assert.equal(proxy.seen.filter((s) => s.method === 'GET').length, 3, 'one GET and two resumes')
  } finally {
    proxy.decide = () => PASS
    storage.close()
  }
})

test('a body cut off mid-way is resumed with a ranged GET from where it stopped', async () => {
  const storage = server.storage('faults/resume', { endpoint: proxy.endpoint })
  try {
    const data = pattern(3_000_000, 5)
    await storage.writeAtomic('shared/x.sst', data)
    let gets = 0
    proxy.decide = (req) => (req.method === 'GET' && gets++ === 0 ? { kind: 'reset-response-body' } : PASS)
    proxy.seen.length = 0
    assert.ok((await storage.read('shared/x.sst')).equals(data))
    const ranges = proxy.seen.filter((s) => s.method === 'GET').map((s) => s.range)
    assert.equal(ranges.length, 2)
    assert.ok(/^bytes=[1-9]\d*-$/.test(ranges[1] ?? ''), `second GET asks for the rest: ${ranges[1]}`)
  } finally {
    proxy.decide = () => PASS
    storage.close()
  }
})

test('a server that ignores Range is refused with IO_ERROR, never read as the asked-for bytes', async () => {
  const storage = server.storage('faults/norange', { endpoint: proxy.endpoint })
  try {
    await storage.writeAtomic('chk-1/data', pattern(10_000, 4))
    proxy.decide = (req) => (req.method === 'GET' ? { kind: 'strip-range' } : PASS)
    await assert.rejects(storage.readRange('chk-1/data', 100, 50), (e) => isKeyedStateError(e, 'IO_ERROR') && e.file === 'chk-1/data' && /ignored the Range/.test(e.message))
    await assert.rejects(collect(storage.openReadStream('chk-1/data', 5000)), (e) => isKeyedStateError(e, 'IO_ERROR'))
  } finally {
    proxy.decide = () => PASS
    storage.close()
  }
})

test('a RocksDB job checkpointing through faults: each checkpoint completes or fails cleanly; the last completed restores exactly; gc leaves nothing behind', async (t) => {
  const MAX_P = 16
  const workDir = await tempDir()
  // Few tries, so that some checkpoints do fail.
  const faulty = server.storage('faults/job', { endpoint: proxy.endpoint, maxAttempts: 2, readResumesMax: 1 })
  const direct = server.storage('faults/job')
  const random = randomFaults(0.15, 7)
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: MAX_P, storage: faulty, kind: 'rocksdb', workDir, seed: 3 })
    const c = await CheckpointCoordinator.create({ storage: faulty, instances: job.instances, retainedCheckpoints: 2 })
    const atBarrier = new Map<number, Model>()
    let completed = 0
    let failed = 0
    for (let round = 0; round < 8; round++) {
      // Round 0 clean and round 3 all faults, so both outcomes happen whatever order requests take; the rest random.
      proxy.decide = round === 0 ? () => PASS : round === 3 ? () => ({ kind: 'status', status: 503, code: 'SlowDown' }) : random
      job.process(300, 150)
      const model = cloneModel(job.model)
      try {
        const md: CheckpointMetadata = await c.triggerCheckpoint()
        atBarrier.set(md.checkpointId, model)
        completed++
      } catch (e) {
        assert.ok(isKeyedStateError(e), `a failed checkpoint fails with a typed error: ${String(e)}`)
        failed++
      }
    }
    proxy.decide = () => PASS
    await c.close()
    await job.close()
    t.diagnostic(`${completed} checkpoint(s) completed, ${failed} failed; the proxy injected ${proxy.seen.filter((s) => s.fault !== 'pass').length} fault(s)`)
    assert.ok(completed > 0, 'some checkpoints completed')
    assert.ok(failed > 0, 'some checkpoints failed (the faults were strong enough to matter)')

    const latest = await findLatestCompleteCheckpoint(direct, { checkFiles: true })
    assert.ok(latest)
    const restored = await Job.open({ parallelism: 3, maxParallelism: MAX_P, storage: direct, kind: 'rocksdb', workDir, restoreFrom: latest, model: atBarrier.get(latest.checkpointId) })
    restored.assertMatches()
    await restored.close()

    const report = await collectGarbage(direct, { gracePeriodMs: 0, delete: true })
    assert.deepEqual(report.failed, [])
    assert.deepEqual(report.problems, [])
    assert.deepEqual(await direct.listIncompleteUploads(), [], 'no open multipart uploads')
    assert.deepEqual(await storedPaths(direct), await referencedByMetadata(direct), 'only what complete checkpoints reference')
    assert.ok((await listSnapshots(direct)).every((l) => l.complete))
  } finally {
    proxy.decide = () => PASS
    faulty.close()
    direct.close()
  }
})
