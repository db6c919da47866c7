// Restore into the heap backend through its RestoreSink (as the full-snapshot
// reader drives it): raw entries until a descriptor is bound, keys() and
// re-snapshots from raw bytes, binding, key-group filtering and rescaling.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { HeapKeyedStateBackend } from '../../src/backends/heap/backend.js'
import { compositeKey } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assignToKeyGroup, keyGroupRangeForOperator, type KeyGroupRange } from '../../src/keygroups.js'
import { int32Serializer, stringSerializer, ValueStateDescriptor, type Serializer } from '../../src/index.js'
import type { FullSnapshotResources } from '../../src/snapshot/types.js'
import { packEntries } from '../../src/snapshot/format/packed.js'
import { compareAll, compareKeys, KEYS, Model, opArbitrary, runOps } from '../model/model.js'
import { assertSameDump, dumpModel, dumpResources, rawEntries } from './dump.js'

function heap(range?: KeyGroupRange, maxParallelism = 128): HeapKeyedStateBackend<string> {
  return new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer, maxParallelism, ...(range ? { keyGroupRange: range } : {}) })
}

/** What the full-snapshot reader does: meta-info first, then chunks per key group and state. */
function restoreInto(target: HeapKeyedStateBackend<string>, source: FullSnapshotResources): void {
  const sink = target.restoreSink()
  sink.restoreMetaInfos(source.metaInfos)
  for (let kg = source.keyGroupRange.start; kg <= source.keyGroupRange.end; kg++) {
    source.metaInfos.forEach((meta, i) => {
      for (const chunk of source.keyGroupChunks(i, kg)) sink.restoreChunk(meta.name, kg, chunk)
    })
  }
}

function bytesOfAll(resources: FullSnapshotResources): string[] {
  return rawEntries(resources).map((e) => `${e.state}:${Buffer.from(e.key).toString('hex')}=${Buffer.from(e.value).toString('hex')}`)
}

test('restored state: keys() and snapshots work from raw bytes before binding, values after binding', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 100 }), fc.integer({ min: 1, max: 64 }), async (ops, maxParallelism) => {
      const source = heap(undefined, maxParallelism)
      const model = new Model()
      runOps(source, model, ops)
      const snapshot = source.captureSnapshotResources()
      const target = heap(undefined, maxParallelism)
      try {
        restoreInto(target, snapshot)
        // Unbound: names and keys come from the raw entries.
        assert.deepEqual(target.stateNames().sort(), source.stateNames().sort())
        compareKeys(target, model)
        // Re-snapshotting unbound state re-emits the same bytes.
        const again = target.captureSnapshotResources()
        assert.deepEqual(bytesOfAll(again), bytesOfAll(snapshot))
        // Binding (by using the states) turns the entries into values.
        if (model.currentKey !== undefined) target.setCurrentKey(model.currentKey)
        compareAll(target, model)
        compareKeys(target, model)
        // Writes after binding do not reach the earlier raw snapshot.
        target.setCurrentKey('alice')
        target.getState(new ValueStateDescriptor('value', int32Serializer)).update(123456)
        assert.deepEqual(bytesOfAll(again), bytesOfAll(snapshot))
        again.release()
        const bound = target.captureSnapshotResources()
        model.currentKey = 'alice'
        model.apply({ op: 'valueUpdate', ns: undefined, value: 123456 })
        assertSameDump(dumpResources(bound), dumpModel(model, KEYS))
        bound.release()
      } finally {
        snapshot.release()
        await source.close()
        await target.close()
      }
    }),
    { numRuns: 60 },
  )
})

test('restoring at another parallelism: each instance holds exactly its key groups', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 6 }), async (ops, parallelism) => {
      const maxParallelism = 16
      const source = heap(undefined, maxParallelism)
      const model = new Model()
      runOps(source, model, ops)
      const snapshot = source.captureSnapshotResources()
      const union = new Map<string, unknown>()
      try {
        for (let i = 0; i < parallelism; i++) {
          const range = keyGroupRangeForOperator(maxParallelism, parallelism, i)
          const target = heap(range, maxParallelism)
          // The reader is meant to send only the target's key groups; send everything to check the filter.
          restoreInto(target, snapshot)
          const part = target.captureSnapshotResources()
          for (const e of rawEntries(part)) assert.ok(e.keyGroup >= range.start && e.keyGroup <= range.end)
          for (const [k, v] of dumpResources(part)) union.set(k, v)
          for (const name of target.stateNames()) {
            for (const key of target.keys(name)) {
              const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
              assert.ok(kg >= range.start && kg <= range.end, `key ${key} (key group ${kg}) visible in ${range.start}..${range.end}`)
            }
          }
          part.release()
          await target.close()
        }
        assertSameDump(union, dumpModel(model, KEYS))
      } finally {
        snapshot.release()
        await source.close()
      }
    }),
    { numRuns: 40 },
  )
})

