// Many states on the RocksDB backend (issue 14). Column families are created
// in batches (src/backends/rocksdb/column-families.ts): a registered state's
// family waits until some state is used, restored states get theirs at once.
// Hundreds of states of every kind (1,000 with SOAK=1; each family costs a few
// MANIFEST syncs per path, which is slow on a busy disk) are registered, used,
// snapshotted both ways, reopened and restored on every path, with every value
// checked; and each method of each kind of state is the first call on a state
// whose family does not exist yet.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { RocksDBKeyedStateBackend } from '../../src/backends/rocksdb/backend.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { assignToKeyGroup, keyGroupRangeForOperator } from '../../src/keygroups.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/state/descriptors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { openIn, tempDir, type TestOptions } from './helpers.js'

const STATES = process.env.SOAK === '1' ? 1000 : 300
const KEYS = ['alpha', 'beta', 'gamma']

const sum = (a: number, b: number): number => a + b
const average = {
  createAccumulator: (): [number, number] => [0, 0],
  add: (v: number, [total, count]: [number, number]): [number, number] => [total + v, count + 1],
  getResult: ([total, count]: [number, number]) => (count === 0 ? 0 : total / count),
}
const pairSerializer = {
  id: 'test-pair',
  version: 1,
  serialize: ([a, b]: [number, number]) => Buffer.from(JSON.stringify([a, b])),
  deserialize: (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString()) as [number, number],
}

/** State i is of kind i % 5; its name says so, so a restore's meta-info can be checked against it. */
function descriptorOf(i: number) {
  switch (i % 5) {
    case 0:
      return new ValueStateDescriptor(`value-${i}`, int32Serializer)
    case 1:
      return new ListStateDescriptor(`list-${i}`, int32Serializer)
    case 2:
      return new MapStateDescriptor(`map-${i}`, stringSerializer, int32Serializer)
    case 3:
      return new ReducingStateDescriptor(`reducing-${i}`, sum, int32Serializer)
    default:
      return new AggregatingStateDescriptor(`aggregating-${i}`, average, pairSerializer)
  }
}
const DESCRIPTORS = Array.from({ length: STATES }, (_, i) => descriptorOf(i))

/** Writes state i of key number k; what checkAll expects is a function of (i, k) only. */
function writeAll(b: KeyedStateBackend<string>): void {
  for (const [k, key] of KEYS.entries()) {
    b.setCurrentKey(key)
    for (const [i, d] of DESCRIPTORS.entries()) {
      const x = i * 10 + k
      switch (d.kind) {
        case 'value':
          b.getState(d).update(x)
          break
        case 'list':
          b.getListState(d).add(x)
          b.getListState(d).addAll([x + 1, x + 2])
          break
        case 'map':
          b.getMapState(d).putAll([['a', x], ['b', -x]])
          break
        case 'reducing':
          b.getReducingState(d).add(x)
          b.getReducingState(d).add(1)
          break
        case 'aggregating':
          b.getAggregatingState(d).add(x)
          b.getAggregatingState(d).add(x + 2)
          break
      }
    }
  }
}

function checkAll(b: KeyedStateBackend<string>, keys: readonly string[], where: string): void {
  for (const key of keys) {
    const k = KEYS.indexOf(key)
    b.setCurrentKey(key)
    for (const [i, d] of DESCRIPTORS.entries()) {
      const x = i * 10 + k
      const what = `${where}: ${d.name} of ${key}`
      switch (d.kind) {
        case 'value':
          assert.equal(b.getState(d).value(), x, what)
          break
        case 'list':
          assert.deepEqual(b.getListState(d).get(), [x, x + 1, x + 2], what)
          break
        case 'map':
          assert.deepEqual([...b.getMapState(d).entries()], [['a', x], ['b', -x]], what)
          break
        case 'reducing':
          assert.equal(b.getReducingState(d).get(), x + 1, what)
          break
        case 'aggregating':
          assert.equal(b.getAggregatingState(d).get(), x + 1, what)
          break
      }
    }
  }
}

