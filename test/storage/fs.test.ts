import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { isKeyedStateError } from '../../src/errors.js'
import { normalizeStoragePath } from '../../src/storage/paths.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'

const dirs: string[] = []
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ks-storage-'))
  dirs.push(d)
  return d
}
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

test('layout: exclusive, shared, task-owned and savepoint scopes', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const scopes = [
    [{ kind: 'exclusive', checkpointId: 12 }, 'chk-12/f'],
    [{ kind: 'shared' }, 'shared/f'],
    [{ kind: 'taskowned' }, 'taskowned/f'],
    [{ kind: 'savepoint', dir: 'savepoints/sp-a/' }, 'savepoints/sp-a/f'],
  ] as const
  for (const [scope, path] of scopes) {
    const out = await storage.create(scope, 'f')
    assert.equal(out.path, path)
    await out.write(Buffer.from('hello'))
    assert.equal(out.bytesWritten, 5)
    assert.equal(await out.commit(), 5)
    assert.equal((await storage.read(path)).toString(), 'hello')
  }
  assert.deepEqual((await storage.list('')).map((e) => e.path), ['chk-12/f', 'savepoints/sp-a/f', 'shared/f', 'taskowned/f'])
  assert.deepEqual((await storage.list('chk-12')).map((e) => [e.path, e.sizeBytes]), [['chk-12/f', 5]])
  assert.deepEqual(await storage.list('nothing-here'), [])
})

test('a file is invisible under its final name until commit; discard removes it before or after commit', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'data.kss')
  await out.write(Buffer.alloc(1000, 1))
  assert.equal(await storage.exists('chk-1/data.kss'), false)
  const staged = await readdir(join(root, 'chk-1'))
  assert.equal(staged.length, 1)
  assert.match(staged[0]!, /^\.data\.kss\.[0-9a-f]+\.tmp$/)
  await out.discard()
  assert.deepEqual(await readdir(join(root, 'chk-1')), [])
  await out.discard() // idempotent
  await assert.rejects(out.write(Buffer.from('x')), (e: unknown) => isKeyedStateError(e, 'CLOSED'))

  const kept = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'kept')
  await kept.write(Buffer.from('abc'))
  await kept.commit()
  assert.deepEqual(await readdir(join(root, 'chk-1')), ['kept'])
  await kept.discard()
  assert.deepEqual(await readdir(join(root, 'chk-1')), [])
})

test('reads: whole file, ranges (short at the end), streams from an offset, size, exists', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const data = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => i % 251))
  await storage.writeAtomic('dir/blob', data)
  assert.deepEqual(await storage.read('dir/blob'), data)
  assert.deepEqual(await storage.readRange('dir/blob', 10, 20), data.subarray(10, 30))
  assert.deepEqual(await storage.readRange('dir/blob', data.length - 5, 20), data.subarray(data.length - 5))
  assert.deepEqual(await collect(storage.openReadStream('dir/blob', 1_000_000)), data.subarray(1_000_000))
  assert.equal(await storage.size('dir/blob'), data.length)
  assert.equal(await storage.exists('dir/blob'), true)
  assert.equal(await storage.exists('dir/other'), false)
  await storage.writeAtomic('dir/blob', Buffer.from('replaced'))
  assert.equal((await storage.read('dir/blob')).toString(), 'replaced')
  await storage.delete('dir/blob')
  await storage.delete('dir/blob') // deleting twice is fine
  assert.equal(await storage.exists('dir/blob'), false)
})

