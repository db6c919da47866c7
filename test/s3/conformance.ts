// One conformance suite for every CheckpointStorage: the same cases run on
// the file system and on S3 (storage.test.ts). Written to move into the shared
// storage suite (test/storage/) as it is: `storageConformance(factory)`.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { isKeyedStateError } from '../../src/errors.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

export interface OpenedStorage {
  storage: CheckpointStorage
  /** Everything stored outside the storage's root (a sibling directory or prefix), to prove nothing there changes. */
  outside(): Promise<string[]>
  /** Puts a file outside the root, next to it, named so that a path escaping the root would reach it. */
  plantOutside(name: string, data: Buffer): Promise<void>
  cleanup(): Promise<void>
}

export interface StorageFactory {
  name: string
  open(): Promise<OpenedStorage>
  /** Bytes that make an upload take its large-file path (multipart on S3). */
  largeFileBytes: number
  /** fast-check runs of the containment property (each run makes requests). */
  containmentRuns: number
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 17 + (i >>> 11)) & 0xff
  return b
}

async function withStorage(factory: StorageFactory, fn: (o: OpenedStorage) => Promise<void>): Promise<void> {
  const o = await factory.open()
  try {
    await fn(o)
  } finally {
    o.storage.close?.()
    await o.cleanup()
  }
}

