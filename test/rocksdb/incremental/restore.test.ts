// Restore from incremental handles: one handle opened in place and clipped,
// the base the restored backend keeps, bad and damaged handles, and a check
// that a checkpoint is a RocksDB database by RocksDB's own tool.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { rm, writeFile, readFile, appendFile } from 'node:fs/promises'
import { test } from 'node:test'
import { isKeyedStateError } from '../../../src/errors.js'
import { keyGroupRangeForOperator } from '../../../src/keygroups.js'
import type { IncrementalSnapshotHandle } from '../../../src/snapshot/types.js'
import { rawEntries, withRawDb } from '../helpers.js'
import { checkpoint, checkpointedKeys, checkKeys, keyName, openIncremental, owns, range, withTestDirs, writeKeys } from './helpers.js'

test('restore from one handle equals the source; the next checkpoint refers to the restored SSTs and keeps the backend id', () => withTestDirs(async (t) => {
  const b = await openIncremental(t.dir('a'))
  writeKeys(b, range(1000), 1)
  writeKeys(b, range(100), 2)
  const c1 = await checkpoint(b, 1, t.storage)
  // Writes after the barrier are not restored.
  writeKeys(b, range(1000), 9)
  await b.close()

  const r = await openIncremental(t.dir('r'), { restoreFrom: [c1.handle], storage: t.storage })
  assert.equal(r.incrementalRestoreStats?.mode, 'direct')
  assert.equal(r.incrementalRestoreStats?.clippedKeyGroups, 0)
  assert.equal(r.backendId, c1.handle.backendId)
  checkKeys(r, 1100, (i) => (i < 100 ? 2 : i < 1000 ? 1 : undefined))
  assert.deepEqual(new Set(r.keys('value')), new Set(range(1000).map(keyName)))
  writeKeys(r, range(10), 3)
  const c2 = await checkpoint(r, 2, t.storage)
  assert.equal(c2.handle.backendId, c1.handle.backendId)
  const reused = Object.entries(c2.handle.sharedFiles).filter(([name, f]) => c1.handle.sharedFiles[name]?.path === f.path)
  assert.ok(reused.length > 0, 'the restored SST set is the base of the next checkpoint')
  assert.ok(c2.run.stats.uploadedBytes < c1.run.stats.uploadedBytes / 2)
  await r.close()

  const again = await openIncremental(t.dir('r2'), { restoreFrom: [c2.handle], storage: t.storage })
  checkKeys(again, 1100, (i) => (i < 10 ? 3 : i < 100 ? 2 : i < 1000 ? 1 : undefined))
  await again.close()
  await assert.rejects(
    openIncremental(t.dir('r3'), { restoreFrom: [c2.handle], storage: t.storage, maxParallelism: 64 }),
    (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /^cannot restore an incremental snapshot of checkpoint 2 taken with maxParallelism 128 /.test(e.message),
  )
}))

test('restore of a sub-range clips the other key groups: they are gone from every column family', () => withTestDirs(async (t) => {
  const c1 = await checkpointedKeys(t, 600)
  for (let op = 0; op < 2; op++) {
    const keyGroupRange = keyGroupRangeForOperator(128, 2, op)
    const dir = t.dir(`r${op}`)
    const r = await openIncremental(dir, { keyGroupRange, restoreFrom: [c1.handle], storage: t.storage })
    assert.equal(r.incrementalRestoreStats?.mode, 'direct')
    assert.equal(r.incrementalRestoreStats?.clippedKeyGroups, 64)
    // Two instances restored from one handle are two lineages: each gets its own id.
    assert.notEqual(r.backendId, c1.handle.backendId)
    checkKeys(r, 600, () => 1)
    const mine = range(600).map(keyName).filter((k) => owns(keyGroupRange, k))
    assert.deepEqual([...r.keys('value')].sort(), mine.sort())
    // An incremental checkpoint of the clipped backend restores to the same state.
    writeKeys(r, range(20), 2)
    const c2 = await checkpoint(r, 2, t.storage)
    assert.deepEqual(c2.handle.keyGroupRange, keyGroupRange)
    await r.close()
    // Below the API: no entry of another key group is left visible in the database.
    withRawDb(dir, (db) => {
      for (const cf of ['s:value', 's:map']) {
        for (const { key } of rawEntries(db, cf)) {
          const kg = key.readUInt16BE(0)
          assert.ok(kg >= keyGroupRange.start && kg <= keyGroupRange.end, `${cf} still shows key group ${kg}`)
        }
      }
    })
    const again = await openIncremental(t.dir(`again${op}`), { keyGroupRange, restoreFrom: [c2.handle], storage: t.storage })
    checkKeys(again, 600, (i) => (i < 20 ? 2 : 1))
    await again.close()
  }
}))

test('a missing shared SST is reported by name before anything is opened, also when rescaling', () => withTestDirs(async (t) => {
  const c1 = await checkpointedKeys(t, 300)
  const [name, file] = Object.entries(c1.handle.sharedFiles)[0]!
  await t.storage.delete(file.path)
  await assert.rejects(openIncremental(t.dir('r'), { restoreFrom: [c1.handle], storage: t.storage }), (e: unknown) => {
    assert.ok(isKeyedStateError(e, 'MISSING_FILE'), String(e))
    assert.ok(e.message.includes(name) && e.message.includes(file.path), e.message)
    assert.equal(e.file, file.path)
    return true
  })

  // Two instances, restored into one: the handles are opened as temporary databases.
  const handles: IncrementalSnapshotHandle[] = []
  for (let op = 0; op < 2; op++) {
    const p = await openIncremental(t.dir(`p${op}`), { keyGroupRange: keyGroupRangeForOperator(128, 2, op) })
    writeKeys(p, range(300), 1)
    handles.push((await checkpoint(p, 2, t.storage)).handle)
    await p.close()
  }
  const [name2, file2] = Object.entries(handles[1]!.sharedFiles)[0]!
  await t.storage.delete(file2.path)
  await assert.rejects(openIncremental(t.dir('r2'), { restoreFrom: handles, storage: t.storage }), (e: unknown) => {
    assert.ok(isKeyedStateError(e, 'MISSING_FILE'), String(e))
    assert.ok(e.message.includes(name2) && e.message.includes(file2.path), e.message)
    return true
  })
}))

test('damaged files are refused with CHECKSUM_MISMATCH naming them; forged names and paths are refused', () => withTestDirs(async (t) => {
  const c1 = await checkpointedKeys(t, 300)
  const h = c1.handle
  const [name, file] = Object.entries(h.sharedFiles)[0]!
  const abs = t.storage.localPath(file.path)
  const original = await readFile(abs)

  // Same size, one byte flipped: the CRC catches it.
  const flipped = Buffer.from(original)
  flipped[Math.floor(flipped.length / 2)]! ^= 0x40
  await writeFile(abs, flipped)
  await assert.rejects(openIncremental(t.dir('r1'), { restoreFrom: [h], storage: t.storage }), (e: unknown) => {
    assert.ok(isKeyedStateError(e, 'CHECKSUM_MISMATCH'), String(e))
    assert.ok(e.message.includes(name), e.message)
    return true
  })
  // Longer than recorded.
  await writeFile(abs, original)
  await appendFile(abs, 'x')
  await assert.rejects(openIncremental(t.dir('r2'), { restoreFrom: [h], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'CHECKSUM_MISMATCH') && e.message.includes(name))
  await writeFile(abs, original)
  // A damaged meta file.
  const metaAbs = t.storage.localPath(h.metaFile.path)
  const meta = await readFile(metaAbs)
  await writeFile(metaAbs, Buffer.from(meta.toString().replace('"s:map"', '"s:mop"')))
  await assert.rejects(openIncremental(t.dir('r3'), { restoreFrom: [h], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'CHECKSUM_MISMATCH') && e.message.includes('meta file'))
  await writeFile(metaAbs, meta)

  // Forged handles: a path outside the storage root, a file name that would leave the working directory.
  const escaping: IncrementalSnapshotHandle = { ...h, sharedFiles: { ...h.sharedFiles, [name]: { ...file, path: '../../etc/passwd' } } }
  await assert.rejects(openIncremental(t.dir('r4'), { restoreFrom: [escaping], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'PATH_ESCAPE'))
  const badName: IncrementalSnapshotHandle = { ...h, sharedFiles: { '../../evil.sst': file } }
  await assert.rejects(openIncremental(t.dir('r5'), { restoreFrom: [badName], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'CORRUPTION'))
  const noCurrent: IncrementalSnapshotHandle = { ...h, privateFiles: Object.fromEntries(Object.entries(h.privateFiles).filter(([n]) => n !== 'CURRENT')) }
  await assert.rejects(openIncremental(t.dir('r6'), { restoreFrom: [noCurrent], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'CORRUPTION'))
  // A failed restore leaves no half-restored database behind; the intact handle still restores there.
  const r = await openIncremental(t.dir('r1'), { restoreFrom: [h], storage: t.storage })
  checkKeys(r, 300, () => 1)
  await r.close()
}))

test('restore refuses uncovered key groups and a key serializer that cannot read the keys', () => withTestDirs(async (t) => {
  const c1 = await checkpointedKeys(t, 100, { keyGroupRange: { start: 0, end: 63 } })
  await assert.rejects(openIncremental(t.dir('r'), { restoreFrom: [c1.handle], storage: t.storage }), (e: unknown) => {
    assert.ok(isKeyedStateError(e, 'NOT_FOUND'), String(e))
    assert.ok(e.message.includes('64..127'), e.message)
    return true
  })
  const { int32Serializer } = await import('../../../src/serializers/primitives.js')
  const { openRocksDBBackend } = await import('../../../src/backends/rocksdb/backend.js')
  await assert.rejects(
    openRocksDBBackend({ kind: 'rocksdb', dir: t.dir('r2'), keySerializer: int32Serializer, maxParallelism: 128, keyGroupRange: { start: 0, end: 63 }, restoreFrom: [c1.handle], storage: t.storage }),
    (e: unknown) => isKeyedStateError(e, 'SERIALIZER_MISMATCH'),
  )
}))

test('a checkpoint restored from storage is a valid RocksDB database (ldb list_column_families)', async (ctx) => {
  const probe = spawnSync('ldb', ['--version'], { encoding: 'utf8' })
  if (probe.error) {
    ctx.skip('ldb (Debian package rocksdb-tools) is not installed')
    return
  }
  await withTestDirs(async (t) => {
    const c1 = await checkpointedKeys(t, 200)
    // Exactly the handle's files, under their RocksDB names, in a fresh directory.
    const dir = t.dir('downloaded')
    const { placeHandleFiles, emptyPlacementStats } = await import('../../../src/backends/rocksdb/incremental-files.js')
    await placeHandleFiles(c1.handle, t.storage, undefined, dir, emptyPlacementStats())
    const out = spawnSync('ldb', [`--db=${dir}`, 'list_column_families'], { encoding: 'utf8' })
    assert.equal(out.status, 0, out.stderr)
    for (const cf of ['default', '_meta', 's:value', 's:map']) assert.ok(out.stdout.includes(cf), `${cf} in ${out.stdout}`)
    const scan = spawnSync('ldb', [`--db=${dir}`, '--column_family=s:value', 'scan', '--max_keys=5'], { encoding: 'utf8' })
    assert.equal(scan.status, 0, scan.stderr)
    assert.ok(scan.stdout.trim().split('\n').length >= 1)
    await rm(dir, { recursive: true, force: true })
  })
})

test('key groups of instances that held no state count as covered when the restore knows them as empty', () => withTestDirs(async (t) => {
  const left = keyGroupRangeForOperator(128, 2, 0)
  const right = keyGroupRangeForOperator(128, 2, 1)
  const c1 = await checkpointedKeys(t, 200, { keyGroupRange: left })
  await assert.rejects(openIncremental(t.dir('r1'), { restoreFrom: [c1.handle], storage: t.storage }), (e: unknown) => isKeyedStateError(e, 'NOT_FOUND'))
  const r = await openIncremental(t.dir('r2'), { restoreFrom: [c1.handle], storage: t.storage, knownEmptyRanges: [right] })
  // One handle holds everything there is: opened in place, nothing to clip.
  assert.equal(r.incrementalRestoreStats?.mode, 'direct')
  checkKeys(r, 200, (i) => (owns(left, keyName(i)) ? 1 : undefined))
  writeKeys(r, range(200), 2)
  const c2 = await checkpoint(r, 2, t.storage)
  await r.close()
  const again = await openIncremental(t.dir('r3'), { restoreFrom: [c2.handle], storage: t.storage })
  checkKeys(again, 200, () => 2)
  await again.close()
}))