test('upload copies a local file and reports its CRC-32; download copies it back', async () => {
  const root = await tempDir()
  const local = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const data = Buffer.from(Array.from({ length: 2_500_000 }, (_, i) => (i * 7) % 256))
  await writeFile(join(local, '000042.sst'), data)
  const up = await storage.upload({ kind: 'shared' }, '000042.sst', join(local, '000042.sst'))
  assert.deepEqual(up, { path: 'shared/000042.sst', sizeBytes: data.length, crc32: crc32(data) >>> 0 })
  await storage.download(up.path, join(local, 'restore', 'copy.sst'))
  assert.deepEqual(await readFile(join(local, 'restore', 'copy.sst')), data)
  await assert.rejects(storage.upload({ kind: 'shared' }, 'x.sst', join(local, 'missing.sst')), (e: unknown) => isKeyedStateError(e, 'MISSING_FILE') && e.message.includes('missing.sst'))
  assert.equal(await storage.exists('shared/x.sst'), false)
})

test('missing files are MISSING_FILE errors naming the file', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  for (const op of [
    () => storage.read('chk-1/gone'),
    () => storage.readRange('chk-1/gone', 0, 1),
    () => storage.size('chk-1/gone'),
    () => storage.download('chk-1/gone', join(tmpdir(), 'never')),
    () => collect(storage.openReadStream('chk-1/gone')),
  ]) {
    await assert.rejects(op(), (e: unknown) => isKeyedStateError(e, 'MISSING_FILE') && e.message.includes('chk-1/gone') && e.file!.endsWith('gone'))
  }
})

test('every method refuses absolute paths and paths that escape the root', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const bad = ['../x', 'a/../../x', '/etc/passwd', '..', 'a\\..\\..\\x', 'C:\\x', '', '.', 'a/\0b']
  const escapes = (e: unknown) => isKeyedStateError(e, 'PATH_ESCAPE')
  for (const p of bad) {
    await assert.rejects(storage.read(p), escapes, p)
    await assert.rejects(storage.readRange(p, 0, 1), escapes, p)
    await assert.rejects(storage.size(p), escapes, p)
    await assert.rejects(storage.exists(p), escapes, p)
    await assert.rejects(storage.delete(p), escapes, p)
    await assert.rejects(storage.writeAtomic(p, Buffer.from('x')), escapes, p)
    await assert.rejects(storage.download(p, join(root, 'y')), escapes, p)
    assert.throws(() => storage.openReadStream(p), escapes, p)
    assert.throws(() => storage.localPath(p), escapes, p)
    if (p !== '' && p !== '.') await assert.rejects(storage.list(p), escapes, p)
    await assert.rejects(storage.create({ kind: 'savepoint', dir: p }, 'f'), escapes, p)
  }
  for (const name of ['a/b', '..', '.', '', 'x\\y']) await assert.rejects(storage.create({ kind: 'shared' }, name), escapes, name)
  await assert.rejects(storage.upload({ kind: 'shared' }, '../evil', '/etc/hostname'), escapes)
  assert.equal(normalizeStoragePath('a/./b//c/'), 'a/b/c')
  assert.equal(normalizeStoragePath('a/../b'), 'b')
  assert.deepEqual(await readdir(root), [])
})

test('property: any accepted path resolves inside the root', () => {
  const storage = new FileSystemCheckpointStorage('/tmp/ks-root')
  fc.assert(
    fc.property(fc.array(fc.constantFrom('a', 'b', '..', '.', '', 'c.d', '...'), { maxLength: 8 }), (segments) => {
      const p = segments.join('/')
      try {
        const abs = storage.localPath(p)
        assert.ok(abs.startsWith('/tmp/ks-root/'), `${p} → ${abs}`)
      } catch (e) {
        assert.ok(isKeyedStateError(e, 'PATH_ESCAPE'), String(e))
      }
    }),
  )
})

test('list skips nothing it should see and follows no deleted entries', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  await storage.writeAtomic('chk-1/a', Buffer.from('1'))
  await storage.writeAtomic('chk-1/sub/b', Buffer.from('22'))
  await symlink('/nonexistent-target', join(root, 'chk-1', 'dangling'))
  assert.deepEqual((await storage.list('chk-1')).map((e) => [e.path, e.sizeBytes]), [['chk-1/a', 1], ['chk-1/sub/b', 2]])
  await storage.deleteDirectory('chk-1')
  assert.deepEqual(await storage.list(''), [])
})
