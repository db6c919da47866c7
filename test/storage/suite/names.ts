// Odd names: what is accepted round-trips under its normalized name, and what
// could leave the root (or mean different things on different platforms) is
// refused by every method with PATH_ESCAPE, writing nothing anywhere.
import assert from 'node:assert/strict'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isKeyedStateError } from '../../../src/errors.js'
import type { CheckpointStorage } from '../../../src/storage/types.js'
import type { StorageFactory } from './factory.js'
import { hasCode, sortedPaths, withStorage } from './helpers.js'

/** Paths every storage refuses: they are absolute, leave the root, name the root, or hold NUL or backslashes. */
export const REFUSED_PATHS = ['../x', 'a/../../x', '/etc/passwd', '..', '../', 'a\\..\\..\\x', 'C:\\x', 'C:/x', '', '.', './', 'a/\0b', '\0']

/** Every method that takes a storage path, run on `p`; each must fail with PATH_ESCAPE. */
export async function assertEveryMethodRefuses(storage: CheckpointStorage, p: string): Promise<void> {
  const escapes = hasCode('PATH_ESCAPE')
  const label = JSON.stringify(p)
  await assert.rejects(storage.read(p), escapes, label)
  await assert.rejects(storage.readRange(p, 0, 1), escapes, label)
  await assert.rejects(storage.size(p), escapes, label)
  await assert.rejects(storage.exists(p), escapes, label)
  await assert.rejects(storage.delete(p), escapes, label)
  await assert.rejects(storage.writeAtomic(p, Buffer.from('x')), escapes, label)
  await assert.rejects(storage.download(p, join(tmpdir(), 'ks-never-written')), escapes, label)
  await assert.rejects(
    (async () => {
      for await (const _ of storage.openReadStream(p)) {
        // draining: the error may come from the stream rather than the call
      }
    })(),
    escapes,
    label,
  )
  await assert.rejects(storage.create({ kind: 'savepoint', dir: p }, 'f'), escapes, label)
  if (storage.deleteMany) await assert.rejects(storage.deleteMany(['chk-1/fine', p]), escapes, label)
  if (storage.localPath) assert.throws(() => storage.localPath!(p), escapes, label)
}

export function nameTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage names`, () => {
    test('spaces, unicode, dots and long names round-trip', () =>
      withStorage(factory, async ({ storage }) => {
        const names = ['with space', 'ünïcødé-ключ-键', '😀 emoji', 'a..b', '...', '.hidden', '-dash', 'x'.repeat(200), "quote'\"", 'percent%2F']
        for (const name of names) {
          const out = await storage.create({ kind: 'taskowned' }, name)
          await out.write(Buffer.from(name))
          await out.commit()
          assert.equal((await storage.read(`taskowned/${name}`)).toString(), name)
          await storage.writeAtomic(`savepoints/${name}/${name}`, Buffer.from(name))
        }
        const listed = await sortedPaths(storage)
        assert.deepEqual(listed, [...names.map((n) => `taskowned/${n}`), ...names.map((n) => `savepoints/${n}/${n}`)].sort())
        for (const name of names) assert.equal(await storage.size(`taskowned/${name}`), Buffer.byteLength(name))
      }))

    test('non-canonical spellings name the same file', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('a/./b//c/', Buffer.from('1'))
        assert.equal((await storage.read('a/b/c')).toString(), '1')
        assert.equal((await storage.read('a/x/../b/c')).toString(), '1')
        assert.deepEqual(await sortedPaths(storage), ['a/b/c'])
      }))

    test('absolute paths, .., the root itself, NUL and backslashes are refused by every method', () =>
      withStorage(factory, async ({ storage, parent, rootName }) => {
        for (const p of REFUSED_PATHS) {
          await assertEveryMethodRefuses(storage, p)
          if (p !== '' && p !== '.' && p !== './') await assert.rejects(storage.list(p), hasCode('PATH_ESCAPE'), JSON.stringify(p))
        }
        await assert.rejects(storage.upload({ kind: 'shared' }, '../evil', '/etc/hostname'), hasCode('PATH_ESCAPE'))
        assert.deepEqual(await sortedPaths(storage), [])
        assert.deepEqual((await sortedPaths(parent)).filter((p) => !p.startsWith(`${rootName}/`)), [], 'nothing written beside the root')
      }))

    test('property: any path is either refused with PATH_ESCAPE or stays below the root', () =>
      withStorage(factory, async ({ storage, parent, rootName }) => {
        const segment = fc.constantFrom('a', 'b', '..', '.', '', 'c d', 'ü', '...', '\\', '\0', 'C:')
        await fc.assert(
          fc.asyncProperty(fc.array(segment, { maxLength: 6 }), fc.boolean(), async (segments, absolute) => {
            const p = (absolute ? '/' : '') + segments.join('/')
            try {
              await storage.writeAtomic(p, Buffer.from(p))
            } catch (e) {
              assert.ok(isKeyedStateError(e, 'PATH_ESCAPE') || isKeyedStateError(e, 'IO_ERROR'), `${JSON.stringify(p)}: ${String(e)}`)
              return
            }
            assert.equal((await storage.read(p)).toString(), p)
          }),
          { numRuns: 80 },
        )
        assert.deepEqual((await sortedPaths(parent)).filter((p) => !p.startsWith(`${rootName}/`)), [], 'nothing written beside the root')
      }))
  })
}
