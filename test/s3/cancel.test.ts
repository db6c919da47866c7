// Multipart uploads on S3 never outlive what started them: a full snapshot
// cancelled in the middle of a multipart upload, and an upload whose parts
// keep failing, both abort it - the bucket holds no object and no parts.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { isKeyedStateError } from '../../src/errors.js'
import { bytesSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { crashKey, crashValue } from './crash-data.js'
import { FaultProxy, PASS } from './fault-proxy.js'
import { s3TempStorage, startS3Server } from './server.js'

const server = await startS3Server()
const proxy = await FaultProxy.start(server.port)
after(async () => {
  await proxy.stop()
  await server.stop()
})

const isPart = (url: string | undefined): boolean => /[?&]partNumber=\d+/.test(url ?? '')

test('a savepoint cancelled during its multipart upload leaves no object and no open upload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-s3-cancel-'))
  const s3 = s3TempStorage(server, { endpoint: proxy.endpoint, partSizeBytes: 5 * 1024 * 1024 })
  const backend = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 8, storage: s3.storage })
  try {
    const value = backend.getState(new ValueStateDescriptor('value', bytesSerializer))
    for (let i = 0; i < 1500; i++) {
      backend.setCurrentKey(crashKey(i))
      value.update(crashValue(i, 1))
    }
    let run: ReturnType<typeof backend.snapshot> | undefined
    let cancelledAtPart = false
    proxy.decide = (req) => {
      if (!cancelledAtPart && isPart(req.url)) {
        cancelledAtPart = true
        run!.cancel()
      }
      return PASS
    }
    run = backend.snapshot(1, { type: 'savepoint', storage: s3.storage, compression: 'none' })
    await assert.rejects(run.done, (e) => isKeyedStateError(e, 'CANCELLED'))
    assert.ok(cancelledAtPart, 'cancelled while a part was on its way')
    assert.deepEqual(await s3.storage.list(''), [])
    assert.deepEqual(await s3.storage.listIncompleteUploads(), [])
  } finally {
    proxy.decide = () => PASS
    await backend.close()
    await s3.cleanup()
    await rm(dir, { recursive: true, force: true })
  }
})

test('an upload whose parts keep failing ends in STORAGE_UNAVAILABLE and aborts its multipart upload', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-s3-partfail-'))
  const s3 = s3TempStorage(server, { endpoint: proxy.endpoint, partSizeBytes: 5 * 1024 * 1024, maxAttempts: 2 })
  try {
    await writeFile(join(dir, 'big.sst'), Buffer.alloc(12 * 1024 * 1024, 9))
    let parts = 0
    proxy.decide = (req) => (isPart(req.url) && parts++ >= 1 ? { kind: 'status', status: 503, code: 'SlowDown' } : PASS)
    await assert.rejects(s3.storage.upload({ kind: 'shared' }, 'big.sst', join(dir, 'big.sst')), (e) => isKeyedStateError(e, 'STORAGE_UNAVAILABLE') && e.file === 'shared/big.sst')
    proxy.decide = () => PASS
    assert.deepEqual(await s3.storage.list(''), [])
    assert.deepEqual(await s3.storage.listIncompleteUploads(), [])
  } finally {
    proxy.decide = () => PASS
    await s3.cleanup()
    await rm(dir, { recursive: true, force: true })
  }
})
