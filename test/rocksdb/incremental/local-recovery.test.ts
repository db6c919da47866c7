// Local recovery of incremental checkpoints: the native checkpoint directory
// is kept as the local copy, dropped when a newer checkpoint completes, used
// by restore when its files are intact, and replaced file by file from
// storage when they are not.
import assert from 'node:assert/strict'
import { readdir, stat, truncate, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { LOCAL_META_FILE_NAME } from '../../../src/backends/rocksdb/incremental-meta-file.js'
import type { LocalStateHandle } from '../../../src/snapshot/types.js'
import { checkpoint, checkKeys, filesOf, openIncremental, range, restoreStats, withTestDirs, writeKeys } from './helpers.js'

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

test('the native checkpoint directory is the local copy; restore prefers it and falls back per file', () => withTestDirs(async (t) => {
  const localRecoveryDir = t.dir('local')
  const b = await openIncremental(t.dir('a'), { localRecoveryDir })
  writeKeys(b, range(400), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  const local = c1.result.localHandle
  assert.ok(local)
  assert.equal(local.type, 'local-incremental')
  assert.equal(local.checkpointId, 1)
  assert.deepEqual(local.handle, c1.handle)
  const names = await readdir(local.directory)
  for (const name of [...Object.keys(c1.handle.sharedFiles), ...Object.keys(c1.handle.privateFiles), LOCAL_META_FILE_NAME]) assert.ok(names.includes(name), name)
  // No temporary checkpoint directory in the working directory: the local copy is the checkpoint.
  assert.deepEqual(await readdir(join(t.dir('a'), 'checkpoints')).catch(() => []), [])
  await b.close()

  // Valid local copy: nothing is downloaded — it even works with the storage copies of the data gone.
  const fileCount = Object.keys(c1.handle.sharedFiles).length + Object.keys(c1.handle.privateFiles).length
  for (const f of filesOf(c1.handle)) await t.storage.delete(f.path)
  const localOnly = await restoreStats(async () => {
    const r = await openIncremental(t.dir('r1'), { restoreFrom: [c1.handle], localRestoreFrom: [local], storage: t.storage })
    checkKeys(r, 400, () => 1)
    await r.close()
    return r
  })
  assert.equal(localOnly.localFiles, fileCount)
  assert.equal(localOnly.downloadedFiles, 0)
  // The restore used the local copy without changing it.
  for (const name of Object.keys(c1.handle.sharedFiles)) assert.equal((await stat(join(local.directory, name))).size, c1.handle.sharedFiles[name]!.sizeBytes)
}))

test('a local copy with a missing or shortened file falls back to storage for that file', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'), { localRecoveryDir: t.dir('local') })
  writeKeys(b, range(400), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  writeKeys(b, range(50), 2)
  const c2 = await checkpoint(b, 2, t.storage)
  await b.close()
  const local1 = c1.result.localHandle!
  const local2 = c2.result.localHandle!
  const ssts = Object.keys(c2.handle.sharedFiles)
  await unlink(join(local2.directory, ssts[0]!))
  await truncate(join(local2.directory, 'CURRENT'), 1)
  const stats = await restoreStats(async () => {
    const r = await openIncremental(t.dir('r'), { restoreFrom: [c2.handle], localRestoreFrom: [local1, local2], storage: t.storage })
    checkKeys(r, 400, (i) => (i < 50 ? 2 : 1))
    await r.close()
    return r
  })
  assert.equal(stats.downloadedFiles, 2)
  assert.ok(stats.localFiles > 0)

  // A local copy of another checkpoint is never taken for this one.
  const other = await restoreStats(async () => {
    const r = await openIncremental(t.dir('r2'), { restoreFrom: [c2.handle], localRestoreFrom: [local1], storage: t.storage })
    await r.close()
    return r
  })
  assert.equal(other.localFiles, 0)
}))

test('older local copies go when a newer checkpoint completes, aborted ones at once; savepoints keep none', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'), { localRecoveryDir: t.dir('local') })
  const copies: LocalStateHandle[] = []
  for (let id = 1; id <= 3; id++) {
    writeKeys(b, range(100), id)
    copies.push((await checkpoint(b, id, t.storage)).result.localHandle!)
  }
  b.notifyCheckpointAborted(3)
  b.notifyCheckpointComplete(2)
  const savepoint = await b.snapshot(4, { type: 'savepoint', storage: t.storage }).done
  assert.equal(savepoint.localHandle, undefined)
  // Deletions run in the background; close() waits for them.
  await b.close()
  assert.deepEqual(await Promise.all(copies.map((c) => exists(c.directory))), [false, true, false])
  assert.deepEqual((await readdir(t.dir('local'))).sort(), ['chk-2'])
}))

test('a local copy restores into a sub-range too (hard links, then clipped)', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'), { localRecoveryDir: t.dir('local') })
  writeKeys(b, range(300), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  await b.close()
  for (const [i, keyGroupRange] of [{ start: 0, end: 40 }, { start: 41, end: 127 }].entries()) {
    const stats = await restoreStats(async () => {
      const r = await openIncremental(t.dir(`r${i}`), { keyGroupRange, restoreFrom: [c1.handle], localRestoreFrom: [c1.result.localHandle!], storage: t.storage })
      checkKeys(r, 300, () => 1)
      await r.close()
      return r
    })
    assert.equal(stats.mode, 'direct')
    assert.equal(stats.downloadedFiles, 0)
  }
}))

test('a savepoint completing keeps the local copy of the last checkpoint; an abort during the upload drops its copy', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'), { localRecoveryDir: t.dir('local') })
  writeKeys(b, range(100), 1)
  const c1 = await checkpoint(b, 1, t.storage)
  b.notifyCheckpointComplete(1)
  await b.snapshot(2, { type: 'savepoint', storage: t.storage }).done
  b.notifyCheckpointComplete(2)
  assert.equal(await exists(c1.result.localHandle!.directory), true, 'a savepoint replaces no local copy')

  writeKeys(b, range(10), 3)
  const run3 = b.snapshot(3, { type: 'checkpoint', storage: t.storage })
  b.notifyCheckpointAborted(3)
  const r3 = await run3.done
  assert.equal(r3.localHandle, undefined)
  // Confirmed while uploading: applied once the upload finished.
  const run4 = b.snapshot(4, { type: 'checkpoint', storage: t.storage })
  b.notifyCheckpointComplete(4)
  const r4 = await run4.done
  await b.close()
  assert.equal(await exists(c1.result.localHandle!.directory), false, 'checkpoint 4 completed: the copy of 1 is gone')
  assert.equal(await exists(r4.localHandle!.directory), true)
  assert.deepEqual((await readdir(t.dir('local'))).sort(), ['chk-4'])
}))
