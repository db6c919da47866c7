// Close/reopen of a working directory keeps every kind of state; reopening
// under settings that would misread the bytes is refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isKeyedStateError } from '../../src/errors.js'
import { openRocksDBBackend } from '../../src/backends/rocksdb/backend.js'
import { int32Serializer, int64Serializer, jsonSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.js'
import { openIn, tempDir } from './helpers.js'

const count = new ValueStateDescriptor('count', int64Serializer, 0n)
const events = new ListStateDescriptor('events', jsonSerializer)
const seen = new MapStateDescriptor('seen', stringSerializer, int32Serializer)
const sum = new ReducingStateDescriptor('sum', (a: number, b: number) => a + b, int32Serializer)
const avg = new AggregatingStateDescriptor(
  'avg',
  {
    createAccumulator: () => [0, 0] as [number, number],
    add: (v: number, acc: [number, number]) => [acc[0] + v, acc[1] + 1] as [number, number],
    getResult: (acc: [number, number]) => acc[0] / acc[1],
  },
  jsonSerializer,
)
const windowNs = int32Serializer
const perWindow = new ValueStateDescriptor('perWindow', int64Serializer, 0n)

test('every state kind, with namespaces, survives close and reopen', async () => {
  const dir = await tempDir()
  try {
    const a = await openIn(dir.path)
    for (const key of ['alice', 'bob', 'carol']) {
      a.setCurrentKey(key)
      a.getState(count).update(BigInt(key.length))
      a.getListState(events).addAll([{ key }, 1])
      a.getListState(events).add('last')
      a.getMapState(seen).putAll([[`${key}-x`, 1], [`${key}-y`, 2]])
      a.getReducingState(sum).add(3)
      a.getReducingState(sum).add(4)
      a.getAggregatingState(avg).add(2)
      a.getAggregatingState(avg).add(4)
      a.getPartitionedState(7, windowNs, perWindow).update(70n)
    }
    a.setCurrentKey('bob')
    a.getMapState(seen).remove('bob-x')
    a.getState(count).clear()
    await a.close()

    const b = await openIn(dir.path)
    assert.deepEqual(b.stateNames().sort(), ['avg', 'count', 'events', 'perWindow', 'seen', 'sum'])
    for (const key of ['alice', 'bob', 'carol']) {
      b.setCurrentKey(key)
      assert.equal(b.getState(count).value(), key === 'bob' ? 0n : BigInt(key.length))
      assert.deepEqual(b.getListState(events).get(), [{ key }, 1, 'last'])
      assert.deepEqual(
        [...b.getMapState(seen).entries()],
        key === 'bob' ? [['bob-y', 2]] : [[`${key}-x`, 1], [`${key}-y`, 2]],
      )
      assert.equal(b.getReducingState(sum).get(), 7)
      assert.equal(b.getAggregatingState(avg).get(), 3)
      assert.equal(b.getPartitionedState(7, windowNs, perWindow).value(), 70n)
      assert.equal(b.getPartitionedState(8, windowNs, perWindow).value(), 0n)
    }
    assert.deepEqual([...b.keys('seen')].sort(), ['alice', 'bob', 'carol'])
    await b.close()
  } finally {
    await dir.remove()
  }
})

test('a restored state keeps its column family and serializers across reopen before the user binds it', async () => {
  const dir = await tempDir()
  try {
    const a = await openIn(dir.path)
    a.setCurrentKey('k')
    a.getMapState(seen).put('x', 1)
    await a.close()
    // Reopen twice without touching the state: the meta record must survive an unbound session.
    await (await openIn(dir.path)).close()
    const c = await openIn(dir.path)
    c.setCurrentKey('k')
    assert.throws(
      () => c.getListState(new ListStateDescriptor('seen', jsonSerializer)),
      (e: unknown) => isKeyedStateError(e, 'STATE_CONFLICT') && e.state === 'seen',
    )
    assert.throws(
      () => c.getMapState(new MapStateDescriptor('seen', stringSerializer, jsonSerializer)),
      (e: unknown) => isKeyedStateError(e, 'SERIALIZER_MISMATCH') && e.state === 'seen',
    )
    assert.equal(c.getMapState(seen).get('x'), 1)
    await c.close()
  } finally {
    await dir.remove()
  }
})

test('reopening with another maxParallelism, key-group range or key serializer is refused, and the data stays', async () => {
  const dir = await tempDir()
  try {
    const a = await openIn(dir.path, { maxParallelism: 128, keyGroupRange: { start: 0, end: 127 } })
    a.setCurrentKey('k')
    a.getState(count).update(5n)
    await a.close()

    const refused = async (options: Parameters<typeof openIn>[1], pattern: RegExp) => {
      await assert.rejects(openIn(dir.path, options), (e: unknown) => {
        assert.ok(isKeyedStateError(e, 'INVALID_ARGUMENT'), String(e))
        assert.match(e.message, pattern)
        assert.equal(e.file, dir.path)
        return true
      })
    }
    await refused({ maxParallelism: 256 }, /maxParallelism 128, not 256/)
    await refused({ maxParallelism: 128, keyGroupRange: { start: 0, end: 63 } }, /key groups \[0\.\.127\], not \[0\.\.63\]/)
    await refused({ keySerializer: jsonSerializer }, /key serializer/)

    const b = await openIn(dir.path)
    b.setCurrentKey('k')
    assert.equal(b.getState(count).value(), 5n)
    await b.close()
  } finally {
    await dir.remove()
  }
})

test('dir is required, and a directory that is not ours is never used or wiped', async () => {
  await assert.rejects(
    openRocksDBBackend({ kind: 'rocksdb', keySerializer: stringSerializer }),
    (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && /options\.dir/.test(e.message),
  )
  const dir = await tempDir()
  try {
    await mkdir(join(dir.path, 'foreign'), { recursive: true })
    await writeFile(join(dir.path, 'foreign', 'notes.txt'), 'mine')
    await assert.rejects(openIn(join(dir.path, 'foreign')), (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  } finally {
    await dir.remove()
  }
})

// The working DB runs without a WAL: a process that ends without close() may
// have lost writes, so its directory must not be reopened as if complete.
test('a directory left open by a process that exited without close() is refused on reopen', async () => {
  const dir = await tempDir()
  try {
    const backendModule = fileURLToPath(new URL('../../src/backends/rocksdb/backend.js', import.meta.url))
    const serializers = fileURLToPath(new URL('../../src/serializers/primitives.js', import.meta.url))
    const script = `
      const { openRocksDBBackend } = await import(${JSON.stringify(backendModule)})
      const { stringSerializer } = await import(${JSON.stringify(serializers)})
      const b = await openRocksDBBackend({ kind: 'rocksdb', dir: ${JSON.stringify(dir.path)}, keySerializer: stringSerializer })
      b.setCurrentKey('k')
      process.exit(0)
    `
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
    await assert.rejects(openIn(dir.path), (e: unknown) => isKeyedStateError(e, 'ABORTED') && /not closed cleanly/.test(e.message))
  } finally {
    await dir.remove()
  }
})
