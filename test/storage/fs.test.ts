// FileSystemCheckpointStorage: the storage conformance suite, plus what only a
// local directory has (temporary file names on disk, local paths, directory
// deletes, a root that is itself a symbolic link).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { isKeyedStateError, type ErrorCode } from '../../src/errors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { normalizeStoragePath } from '../../src/storage/paths.js'
import { storageSuite } from './suite/index.js'
import { hasCode } from './suite/helpers.js'

storageSuite({
  name: 'fs',
  supports: { localSymlinks: true },
  async open() {
    const base = await mkdtemp(join(tmpdir(), 'ks-storage-'))
    const root = join(base, 'root')
    return {
      storage: new FileSystemCheckpointStorage(root),
      parent: new FileSystemCheckpointStorage(base),
      rootName: 'root',
      root,
      cleanup: () => rm(base, { recursive: true, force: true }),
    }
  },
})

const dirs: string[] = []
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ks-storage-'))
  dirs.push(d)
  return d
}
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

test('fs: a file being written is a hidden temporary file in its final directory', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'data.kss')
  await out.write(Buffer.alloc(1000, 1))
  const staged = await readdir(join(root, 'chk-1'))
  assert.equal(staged.length, 1)
  assert.match(staged[0]!, /^\.data\.kss\.[0-9a-f]+\.tmp$/)
  await out.discard()
  assert.deepEqual(await readdir(join(root, 'chk-1')), [])
})

test('fs: the root is created on the first write, and a missing root lists nothing', async () => {
  const root = join(await tempDir(), 'not', 'yet')
  const storage = new FileSystemCheckpointStorage(root)
  assert.deepEqual(await storage.list(''), [])
  assert.equal(await storage.exists('chk-1/x'), false)
  await assert.rejects(storage.read('chk-1/x'), hasCode('MISSING_FILE'))
  await storage.writeAtomic('chk-1/x', Buffer.from('1'))
  assert.equal(await readFile(join(root, 'chk-1', 'x'), 'utf8'), '1')
})

test('fs: a root that is itself a symbolic link is the user\'s choice and works', async () => {
  const base = await tempDir()
  await mkdir(join(base, 'real'))
  await symlink(join(base, 'real'), join(base, 'link'))
  const storage = new FileSystemCheckpointStorage(join(base, 'link'))
  const out = await storage.create({ kind: 'shared' }, 'a.sst')
  await out.write(Buffer.from('abc'))
  await out.commit()
  await storage.writeAtomic('chk-1/_metadata', Buffer.from('{}'))
  assert.deepEqual((await storage.list('')).map((e) => e.path).sort(), ['chk-1/_metadata', 'shared/a.sst'])
  assert.equal((await storage.read('shared/a.sst')).toString(), 'abc')
  assert.deepEqual(await readdir(join(base, 'real', 'shared')), ['a.sst'])
  await storage.delete('shared/a.sst')
  assert.deepEqual(await readdir(join(base, 'real', 'shared')), [])
})

test('fs: deleteDirectory removes a tree, and a link inside it as a link', async () => {
  const root = await tempDir()
  const outside = await tempDir()
  await mkdir(join(outside, 'keep'))
  const storage = new FileSystemCheckpointStorage(root)
  await storage.writeAtomic('chk-1/a', Buffer.from('1'))
  await storage.writeAtomic('chk-1/sub/b', Buffer.from('22'))
  await symlink(join(outside, 'keep'), join(root, 'chk-1', 'sub', 'link'))
  await storage.deleteDirectory('chk-1')
  assert.deepEqual(await storage.list(''), [])
  assert.deepEqual(await readdir(outside), ['keep'])
  await symlink(outside, join(root, 'chk-2'))
  await assert.rejects(storage.deleteDirectory('chk-2/keep'), hasCode('PATH_ESCAPE'))
  assert.deepEqual(await readdir(outside), ['keep'])
})

test('fs: removeEmptyDirectory removes only empty directories inside the root', async () => {
  const root = await tempDir()
  const outside = await tempDir()
  await mkdir(join(outside, 'empty'))
  const storage = new FileSystemCheckpointStorage(root)
  await storage.writeAtomic('chk-1/sub/f', Buffer.from('1'))
  await storage.removeEmptyDirectory('chk-1/sub')
  assert.deepEqual(await readdir(join(root, 'chk-1')), ['sub'], 'not empty: kept')
  await storage.delete('chk-1/sub/f')
  await storage.removeEmptyDirectory('chk-1/sub')
  assert.deepEqual(await readdir(join(root, 'chk-1')), [])
  await symlink(outside, join(root, 'chk-2'))
  await storage.removeEmptyDirectory('chk-2/empty')
  assert.deepEqual(await readdir(outside), ['empty'], 'no directory removed through a link')
})

