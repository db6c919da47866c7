// Containment: nothing the storage does - read, write, list, delete, nor the
// checkpoint lifecycle and gc on top of it - ever touches a file outside its
// root. Two kinds of cases:
//  - forged paths in `_metadata` and handles (every storage): victims planted
//    beside the root through `parent` must survive reads, deletes, gc and a
//    claim of the forged checkpoint;
//  - symbolic links below a local root (supports.localSymlinks): links to
//    outside directories and files are never followed; a link is listed and
//    deleted as itself, never as its target.
import assert from 'node:assert/strict'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { crc32 } from 'node:zlib'
import { listSnapshots, missingFiles } from '../../../src/checkpoint/catalog.js'
import { CheckpointCoordinator, type CheckpointEvent } from '../../../src/checkpoint/coordinator.js'
import { collectGarbage } from '../../../src/checkpoint/gc.js'
import { mapHandlePaths } from '../../../src/checkpoint/handles.js'
import { canonicalJson, readMetadata, writeMetadata, type CheckpointMetadata } from '../../../src/checkpoint/metadata.js'
import { isKeyedStateError } from '../../../src/errors.js'
import type { CheckpointStorage } from '../../../src/storage/types.js'
import { FakeInstance } from '../../checkpoint/helpers.js'
import type { StorageFactory } from './factory.js'
import { collect, hasCode, sortedPaths, withStorage } from './helpers.js'

const MAX_P = 16
const VICTIM = Buffer.from('precious bytes outside the storage root\n')

/** One complete incremental checkpoint (id 1) written by fake instances, and its metadata. */
async function oneCheckpoint(storage: CheckpointStorage): Promise<CheckpointMetadata> {
  const instances = FakeInstance.many(2, MAX_P, storage)
  for (const i of instances) i.flush()
  const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 5 })
  const md = await c.triggerCheckpoint()
  await c.close()
  return md
}

/** `md` with every shared file path replaced by `shared(i)` and every exclusive one by `exclusive(i)`. */
function forge(md: CheckpointMetadata, shared: (n: number) => string, exclusive: (n: number) => string): CheckpointMetadata {
  let s = 0
  let x = 0
  return {
    ...md,
    instances: md.instances.map((inst) => {
      if (!inst.handle) return inst
      const h = inst.handle
      const sharedPaths = new Set(h.type === 'incremental' ? Object.values(h.sharedFiles).map((f) => f.path) : [])
      return { ...inst, handle: mapHandlePaths(h, (p) => (sharedPaths.has(p) ? shared(s++) : exclusive(x++))) }
    }),
  }
}

/** `_metadata` bytes with a correct checksum (docs/FORMAT.md §8) and no validation: what a forger can write. */
function encodeWithoutChecks(md: CheckpointMetadata): Buffer {
  const checksum = `crc32:${(crc32(Buffer.from(canonicalJson(md), 'utf8')) >>> 0).toString(16).padStart(8, '0')}`
  return Buffer.from(JSON.stringify({ ...md, checksum }))
}

/**
 * Claims `md` with a fresh coordinator keeping one checkpoint, and completes two
 * more: retention subsumes `md` and deletes what it references. Returns the warnings.
 */
async function claimAndSubsume(storage: CheckpointStorage, md: CheckpointMetadata): Promise<CheckpointEvent[]> {
  const warnings: CheckpointEvent[] = []
  const instances = FakeInstance.many(2, MAX_P, storage)
  for (const i of instances) i.flush()
  const c = await CheckpointCoordinator.create({
    storage,
    instances,
    retainedCheckpoints: 1,
    restoredFrom: { metadata: md, mode: 'claim' },
    onEvent: (e) => {
      if (e.type === 'warning') warnings.push(e)
    },
  })
  await c.triggerCheckpoint()
  await c.triggerCheckpoint()
  assert.deepEqual(c.completedCheckpoints().map((m) => m.checkpointId), [md.checkpointId + 2], 'the claimed checkpoint was subsumed')
  await c.close()
  return warnings
}