function stateFamilies(b: RocksDBKeyedStateBackend<string>): string[] {
  return b.db.listColumnFamilies().filter((name) => name.startsWith('s:'))
}

test(`${STATES} states: registered before use, created in one batch, snapshotted, reopened and restored on every path with every value`, async () => {
  const dir = await tempDir('ks-many-states-')
  const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
  const opened: Array<RocksDBKeyedStateBackend<string>> = []
  const open = async (name: string, options: TestOptions<string> = {}) => {
    const b = await openIn<string>(join(dir.path, name), { checkpointMode: 'incremental', storage, ...options })
    opened.push(b)
    return b
  }
  try {
    const b = await open('source')
    for (const d of DESCRIPTORS) {
      if (d.kind === 'value') b.getState(d)
      else if (d.kind === 'list') b.getListState(d)
      else if (d.kind === 'map') b.getMapState(d)
      else if (d.kind === 'reducing') b.getReducingState(d)
      else b.getAggregatingState(d)
    }
    assert.equal(b.stateNames().length, STATES)
    assert.deepEqual(stateFamilies(b), [], 'no family exists before a state is used')
    b.setCurrentKey(KEYS[0]!)
    b.getState(DESCRIPTORS[0] as ValueStateDescriptor<number>).update(0)
    assert.equal(stateFamilies(b).length, STATES, 'the first use created every registered family')
    writeAll(b)
    checkAll(b, KEYS, 'source')

    const savepoint = (await b.snapshot(1, { type: 'savepoint', storage }).done).handle!
    const checkpoint = (await b.snapshot(2, { type: 'checkpoint', storage }).done).handle!
    assert.equal(savepoint.type, 'full')
    assert.equal(checkpoint.type, 'incremental')
    b.notifyCheckpointComplete(2)
    await b.close()

    const restores: Array<[string, readonly KeyedStateHandle[], TestOptions<string>]> = [
      ['from the savepoint', [savepoint], {}],
      ['from the incremental checkpoint (in place)', [checkpoint], {}],
      // Half the key groups: the checkpoint is opened in place and clipped.
      ['from the incremental checkpoint into half the range', [checkpoint], { keyGroupRange: keyGroupRangeForOperator(128, 2, 1) }],
    ]
    for (const [label, handles, options] of restores) {
      const r = await open(`restored-${opened.length}`, { restoreFrom: handles, ...options })
      assert.equal(r.stateNames().length, STATES, label)
      assert.equal(stateFamilies(r).length, STATES, `${label}: every family exists`)
      const range = r.keyGroupRange
      const keys = KEYS.filter((key) => {
        const keyGroup = assignToKeyGroup(stringSerializer.serialize(key), 128)
        return keyGroup >= range.start && keyGroup <= range.end
      })
      assert.ok(keys.length > 0 && (keys.length < KEYS.length) === (range.start > 0), `${label}: keys in range`)
      checkAll(r, keys, label)
      await r.close()
    }

    const reopened = await open('source')
    assert.equal(reopened.stateNames().length, STATES)
    checkAll(reopened, KEYS, 'reopened')
    await reopened.close()
  } finally {
    for (const b of opened) await b.close()
    await dir.remove()
  }
})