test('fs: a FIFO or other special file below the root is refused without blocking', async (t) => {
  const root = await tempDir()
  await mkdir(join(root, 'chk-1'))
  try {
    execFileSync('mkfifo', [join(root, 'chk-1', 'pipe')])
  } catch {
    t.skip('mkfifo is not available')
    return
  }
  const storage = new FileSystemCheckpointStorage(root)
  await assert.rejects(storage.read('chk-1/pipe'), hasCode('INVALID_ARGUMENT'))
  await assert.rejects(storage.readRange('chk-1/pipe', 0, 1), hasCode('INVALID_ARGUMENT'))
  await assert.rejects(storage.size('chk-1/pipe'), hasCode('INVALID_ARGUMENT'))
})

test('fs: property: any accepted path resolves inside the root', () => {
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
  assert.equal(normalizeStoragePath('a/./b//c/'), 'a/b/c')
  assert.equal(normalizeStoragePath('a/../b'), 'b')
})

/** Swaps <root>/chk-1 for a link to `outside` and back, as fast as it can, until stopped; tolerates the storage racing it. */
const SWAPPER = `
const fs = require('node:fs')
const { workerData, parentPort } = require('node:worker_threads')
const { root, outside, stop } = workerData
const flag = new Int32Array(stop)
const pause = new Int32Array(new SharedArrayBuffer(4))
let swaps = 0
while (Atomics.load(flag, 0) === 0) {
  try {
    fs.renameSync(root + '/chk-1', root + '/hold')
    fs.symlinkSync(outside, root + '/chk-1')
    Atomics.wait(pause, 0, 0, 0.05)
    fs.unlinkSync(root + '/chk-1')
    fs.renameSync(root + '/hold', root + '/chk-1')
    swaps++
  } catch {
    try { fs.unlinkSync(root + '/chk-1') } catch {}
    try { fs.renameSync(root + '/hold', root + '/chk-1') } catch {}
  }
  Atomics.wait(pause, 0, 0, 0.05)
}
parentPort.postMessage(swaps)
`

test('fs: a directory swapped for a link meanwhile never leads a read, create, delete or list outside (the /proc/self/fd checks)', { skip: process.platform !== 'linux' }, async (t) => {
  const root = await tempDir()
  const outside = await tempDir()
  await writeFile(join(outside, 'f'), 'outside')
  await writeFile(join(outside, 'only-outside'), 'outside')
  const storage = new FileSystemCheckpointStorage(root)
  await storage.writeAtomic('chk-1/f', Buffer.from('inside'))
  const stop = new Int32Array(new SharedArrayBuffer(4))
  const worker = new Worker(SWAPPER, { eval: true, workerData: { root, outside, stop: stop.buffer } })
  const swapped = new Promise<number>((res, rej) => {
    worker.once('message', res)
    worker.once('error', rej)
  })
  const refused = new Map<ErrorCode, number>()
  const allowed = (e: unknown): void => {
    // A racing directory may be missing, replaced or refused at any moment: each of these is a correct answer.
    assert.ok(isKeyedStateError(e) && ['PATH_ESCAPE', 'MISSING_FILE', 'IO_ERROR'].includes(e.code), String(e))
    refused.set(e.code, (refused.get(e.code) ?? 0) + 1)
  }
  try {
    for (let i = 0; i < 600; i++) {
      try {
        assert.equal((await storage.read('chk-1/f')).toString(), 'inside')
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e
        allowed(e)
      }
      try {
        const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, `n${i}`)
        await out.discard()
      } catch (e) {
        allowed(e)
      }
      try {
        assert.ok(!(await storage.list('chk-1')).some((e) => e.path === 'chk-1/only-outside'), 'listed a file outside')
        await storage.delete('chk-1/f')
        await storage.writeAtomic('chk-1/f', Buffer.from('inside'))
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e
        allowed(e)
      }
    }
  } finally {
    Atomics.store(stop, 0, 1)
    t.diagnostic(`swaps ${await swapped}, refused ${JSON.stringify(Object.fromEntries(refused))}`)
  }
  assert.deepEqual((await readdir(outside)).sort(), ['f', 'only-outside'], 'no file created, left or deleted outside')
  assert.equal(await readFile(join(outside, 'f'), 'utf8'), 'outside')
})
