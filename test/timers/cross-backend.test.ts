// TTL'd state and timers move between backends through savepoints (canonical
// format), and between timer implementations: heap → RocksDB (RocksDB timers)
// → heap, and a RocksDB incremental checkpoint restored with heap timers.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import {
  int32Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  openKeyedStateBackend,
  stringSerializer,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type KeyedStateBackendOptions,
} from '../../src/index.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { TestClock } from '../suite/ttl.js'

const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

const KEYS = Array.from({ length: 40 }, (_, i) => `key-${i}`)
const clock = new TestClock(0)
const ttl = { ttlMs: 1000, clock }
const value = new ValueStateDescriptor('v', int32Serializer).enableTimeToLive(ttl)
const list = new ListStateDescriptor('l', int32Serializer).enableTimeToLive(ttl)
const map = new MapStateDescriptor('m', stringSerializer, int32Serializer).enableTimeToLive(ttl)

async function setup(): Promise<{ root: string; storage: FileSystemCheckpointStorage }> {
  const root = await mkdtemp(join(tmpdir(), 'ks-cross-ttl-timers-'))
  dirs.push(root)
  return { root, storage: new FileSystemCheckpointStorage(join(root, 'storage')) }
}

function fireAll(b: KeyedStateBackend<string>): Array<[string, string, number]> {
  const fired: Array<[string, string, number]> = []
  b.timerService('w', { namespaceSerializer: stringSerializer, onTimer: (t) => fired.push([t.key, t.namespace, t.timestamp]) }).advanceWatermark(Infinity)
  return fired
}

/** What every key shows through the TTL'd states. */
function readAll(b: KeyedStateBackend<string>): unknown[] {
  return KEYS.map((key) => {
    b.setCurrentKey(key)
    return [key, b.getState(value).value(), b.getListState(list).get(), [...b.getMapState(map).entries()]]
  })
}

async function savepointOf(b: KeyedStateBackend<string>, storage: FileSystemCheckpointStorage, id: number): Promise<KeyedStateHandle[]> {
  const { handle } = await b.snapshot(id, { type: 'savepoint', storage }).done
  return [handle!]
}

test('TTL state and timers: heap → savepoint → RocksDB → savepoint → heap', async () => {
  const { root, storage } = await setup()
  clock.t = 0
  const heap = await openKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer })
  let expectedState: unknown[]
  let handles: KeyedStateHandle[]
  try {
    const timers = heap.timerService('w', { namespaceSerializer: stringSerializer, onTimer: () => {} })
    for (const [i, key] of KEYS.entries()) {
      clock.t = i % 2 === 0 ? 0 : 500
      heap.setCurrentKey(key)
      heap.getState(value).update(i)
      heap.getListState(list).addAll([i, i + 1])
      heap.getMapState(map).put('u', i)
      timers.registerEventTimeTimer(60_000 * (i % 3), `w${i % 3}`)
    }
    // At 1200 the even keys' state (written at 0) has expired: savepoints leave it out.
    clock.t = 1200
    handles = await savepointOf(heap, storage, 1)
    clock.t = 600
    expectedState = KEYS.map((key, i) => (i % 2 === 0 ? [key, undefined, [], []] : [key, i, [i, i + 1], [['u', i]]]))
  } finally {
    await heap.close()
  }
  const expectedTimers = KEYS.map((k, i) => [k, `w${i % 3}`, 60_000 * (i % 3)] as [string, string, number]).sort((a, b) => a[2] - b[2])

  const rocks = await openKeyedStateBackend<string>({ kind: 'rocksdb', dir: join(root, 'db'), keySerializer: stringSerializer, storage, restoreFrom: handles })
  try {
    assert.deepEqual(readAll(rocks), expectedState)
    handles = await savepointOf(rocks, storage, 2)
    const fired = fireAll(rocks)
    assert.deepEqual(fired.map((f) => f[2]), expectedTimers.map((t) => t[2]))
    assert.deepEqual([...fired].sort(), [...expectedTimers].sort())
  } finally {
    await rocks.close()
  }

  const back = await openKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer, storage, restoreFrom: handles })
  try {
    assert.deepEqual(readAll(back), expectedState)
    assert.deepEqual([...fireAll(back)].sort(), [...expectedTimers].sort())
  } finally {
    await back.close()
  }
})

test('a RocksDB incremental checkpoint restores with heap timers and the other way round', async () => {
  const { root, storage } = await setup()
  const base: KeyedStateBackendOptions<string> = { kind: 'rocksdb', keySerializer: stringSerializer, maxParallelism: 8, storage }
  const first = await openKeyedStateBackend<string>({ ...base, dir: join(root, 'a'), timers: 'rocksdb' })
  let handles: KeyedStateHandle[]
  try {
    const timers = first.timerService('w', { namespaceSerializer: stringSerializer, onTimer: () => {} })
    for (const [i, key] of KEYS.entries()) {
      first.setCurrentKey(key)
      timers.registerEventTimeTimer(i, 'x')
    }
    const { handle } = await first.snapshot(1, { type: 'checkpoint', storage }).done
    assert.equal(handle?.type, 'incremental')
    handles = [handle!]
  } finally {
    await first.close()
  }
  const second = await openKeyedStateBackend<string>({ ...base, dir: join(root, 'b'), timers: 'heap', restoreFrom: handles })
  try {
    const timers = second.timerService('w', { namespaceSerializer: stringSerializer, onTimer: () => {} })
    second.setCurrentKey('extra')
    timers.registerEventTimeTimer(1000, 'x')
    const { handle } = await second.snapshot(2, { type: 'checkpoint', storage }).done
    handles = [handle!]
  } finally {
    await second.close()
  }
  const third = await openKeyedStateBackend<string>({ ...base, dir: join(root, 'c'), timers: 'rocksdb', restoreFrom: handles })
  try {
    const fired = fireAll(third)
    assert.deepEqual(fired.map((f) => f[2]), [...KEYS.map((_, i) => i), 1000])
  } finally {
    await third.close()
  }
})

test("the heap backend refuses timers: 'rocksdb'; unknown values are refused", async () => {
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, timers: 'rocksdb' }),
    (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && e.message.includes('heap'),
  )
  await assert.rejects(
    openKeyedStateBackend({ kind: 'heap', keySerializer: stringSerializer, timers: 'disk' as never }),
    (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && e.message.includes('timers'),
  )
})