test('every method of every kind of state works as the first call on a state whose column family does not exist yet', async () => {
  const dir = await tempDir('ks-many-states-')
  const b = await openIn<string>(dir.path)
  try {
    // Each case registers its state and makes its object while the family does not exist, then calls
    // the method: the object must get its family before it reads it.
    const cases: Array<[string, (n: string) => void]> = [
      ['value.update', (n) => { const v = b.getState(new ValueStateDescriptor(n, int32Serializer)); v.update(1); assert.equal(v.value(), 1) }],
      ['value.value', (n) => assert.equal(b.getState(new ValueStateDescriptor(n, int32Serializer, 7)).value(), 7)],
      ['value.clear', (n) => b.getState(new ValueStateDescriptor(n, int32Serializer)).clear()],
      ['list.add', (n) => { const l = b.getListState(new ListStateDescriptor(n, int32Serializer)); l.add(1); assert.deepEqual(l.get(), [1]) }],
      ['list.addAll', (n) => { const l = b.getListState(new ListStateDescriptor(n, int32Serializer)); l.addAll([1, 2]); assert.deepEqual(l.get(), [1, 2]) }],
      ['list.addAll([])', (n) => b.getListState(new ListStateDescriptor(n, int32Serializer)).addAll([])],
      ['list.update', (n) => { const l = b.getListState(new ListStateDescriptor(n, int32Serializer)); l.update([3]); assert.deepEqual(l.get(), [3]) }],
      ['list.update([])', (n) => b.getListState(new ListStateDescriptor(n, int32Serializer)).update([])],
      ['list.get', (n) => assert.deepEqual(b.getListState(new ListStateDescriptor(n, int32Serializer)).get(), [])],
      ['map.put', (n) => { const m = b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)); m.put('a', 1); assert.equal(m.get('a'), 1) }],
      ['map.putAll', (n) => { const m = b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)); m.putAll([['a', 1]]); assert.deepEqual([...m.keys()], ['a']) }],
      ['map.get', (n) => assert.equal(b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).get('a'), undefined)],
      ['map.contains', (n) => assert.equal(b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).contains('a'), false)],
      ['map.remove', (n) => b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).remove('a')],
      ['map.isEmpty', (n) => assert.equal(b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).isEmpty(), true)],
      ['map.entries', (n) => assert.deepEqual([...b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).entries()], [])],
      ['map.keys', (n) => assert.deepEqual([...b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).keys()], [])],
      ['map.values', (n) => assert.deepEqual([...b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).values()], [])],
      ['map.clear', (n) => b.getMapState(new MapStateDescriptor(n, stringSerializer, int32Serializer)).clear()],
      ['reducing.add', (n) => { const r = b.getReducingState(new ReducingStateDescriptor(n, sum, int32Serializer)); r.add(2); assert.equal(r.get(), 2) }],
      ['reducing.get', (n) => assert.equal(b.getReducingState(new ReducingStateDescriptor(n, sum, int32Serializer)).get(), undefined)],
      ['aggregating.add', (n) => { const a = b.getAggregatingState(new AggregatingStateDescriptor(n, average, pairSerializer)); a.add(4); assert.equal(a.get(), 4) }],
      ['aggregating.get', (n) => assert.equal(b.getAggregatingState(new AggregatingStateDescriptor(n, average, pairSerializer)).get(), undefined)],
      ['ttl value.update', (n) => { const v = b.getState(new ValueStateDescriptor(n, int32Serializer).enableTimeToLive({ ttlMs: 60_000 })); v.update(5); assert.equal(v.value(), 5) }],
      ['keys()', (n) => { b.getState(new ValueStateDescriptor(n, int32Serializer)); assert.deepEqual([...b.keys(n)], []) }],
    ]
    b.setCurrentKey('k')
    const names = cases.map(([label], i) => `first-${i}-${label.replace(/[^a-z]/gi, '')}`)
    for (const [i, [label, run]] of cases.entries()) {
      try {
        run(names[i]!)
      } catch (e) {
        throw new Error(`${label} as the first call: ${String(e)}`, { cause: e })
      }
    }
    assert.equal(b.stateNames().length, cases.length)
    // And a snapshot of states whose families were made by different first calls reads them all.
    const storage = new FileSystemCheckpointStorage(join(dir.path, 'storage'))
    const handle = (await b.snapshot(1, { type: 'savepoint', storage }).done).handle!
    const r = await openIn<string>(join(dir.path, 'restored'), { restoreFrom: [handle], storage })
    try {
      assert.deepEqual(r.stateNames().sort(), [...names].sort())
      r.setCurrentKey('k')
      assert.equal(r.getState(new ValueStateDescriptor(names[0]!, int32Serializer)).value(), 1)
      assert.deepEqual(r.getListState(new ListStateDescriptor(names[4]!, int32Serializer)).get(), [1, 2])
    } finally {
      await r.close()
    }
  } finally {
    await b.close()
    await dir.remove()
  }
})
