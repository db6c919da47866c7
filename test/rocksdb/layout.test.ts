// The bytes RocksDB holds: one column family per state, composite keys that
// keep each key group contiguous, and values in the canonical snapshot
// encoding (so full snapshots stream them unchanged).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { compositeKey, encodeListElements, parseCompositeKey } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assignToKeyGroup } from '../../src/keygroups.js'
import { int32Serializer, jsonSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import { openIn, rawEntries, tempDir, withRawDb } from './helpers.js'

const utf8 = (s: string) => Buffer.from(s, 'utf8')
const kgOf = (key: string, maxParallelism = 128) => assignToKeyGroup(utf8(key), maxParallelism)

test('entries are composite keys, grouped by key group in ascending byte order, with canonical values', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path)
    const value = new ValueStateDescriptor('v', int32Serializer)
    const windowed = new ValueStateDescriptor('w', int32Serializer)
    const list = new ListStateDescriptor('l', stringSerializer)
    const map = new MapStateDescriptor('m', stringSerializer, int32Serializer)
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`)
    for (const [i, key] of keys.entries()) {
      b.setCurrentKey(key)
      b.getState(value).update(i)
      b.getListState(list).add('a')
      b.getListState(list).add(key)
      b.getMapState(map).put('u1', i)
      b.getMapState(map).put('u0', -i)
      b.getPartitionedState(9, int32Serializer, windowed).update(i + 1)
    }
    await b.close()

    withRawDb(dir.path, (db) => {
      assert.ok(db.listColumnFamilies().includes('s:v'))
      // Raw iteration order of each column family: ascending, key groups never split.
      for (const cf of ['s:v', 's:w', 's:l', 's:m']) {
        const entries = rawEntries(db, cf)
        assert.ok(entries.length >= keys.length)
        const finished = new Set<number>()
        let current = -1
        for (let i = 0; i < entries.length; i++) {
          if (i > 0) assert.ok(Buffer.compare(entries[i - 1]!.key, entries[i]!.key) < 0, 'ascending keys')
          const parts = parseCompositeKey(entries[i]!.key)
          assert.equal(parts.keyGroup, kgOf(Buffer.from(parts.key).toString('utf8')))
          if (parts.keyGroup !== current) {
            assert.ok(!finished.has(parts.keyGroup), `key group ${parts.keyGroup} of ${cf} is split`)
            if (current >= 0) finished.add(current)
            current = parts.keyGroup
          }
        }
      }

      const values = [...rawEntries(db, 's:v'), ...rawEntries(db, 's:w')]
      assert.equal(values.length, keys.length * 2)
      for (const { key, value: raw } of values) {
        const parts = parseCompositeKey(key)
        const k = Buffer.from(parts.key).toString('utf8')
        const i = keys.indexOf(k)
        const expected = parts.namespace.length === 0 ? i : i + 1
        assert.deepEqual(raw, Buffer.from(int32Serializer.serialize(expected)))
        assert.deepEqual(Buffer.from(key), Buffer.from(compositeKey(parts.keyGroup, utf8(k), parts.namespace)))
      }

      for (const { key, value: raw } of rawEntries(db, 's:l')) {
        const k = Buffer.from(parseCompositeKey(key).key).toString('utf8')
        assert.deepEqual(raw, Buffer.from(encodeListElements([utf8('a'), utf8(k)])))
      }

      const mapEntries = rawEntries(db, 's:m')
      assert.equal(mapEntries.length, keys.length * 2)
      for (const { key, value: raw } of mapEntries) {
        const parts = parseCompositeKey(key)
        const i = keys.indexOf(Buffer.from(parts.key).toString('utf8'))
        const userKey = Buffer.from(parts.userKey).toString('utf8')
        assert.deepEqual(raw, Buffer.from(int32Serializer.serialize(userKey === 'u1' ? i : -i)))
      }
    })
  } finally {
    await dir.remove()
  }
})

test('list add appends with the merge operator: it never reads (or parses) the stored list', async () => {
  const dir = await tempDir()
  try {
    const list = new ListStateDescriptor('l', stringSerializer)
    const a = await openIn(dir.path)
    a.setCurrentKey('k')
    a.getListState(list).add('first')
    await a.close()

    // Replace the stored list with bytes that do not parse as a list.
    const garbage = Buffer.from([0xff, 0xff, 0xff])
    const key = compositeKey(kgOf('k'), utf8('k'), new Uint8Array(0))
    withRawDb(dir.path, (db) => db.put(db.columnFamily('s:l'), key, garbage))

    const b = await openIn(dir.path)
    b.setCurrentKey('k')
    b.getListState(list).add('x') // a read-modify-write would fail here
    b.getListState(list).addAll(['y', 'z'])
    assert.throws(
      () => b.getListState(list).get(),
      (e: unknown) => isKeyedStateError(e, 'CORRUPTION') && e.state === 'l',
    )
    await b.close()

    withRawDb(dir.path, (db) => {
      const raw = db.get(db.columnFamily('s:l'), key)!
      assert.deepEqual(raw, Buffer.concat([garbage, encodeListElements([utf8('x')]), encodeListElements([utf8('y'), utf8('z')])]))
    })
  } finally {
    await dir.remove()
  }
})

test('keys() lists each key once, across namespaces and map entries, and filters by namespace', async () => {
  const dir = await tempDir()
  try {
    const b = await openIn(dir.path, { maxParallelism: 8 })
    const map = new MapStateDescriptor('m', stringSerializer, jsonSerializer)
    b.setCurrentKey('')
    b.getPartitionedState(0, int32Serializer, map) // registered even when a run has no operations
    await fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string({ maxLength: 4 }), ns: fc.integer({ min: 0, max: 3 }), userKey: fc.string({ maxLength: 3 }), remove: fc.boolean() }), {
          maxLength: 60,
        }),
        (ops) => {
          const model = new Map<string, Map<number, Set<string>>>()
          for (const op of ops) {
            b.setCurrentKey(op.key)
            const state = b.getPartitionedState(op.ns, int32Serializer, map)
            let byNs = model.get(op.key)
            if (!byNs) model.set(op.key, (byNs = new Map()))
            let userKeys = byNs.get(op.ns)
            if (!userKeys) byNs.set(op.ns, (userKeys = new Set()))
            if (op.remove) {
              state.remove(op.userKey)
              userKeys.delete(op.userKey)
            } else {
              state.put(op.userKey, 1)
              userKeys.add(op.userKey)
            }
          }
          const expectAll = [...model].filter(([, byNs]) => [...byNs.values()].some((s) => s.size > 0)).map(([k]) => k)
          const all = [...b.keys('m')]
          assert.equal(new Set(all).size, all.length, 'no duplicates')
          assert.deepEqual([...all].sort(), expectAll.sort())
          for (let ns = 0; ns <= 3; ns++) {
            const inNs = [...b.keys('m', ns, int32Serializer)]
            assert.equal(new Set(inNs).size, inNs.length)
            const expected = [...model].filter(([, byNs]) => (byNs.get(ns)?.size ?? 0) > 0).map(([k]) => k)
            assert.deepEqual([...inNs].sort(), expected.sort())
          }
          // Reset for the next run.
          for (const key of model.keys()) {
            b.setCurrentKey(key)
            for (let ns = 0; ns <= 3; ns++) b.getPartitionedState(ns, int32Serializer, map).clear()
          }
        },
      ),
      { numRuns: 40 },
    )
    await b.close()
  } finally {
    await dir.remove()
  }
})