test('entries whose key-group prefix is outside the range are dropped, even inside an in-range chunk', async () => {
  const range = { start: 0, end: 7 }
  const target = heap(range, 16)
  try {
    const [inKey, outKey] = [keyIn(range, 16, true), keyIn(range, 16, false)]
    const kgIn = assignToKeyGroup(stringSerializer.serialize(inKey), 16)
    const kgOut = assignToKeyGroup(stringSerializer.serialize(outKey), 16)
    const entries = [
      [compositeKey(kgIn, stringSerializer.serialize(inKey), new Uint8Array(0)), int32Serializer.serialize(1)],
      [compositeKey(kgOut, stringSerializer.serialize(outKey), new Uint8Array(0)), int32Serializer.serialize(2)],
    ] as const
    const sink = target.restoreSink()
    sink.restoreMetaInfos([{ name: 'v', kind: 'value', namespaceSerializer: { id: 'void', version: 1 }, valueSerializer: { id: 'int32', version: 1 } }])
    for (const chunk of packEntries([...entries])) sink.restoreChunk('v', kgIn, chunk)
    for (const chunk of packEntries([entries[1]])) sink.restoreChunk('v', kgOut, chunk)
    assert.deepEqual([...target.keys('v')], [inKey])
    const v = target.getState(new ValueStateDescriptor('v', int32Serializer))
    target.setCurrentKey(inKey)
    assert.equal(v.value(), 1)
  } finally {
    await target.close()
  }
})

test('a chunk for a state the meta-info does not list, or with broken framing, is refused', async () => {
  const target = heap()
  try {
    const sink = target.restoreSink()
    sink.restoreMetaInfos([{ name: 'v', kind: 'value', namespaceSerializer: { id: 'void', version: 1 }, valueSerializer: { id: 'int32', version: 1 } }])
    assert.throws(() => sink.restoreChunk('other', 0, new Uint8Array(0)), (e) => isKeyedStateError(e, 'CORRUPTION'))
    assert.throws(() => sink.restoreChunk('v', 0, Uint8Array.of(9, 0, 0, 0, 1)), (e) => isKeyedStateError(e, 'CORRUPTION'))
  } finally {
    await target.close()
  }
})

test('binding restored state with a serializer that cannot read it fails naming the state, and can be retried', async () => {
  const source = heap()
  const target = heap()
  try {
    source.setCurrentKey('a')
    source.getState(new ValueStateDescriptor('v', int32Serializer)).update(7)
    const snapshot = source.captureSnapshotResources()
    restoreInto(target, snapshot)
    snapshot.release()
    // Claims it can read int32 bytes but cannot.
    const liar: Serializer<number> = {
      id: 'liar',
      version: 1,
      serialize: (v) => int32Serializer.serialize(v),
      deserialize: () => {
        throw new Error('nope')
      },
      canRead: () => true,
    }
    assert.throws(
      () => target.getState(new ValueStateDescriptor('v', liar)),
      (e) => isKeyedStateError(e, 'SERIALIZER_MISMATCH') && e.state === 'v' && e.message.includes("'v'"),
    )
    assert.throws(() => target.getState(new ValueStateDescriptor('v', stringSerializer)), (e) => isKeyedStateError(e, 'SERIALIZER_MISMATCH'))
    assert.deepEqual([...target.keys('v')], ['a'])
    const v = target.getState(new ValueStateDescriptor('v', int32Serializer))
    target.setCurrentKey('a')
    assert.equal(v.value(), 7)
  } finally {
    await source.close()
    await target.close()
  }
})

function keyIn(range: KeyGroupRange, maxParallelism: number, inside: boolean): string {
  for (let i = 0; ; i++) {
    const key = `key-${i}`
    const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
    if ((kg >= range.start && kg <= range.end) === inside) return key
  }
}
