// Reading: whole files, ranges (short at the end, empty past it), streams from
// an offset, download, size, exists, and MISSING_FILE for files that are not there.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { StorageFactory } from './factory.js'
import { collect, hasCode, patternBytes, withStorage } from './helpers.js'

export function readTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage reads`, () => {
    test('read, readRange, openReadStream, size and exists agree with what was written', () =>
      withStorage(factory, async ({ storage }) => {
        const data = patternBytes(3_000_000)
        await storage.writeAtomic('dir/blob', data)
        assert.ok((await storage.read('dir/blob')).equals(data))
        assert.ok((await storage.readRange('dir/blob', 10, 20)).equals(data.subarray(10, 30)))
        assert.ok((await collect(storage.openReadStream('dir/blob'))).equals(data))
        assert.ok((await collect(storage.openReadStream('dir/blob', 1_000_000))).equals(data.subarray(1_000_000)))
        assert.equal(await storage.size('dir/blob'), data.length)
        assert.equal(await storage.exists('dir/blob'), true)
        assert.equal(await storage.exists('dir/other'), false)
        assert.equal(await storage.exists('nothing/at/all'), false)
      }))

    test('readRange is short only at the end of the file and empty past it', () =>
      withStorage(factory, async ({ storage }) => {
        const data = patternBytes(10_000, 3)
        await storage.writeAtomic('f', data)
        await fc.assert(
          fc.asyncProperty(fc.nat({ max: 12_000 }), fc.nat({ max: 12_000 }), async (offset, length) => {
            const got = await storage.readRange('f', offset, length)
            assert.ok(got.equals(data.subarray(offset, offset + length)), `readRange(${offset}, ${length})`)
          }),
          { numRuns: 60 },
        )
        assert.equal((await storage.readRange('f', data.length, 10)).length, 0)
        assert.equal((await storage.readRange('f', 1_000_000, 10)).length, 0)
        assert.equal((await storage.readRange('f', 5, 0)).length, 0)
        for (const [offset, length] of [[-1, 1], [0, -1], [0.5, 1], [0, Number.NaN]] as const) {
          await assert.rejects(storage.readRange('f', offset, length), hasCode('INVALID_ARGUMENT'), `${offset}, ${length}`)
        }
      }))

    test('openReadStream from the end or past it yields nothing', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('f', Buffer.from('0123456789'))
        assert.equal((await collect(storage.openReadStream('f', 7))).toString(), '789')
        assert.equal((await collect(storage.openReadStream('f', 10))).length, 0)
        assert.equal((await collect(storage.openReadStream('f', 99))).length, 0)
      }))

    test('download copies a stored file to a local path, creating its directory', async () => {
      const local = await mkdtemp(join(tmpdir(), 'ks-suite-dl-'))
      try {
        await withStorage(factory, async ({ storage }) => {
          const data = patternBytes(1_500_000, 11)
          await storage.writeAtomic('shared/x.sst', data)
          await storage.download('shared/x.sst', join(local, 'restore', 'copy.sst'))
          assert.ok((await readFile(join(local, 'restore', 'copy.sst'))).equals(data))
        })
      } finally {
        await rm(local, { recursive: true, force: true })
      }
    })

    test('missing files are MISSING_FILE errors naming the file', () =>
      withStorage(factory, async ({ storage }) => {
        await storage.writeAtomic('chk-1/present', Buffer.from('x'))
        for (const path of ['chk-1/gone', 'chk-2/gone', 'no/such/dir/gone']) {
          const named = (e: unknown) => hasCode('MISSING_FILE')(e) && (e as Error).message.includes(path) && (e as { file?: string }).file!.endsWith('gone')
          await assert.rejects(storage.read(path), named, path)
          await assert.rejects(storage.readRange(path, 0, 1), named, path)
          await assert.rejects(storage.size(path), named, path)
          await assert.rejects(storage.download(path, join(tmpdir(), 'ks-never-written')), named, path)
          await assert.rejects(collect(storage.openReadStream(path)), named, path)
        }
      }))
  })
}
