import assert from 'node:assert/strict'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { CancelledError, isKeyedStateError, KeyedStateError } from '../../src/errors.js'
import { unpackEntries } from '../../src/snapshot/format/packed.js'
import { deleteLocalSnapshot, restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle, SnapshotHookName, SnapshotHooks, SnapshotOptions } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { buildModel, expectedFlat, RecordingSink, removeTempDirs, resourcesOf, tempDir, type Model, type ResourceStats } from './helpers.js'

after(removeTempDirs)

const range = { start: 0, end: 15 }

function sampleModel(entriesPerKeyGroup = 20): Model {
  const entries = []
  for (let kg = range.start; kg <= range.end; kg++) {
    for (let i = 0; i < entriesPerKeyGroup; i++) entries.push({ kg, key: Buffer.from(`k${i}`), value: Buffer.from(`value-${kg}-${i}`) })
  }
  return buildModel(16, range, [
    { name: 'counts', kind: 'value', entries },
    { name: 'events', kind: 'list', entries: entries.filter((_, i) => i % 3 === 0) },
  ])
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  const visit = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await visit(join(d, e.name))
      else out.push(join(d, e.name))
    }
  }
  await visit(dir)
  return out
}

async function setup() {
  const root = await tempDir()
  const localDir = await tempDir('ks-local-')
  return { root, localDir, storage: new FileSystemCheckpointStorage(root) }
}

test('nothing is written before runFullSnapshot returns; the result restores; resources are released once', async () => {
  const { root, storage } = await setup()
  const model = sampleModel()
  const stats: ResourceStats = { released: 0 }
  let settled = 0
  const run = runFullSnapshot(7, resourcesOf(model, 4, stats), { type: 'checkpoint', storage }, { maxParallelism: 16, onSettled: () => settled++ }, 3.5)
  assert.deepEqual(await filesUnder(root), [])
  assert.equal(run.checkpointId, 7)
  assert.equal(run.syncDurationMs, 3.5)
  const { handle, localHandle } = await run.done
  assert.equal(localHandle, undefined)
  assert.equal(stats.released, 1)
  assert.equal(settled, 1)
  assert.ok(handle && handle.type === 'full')
  assert.match(handle.file.path, /^chk-7\/full-kg0-15-[0-9a-f]+\.kss$/)
  assert.deepEqual((await storage.list('')).map((e) => e.path), [handle.file.path])
  const sink = new RecordingSink()
  await restoreFullHandles([handle], storage, range, sink)
  assert.deepEqual(sink.flat(), expectedFlat([model], range))
  run.cancel() // after completion: a no-op
  assert.ok(await storage.exists(handle.file.path))
})

test('an empty backend writes no file and returns no handle', async () => {
  const { root, localDir, storage } = await setup()
  const model = buildModel(16, range, [{ name: 'unused', kind: 'value', entries: [] }])
  const stats: ResourceStats = { released: 0 }
  const result = await runFullSnapshot(1, resourcesOf(model, 1, stats), { type: 'checkpoint', storage }, { maxParallelism: 16, localRecoveryDir: localDir }, 0).done
  assert.deepEqual(result, { handle: undefined })
  assert.equal(stats.released, 1)
  assert.deepEqual(await filesUnder(root), [])
  assert.deepEqual(await filesUnder(localDir), [])
})

for (const hook of ['afterSyncPart', 'afterKeyGroup', 'beforeCommit'] as SnapshotHookName[]) {
  test(`cancel at '${hook}' rejects with CancelledError and deletes every file (storage and local copy)`, async () => {
    const { root, localDir, storage } = await setup()
    const stats: ResourceStats = { released: 0 }
    let calls = 0
    const hooks: SnapshotHooks = {
      [hook]: ({ run, keyGroup }: { run: { cancel(): void }; keyGroup?: number }) => {
        calls++
        if (hook !== 'afterKeyGroup' || keyGroup === 9) run.cancel()
      },
    }
    const run = runFullSnapshot(3, resourcesOf(sampleModel(), 2, stats), { type: 'checkpoint', storage, hooks }, { maxParallelism: 16, localRecoveryDir: localDir }, 0)
    await assert.rejects(run.done, (e: unknown) => e instanceof CancelledError && e.code === 'CANCELLED')
    assert.ok(calls > 0)
    assert.equal(stats.released, 1)
    assert.deepEqual(await filesUnder(root), [])
    assert.deepEqual(await filesUnder(localDir), [])
  })

  test(`a failure at '${hook}' rejects with that error and deletes every file`, async () => {
    const { root, localDir, storage } = await setup()
    const hooks: SnapshotHooks = {
      [hook]: () => {
        throw new Error(`boom at ${hook}`)
      },
    }
    const stats: ResourceStats = { released: 0 }
    const run = runFullSnapshot(3, resourcesOf(sampleModel(), 2, stats), { type: 'checkpoint', storage, hooks }, { maxParallelism: 16, localRecoveryDir: localDir }, 0)
    await assert.rejects(run.done, new RegExp(`boom at ${hook}`))
    assert.equal(stats.released, 1)
    assert.deepEqual(await filesUnder(root), [])
    assert.deepEqual(await filesUnder(localDir), [])
  })
}

