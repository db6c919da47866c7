// Listing and deleting: what list returns, prefixes, and deletes that are
// idempotent and leave everything else alone.
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
