// An incremental RocksDB checkpoint cancelled on S3 while its SST is on its
// way as a multipart upload (the cancel a coordinator sends when a checkpoint
// is aborted or times out): the run deletes every object it had finished
// (private files), aborts the multipart upload in flight, leaves the backend
// usable, and the next checkpoint is complete and restores exactly.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { openRocksDBBackend, type RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import { isKeyedStateError } from '../../src/errors.js'
import { bytesSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { IncrementalSnapshotHandle } from '../../src/snapshot/types.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { filesOf, incremental } from '../rocksdb/incremental/helpers.js'
import { crashKey, crashValue } from './crash-data.js'
import { FaultProxy, PASS } from './fault-proxy.js'
import { s3TempStorage, startS3Server } from './server.js'

const server = await startS3Server()
const proxy = await FaultProxy.start(server.port)
after(async () => {
  await proxy.stop()
  await server.stop()
})

const value = new ValueStateDescriptor('value', bytesSerializer)
const PART_BYTES = 5 * 1024 * 1024
/** 1,500 incompressible values of 8 KiB: an SST of ~12 MiB, three parts. */
const KEYS = 1500

function open(dir: string, storage: CheckpointStorage, restoreFrom?: IncrementalSnapshotHandle): Promise<RocksDBKeyedStateBackend<string>> {
  return openRocksDBBackend<string>({
    kind: 'rocksdb',
    dir,
    keySerializer: stringSerializer,
    maxParallelism: 8,
    checkpointMode: 'incremental',
    ...(restoreFrom ? { restoreFrom: [restoreFrom], storage } : {}),
  })
}

function write(b: RocksDBKeyedStateBackend<string>, keys: Iterable<number>, generation: number): void {
  const v = b.getState(value)
  for (const i of keys) {
    b.setCurrentKey(crashKey(i))
    v.update(crashValue(i, generation))
  }
}

function check(b: RocksDBKeyedStateBackend<string>, generationOf: (i: number) => number): void {
  const v = b.getState(value)
  for (let i = 0; i < KEYS; i++) {
    b.setCurrentKey(crashKey(i))
    const got = v.value()
    assert.ok(got !== undefined && crashValue(i, generationOf(i)).equals(got), `key ${i} holds generation ${generationOf(i)}`)
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)

// Part 1: the file is still being read into the upload. Part 3 (the last): the whole file is in the
// upload and commit() waits for it, so only stopping the upload itself keeps it from completing.
for (const cancelAtPart of [1, 3]) test(`an incremental checkpoint cancelled when part ${cancelAtPart} of its SST is on its way leaves no object and no open upload; the next one restores`, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ks-s3-inc-cancel-'))
  const s3 = s3TempStorage(server, { endpoint: proxy.endpoint, partSizeBytes: PART_BYTES })
  const b = await open(join(dir, 'a'), s3.storage)
  try {
    // Checkpoint 1: a small base, confirmed.
    write(b, range(0, 100), 1)
    const first = incremental((await b.snapshot(1, { type: 'checkpoint', storage: s3.storage }).done).handle)
    b.notifyCheckpointComplete(1)
    const baseObjects = (await s3.storage.list('')).map((e) => e.path).sort()
    assert.deepEqual(baseObjects, filesOf(first).map((f) => f.path).sort())

    // Checkpoint 2: a new SST of three parts; cancelled when part `cancelAtPart` reaches the server.
    write(b, range(0, KEYS), 2)
    let run: ReturnType<typeof b.snapshot> | undefined
    let cancelled = false
    proxy.decide = (req) => {
      if (!cancelled && req.url?.includes('/shared/') && req.url.includes(`partNumber=${cancelAtPart}&`)) {
        cancelled = true
        run!.cancel()
        b.notifyCheckpointAborted(2)
      }
      return PASS
    }
    proxy.seen.length = 0
    run = b.snapshot(2, { type: 'checkpoint', storage: s3.storage })
    await assert.rejects(run.done, (e) => isKeyedStateError(e, 'CANCELLED'))
    proxy.decide = () => PASS
    assert.ok(cancelled, 'cancelled while a part of the SST was on its way')
    const requests = proxy.seen.map((r) => `${r.method} ${r.url}`)
    assert.ok(!requests.some((r) => /^POST .*\.sst\?uploadId=/.test(r)), `the cancelled upload is never completed: ${requests.join(', ')}`)
    assert.ok(requests.some((r) => /^DELETE .*\.sst\?uploadId=/.test(r)), `the run aborts its multipart upload: ${requests.join(', ')}`)
    assert.deepEqual((await s3.storage.list('')).map((e) => e.path).sort(), baseObjects, 'only checkpoint 1 is stored')
    assert.deepEqual(await s3.storage.listIncompleteUploads(), [], 'the multipart upload was aborted')

    // The backend goes on: the writes after checkpoint 1 are all still there, and checkpoint 3 completes.
    check(b, () => 2)
    write(b, range(0, 10), 3)
    const third = incremental((await b.snapshot(3, { type: 'checkpoint', storage: s3.storage }).done).handle)
    b.notifyCheckpointComplete(3)
    assert.ok(!JSON.stringify(third).includes('chk-2/'), 'checkpoint 3 refers to nothing of the cancelled one')
    const stored = new Set((await s3.storage.list('')).map((e) => e.path))
    for (const f of filesOf(third)) assert.ok(stored.has(f.path), `${f.path} of checkpoint 3 is stored`)
    assert.deepEqual(await s3.storage.listIncompleteUploads(), [])

    const r = await open(join(dir, 'r'), s3.storage, third)
    try {
      check(r, (i) => (i < 10 ? 3 : 2))
    } finally {
      await r.close()
    }
  } finally {
    proxy.decide = () => PASS
    await b.close()
    await s3.cleanup()
    await rm(dir, { recursive: true, force: true })
  }
})
