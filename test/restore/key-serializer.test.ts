// Full snapshots record the key serializer, and every restore path refuses a
// key serializer that cannot read the recorded one (SERIALIZER_MISMATCH naming
// "key serializer"), on both backends, for savepoints and full checkpoints, and
// for full handles restored next to incremental ones.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { openRocksDBBackend } from '../../src/backends/rocksdb/backend.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assignToKeyGroup } from '../../src/keygroups.js'
import { openFullSnapshot } from '../../src/snapshot/format/index.js'
import { float64Serializer, int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { Serializer } from '../../src/serializers/serializer.js'
import type { FullSnapshotHandle, SnapshotType } from '../../src/snapshot/types.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { KINDS, openKind, testDirs } from './helpers.js'

const value = new ValueStateDescriptor('v', int32Serializer)

function isKeySerializerMismatch(e: unknown): boolean {
  return isKeyedStateError(e, 'SERIALIZER_MISMATCH') && /key serializer/.test(e.message) && /int32@1/.test(e.message)
}

for (const from of KINDS) {
  for (const type of ['savepoint', 'checkpoint'] as SnapshotType[]) {
    test(`a ${from} ${type} written with int32 keys refuses other key serializers on both backends`, async () => {
      const t = await testDirs()
      try {
        const a = await openKind<number>(from, t, { keySerializer: int32Serializer, maxParallelism: 16 })
        for (let k = 0; k < 50; k++) {
          a.setCurrentKey(k)
          a.getState(value).update(k * 2)
        }
        const handle = (await a.snapshot(1, { type, storage: t.storage }).done).handle as FullSnapshotHandle
        await a.close()
        assert.equal(handle.type, 'full')
        const reader = await openFullSnapshot(t.storage, handle)
        assert.deepEqual(reader.keySerializer, { id: 'int32', version: 1 })

        for (const to of KINDS) {
          // Both 4-byte (float64 is 8, string any): every other key serializer is refused before any state is registered.
          for (const other of [stringSerializer, float64Serializer] as Serializer<unknown>[]) {
            await assert.rejects(
              openKind<unknown>(to, t, { keySerializer: other, maxParallelism: 16, storage: t.storage, restoreFrom: [handle] }),
              isKeySerializerMismatch,
              `${from} ${type} into ${to} with ${other.id} keys`,
            )
          }
          const ok = await openKind<number>(to, t, { keySerializer: int32Serializer, maxParallelism: 16, storage: t.storage, restoreFrom: [handle] })
          ok.setCurrentKey(21)
          assert.equal(ok.getState(value).value(), 42)
          assert.equal([...ok.keys('v')].length, 50)
          await ok.close()
        }
      } finally {
        await t.remove()
      }
    })
  }
}

test('a full handle restored next to an incremental one is checked for its key serializer too', async () => {
  const t = await testDirs()
  try {
    // Key groups 0..7 from a heap savepoint with int32 keys, 8..15 from an incremental checkpoint with string keys.
    const heap = await openKind<number>('heap', t, { keySerializer: int32Serializer, maxParallelism: 16, keyGroupRange: { start: 0, end: 7 } })
    for (let k = 0; k < 40; k++) {
      if (assignToKeyGroup(int32Serializer.serialize(k), 16) > 7) continue
      heap.setCurrentKey(k)
      heap.getState(value).update(k)
    }
    const full = (await heap.snapshot(1, { type: 'savepoint', storage: t.storage }).done).handle!
    await heap.close()
    const incOptions = { kind: 'rocksdb' as const, keySerializer: stringSerializer, maxParallelism: 16, checkpointMode: 'incremental' as const }
    const rocks = await openRocksDBBackend<string>({ ...incOptions, dir: t.dir('inc'), keyGroupRange: { start: 8, end: 15 } })
    for (let k = 0; k < 40; k++) {
      if (assignToKeyGroup(stringSerializer.serialize(`k${k}`), 16) < 8) continue
      rocks.setCurrentKey(`k${k}`)
      rocks.getState(value).update(k)
    }
    const inc = (await rocks.snapshot(2, { type: 'checkpoint', storage: t.storage }).done).handle!
    await rocks.close()
    assert.equal(full.type, 'full')
    assert.equal(inc.type, 'incremental')
    await assert.rejects(
      openRocksDBBackend<string>({ ...incOptions, dir: t.dir('mixed'), storage: t.storage, restoreFrom: [full, inc] }),
      isKeySerializerMismatch,
    )
  } finally {
    await t.remove()
  }
})
