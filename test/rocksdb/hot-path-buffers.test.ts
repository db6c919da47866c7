// The RocksDB hot path writes string values, list elements and map user keys in
// place into buffers it reuses across calls and states (serializeIntoFnOf), and
// reuses the views it hands to the addon. A model test: random writes and reads
// over a few keys, two states of each kind sharing the buffers, with strings of
// every shape (ASCII short and long, non-ASCII, lone surrogates, larger than the
// buffers, larger than the 1 MiB cap on them), checked against plain Maps.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import { openIn, tempDir } from './helpers.js'

const HUGE = 'x'.repeat(1024 * 1024 + 7)
const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ maxLength: 700, size: 'max' }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '\u20ac', '\uD83D\uDE00', '\uD800', '\uDFFF'), maxLength: 300, size: 'max' }),
  fc.constantFrom('', HUGE, `${HUGE}\u00e9`),
)
const key = fc.constantFrom('k1', 'k2', 'ключ', 'k\uD800', 'k'.repeat(100))
const which = fc.constantFrom(0, 1)
const op = fc.oneof(
  fc.record({ t: fc.constant('value' as const), key, which, v: text }),
  fc.record({ t: fc.constant('add' as const), key, which, v: text }),
  fc.record({ t: fc.constant('put' as const), key, which, uk: text, v: text }),
  fc.record({ t: fc.constant('get' as const), key, which, uk: text }),
)

test('values, list elements and map keys written in place through reused buffers read back exactly, whatever their shape and size', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      const dir = await tempDir()
      const b = await openIn(dir.path)
      try {
        const values = [0, 1].map((i) => b.getState(new ValueStateDescriptor(`v${i}`, stringSerializer)))
        const lists = [0, 1].map((i) => b.getListState(new ListStateDescriptor(`l${i}`, stringSerializer)))
        const maps = [0, 1].map((i) => b.getMapState(new MapStateDescriptor(`m${i}`, stringSerializer, stringSerializer)))
        // A state whose serializer has no in-place path, between the others.
        const counts = b.getState(new ValueStateDescriptor('n', int32Serializer))
        const model = {
          values: [new Map<string, string>(), new Map<string, string>()],
          lists: [new Map<string, string[]>(), new Map<string, string[]>()],
          maps: [new Map<string, Map<string, string>>(), new Map<string, Map<string, string>>()],
        }
        for (const [n, o] of ops.entries()) {
          b.setCurrentKey(o.key)
          counts.update(n)
          switch (o.t) {
            case 'value':
              values[o.which]!.update(o.v)
              model.values[o.which]!.set(o.key, o.v)
              break
            case 'add': {
              lists[o.which]!.add(o.v)
              const l = model.lists[o.which]!.get(o.key) ?? []
              model.lists[o.which]!.set(o.key, [...l, o.v])
              break
            }
            case 'put': {
              maps[o.which]!.put(o.uk, o.v)
              const m = model.maps[o.which]!.get(o.key) ?? new Map<string, string>()
              model.maps[o.which]!.set(o.key, m.set(o.uk, o.v))
              break
            }
            case 'get':
              assert.equal(maps[o.which]!.get(o.uk), model.maps[o.which]!.get(o.key)?.get(o.uk))
              break
          }
          // Every state of the current key, read right after the write.
          for (const i of [0, 1]) {
            assert.equal(values[i]!.value(), model.values[i]!.get(o.key))
            assert.deepEqual(lists[i]!.get(), model.lists[i]!.get(o.key) ?? [])
            assert.deepEqual(new Map(maps[i]!.entries()), model.maps[i]!.get(o.key) ?? new Map())
          }
          assert.equal(counts.value(), n)
        }
      } finally {
        await b.close()
        await dir.remove()
      }
    }),
    { numRuns: 25 },
  )
})
