// Incremental checkpoints: what goes into storage, how much, and the
// bookkeeping that decides what the next checkpoint may refer to.
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { CancelledError, isKeyedStateError } from '../../../src/errors.js'
import { FileSystemCheckpointStorage } from '../../../src/storage/fs.js'
import type { SnapshotHooks } from '../../../src/snapshot/types.js'
import { decodeMetaFile } from '../../../src/backends/rocksdb/incremental-meta-file.js'
import {
  checkpoint,
  checkKeys,
  filesOf,
  incremental,
  newBytes,
  openIncremental,
  range,
  sizeOf,
  storedPaths,
  valueState,
  withTestDirs,
  writeKeys,
} from './helpers.js'

test('a checkpoint lists shared SSTs, private files and a meta file that describe the states', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(500), 1)
  const { handle, result, run } = await checkpoint(b, 1, t.storage)
  assert.equal(result.localHandle, undefined)
  assert.equal(handle.checkpointId, 1)
  assert.equal(handle.backendId, b.backendId)
  assert.deepEqual(handle.keyGroupRange, { start: 0, end: 127 })
  assert.equal(handle.maxParallelism, 128)
  const shared = Object.keys(handle.sharedFiles)
  assert.ok(shared.length > 0 && shared.every((n) => n.endsWith('.sst')))
  assert.ok(Object.values(handle.sharedFiles).every((f) => f.path.startsWith('shared/') && f.path.includes(b.backendId)))
  assert.ok(handle.privateFiles.CURRENT && Object.keys(handle.privateFiles).some((n) => n.startsWith('MANIFEST-')))
  assert.ok(Object.keys(handle.privateFiles).some((n) => n.startsWith('OPTIONS-')))
  assert.ok(Object.values(handle.privateFiles).every((f) => f.path.startsWith('chk-1/')))
  assert.ok(handle.metaFile.path.startsWith('chk-1/'))
  // The handle is plain JSON and the stored files are exactly its files.
  assert.deepEqual(JSON.parse(JSON.stringify(handle)), handle)
  assert.deepEqual(await storedPaths(t.storage), filesOf(handle).map((f) => f.path).sort())
  for (const f of filesOf(handle)) assert.equal(await t.storage.size(f.path), f.sizeBytes)
  assert.equal(run.stats.uploadedBytes + run.stats.reusedBytes + handle.metaFile.sizeBytes, sizeOf(handle))

  const meta = decodeMetaFile(await t.storage.read(handle.metaFile.path), handle.metaFile.path)
  assert.equal(meta.checkpointId, 1)
  assert.equal(meta.backendId, b.backendId)
  assert.deepEqual(meta.states.map((s) => [s.meta.name, s.meta.kind, s.columnFamily]), [
    ['value', 'value', 's:value'],
    ['map', 'map', 's:map'],
  ])
  assert.equal(meta.keySerializer?.id, 'string')
  // Incremental mode runs universal compaction (few rewritten SSTs per flush); the checkpoint's OPTIONS file says so.
  const optionsFile = Object.entries(handle.privateFiles).find(([n]) => n.startsWith('OPTIONS-'))![1]
  assert.match((await t.storage.read(optionsFile.path)).toString(), /compaction_style=kCompactionStyleUniversal/)
  // The native checkpoint directory is gone once uploaded (no local recovery).
  assert.deepEqual(await readdir(join(t.dir('a'), 'checkpoints')).catch(() => []), [])
  await b.close()
}))

test('an empty backend writes nothing: no handle, no files', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  assert.equal((await b.snapshot(1, { type: 'checkpoint', storage: t.storage }).done).handle, undefined)
  // States registered but holding nothing in range: still empty.
  b.getState(valueState)
  assert.equal((await b.snapshot(2, { type: 'checkpoint', storage: t.storage }).done).handle, undefined)
  assert.deepEqual(await storedPaths(t.storage), [])
  await b.close()
}))