async function localTemp(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-conf-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export function storageConformance(factory: StorageFactory): void {
  const name = (s: string): string => `${factory.name}: ${s}`

  test(name('layout of scopes; a file is invisible until commit; discard removes it before or after commit'), () =>
    withStorage(factory, async ({ storage }) => {
      const scopes = [
        [{ kind: 'exclusive', checkpointId: 12 }, 'chk-12/f'],
        [{ kind: 'shared' }, 'shared/f'],
        [{ kind: 'taskowned' }, 'taskowned/f'],
        [{ kind: 'savepoint', dir: 'savepoints/sp-a/' }, 'savepoints/sp-a/f'],
      ] as const
      for (const [scope, path] of scopes) {
        const out = await storage.create(scope, 'f')
        assert.equal(out.path, path)
        await out.write(Buffer.from('hel'))
        await out.write(Buffer.from('lo'))
        assert.equal(out.bytesWritten, 5)
        assert.equal(await storage.exists(path), false, 'not visible before commit')
        assert.equal(await out.commit(), 5)
        assert.equal((await storage.read(path)).toString(), 'hello')
        await assert.rejects(out.write(Buffer.from('x')), (e) => isKeyedStateError(e, 'CLOSED'))
      }
      const early = await storage.create({ kind: 'shared' }, 'early')
      await early.write(Buffer.from('abc'))
      await early.discard()
      const late = await storage.create({ kind: 'shared' }, 'late')
      await late.write(Buffer.from('abc'))
      await late.commit()
      await late.discard()
      assert.deepEqual((await storage.list('')).map((e) => e.path), ['chk-12/f', 'savepoints/sp-a/f', 'shared/f', 'taskowned/f'])
    }))

  test(name('a chunk handed to write() may be reused once the write resolves'), () =>
    withStorage(factory, async ({ storage }) => {
      const out = await storage.create({ kind: 'shared' }, 'reuse')
      const buf = Buffer.alloc(64 * 1024)
      const expected: Buffer[] = []
      for (let i = 0; i < 8; i++) {
        buf.fill(i + 1)
        expected.push(Buffer.from(buf))
        await out.write(buf)
      }
      await out.commit()
      assert.ok((await storage.read('shared/reuse')).equals(Buffer.concat(expected)))
    }))

  test(name('large files: upload reports size and CRC-32, streams and ranges read them back, download copies them'), () =>
    withStorage(factory, async ({ storage }) => {
      const local = await localTemp()
      try {
        const data = pattern(factory.largeFileBytes, 3)
        await writeFile(join(local.dir, 'big.sst'), data)
        const stored = await storage.upload({ kind: 'shared' }, 'big.sst', join(local.dir, 'big.sst'))
        assert.deepEqual(stored, { path: 'shared/big.sst', sizeBytes: data.length, crc32: crc32(data) >>> 0 })
        assert.equal(await storage.size('shared/big.sst'), data.length)
        const at = data.length - 1234567
        assert.ok((await collect(storage.openReadStream('shared/big.sst', at))).equals(data.subarray(at)))
        assert.ok((await storage.readRange('shared/big.sst', 4_000_000, 3_000_000)).equals(data.subarray(4_000_000, 7_000_000)))
        await storage.download('shared/big.sst', join(local.dir, 'back', 'big.sst'))
        assert.ok((await readFile(join(local.dir, 'back', 'big.sst'))).equals(data))
        // A large write through create() as well.
        const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'full')
        for (let i = 0; i < data.length; i += 1_000_000) await out.write(data.subarray(i, i + 1_000_000))
        assert.equal(await out.commit(), data.length)
        assert.ok((await storage.read('chk-1/full')).equals(data))
        const discarded = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'discarded')
        await discarded.write(data)
        await discarded.discard()
        assert.equal(await storage.exists('chk-1/discarded'), false)
        if (storage.listIncompleteUploads) assert.deepEqual(await storage.listIncompleteUploads(), [], 'a discarded upload leaves no parts')
      } finally {
        await local.cleanup()
      }
    }))

  test(name('ranges: short at the end, empty past it; streams from an offset; bad ranges are refused'), () =>
    withStorage(factory, async ({ storage }) => {
      await storage.writeAtomic('chk-1/_metadata', Buffer.from('0123456789'))
      assert.equal((await storage.readRange('chk-1/_metadata', 2, 3)).toString(), '234')
      assert.equal((await storage.readRange('chk-1/_metadata', 8, 5)).toString(), '89')
      assert.equal((await storage.readRange('chk-1/_metadata', 10, 5)).length, 0)
      assert.equal((await storage.readRange('chk-1/_metadata', 3, 0)).length, 0)
      assert.equal((await collect(storage.openReadStream('chk-1/_metadata', 7))).toString(), '789')
      assert.equal((await collect(storage.openReadStream('chk-1/_metadata', 10))).length, 0)
      await assert.rejects(storage.readRange('chk-1/_metadata', -1, 2), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
      await storage.writeAtomic('chk-1/_metadata', Buffer.from('new'))
      assert.equal((await storage.read('chk-1/_metadata')).toString(), 'new', 'writeAtomic replaces')
    }))

  test(name('missing files are MISSING_FILE naming the path; deleting one is not an error'), () =>
    withStorage(factory, async ({ storage }) => {
      const named = (e: unknown): boolean => isKeyedStateError(e, 'MISSING_FILE') && e.file !== undefined && e.file.includes('chk-9/nope')
      await assert.rejects(storage.read('chk-9/nope'), named)
      await assert.rejects(storage.readRange('chk-9/nope', 0, 4), named)
      await assert.rejects(storage.size('chk-9/nope'), named)
      await assert.rejects(collect(storage.openReadStream('chk-9/nope')), named)
      assert.equal(await storage.exists('chk-9/nope'), false)
      await storage.delete('chk-9/nope')
      const local = await localTemp()
      try {
        await assert.rejects(storage.upload({ kind: 'shared' }, 'x', join(local.dir, 'absent')), (e) => isKeyedStateError(e, 'MISSING_FILE'))
        assert.equal(await storage.exists('shared/x'), false, 'a failed upload leaves nothing')
      } finally {
        await local.cleanup()
      }
    }))

  test(name('list: below a directory only (chk-1 is not chk-10), sorted, sizes'), () =>
    withStorage(factory, async ({ storage }) => {
      for (const p of ['chk-1/a', 'chk-1/sub/b', 'chk-10/c', 'shared/d', 'chk-1x']) await storage.writeAtomic(p, Buffer.from(p))
      assert.deepEqual((await storage.list('chk-1')).map((e) => e.path), ['chk-1/a', 'chk-1/sub/b'])
      assert.deepEqual((await storage.list('chk-1/')).map((e) => e.path), ['chk-1/a', 'chk-1/sub/b'])
      assert.deepEqual((await storage.list('')).map((e) => [e.path, e.sizeBytes]), [
        ['chk-1/a', 7], ['chk-1/sub/b', 11], ['chk-10/c', 8], ['chk-1x', 6], ['shared/d', 8],
      ])
      assert.deepEqual(await storage.list('nothing-here'), [])
      if (storage.deleteMany) {
        const r = await storage.deleteMany(['chk-1/a', 'chk-1/sub/b', 'chk-1/never'])
        assert.deepEqual(r.failed, [])
        assert.deepEqual((await storage.list('chk-1')).map((e) => e.path), [])
      }
    }))

  test(name('containment: every method refuses paths that leave the root, and nothing outside it changes'), () =>
    withStorage(factory, async (o) => {
      const { storage } = o
      await o.plantOutside('victim', Buffer.from('outside'))
      const before = await o.outside()
      const segment = fc.constantFrom('..', '.', 'a', 'chk-1', '', 'victim', '\\x', '/abs', 'C:', '%2e%2e')
      const path = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'))
      const refusedOrInside = async (op: Promise<unknown>): Promise<void> => {
        try {
          await op
        } catch (e) {
          assert.ok(isKeyedStateError(e), `untyped error ${String(e)}`)
          assert.ok(['PATH_ESCAPE', 'INVALID_ARGUMENT', 'MISSING_FILE', 'IO_ERROR'].includes(e.code), `${e.code}: ${e.message}`)
        }
      }
      await fc.assert(
        fc.asyncProperty(path, async (p) => {
          await refusedOrInside(storage.writeAtomic(p, Buffer.from('w')))
          await refusedOrInside(storage.read(p))
          await refusedOrInside(storage.readRange(p, 0, 1))
          await refusedOrInside(storage.size(p))
          await refusedOrInside(storage.exists(p))
          await refusedOrInside(storage.list(p))
          await refusedOrInside(storage.delete(p))
          await refusedOrInside(storage.create({ kind: 'savepoint', dir: p }, 'f').then((out) => out.write(Buffer.from('x')).then(() => out.commit())))
          if (storage.deleteMany) await refusedOrInside(storage.deleteMany([p]))
        }),
        { numRuns: factory.containmentRuns, seed: 7 },
      )
      for (const p of ['../victim', '/victim', 'a/../../victim', '..']) {
        await assert.rejects(storage.read(p), (e) => isKeyedStateError(e, 'PATH_ESCAPE'), p)
        await assert.rejects(storage.delete(p), (e) => isKeyedStateError(e, 'PATH_ESCAPE'), p)
      }
      assert.deepEqual(await o.outside(), before, 'nothing outside the root was written or deleted')
    }))
}
