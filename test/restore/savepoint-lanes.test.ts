// Savepoint restore into RocksDB reads a handle in several lanes and builds
// SST files on the thread pool (src/backends/rocksdb/full-restore.ts). Model
// test: for random states (every kind, namespaces, TTL, many keys), savepoints
// made on either backend and any target key-group range, the state restored
// that way equals the savepoint's entries of that range, and equals what one
// lane and the heap backend's restore (an independent path) make of it. A
// damaged or cut savepoint fails with a typed error naming file and offset,
// and leaves no SST file and no half-restored database behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { isKeyedStateError } from '../../src/errors.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { restoreFullHandles } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import { ListStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { BackendKind, KeyedStateBackend } from '../../src/state-backend/types.js'
import type { KeyGroupRange } from '../../src/keygroups.js'
import { RecordingSink } from '../format/helpers.js'
import { applyToBackend, KEYS, opArbitrary } from '../model/model.js'
import { openKind, testDirs, type Dirs } from './helpers.js'

const MAX_PARALLELISM = 32
const ttlValue = new ValueStateDescriptor('ttl-value', stringSerializer).enableTimeToLive({ ttlMs: 3_600_000 })
const ttlList = new ListStateDescriptor('ttl-list', int32Serializer).enableTimeToLive({ ttlMs: 3_600_000 })
const bulk = new ValueStateDescriptor('bulk', stringSerializer)

/** Every lane gets at least one byte: small handles are read in up to 4 lanes. */
const MANY_LANES = { readLaneMinBytes: 1 }

function open(kind: BackendKind, dirs: Dirs, extra: Record<string, unknown> = {}): Promise<KeyedStateBackend<string>> {
  return openKind<string>(kind, dirs, { keySerializer: stringSerializer, maxParallelism: MAX_PARALLELISM, ...extra })
}

/** The savepoint's handle; undefined when the backend held no entries (nothing is written then). */
async function savepoint(b: KeyedStateBackend<string>, id: number, dirs: Dirs): Promise<FullSnapshotHandle | undefined> {
  const result = await b.snapshot(id, { type: 'savepoint', storage: dirs.storage }).done
  return result.handle as FullSnapshotHandle | undefined
}

/** The entries of `range` a handle holds, as "state/kg/key=value" (read by the format reader, no backend). */
async function entriesOf(handle: FullSnapshotHandle | undefined, range: KeyGroupRange, dirs: Dirs): Promise<string[]> {
  if (handle === undefined) return []
  const sink = new RecordingSink()
  await restoreFullHandles([handle], dirs.storage, range, sink)
  return sink.flat()
}

async function sstFilesUnder(root: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.sst')) out.push(join(e.parentPath, e.name))
  return out
}

const rangeArbitrary = fc
  .tuple(fc.nat(MAX_PARALLELISM - 1), fc.nat(MAX_PARALLELISM - 1))
  .map(([a, b]): KeyGroupRange => ({ start: Math.min(a, b), end: Math.max(a, b) }))

test('a savepoint restored into RocksDB in lanes equals its entries of the target range, one lane and the heap restore', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom<BackendKind>('heap', 'rocksdb'),
      fc.array(opArbitrary, { maxLength: 80 }),
      fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 }), fc.array(fc.integer(), { minLength: 1, maxLength: 3 })), { maxLength: 10 }),
      fc.integer({ min: 0, max: 300 }),
      rangeArbitrary,
      async (sourceKind, ops, ttlWrites, bulkKeys, target) => {
        const dirs = await testDirs('ks-lanes-')
        try {
          const source = await open(sourceKind, dirs)
          source.setCurrentKey(KEYS[0])
          for (const op of ops) applyToBackend(source, op)
          for (const [key, text, list] of ttlWrites) {
            source.setCurrentKey(key)
            source.getState(ttlValue).update(text)
            source.getListState(ttlList).addAll(list)
          }
          for (let i = 0; i < bulkKeys; i++) {
            source.setCurrentKey(`bulk-${i}`)
            source.getState(bulk).update(`v${i}`.repeat(i % 7))
          }
          const handle = await savepoint(source, 1, dirs)
          await source.close()
          if (handle === undefined) return
          const expected = await entriesOf(handle, target, dirs)

          const variants: Array<[string, BackendKind, Record<string, unknown>]> = [
            ['rocksdb, lanes', 'rocksdb', { restoreHooks: MANY_LANES }],
            ['rocksdb, one lane', 'rocksdb', {}],
            ['heap', 'heap', {}],
          ]
          for (const [i, [what, kind, extra]] of variants.entries()) {
            const restored = await open(kind, dirs, { keyGroupRange: target, restoreFrom: [handle], storage: dirs.storage, ...extra })
            try {
              const again = await savepoint(restored, 10 + i, dirs)
              assert.deepEqual(await entriesOf(again, target, dirs), expected, what)
            } finally {
              await restored.close()
            }
          }
        } finally {
          await dirs.remove()
        }
      },
    ),
    { numRuns: 10 },
  )
})