test('after changing 1 % of the keys, the next checkpoint uploads a small fraction of the bytes', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  const keys = 20_000
  writeKeys(b, range(keys), 1, 100)
  const first = await checkpoint(b, 1, t.storage)
  b.notifyCheckpointComplete(1)
  const changed = range(keys / 100, 5_000)
  writeKeys(b, changed, 2, 100)
  const second = await checkpoint(b, 2, t.storage)
  b.notifyCheckpointComplete(2)

  const fullBytes = newBytes(first.handle)
  const incrementalBytes = newBytes(second.handle, first.handle)
  const ratio = incrementalBytes / fullBytes
  console.log(`# incremental bytes after changing 1 % of ${keys} keys: ${incrementalBytes} of ${fullBytes} (${(ratio * 100).toFixed(2)} %)`)
  assert.ok(ratio < 0.1, `second checkpoint uploaded ${incrementalBytes} bytes, the first ${fullBytes}`)
  assert.equal(second.run.stats.uploadedBytes + second.handle.metaFile.sizeBytes, incrementalBytes)
  // Every SST of the first checkpoint that is still live was referred to, not uploaded again.
  for (const [name, f] of Object.entries(second.handle.sharedFiles)) {
    if (first.handle.sharedFiles[name]) assert.deepEqual(f, first.handle.sharedFiles[name])
  }
  assert.ok(second.run.stats.reusedFiles > 0)
  await b.close()
}))

test('checkpoint after checkpoint of 1 % changes, compaction keeps the uploads small (no periodic full re-upload)', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  const keys = 20_000
  writeKeys(b, range(keys), 1, 100)
  let previous = (await checkpoint(b, 1, t.storage)).handle
  b.notifyCheckpointComplete(1)
  const full = newBytes(previous)
  let uploaded = 0
  let worst = 0
  // A fixed pseudo-random walk over the keys: spread over every key group, like real updates.
  let x = 12345
  const steps = 10
  for (let id = 2; id <= steps + 1; id++) {
    const changed: number[] = []
    for (let j = 0; j < keys / 100; j++) {
      x = (x * 1103515245 + 12345) % 2147483648
      changed.push(x % keys)
    }
    writeKeys(b, changed, id, 100)
    const c = await checkpoint(b, id, t.storage)
    b.notifyCheckpointComplete(id)
    const bytes = newBytes(c.handle, previous)
    uploaded += bytes
    worst = Math.max(worst, bytes)
    previous = c.handle
  }
  const average = uploaded / steps / full
  console.log(`# ${steps} checkpoints after 1 % changes each: average ${(average * 100).toFixed(2)} %, worst ${((worst / full) * 100).toFixed(2)} % of the first`)
  assert.ok(average < 0.1, `average upload ${(average * 100).toFixed(1)} % of a full upload`)
  assert.ok(worst < 0.5 * full, `one checkpoint uploaded ${worst} of ${full} bytes`)
  await b.close()
}))

test('only a confirmed checkpoint is a base: unconfirmed and aborted checkpoints have their SSTs uploaded again', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  // Not confirmed yet: checkpoint 2 uploads c1's SSTs again under new names.
  writeKeys(b, range(10), 2)
  const c2 = await checkpoint(b, 2, t.storage)
  for (const [name, f] of Object.entries(c2.handle.sharedFiles)) assert.notEqual(f.path, c1.handle.sharedFiles[name]?.path, name)

  // Aborted: never a base.
  b.notifyCheckpointAborted(2)
  writeKeys(b, range(10, 20), 3)
  const c3 = await checkpoint(b, 3, t.storage)
  const c2Paths = new Set(Object.values(c2.handle.sharedFiles).map((f) => f.path))
  assert.ok(Object.values(c3.handle.sharedFiles).every((f) => !c2Paths.has(f.path)), 'no file of the aborted checkpoint is referred to')

  // Confirmed: the next checkpoint refers to its SSTs.
  b.notifyCheckpointComplete(3)
  writeKeys(b, range(10, 40), 4)
  const c4 = await checkpoint(b, 4, t.storage)
  const reused = Object.entries(c4.handle.sharedFiles).filter(([name, f]) => c3.handle.sharedFiles[name]?.path === f.path)
  assert.ok(reused.length > 0, 'checkpoint 4 refers to the files of confirmed checkpoint 3')
  assert.equal(c4.run.stats.reusedFiles, reused.length)
  // A late confirmation of an older checkpoint does not move the base back.
  b.notifyCheckpointComplete(4)
  b.notifyCheckpointComplete(1)
  writeKeys(b, range(5), 5)
  const c5 = await checkpoint(b, 5, t.storage)
  const c4Paths = new Set(Object.values(c4.handle.sharedFiles).map((f) => f.path))
  assert.ok(Object.values(c5.handle.sharedFiles).some((f) => c4Paths.has(f.path)))
  assert.ok(Object.values(c5.handle.sharedFiles).every((f) => !Object.values(c1.handle.sharedFiles).some((o) => o.path === f.path) || c4Paths.has(f.path)))
  await b.close()
}))

