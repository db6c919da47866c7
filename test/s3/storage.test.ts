// What only S3 has, on a real S3-compatible server in a child process: keys
// no storage path names, incomplete multipart uploads, location strings. (The
// cases every storage shares, S3 included, are in test/storage/suite/, run on
// S3 by suite.test.ts.)
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3'
import { isKeyedStateError } from '../../src/errors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { openCheckpointStorage, parentLocation, parseStorageLocation } from '../../src/storage/open.js'
import { S3CheckpointStorage } from '../../src/storage/s3.js'
import { startS3Server } from './server.js'

const server = await startS3Server()
after(() => server.stop())

test('S3: keys no storage path names (a console folder marker), and keys of a sibling prefix, are never listed or touched', async () => {
  const storage = server.storage('job')
  const raw = storage.client
  try {
    for (const key of ['job/chk-1/a', 'job/chk-1/folder/', 'job2/chk-1/d', 'jobx', 'other/job/e']) {
      await raw.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: Buffer.from(key) }))
    }
    assert.deepEqual((await storage.list('')).map((e) => e.path), ['chk-1/a'])
    assert.equal(storage.keyOf('chk-1/./x/../a'), 'job/chk-1/a')
    assert.throws(() => storage.keyOf('../job2/chk-1/d'), (e) => isKeyedStateError(e, 'PATH_ESCAPE'))
    await storage.deleteMany(['chk-1/a'])
    const everything = server.storage('')
    assert.deepEqual((await everything.list('')).map((e) => e.path).sort(), ['job2/chk-1/d', 'jobx', 'other/job/e'])
    await everything.deleteMany(['job2/chk-1/d', 'jobx', 'other/job/e'])
    everything.close()
  } finally {
    storage.close()
  }
})

test('S3: incomplete multipart uploads under the prefix are listed and aborted; others are not seen', async () => {
  const storage = server.storage('mpu/a')
  try {
    const start = async (key: string): Promise<string> => {
      const { UploadId } = await storage.client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: key }))
      await storage.client.send(new UploadPartCommand({ Bucket: server.bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }))
      return UploadId!
    }
    const mine = await start('mpu/a/shared/x.sst')
    await start('mpu/ab/shared/y.sst')
    const found = await storage.listIncompleteUploads()
    assert.deepEqual(found.map((u) => [u.path, u.uploadId]), [['shared/x.sst', mine]])
    await storage.abortIncompleteUpload(found[0]!)
    assert.deepEqual(await storage.listIncompleteUploads(), [])
    const sibling = server.storage('mpu/ab')
    const left = await sibling.listIncompleteUploads()
    assert.equal(left.length, 1)
    await sibling.abortIncompleteUpload(left[0]!)
    sibling.close()
  } finally {
    storage.close()
  }
})

test('locations: paths and file:// URLs open the file system, s3://bucket/prefix opens S3', async () => {
  assert.deepEqual(parseStorageLocation('s3://b-1/a/b/'), { kind: 's3', bucket: 'b-1', prefix: 'a/b' })
  assert.deepEqual(parseStorageLocation('s3://b-1'), { kind: 's3', bucket: 'b-1', prefix: '' })
  assert.deepEqual(parseStorageLocation('file:///tmp/x'), { kind: 'fs', dir: '/tmp/x' })
  assert.deepEqual(parentLocation(parseStorageLocation('s3://b-1/a/chk-3'), 1), { kind: 's3', bucket: 'b-1', prefix: 'a' })
  assert.throws(() => parseStorageLocation('s3://b-1/../x'), (e) => isKeyedStateError(e, 'PATH_ESCAPE'))
  assert.throws(() => parseStorageLocation('gs://b/x'), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  assert.ok(openCheckpointStorage('/tmp/x') instanceof FileSystemCheckpointStorage)
  const s3 = openCheckpointStorage(`s3://${server.bucket}/loc`, { s3: server.options('') })
  assert.ok(s3 instanceof S3CheckpointStorage)
  assert.equal(s3.location, `s3://${server.bucket}/loc`)
  s3.close?.()
  assert.throws(() => new S3CheckpointStorage({ bucket: 'Bad_Bucket' }), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  assert.throws(() => new S3CheckpointStorage({ bucket: 'ok-bucket', partSizeBytes: 1024 }), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  assert.throws(() => new S3CheckpointStorage({ bucket: 'ok-bucket', maxAttempt: 3 } as never), /maxAttempts/)
})

test('the coordinator takes its storage as a location string (and closes what it opened)', async () => {
  const { CheckpointCoordinator } = await import('../../src/checkpoint/coordinator.js')
  const { FakeInstance } = await import('../checkpoint/helpers.js')
  const location = `s3://${server.bucket}/by-location`
  const { bucket: _b, prefix: _p, ...s3 } = server.options('')
  const instancesStorage = openCheckpointStorage(location, { s3 })
  const c = await CheckpointCoordinator.create({ storage: location, storageOptions: { s3 }, instances: FakeInstance.many(2, 8, instancesStorage) })
  try {
    assert.equal(c.storage.location, location)
    const md = await c.triggerCheckpoint()
    assert.ok(await instancesStorage.exists(`chk-${md.checkpointId}/_metadata`))
  } finally {
    await c.close()
    await instancesStorage.deleteMany!((await instancesStorage.list('')).map((e) => e.path))
    instancesStorage.close?.()
  }
})