/** A RocksDB savepoint of ~4 MB in many blocks, so a restore in lanes has SST work in flight when it fails. */
async function bigSavepoint(dirs: Dirs): Promise<{ handle: FullSnapshotHandle; keys: number }> {
  const source = await open('rocksdb', dirs)
  const keys = 4000
  for (let i = 0; i < keys; i++) {
    source.setCurrentKey(`key-${i}`)
    source.getState(bulk).update(`${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26))))
  }
  const handle = await savepoint(source, 1, dirs)
  await source.close()
  assert.ok(handle)
  return { handle, keys }
}

function countKeys(b: KeyedStateBackend<string>): number {
  return [...b.keys('bulk')].length
}

test('a damaged or cut savepoint fails the restore in lanes with a typed error naming file and offset, and leaves nothing behind', async () => {
  const dirs = await testDirs('ks-lanes-bad-')
  try {
    const { handle, keys } = await bigSavepoint(dirs)
    const file = join(dirs.root, 'storage', handle.file.path)
    const good = await readFile(file)
    const dataEnd = Number(good.readBigUInt64LE(good.length - 16))
    const damages: Array<[string, (bytes: Buffer) => Buffer, string[]]> = [
      ['a flipped byte late in the data', (bytes) => {
        const copy = Buffer.from(bytes)
        copy[dataEnd - 100] = copy[dataEnd - 100]! ^ 0x5a
        return copy
      }, ['CHECKSUM_MISMATCH', 'CORRUPTION']],
      ['a flipped byte early in the data', (bytes) => {
        const copy = Buffer.from(bytes)
        copy[Math.floor(dataEnd / 3)] = copy[Math.floor(dataEnd / 3)]! ^ 0x01
        return copy
      }, ['CHECKSUM_MISMATCH', 'CORRUPTION']],
      ['the file cut in the data', (bytes) => bytes.subarray(0, Math.floor(dataEnd / 2)), ['TRUNCATED', 'CORRUPTION', 'CHECKSUM_MISMATCH']],
    ]
    for (const [what, damage, codes] of damages) {
      await writeFile(file, damage(good))
      const dir = dirs.dir(`target-${codes[0]}-${what.length}`)
      await assert.rejects(
        open('rocksdb', dirs, { restoreFrom: [handle], storage: dirs.storage, restoreHooks: MANY_LANES, ...{ dir } }),
        (e) => {
          assert.ok(isKeyedStateError(e), `${what}: ${e}`)
          assert.ok(codes.includes(e.code), `${what}: ${e.code} ${e.message}`)
          assert.ok(e.message.includes(handle.file.path) || e.file?.includes(handle.file.path), `${what}: names the file: ${e.message}`)
          assert.equal(typeof e.offset, 'number', `${what}: names the offset: ${e.message}`)
          return true
        },
      )
      assert.deepEqual(await sstFilesUnder(dir).catch(() => []), [], `${what}: no staged or half-ingested SST file is left`)
    }
    // The intact file restores in full into a directory a failed restore used.
    await writeFile(file, good)
    const dir = dirs.dir(`target-CHECKSUM_MISMATCH-${damages[0]![0].length}`)
    const restored = await open('rocksdb', dirs, { restoreFrom: [handle], storage: dirs.storage, restoreHooks: MANY_LANES, dir })
    try {
      assert.equal(countKeys(restored), keys)
      restored.setCurrentKey('key-3999')
      assert.equal(restored.getState(bulk).value(), '3999:'.padEnd(1000, String.fromCharCode(97 + (3999 % 26))))
    } finally {
      await restored.close()
    }
  } finally {
    await dirs.remove()
  }
})