test('a confirmation that arrives while the checkpoint is still uploading takes effect when it finishes', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  const run = b.snapshot(1, { type: 'checkpoint', storage: t.storage })
  b.notifyCheckpointComplete(1)
  const h1 = incremental((await run.done).handle)
  writeKeys(b, range(5), 2)
  const c2 = await checkpoint(b, 2, t.storage)
  assert.ok(Object.entries(c2.handle.sharedFiles).some(([name, f]) => h1.sharedFiles[name]?.path === f.path))
  await b.close()
}))

test('a checkpoint aborted while it uploads never becomes the base', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  const run = b.snapshot(1, { type: 'checkpoint', storage: t.storage })
  b.notifyCheckpointAborted(1)
  const h1 = incremental((await run.done).handle)
  // A late confirmation of the aborted checkpoint does not revive it either.
  b.notifyCheckpointComplete(1)
  writeKeys(b, range(5), 2)
  const c2 = await checkpoint(b, 2, t.storage)
  assert.equal(c2.run.stats.reusedFiles, 0)
  const h1Paths = new Set(filesOf(h1).map((f) => f.path))
  assert.ok(filesOf(c2.handle).every((f) => !h1Paths.has(f.path)))
  await b.close()
}))

test('forceFullUpload uploads every SST again and refers to no earlier upload', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  b.notifyCheckpointComplete(1)
  writeKeys(b, range(3), 2)
  const c2 = await checkpoint(b, 2, t.storage, { forceFullUpload: true })
  // Files this backend uploaded itself may still be referred to: only restored files are off limits.
  assert.ok(c2.run.stats.reusedFiles > 0)
  await b.close()

  // Restored from c1 (another job's files): a forced checkpoint uploads everything.
  const r = await openIncremental(t.dir('r'), { restoreFrom: [c1.handle], storage: t.storage })
  writeKeys(r, range(3), 3)
  const forced = await checkpoint(r, 10, t.storage, { forceFullUpload: true })
  assert.equal(forced.run.stats.reusedFiles, 0)
  const c1Paths = new Set(filesOf(c1.handle).map((f) => f.path))
  assert.ok(filesOf(forced.handle).every((f) => !c1Paths.has(f.path)))
  // Without the flag, the restored SSTs are the base.
  const normal = await checkpoint(r, 11, t.storage)
  assert.ok(normal.run.stats.reusedFiles > 0)
  await r.close()
}))

test('several checkpoints in flight each hold the state of their own barrier', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(200), 1)
  const run1 = b.snapshot(1, { type: 'checkpoint', storage: t.storage })
  writeKeys(b, range(50), 2)
  const run2 = b.snapshot(2, { type: 'checkpoint', storage: t.storage })
  assert.throws(() => b.snapshot(2, { type: 'checkpoint', storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  writeKeys(b, range(200), 3)
  const [r1, r2] = await Promise.all([run1.done, run2.done])
  b.notifyCheckpointComplete(2)
  b.notifyCheckpointComplete(1)
  await b.close()
  for (const [h, gen] of [[r1.handle, (i: number) => (i < 200 ? 1 : undefined)], [r2.handle, (i: number) => (i < 50 ? 2 : i < 200 ? 1 : undefined)]] as const) {
    const r = await openIncremental(t.dir(`r${incremental(h).checkpointId}`), { restoreFrom: [h!], storage: t.storage })
    checkKeys(r, 220, gen)
    await r.close()
  }
}))

