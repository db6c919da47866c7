// Full snapshots of the RocksDB backend and restore from them: into other
// key-group ranges, into and from the heap backend, with close() while a
// snapshot is in flight.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { openHeapBackend } from '../../src/backends/heap/backend.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assignToKeyGroup, keyGroupRangeForOperator } from '../../src/keygroups.js'
import { int32Serializer, jsonSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { openIn, tempDir } from './helpers.js'

const value = new ValueStateDescriptor('v', int32Serializer)
const list = new ListStateDescriptor('l', jsonSerializer)
const map = new MapStateDescriptor('m', stringSerializer, int32Serializer)
const windowed = new ValueStateDescriptor('w', int32Serializer)
const KEYS = Array.from({ length: 400 }, (_, i) => `key-${i}`)

function fill(b: KeyedStateBackend<string>): void {
  for (const [i, key] of KEYS.entries()) {
    b.setCurrentKey(key)
    b.getState(value).update(i)
    b.getListState(list).addAll([i, { key }])
    b.getMapState(map).putAll([['a', i], ['b', 0 - i]])
    b.getPartitionedState(3, int32Serializer, windowed).update(i * 3)
  }
}

function check(b: KeyedStateBackend<string>, keys: readonly string[]): void {
  for (const key of keys) {
    const i = KEYS.indexOf(key)
    b.setCurrentKey(key)
    assert.equal(b.getState(value).value(), i)
    assert.deepEqual(b.getListState(list).get(), [i, { key }])
    assert.deepEqual(new Map(b.getMapState(map).entries()), new Map([['a', i], ['b', 0 - i]]))
    assert.equal(b.getPartitionedState(3, int32Serializer, windowed).value(), i * 3)
  }
  assert.deepEqual([...b.keys('m')].sort(), [...keys].sort())
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name))
  return out
}

test('a full checkpoint restores into two instances that split the key groups', async () => {
  const dir = await tempDir()
  try {
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const a = await openIn(join(dir.path, 'a'))
    fill(a)
    const run = a.snapshot(1, { type: 'checkpoint', storage })
    // Writes after the barrier are not in the snapshot.
    a.setCurrentKey('late')
    a.getState(value).update(99)
    a.setCurrentKey(KEYS[0]!)
    a.getState(value).update(-1)
    const { handle } = await run.done
    assert.equal(handle?.type, 'full')
    await a.close()

    for (let op = 0; op < 2; op++) {
      const keyGroupRange = keyGroupRangeForOperator(128, 2, op)
      const b = await openIn(join(dir.path, `b${op}`), { keyGroupRange, restoreFrom: [handle!], storage })
      const mine = KEYS.filter((k) => {
        const kg = assignToKeyGroup(Buffer.from(k), 128)
        return kg >= keyGroupRange.start && kg <= keyGroupRange.end
      })
      check(b, mine)
      await b.close()
      // The restored directory reopens like any other.
      const c = await openIn(join(dir.path, `b${op}`), { keyGroupRange })
      check(c, mine)
      await c.close()
    }
  } finally {
    await dir.remove()
  }
})

test('savepoints move between the RocksDB and heap backends in both directions', async () => {
  const dir = await tempDir()
  try {
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const rocks = await openIn(join(dir.path, 'r'))
    fill(rocks)
    const fromRocks = (await rocks.snapshot(1, { type: 'savepoint', storage }).done).handle!
    await rocks.close()

    const heap = await openHeapBackend<string>({ kind: 'heap', keySerializer: stringSerializer, maxParallelism: 128, restoreFrom: [fromRocks], storage })
    check(heap, KEYS)
    const fromHeap = (await heap.snapshot(2, { type: 'savepoint', storage }).done).handle!
    await heap.close()

    const back = await openIn(join(dir.path, 'r2'), { restoreFrom: [fromHeap], storage })
    check(back, KEYS)
    await back.close()
  } finally {
    await dir.remove()
  }
})

test('restoreFrom replaces what the directory held; bad restore arguments are refused clearly', async () => {
  const dir = await tempDir()
  try {
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const a = await openIn(join(dir.path, 'a'))
    a.setCurrentKey('only')
    a.getState(value).update(1)
    const handle = (await a.snapshot(1, { type: 'checkpoint', storage }).done).handle as KeyedStateHandle
    a.setCurrentKey('after')
    a.getState(value).update(2)
    await a.close()

    const b = await openIn(join(dir.path, 'a'), { restoreFrom: [handle], storage })
    assert.deepEqual([...b.keys('v')], ['only'])
    await b.close()

    // No handles (the instance held nothing at the checkpoint, so its range is known to be empty):
    // start empty, not from the old directory.
    const empty = await openIn(join(dir.path, 'a'), { restoreFrom: [], knownEmptyRanges: [{ start: 0, end: 127 }] })
    assert.deepEqual(empty.stateNames(), [])
    await empty.close()

    await assert.rejects(openIn(join(dir.path, 'c'), { restoreFrom: [handle] }), (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /storage/.test(e.message))
    await assert.rejects(
      openIn(join(dir.path, 'c'), { restoreFrom: [handle], storage, maxParallelism: 64 }),
      (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /maxParallelism 128/.test(e.message),
    )
  } finally {
    await dir.remove()
  }
})

test('close() cancels an in-flight snapshot, which deletes its files, then closes the database', async () => {
  const dir = await tempDir()
  try {
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const a = await openIn(join(dir.path, 'a'))
    fill(a)
    let paused!: () => void
    let afterKeyGroup!: () => Promise<void>
    const reached = new Promise<void>((resolve) => {
      afterKeyGroup = () => {
        resolve()
        return new Promise<void>((r) => (paused = r))
      }
    })
    const run = a.snapshot(7, { type: 'checkpoint', storage, hooks: { afterKeyGroup } })
    await reached
    const closing = a.close()
    paused()
    await assert.rejects(run.done, (e: unknown) => isKeyedStateError(e, 'CANCELLED'))
    await closing
    assert.deepEqual(await listFiles(storage.root).catch(() => []), [])

    const b = await openIn(join(dir.path, 'a'))
    check(b, KEYS)
    await b.close()
  } finally {
    await dir.remove()
  }
})

test('a full handle plus key-group ranges known to be empty cover a wider target range', async () => {
  const dir = await tempDir()
  try {
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const left = keyGroupRangeForOperator(128, 2, 0)
    const right = keyGroupRangeForOperator(128, 2, 1)
    const a = await openIn(join(dir.path, 'a'), { keyGroupRange: left, checkpointMode: 'full' })
    const mine = KEYS.filter((k) => assignToKeyGroup(Buffer.from(k), 128) <= left.end)
    for (const key of mine) {
      a.setCurrentKey(key)
      a.getState(value).update(KEYS.indexOf(key))
    }
    const { handle } = await a.snapshot(1, { type: 'checkpoint', storage }).done
    await a.close()
    const all = { start: 0, end: 127 }
    // Without knowing that the right half held nothing, the range is not covered.
    await assert.rejects(openIn(join(dir.path, 'b'), { keyGroupRange: all, restoreFrom: [handle!], storage }), (e) => isKeyedStateError(e, 'NOT_FOUND'))
    const b = await openIn(join(dir.path, 'c'), { keyGroupRange: all, restoreFrom: [handle!], storage, knownEmptyRanges: [right] })
    for (const key of mine) {
      b.setCurrentKey(key)
      assert.equal(b.getState(value).value(), KEYS.indexOf(key))
    }
    assert.equal([...b.keys('v')].length, mine.length)
    await b.close()
  } finally {
    await dir.remove()
  }
})
