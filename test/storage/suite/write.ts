// Writing: create/write/commit/discard in every scope, atomic visibility,
// writeAtomic and upload.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import type { StorageScope } from '../../../src/storage/types.js'
import type { StorageFactory } from './factory.js'
import { crcOf, hasCode, patternBytes, sortedPaths, withStorage } from './helpers.js'

export function writeTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage writes`, () => {
    test('each scope writes below its own directory; commit returns the size', () =>
      withStorage(factory, async ({ storage }) => {
        const scopes: [StorageScope, string][] = [
          [{ kind: 'exclusive', checkpointId: 12 }, 'chk-12/f'],
          [{ kind: 'shared' }, 'shared/f'],
          [{ kind: 'taskowned' }, 'taskowned/f'],
          [{ kind: 'savepoint', dir: 'savepoints/sp-a/' }, 'savepoints/sp-a/f'],
        ]
        for (const [scope, path] of scopes) {
          const out = await storage.create(scope, 'f')
          assert.equal(out.path, path)
          await out.write(Buffer.from('hel'))
          await out.write(Buffer.from('lo'))
          assert.equal(out.bytesWritten, 5)
          assert.equal(await out.commit(), 5)
          assert.equal((await storage.read(path)).toString(), 'hello')
        }
        assert.deepEqual(await sortedPaths(storage), ['chk-12/f', 'savepoints/sp-a/f', 'shared/f', 'taskowned/f'])
      }))

    test('a file is invisible until commit; discard before commit leaves nothing', () =>
      withStorage(factory, async ({ storage }) => {
        const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'data.kss')
        await out.write(Buffer.alloc(1000, 1))
        assert.equal(await storage.exists('chk-1/data.kss'), false)
        // A local storage may list its staging file (so gc can collect one a crash left), but never under the final name.
        assert.ok(!(await sortedPaths(storage)).includes('chk-1/data.kss'), 'not listed under its name before commit')
        await assert.rejects(storage.read('chk-1/data.kss'), hasCode('MISSING_FILE'))
        await out.discard()
        await out.discard() // idempotent
        assert.deepEqual(await sortedPaths(storage), [])
        await assert.rejects(out.write(Buffer.from('x')), hasCode('CLOSED'))
        await assert.rejects(out.commit(), hasCode('CLOSED'))
      }))

    test('discard after commit deletes the committed file; write or commit after commit is CLOSED', () =>
      withStorage(factory, async ({ storage }) => {
        const kept = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'kept')
        await kept.write(Buffer.from('abc'))
        await kept.commit()
        await assert.rejects(kept.commit(), hasCode('CLOSED'))
        await assert.rejects(kept.write(Buffer.from('x')), hasCode('CLOSED'))
        assert.deepEqual(await sortedPaths(storage), ['chk-1/kept'])
        await kept.discard()
        assert.deepEqual(await sortedPaths(storage), [])
      }))

    test('discard while writes are in flight waits for them and leaves nothing', () =>
      withStorage(factory, async ({ storage }) => {
        const out = await storage.create({ kind: 'shared' }, 'racing')
        const writes = Array.from({ length: 8 }, () => out.write(patternBytes(64 * 1024)).catch((e: unknown) => e))
        await out.discard()
        await Promise.all(writes)
        assert.deepEqual(await sortedPaths(storage), [])
      }))

    test('an empty file commits with size 0', () =>
      withStorage(factory, async ({ storage }) => {
        const out = await storage.create({ kind: 'taskowned' }, 'empty')
        assert.equal(await out.commit(), 0)
        assert.equal((await storage.read('taskowned/empty')).length, 0)
        assert.equal(await storage.size('taskowned/empty'), 0)
      }))

    test('writeAtomic creates and replaces whole files', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('chk-3/_metadata', Buffer.from('first'))
        assert.equal((await storage.read('chk-3/_metadata')).toString(), 'first')
        await storage.writeAtomic('chk-3/_metadata', Buffer.from('second, longer'))
        assert.equal((await storage.read('chk-3/_metadata')).toString(), 'second, longer')
        await storage.writeAtomic('deep/er/still/file', new Uint8Array(0))
        assert.deepEqual(await sortedPaths(storage), ['chk-3/_metadata', 'deep/er/still/file'])
      }))

    test('upload copies a local file and reports its CRC-32; a missing source leaves nothing', async () => {
      const local = await mkdtemp(join(tmpdir(), 'ks-suite-local-'))
      try {
        await withStorage(factory, async ({ storage }) => {
          const data = patternBytes(2_500_000, 7)
          await writeFile(join(local, '000042.sst'), data)
          const up = await storage.upload({ kind: 'shared' }, '000042.sst', join(local, '000042.sst'))
          assert.deepEqual(up, { path: 'shared/000042.sst', sizeBytes: data.length, crc32: crcOf(data) })
          assert.ok((await storage.read(up.path)).equals(data))
          await assert.rejects(
            storage.upload({ kind: 'shared' }, 'x.sst', join(local, 'missing.sst')),
            (e: unknown) => hasCode('MISSING_FILE')(e) && (e as Error).message.includes('missing.sst'),
          )
          assert.equal(await storage.exists('shared/x.sst'), false)
          assert.deepEqual(await sortedPaths(storage), ['shared/000042.sst'])
        })
      } finally {
        await rm(local, { recursive: true, force: true })
      }
    })

    test('bad scopes and file names are refused with typed errors', () =>
      withStorage(factory, async ({ storage }) => {
        await assert.rejects(storage.create({ kind: 'exclusive', checkpointId: -1 }, 'f'), hasCode('INVALID_ARGUMENT'))
        await assert.rejects(storage.create({ kind: 'exclusive', checkpointId: 1.5 }, 'f'), hasCode('INVALID_ARGUMENT'))
        await assert.rejects(storage.create({ kind: 'nope' } as never, 'f'), hasCode('INVALID_ARGUMENT'))
        for (const name of ['a/b', '..', '.', '', 'x\\y', 'nul\0byte']) {
          await assert.rejects(storage.create({ kind: 'shared' }, name), hasCode('PATH_ESCAPE'), JSON.stringify(name))
        }
        assert.deepEqual(await sortedPaths(storage), [])
      }))
  })
}