test('cancel in the middle of the upload deletes every file of the run; the backend works on', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  b.notifyCheckpointComplete(1)
  const before = await storedPaths(t.storage)
  writeKeys(b, range(100), 2)
  let uploads = 0
  const afterUpload: SnapshotHooks['afterUpload'] = ({ run }) => {
    if (++uploads === 2) run.cancel()
  }
  const run = b.snapshot(2, { type: 'checkpoint', storage: t.storage, hooks: { afterUpload } })
  await assert.rejects(run.done, (e: unknown) => e instanceof CancelledError)
  assert.ok(uploads >= 2, 'the run was cancelled after uploading files')
  b.notifyCheckpointAborted(2)
  // Nothing the cancelled run wrote is left; c1's files are untouched.
  assert.deepEqual(await storedPaths(t.storage), before)
  assert.deepEqual(await readdir(join(t.dir('a'), 'checkpoints')), [])

  // A failing upload (a hook that throws) cleans up the same way.
  const beforeMetaFile = (): never => {
    throw new Error('storage went away')
  }
  await assert.rejects(b.snapshot(3, { type: 'checkpoint', storage: t.storage, hooks: { beforeMetaFile } }).done, /storage went away/)
  assert.deepEqual(await storedPaths(t.storage), before)

  writeKeys(b, range(10), 4)
  const c4 = await checkpoint(b, 4, t.storage)
  // The cancelled and failed runs were never a base: c4 refers to c1's files only.
  assert.ok(Object.values(c4.handle.sharedFiles).every((f) => before.includes(f.path) || !filesOf(c1.handle).some((o) => o.path === f.path)))
  await b.close()
  const r = await openIncremental(t.dir('r'), { restoreFrom: [c4.handle], storage: t.storage })
  checkKeys(r, 300, (i) => (i < 10 ? 4 : i < 100 ? 2 : 1))
  await r.close()
}))

test('cancel reaches the uploads in flight through their signal: an upload running at the cancel stops and writes nothing', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  let run: ReturnType<typeof b.snapshot> | undefined
  const outcomes: Promise<string>[] = []
  /** The real file system storage; the first upload cancels the run after it has started, before it copies a byte. */
  class CancellingStorage extends FileSystemCheckpointStorage {
    override upload(...args: Parameters<FileSystemCheckpointStorage['upload']>): ReturnType<FileSystemCheckpointStorage['upload']> {
      const first = outcomes.length === 0
      const result = super.upload(...args)
      if (first) run!.cancel()
      outcomes.push(result.then(() => 'stored', (e: unknown) => (isKeyedStateError(e) ? e.code : String(e))))
      return result
    }
  }
  const storage = new CancellingStorage(join(t.root, 'storage'))
  run = b.snapshot(1, { type: 'checkpoint', storage })
  await assert.rejects(run.done, (e: unknown) => e instanceof CancelledError)
  assert.ok(outcomes.length >= 1)
  assert.equal(await outcomes[0], 'CANCELLED', 'the upload in flight saw the cancel')
  assert.deepEqual(await storedPaths(storage), [])
  b.notifyCheckpointAborted(1)
  await b.close()
}))

test('close() cancels a checkpoint in flight and removes its native checkpoint directory', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(300), 1)
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const run = b.snapshot(1, { type: 'checkpoint', storage: t.storage, hooks: { afterUpload: () => gate } })
  const closing = b.close()
  release()
  await closing
  await assert.rejects(run.done, (e: unknown) => e instanceof CancelledError)
  assert.deepEqual(await storedPaths(t.storage), [])
  assert.deepEqual(await readdir(join(t.dir('a'), 'checkpoints')).catch(() => []), [])
  // The working directory reopens with its data.
  const again = await openIncremental(t.dir('a'))
  checkKeys(again, 300, () => 1)
  await again.close()
}))

test('savepoints stay full and canonical in incremental mode; checkpointMode is checked', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(50), 1)
  const { handle } = await b.snapshot(1, { type: 'savepoint', storage: t.storage }).done
  assert.equal(handle?.type, 'full')
  await b.close()
  await assert.rejects(openIncremental(t.dir('b'), { checkpointMode: 'incremantal' as never }), (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  const full = await openIncremental(t.dir('c'), { checkpointMode: 'full' })
  writeKeys(full, range(5), 1)
  assert.equal((await full.snapshot(1, { type: 'checkpoint', storage: t.storage }).done).handle?.type, 'full')
  await full.close()
}))