test('cancel while the async part is waiting on a storage write: no files remain and a later snapshot works', async () => {
  const { root, storage: inner } = await setup()
  // A storage whose first write waits until the test lets it go.
  let signalPending: () => void = () => {}
  const pending = new Promise<void>((resolve) => (signalPending = resolve))
  let openGate: () => void = () => {}
  const gate = new Promise<void>((resolve) => (openGate = resolve))
  const storage = Object.create(inner) as FileSystemCheckpointStorage
  storage.create = async (scope, name) => {
    const out = await inner.create(scope, name)
    let writes = 0
    const write = out.write.bind(out)
    out.write = async (chunk) => {
      if (++writes === 1) {
        signalPending()
        await gate
      }
      return write(chunk)
    }
    return out
  }
  const run = runFullSnapshot(1, resourcesOf(sampleModel(2000), 50), { type: 'checkpoint', storage, compression: 'none' }, { maxParallelism: 16 }, 0)
  await pending
  run.cancel()
  openGate()
  await assert.rejects(run.done, CancelledError)
  assert.deepEqual(await filesUnder(root), [])
  const again = await runFullSnapshot(2, resourcesOf(sampleModel()), { type: 'checkpoint', storage: inner }, { maxParallelism: 16 }, 0).done
  assert.ok(again.handle)
})

test('two overlapping snapshots write separate, complete files', async () => {
  const { storage } = await setup()
  const a = sampleModel(10)
  const b = sampleModel(25)
  const runA = runFullSnapshot(1, resourcesOf(a), { type: 'checkpoint', storage }, { maxParallelism: 16 }, 0)
  const runB = runFullSnapshot(2, resourcesOf(b), { type: 'checkpoint', storage }, { maxParallelism: 16 }, 0)
  const [ra, rb] = await Promise.all([runA.done, runB.done])
  for (const [r, m] of [[ra, a], [rb, b]] as const) {
    const sink = new RecordingSink()
    await restoreFullHandles([r.handle as FullSnapshotHandle], storage, range, sink)
    assert.deepEqual(sink.flat(), expectedFlat([m], range))
  }
})

test('the transformer rewrites or drops entries while writing', async () => {
  const { storage } = await setup()
  const model = sampleModel()
  const transformers = new Map([
    ['counts', (_key: Uint8Array, value: Uint8Array) => (value[value.length - 1]! % 2 === 0 ? undefined : Buffer.concat([Buffer.from('T:'), value]))],
  ])
  const { handle } = await runFullSnapshot(1, resourcesOf(model, 5), { type: 'checkpoint', storage }, { maxParallelism: 16, transformers, tuning: { blockRawBytesMax: 200 } }, 0).done
  const sink = new RecordingSink()
  await restoreFullHandles([handle as FullSnapshotHandle], storage, range, sink)
  const expected = expectedFlat([model], range)
    .filter((e) => !e.startsWith('counts/') || parseInt(e.slice(-2), 16) % 2 === 1)
    .map((e) => (e.startsWith('counts/') ? e.replace('=', `=${Buffer.from('T:').toString('hex')}`) : e))
    .sort()
  assert.deepEqual(sink.flat(), expected)
})

test('savepoints go to their target directory and never keep a local copy', async () => {
  const { localDir, storage } = await setup()
  const options: SnapshotOptions = { type: 'savepoint', storage, targetDir: 'savepoints/sp-1', compression: 'none' }
  const { handle, localHandle } = await runFullSnapshot(9, resourcesOf(sampleModel()), options, { maxParallelism: 16, localRecoveryDir: localDir }, 0).done
  assert.equal(localHandle, undefined)
  assert.match((handle as FullSnapshotHandle).file.path, /^savepoints\/sp-1\/full-kg0-15-/)
  assert.deepEqual(await filesUnder(localDir), [])
  await assert.rejects(runFullSnapshot(10, resourcesOf(sampleModel()), { ...options, targetDir: '../outside' }, { maxParallelism: 16 }, 0).done, (e: unknown) => isKeyedStateError(e, 'PATH_ESCAPE'))
  await assert.rejects(runFullSnapshot(11, resourcesOf(sampleModel()), { ...options, compression: 'zip' as never }, { maxParallelism: 16 }, 0).done, /unknown compression "zip"/)
})