export function containmentTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage containment: forged paths`, () => {
    test('forged handle paths never reach beside the root: _metadata validation, reads, deletes, missingFiles, gc --delete, claim', () =>
      withStorage(factory, async ({ storage, parent, rootName }) => {
        // Victims beside the root, including one whose name shares the root's name as a prefix.
        const victims = ['victim/file', `${rootName}-sibling/file`, `${rootName}x`]
        for (const v of victims) await parent.writeAtomic(v, VICTIM)
        const md = await oneCheckpoint(storage)
        const targets = [`../victim/file`, `../${rootName}-sibling/file`, `shared/../../${rootName}x`, `/${rootName}x`, `chk-1/../../victim/file`]
        const forged = forge(md, (n) => targets[n % targets.length]!, (n) => targets[(n + 2) % targets.length]!)
        // Written as a forger would: a valid checksum over paths no writer writes.
        await storage.writeAtomic('chk-1/_metadata', encodeWithoutChecks(forged))
        await assert.rejects(readMetadata(storage, 'chk-1'), (e: unknown) => hasCode('CORRUPTION')(e) && /not a canonical|escapes|absolute/.test((e as Error).message))
        const [listing] = await listSnapshots(storage)
        assert.equal(listing?.complete, false, 'a forged checkpoint is never complete')

        for (const p of targets) {
          await assert.rejects(storage.read(p), hasCode('PATH_ESCAPE'), p)
          await assert.rejects(storage.delete(p), hasCode('PATH_ESCAPE'), p)
        }
        const problems = await missingFiles(storage, forged)
        assert.ok(problems.length > 0 && problems.every((m) => /escape|absolute/.test(m)), problems.join('\n'))
        await collectGarbage(storage, { delete: true, gracePeriodMs: 0 })
        // Not complete, so not claimable: retention never gets to delete what it names.
        await assert.rejects(claimAndSubsume(storage, forged), hasCode('NOT_FOUND'))
        for (const v of victims) assert.ok((await parent.read(v)).equals(VICTIM), `${v} survived`)
      }))
  })

  describe(`[${factory.name}] storage containment: symbolic links below the root`, { skip: !factory.supports.localSymlinks }, () => {
    /** A local directory outside the root with a victim file, removed afterwards. */
    async function withOutside(fn: (outside: string) => Promise<void>): Promise<void> {
      const outside = await mkdtemp(join(tmpdir(), 'ks-suite-outside-'))
      try {
        await writeFile(join(outside, 'victim'), VICTIM)
        await fn(outside)
      } finally {
        await rm(outside, { recursive: true, force: true })
      }
    }
    async function assertUntouched(outside: string): Promise<void> {
      assert.deepEqual(await readdir(outside), ['victim'], 'nothing created or deleted outside')
      assert.ok((await readFile(join(outside, 'victim'))).equals(VICTIM), 'the victim is intact')
    }
    async function isGone(path: string): Promise<boolean> {
      return lstat(path).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT')
    }

    test('gc --delete removes links to outside directories and files, never what they point to', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          const links = ['taskowned/x', 'shared/y', 'chk-7/z', 'savepoints/dead/w', 'chk-8/file-link']
          for (const l of links) {
            await mkdir(join(root!, l, '..'), { recursive: true })
            await symlink(l.endsWith('file-link') ? join(outside, 'victim') : outside, join(root!, l))
          }
          // A listing shows the links themselves, never files below them.
          assert.deepEqual(await sortedPaths(storage), [...links].sort())
          const report = await collectGarbage(storage, { delete: true, gracePeriodMs: 0 })
          assert.deepEqual(report.deleted.sort(), [...links].sort())
          for (const l of links) assert.ok(await isGone(join(root!, l)), `${l} removed`)
          await assertUntouched(outside)
        })
      }))

    test('reads through a link to outside are refused, whether the link is a directory or the file', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          await mkdir(join(root!, 'chk-1'), { recursive: true })
          await symlink(outside, join(root!, 'chk-1', 'dir-link'))
          await symlink(join(outside, 'victim'), join(root!, 'chk-1', 'file-link'))
          for (const p of ['chk-1/dir-link/victim', 'chk-1/file-link']) {
            const escapes = hasCode('PATH_ESCAPE')
            await assert.rejects(storage.read(p), escapes, p)
            await assert.rejects(storage.readRange(p, 0, 4), escapes, p)
            await assert.rejects(collect(storage.openReadStream(p, 1)), escapes, p)
            await assert.rejects(storage.size(p), escapes, p)
            await assert.rejects(storage.download(p, join(root!, '..', 'ks-never-written')), escapes, p)
          }
          await assert.rejects(storage.exists('chk-1/dir-link/victim'), hasCode('PATH_ESCAPE'))
          assert.equal(await storage.exists('chk-1/file-link'), true, 'the link itself exists')
          assert.deepEqual(await sortedPaths(storage, 'chk-1/dir-link'), ['chk-1/dir-link'], 'listing a link names the link only')
          await assertUntouched(outside)
        })
      }))

    test('writes through a link to outside are refused and create nothing outside', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          await mkdir(join(root!, 'savepoints'), { recursive: true })
          await symlink(outside, join(root!, 'savepoints', 'evil'))
          await symlink(outside, join(root!, 'taskowned'))
          await assert.rejects(storage.create({ kind: 'savepoint', dir: 'savepoints/evil' }, '_metadata'), hasCode('PATH_ESCAPE'))
          await assert.rejects(storage.create({ kind: 'savepoint', dir: 'savepoints/evil/deeper/still' }, 'f'), hasCode('PATH_ESCAPE'))
          await assert.rejects(storage.create({ kind: 'taskowned' }, 'f'), hasCode('PATH_ESCAPE'))
          await assert.rejects(storage.writeAtomic('savepoints/evil/_metadata', Buffer.from('{}')), hasCode('PATH_ESCAPE'))
          await assert.rejects(storage.writeAtomic('taskowned/new/dir/f', Buffer.from('x')), hasCode('PATH_ESCAPE'))
          const local = join(root!, '..', `ks-upload-${process.pid}`)
          await writeFile(local, 'x')
          try {
            await assert.rejects(storage.upload({ kind: 'savepoint', dir: 'savepoints/evil' }, 'f', local), hasCode('PATH_ESCAPE'))
          } finally {
            await rm(local, { force: true })
          }
          await assertUntouched(outside)
        })
      }))

    test('writeAtomic and commit over a file link replace the link, not its target', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          await mkdir(join(root!, 'chk-2'), { recursive: true })
          await symlink(join(outside, 'victim'), join(root!, 'chk-2', '_metadata'))
          await symlink(join(outside, 'victim'), join(root!, 'chk-2', 'data'))
          await storage.writeAtomic('chk-2/_metadata', Buffer.from('mine'))
          const out = await storage.create({ kind: 'exclusive', checkpointId: 2 }, 'data')
          await out.write(Buffer.from('also mine'))
          await out.commit()
          assert.equal((await storage.read('chk-2/_metadata')).toString(), 'mine')
          assert.equal((await storage.read('chk-2/data')).toString(), 'also mine')
          assert.ok((await lstat(join(root!, 'chk-2', 'data'))).isFile())
          await assertUntouched(outside)
        })
      }))

    test('the coordinator writes no savepoint through a linked directory', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          await mkdir(join(root!, 'savepoints'), { recursive: true })
          await symlink(outside, join(root!, 'savepoints', 'evil'))
          const instances = FakeInstance.many(2, MAX_P, storage)
          for (const i of instances) i.flush()
          const c = await CheckpointCoordinator.create({ storage, instances })
          try {
            await assert.rejects(c.triggerSavepoint('savepoints/evil'))
            await assert.rejects(c.triggerSavepoint('savepoints/evil/sp'), hasCode('PATH_ESCAPE'))
          } finally {
            await c.close()
          }
          await assertUntouched(outside)
        })
      }))

    test('deleting through a link is refused; deleting the link removes only the link', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          await mkdir(join(root!, 'shared'), { recursive: true })
          await symlink(outside, join(root!, 'shared', 'dir-link'))
          await assert.rejects(storage.delete('shared/dir-link/victim'), hasCode('PATH_ESCAPE'))
          await storage.delete('shared/dir-link')
          assert.ok(await isGone(join(root!, 'shared', 'dir-link')))
          await assertUntouched(outside)
        })
      }))

    test('claim-mode retention of a checkpoint with links in chk-N/ and shared/ deletes no file outside', () =>
      withStorage(factory, async ({ storage, root }) => {
        await withOutside(async (outside) => {
          const md = await oneCheckpoint(storage)
          await symlink(outside, join(root!, 'chk-1', 'link'))
          await symlink(outside, join(root!, 'shared', 'link'))
          const forged = forge(md, () => 'shared/link/victim', () => 'chk-1/link/victim')
          await writeMetadata(storage, forged)
          const warnings = await claimAndSubsume(storage, forged)
          assert.ok(warnings.some((w) => w.type === 'warning' && isKeyedStateError(w.error, 'PATH_ESCAPE')), 'the refused deletes are reported')
          assert.ok(await isGone(join(root!, 'chk-1', 'link')), 'the link inside the discarded checkpoint directory went with it')
          await assertUntouched(outside)
        })
      }))

    test('links that stay inside the root are not followed either', () =>
      withStorage(factory, async ({ storage, root }) => {
        await storage.writeAtomic('chk-1/real', Buffer.from('x'))
        await symlink(join(root!, 'chk-1'), join(root!, 'alias'))
        await symlink('real', join(root!, 'chk-1', 'alias-file'))
        await assert.rejects(storage.read('alias/real'), hasCode('PATH_ESCAPE'))
        await assert.rejects(storage.read('chk-1/alias-file'), hasCode('PATH_ESCAPE'))
        assert.deepEqual(await sortedPaths(storage), ['alias', 'chk-1/alias-file', 'chk-1/real'])
      }))
  })
}
