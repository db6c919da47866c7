// Restore from S3: local recovery works unchanged with S3 as the primary
// storage (the verified local copy is preferred, so S3 being down does not
// matter; a damaged local file is fetched again), and every downloaded file
// is checked against the size and CRC-32 its handle records before RocksDB
// opens it. Full snapshots restore at another parallelism with ranged GETs.
import assert from 'node:assert/strict'
import { truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { isKeyedStateError } from '../../src/errors.js'
import { checkpoint, checkKeys, openIncremental, range, restoreStats, testDirs, writeKeys } from '../rocksdb/incremental/helpers.js'
import { FaultProxy, PASS } from './fault-proxy.js'
import { s3TempStorage, startS3Server } from './server.js'

const server = await startS3Server()
const proxy = await FaultProxy.start(server.port)
after(async () => {
  await proxy.stop()
  await server.stop()
})

test('S3 primary: restore uses the verified local copy even with S3 down, and downloads only a damaged local file', async () => {
  const t = await testDirs('ks-s3-local-')
  const s3 = s3TempStorage(server, { endpoint: proxy.endpoint, maxAttempts: 2 })
  try {
    const b = await openIncremental(t.dir('a'), { localRecoveryDir: t.dir('local') })
    writeKeys(b, range(500), 1)
    const c1 = await checkpoint(b, 1, s3.storage)
    await b.close()
    const local = c1.result.localHandle!
    const fileCount = Object.keys(c1.handle.sharedFiles).length + Object.keys(c1.handle.privateFiles).length

    proxy.decide = () => ({ kind: 'status', status: 503, code: 'ServiceUnavailable' })
    proxy.seen.length = 0
    const offline = await restoreStats(async () => {
      const r = await openIncremental(t.dir('r1'), { restoreFrom: [c1.handle], localRestoreFrom: [local], storage: s3.storage })
      checkKeys(r, 500, () => 1)
      await r.close()
      return r
    })
    assert.equal(offline.localFiles, fileCount)
    assert.equal(offline.downloadedFiles, 0)
    assert.equal(proxy.seen.length, 0, 'S3 was not asked for anything')

    // Without the local copy, S3 being down is a typed error naming an object.
    await assert.rejects(openIncremental(t.dir('r2'), { restoreFrom: [c1.handle], storage: s3.storage }), (e) => isKeyedStateError(e, 'STORAGE_UNAVAILABLE') && e.file !== undefined)

    proxy.decide = () => PASS
    const sst = Object.keys(c1.handle.sharedFiles)[0]!
    await truncate(join(local.directory, sst), 10)
    const partial = await restoreStats(async () => {
      const r = await openIncremental(t.dir('r3'), { restoreFrom: [c1.handle], localRestoreFrom: [local], storage: s3.storage })
      checkKeys(r, 500, () => 1)
      await r.close()
      return r
    })
    assert.equal(partial.downloadedFiles, 1)
    assert.equal(partial.localFiles, fileCount - 1)
  } finally {
    proxy.decide = () => PASS
    await s3.cleanup()
    await t.remove()
  }
})

test('S3: a downloaded SST that does not match its CRC-32 fails the restore with CHECKSUM_MISMATCH naming it', async () => {
  const t = await testDirs('ks-s3-crc-')
  const s3 = s3TempStorage(server)
  try {
    const b = await openIncremental(t.dir('a'))
    writeKeys(b, range(300), 1)
    const c1 = await checkpoint(b, 1, s3.storage)
    await b.close()
    const f = Object.values(c1.handle.sharedFiles)[0]!
    const bytes = await s3.storage.read(f.path)
    bytes[bytes.length >> 1] ^= 0x01
    await s3.storage.writeAtomic(f.path, bytes)
    await assert.rejects(openIncremental(t.dir('r'), { restoreFrom: [c1.handle], storage: s3.storage }), (e) => isKeyedStateError(e, 'CHECKSUM_MISMATCH') && e.file === f.path)
  } finally {
    await s3.cleanup()
    await t.remove()
  }
})

test('S3: full checkpoints of the heap backend restore at another parallelism, reading key-group blocks with ranged GETs', async () => {
  const { CheckpointCoordinator } = await import('../../src/checkpoint/coordinator.js')
  const { cloneModel, Job } = await import('../checkpoint/job.js')
  const s3 = s3TempStorage(server, { endpoint: proxy.endpoint })
  try {
    const job = await Job.open({ parallelism: 2, maxParallelism: 16, storage: s3.storage, seed: 9 })
    const c = await CheckpointCoordinator.create({ storage: s3.storage, instances: job.instances })
    job.process(2000, 300)
    const model = cloneModel(job.model)
    const md = await c.triggerCheckpoint()
    await c.close()
    await job.close()
    assert.ok(md.instances.every((i) => i.handle?.type === 'full'))
    proxy.seen.length = 0
    const restored = await Job.open({ parallelism: 3, maxParallelism: 16, storage: s3.storage, restoreFrom: md, model })
    restored.assertMatches()
    await restored.close()
    const ranged = proxy.seen.filter((s) => s.method === 'GET' && /^bytes=[1-9]\d*-\d+$/.test(s.range ?? ''))
    assert.ok(ranged.length > 0, 'key-group blocks are read with ranged GETs')
  } finally {
    await s3.cleanup()
  }
})
