// The heap backend's own snapshot and restore behaviour, end to end through the
// canonical full-snapshot writer/reader and filesystem checkpoint storage.
// (Round trips, barriers, overlap, cancellation and rescaling for every backend
// are in the conformance suite, test/suite/snapshot.ts.)
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { isKeyedStateError } from '../../src/errors.js'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  openKeyedStateBackend,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateHandle,
} from '../../src/index.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'

const dirs: string[] = []
async function storage(): Promise<FileSystemCheckpointStorage> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-heap-snap-'))
  dirs.push(dir)
  return new FileSystemCheckpointStorage(dir)
}
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => e.name)
}

test('a snapshot of an empty backend writes nothing and has no handle', async () => {
  const s = await storage()
  const b = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer })
  try {
    b.getState(new ValueStateDescriptor('registered-but-empty', int32Serializer))
    const result = await b.snapshot(1, { type: 'checkpoint', storage: s }).done
    assert.equal(result.handle, undefined)
    assert.deepEqual(await filesUnder(s.root), [])
  } finally {
    await b.close()
  }
})

test('close() while a snapshot is in flight cancels it: done rejects, no files remain', async () => {
  const s = await storage()
  const b = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer })
  const v = b.getState(new ValueStateDescriptor('v', int32Serializer))
  for (let i = 0; i < 100; i++) {
    b.setCurrentKey(`k${i}`)
    v.update(i)
  }
  let reached!: () => void
  const atKeyGroup = new Promise<void>((r) => (reached = r))
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  const afterKeyGroup = async (): Promise<void> => {
    reached()
    await held
  }
  const run = b.snapshot(1, { type: 'checkpoint', storage: s, hooks: { afterKeyGroup } })
  await atKeyGroup
  const closing = b.close()
  release()
  await closing
  await assert.rejects(run.done, (e) => isKeyedStateError(e, 'CANCELLED'))
  assert.deepEqual(await filesUnder(s.root), [])
})

test('a restored state nobody bound is carried into the next snapshot unchanged', async () => {
  const s = await storage()
  const first = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer })
  const l = first.getListState(new ListStateDescriptor('l', stringSerializer))
  const m = first.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
  for (let i = 0; i < 30; i++) {
    first.setCurrentKey(`k${i}`)
    l.addAll([`a${i}`, `b${i}`])
    m.put(`u${i}`, i)
  }
  const h1 = (await first.snapshot(1, { type: 'savepoint', storage: s }).done).handle!
  await first.close()

  // Second generation: only 'l' is used; 'm' stays raw.
  const second = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, storage: s, restoreFrom: [h1] })
  second.setCurrentKey('k0')
  second.getListState(new ListStateDescriptor('l', stringSerializer)).add('c0')
  const h2 = (await second.snapshot(2, { type: 'checkpoint', storage: s }).done).handle!
  await second.close()

  const third = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, storage: s, restoreFrom: [h2] })
  try {
    const l3 = third.getListState(new ListStateDescriptor('l', stringSerializer))
    const m3 = third.getMapState(new MapStateDescriptor('m', stringSerializer, int32Serializer))
    for (let i = 0; i < 30; i++) {
      third.setCurrentKey(`k${i}`)
      assert.deepEqual(l3.get(), i === 0 ? ['a0', 'b0', 'c0'] : [`a${i}`, `b${i}`])
      assert.deepEqual([...m3.entries()], [[`u${i}`, i]])
    }
  } finally {
    await third.close()
  }
})

test('restore refuses incremental handles, a missing storage and another maxParallelism', async () => {
  const s = await storage()
  const b = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 32 })
  b.setCurrentKey('a')
  b.getState(new ValueStateDescriptor('v', int32Serializer)).update(1)
  const handle = (await b.snapshot(1, { type: 'savepoint', storage: s }).done).handle!
  await b.close()
  const incremental = {
    type: 'incremental', formatVersion: 1, backendId: 'x', checkpointId: 3, maxParallelism: 32,
    keyGroupRange: { start: 0, end: 31 }, sharedFiles: {}, privateFiles: {}, metaFile: { path: 'm', sizeBytes: 0, crc32: 0 },
  } satisfies KeyedStateHandle
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 32, storage: s, restoreFrom: [incremental] }),
    (e) => isKeyedStateError(e, 'NOT_SUPPORTED') && /incremental/.test(e.message),
  )
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 32, restoreFrom: [handle] }),
    (e) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /storage/.test(e.message),
  )
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 64, storage: s, restoreFrom: [handle] }),
    (e) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /maxParallelism/.test(e.message),
  )
})

test("checkpointMode 'incremental' is refused: the heap backend takes full snapshots", async () => {
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, checkpointMode: 'incremental' }),
    (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'),
  )
  const b = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, checkpointMode: 'full' })
  await b.close()
})

test('snapshot() checks its arguments', async () => {
  const b = await openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer })
  try {
    const s = await storage()
    assert.throws(() => b.snapshot(-1, { type: 'checkpoint', storage: s }), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
    assert.throws(() => b.snapshot(1, { type: 'backup' as never, storage: s }), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
    assert.throws(() => b.snapshot(1, { type: 'checkpoint' } as never), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  } finally {
    await b.close()
  }
})