test('local recovery: the local copy is preferred when valid; a corrupt or missing one falls back to storage', async () => {
  const { localDir, storage } = await setup()
  const model = sampleModel()
  const expected = expectedFlat([model], range)
  const { handle, localHandle } = await runFullSnapshot(5, resourcesOf(model), { type: 'checkpoint', storage }, { maxParallelism: 16, localRecoveryDir: localDir, tuning: { blockRawBytesMax: 128 } }, 0).done
  assert.ok(handle && handle.type === 'full' && localHandle && localHandle.type === 'local-full')
  const localFile = join(localHandle.directory, (localHandle.handle as FullSnapshotHandle).file.path)
  assert.deepEqual(await readFile(localFile), await readFile(storage.localPath(handle.file.path)))

  // Valid local copy: storage is not read at all.
  await rm(storage.localPath(handle.file.path))
  let sink = new RecordingSink()
  let result = await restoreFullHandles([handle], storage, range, sink, [localHandle])
  assert.equal(result.localHandlesUsed, 1)
  assert.equal(result.localFallbacks, 0)
  assert.deepEqual(sink.flat(), expected)

  // Restore the storage copy, then damage the local one in the middle: restore continues from storage, without duplicates.
  const { handle: h2, localHandle: l2 } = await runFullSnapshot(6, resourcesOf(model), { type: 'checkpoint', storage }, { maxParallelism: 16, localRecoveryDir: localDir, tuning: { blockRawBytesMax: 128 } }, 0).done
  const h = h2 as FullSnapshotHandle
  const local2 = join(l2!.directory, (l2!.handle as FullSnapshotHandle).file.path)
  const bytes = await readFile(local2)
  const mid = h.keyGroupOffsets[8]! + 30
  bytes[mid]! ^= 0x40
  await writeFile(local2, bytes)
  const fallbacks: unknown[] = []
  sink = new RecordingSink()
  result = await restoreFullHandles([h], storage, range, sink, [l2!], { onLocalFallback: (_l, e) => fallbacks.push(e) })
  assert.equal(result.localFallbacks, 1)
  assert.ok(isKeyedStateError(fallbacks[0]) && ['CHECKSUM_MISMATCH', 'CORRUPTION'].includes(fallbacks[0].code))
  assert.deepEqual(sink.flat(), expected)
  let delivered = 0
  for (const byKg of sink.data.values()) for (const list of byKg.values()) delivered += list.length
  assert.equal(delivered, expected.length, 'no entry delivered twice')

  // Missing local copy: storage.
  await deleteLocalSnapshot(l2!)
  sink = new RecordingSink()
  result = await restoreFullHandles([h], storage, range, sink, [l2!])
  assert.equal(result.localFallbacks, 1)
  assert.deepEqual(sink.flat(), expected)

  // A local handle of another checkpoint is never used.
  sink = new RecordingSink()
  result = await restoreFullHandles([h], storage, range, sink, [localHandle])
  assert.equal(result.localHandlesUsed, 0)
  assert.deepEqual(sink.flat(), expected)
})

test('local recovery: a sink that fails in the middle of a block gets its own error, no fallback, and no section twice', async () => {
  const { localDir, storage } = await setup()
  const model = sampleModel()
  // Default block size: each key group is one block with a section per state (counts, then events).
  const { handle, localHandle } = await runFullSnapshot(12, resourcesOf(model), { type: 'checkpoint', storage }, { maxParallelism: 16, localRecoveryDir: localDir }, 0).done
  assert.ok(handle && handle.type === 'full' && localHandle)
  // The sink fails on the second section of key group 8 with a code a damaged copy would also have
  // (the RocksDB sink's disk filling up): it must not look like a bad local file.
  const failure = new KeyedStateError('IO_ERROR', 'no space left on the staging disk')
  class FailingSink extends RecordingSink {
    calls: string[] = []
    override restoreChunk(stateName: string, keyGroup: number, chunk: Uint8Array): void {
      this.calls.push(`${stateName}/${keyGroup}`)
      if (keyGroup === 8 && stateName === 'events') throw failure
      super.restoreChunk(stateName, keyGroup, chunk)
    }
  }
  const sink = new FailingSink()
  const fallbacks: unknown[] = []
  await assert.rejects(restoreFullHandles([handle as FullSnapshotHandle], storage, range, sink, [localHandle], { onLocalFallback: (_l, e) => fallbacks.push(e) }), (e) => e === failure)
  assert.deepEqual(fallbacks, [], 'the local copy is intact and not reported')
  assert.ok(sink.calls.includes('counts/8'), `the failing block had delivered a section before: ${sink.calls.join(' ')}`)
  assert.equal(new Set(sink.calls).size, sink.calls.length, `no section delivered twice: ${sink.calls.join(' ')}`)
  const delivered = sink.flat()
  assert.equal(new Set(delivered).size, delivered.length, 'no entry delivered twice')
})

test('packed chunks delivered to the sink are well-formed and keep their key group prefix', async () => {
  const { storage } = await setup()
  const { handle } = await runFullSnapshot(1, resourcesOf(sampleModel()), { type: 'checkpoint', storage }, { maxParallelism: 16 }, 0).done
  const chunks: Array<[number, Uint8Array]> = []
  await restoreFullHandles([handle as FullSnapshotHandle], storage, { start: 3, end: 5 }, {
    restoreMetaInfos() {},
    restoreChunk(_s, kg, chunk) {
      chunks.push([kg, chunk])
    },
  })
  assert.ok(chunks.length > 0)
  for (const [kg, chunk] of chunks) {
    assert.ok(kg >= 3 && kg <= 5)
    for (const [key] of unpackEntries(chunk)) assert.equal((key[0]! << 8) | key[1]!, kg)
  }
})
