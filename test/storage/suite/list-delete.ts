// Listing and deleting: what list returns (sorted by path, below a directory
// prefix only), and deletes (one at a time or many at once, where a storage
// has deleteMany) that are idempotent and leave everything else alone.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { StorageFactory } from './factory.js'
import { sortedPaths, withStorage } from './helpers.js'

export function listDeleteTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage list and delete`, () => {
    test('list returns every committed file below a prefix with its size', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('chk-1/a', Buffer.from('1'))
        await storage.writeAtomic('chk-1/sub/b', Buffer.from('22'))
        await storage.writeAtomic('chk-10/c', Buffer.from('333'))
        await storage.writeAtomic('top', Buffer.from('4444'))
        const all = await storage.list('')
        assert.deepEqual(all.map((e) => [e.path, e.sizeBytes]).sort(), [['chk-1/a', 1], ['chk-1/sub/b', 2], ['chk-10/c', 3], ['top', 4]])
        assert.ok(all.every((e) => Number.isFinite(e.mtimeMs) && e.mtimeMs > 0))
        // A prefix is a directory, not a string prefix: chk-1 does not include chk-10.
        assert.deepEqual(await sortedPaths(storage, 'chk-1'), ['chk-1/a', 'chk-1/sub/b'])
        assert.deepEqual(await sortedPaths(storage, 'chk-1/'), ['chk-1/a', 'chk-1/sub/b'])
        assert.deepEqual(await sortedPaths(storage, 'chk-1/sub'), ['chk-1/sub/b'])
        assert.deepEqual(await storage.list('nothing-here'), [])
        assert.deepEqual(await storage.list('chk-1/a/below-a-file'), [])
      }))

    test('list is sorted by path (code units), so callers need not sort', () =>
      withStorage(factory, async ({ storage }) => {
        for (const p of ['shared/d', 'chk-1x', 'chk-10/c', 'chk-1/sub/b', 'chk-1/a', 'chk-1/B', 'chk-1/ä']) await storage.writeAtomic(p, Buffer.from(p))
        assert.deepEqual((await storage.list('')).map((e) => e.path), ['chk-1/B', 'chk-1/a', 'chk-1/sub/b', 'chk-1/ä', 'chk-10/c', 'chk-1x', 'shared/d'])
        assert.deepEqual((await storage.list('chk-1')).map((e) => e.path), ['chk-1/B', 'chk-1/a', 'chk-1/sub/b', 'chk-1/ä'])
      }))

    test('more than 1,000 files list in order (S3 pages its listings at 1,000) and deleteMany removes them in batches', () =>
      withStorage(factory, async ({ storage }) => {
        const paths = Array.from({ length: 1001 }, (_, i) => `shared/f-${String(i).padStart(5, '0')}`)
        for (let i = 0; i < paths.length; i += 100) await Promise.all(paths.slice(i, i + 100).map((p) => storage.writeAtomic(p, Buffer.from(p))))
        await storage.writeAtomic('keep/me', Buffer.from('1'))
        assert.deepEqual((await storage.list('shared')).map((e) => e.path), paths)
        if (!storage.deleteMany) return
        const r = await storage.deleteMany([...paths, 'shared/never-was'])
        assert.deepEqual(r.failed, [])
        assert.deepEqual(r.deleted.sort(), [...paths, 'shared/never-was'].sort())
        assert.deepEqual(await sortedPaths(storage), ['keep/me'])
        assert.deepEqual(await storage.deleteMany([]), { deleted: [], failed: [] })
      }))

    test('delete removes one file; deleting a missing file is fine', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('chk-1/a', Buffer.from('1'))
        await storage.writeAtomic('chk-1/b', Buffer.from('2'))
        await storage.delete('chk-1/a')
        await storage.delete('chk-1/a')
        await storage.delete('never/was')
        assert.equal(await storage.exists('chk-1/a'), false)
        assert.deepEqual(await sortedPaths(storage), ['chk-1/b'])
      }))
  })
}
