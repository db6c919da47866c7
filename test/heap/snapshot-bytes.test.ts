// The heap snapshot writes keys and values straight into its chunks (byte-writer.ts)
// instead of serializing each one; its output must stay byte for byte what
// serialize() + compositeKey + a sort of the composite keys gives (the canonical
// layout RocksDB holds), chunk boundaries included. The model below is the
// straightforward way, written once more here.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { compositeKey, encodeListElements } from '../../src/encoding.js'
import { codecOf, type StateCodec } from '../../src/backends/heap/state-data.js'
import { keyIdPolicy, latin1, type KeyId } from '../../src/backends/heap/key-ids.js'
import { packEntries, type PackedEntry } from '../../src/snapshot/format/packed.js'
import { KeyGroupScratch, keyGroupChunks, type KeyGroupItems } from '../../src/backends/heap/full-snapshot.js'
import { StateTable, valueOf, type Stored } from '../../src/backends/heap/state-table.js'
import { isKeyedStateError } from '../../src/errors.js'
import { int32Serializer, jsonSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { Serializer } from '../../src/serializers/serializer.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor, type AnyStateDescriptor } from '../../src/state/descriptors.js'
import { TtlValue, ttlValueSerializer } from '../../src/ttl/value.js'

/** Every item of a table, as one key group's items. */
function itemsOf(table: StateTable): KeyGroupItems {
  const namespaces: Uint8Array[] = []
  const keyIds: KeyId[] = []
  const stored: Stored[] = []
  for (const nt of table.namespaces.values()) {
    for (const [id, s] of nt.entries) {
      // Listed last to first: the writer must not depend on the order it gets the items in.
      namespaces.unshift(nt.namespaceBytes)
      keyIds.unshift(id)
      stored.unshift(s!)
    }
  }
  return { items: { namespaces, keyIds, stored, offsets: Uint32Array.of(0, keyIds.length) }, from: 0, to: keyIds.length }
}

function modelChunks(codec: StateCodec, keyGroup: number, table: StateTable, targetBytes: number): Uint8Array[] {
  const out: PackedEntry[] = []
  for (const nt of table.namespaces.values()) {
    for (const [id, stored] of nt.entries) {
      const key = codec.keys.bytesOf(id)
      const value = valueOf(stored!)
      if (codec.kind === 'list') {
        out.push([compositeKey(keyGroup, key, nt.namespaceBytes), encodeListElements((value as unknown[]).map((e) => codec.value.serialize(e)))])
      } else if (codec.kind === 'map') {
        for (const [u, v] of value as Map<KeyId, unknown>) {
          out.push([compositeKey(keyGroup, key, nt.namespaceBytes, codec.userKeys!.bytesOf(u)), codec.value.serialize(v)])
        }
      } else {
        out.push([compositeKey(keyGroup, key, nt.namespaceBytes), codec.value.serialize(value)])
      }
    }
  }
  out.sort((a, b) => Buffer.compare(a[0], b[0]))
  return [...packEntries(out, targetBytes)]
}

// Any UTF-16 code unit, lone surrogates included (the string serializer writes those as WTF-8).
const anyString = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength })
const text = fc.oneof(fc.string({ maxLength: 12 }), anyString(12), anyString(120), fc.string({ unit: 'binary', maxLength: 70 }))

type Case = { keySerializer: Serializer<any>; key: fc.Arbitrary<unknown>; descriptor: AnyStateDescriptor; value: fc.Arbitrary<unknown> }

const cases: Case[] = [
  { keySerializer: stringSerializer, key: text, descriptor: new ValueStateDescriptor('v', stringSerializer), value: text },
  // Keys sharing long prefixes, some of them prefixes of others: the sort settles ties byte by byte.
  {
    keySerializer: stringSerializer,
    key: fc.tuple(fc.constantFrom('', 'user-', 'user-0000'), fc.string({ unit: fc.constantFrom('0', '1', '\u0000', 'é'), maxLength: 7 })).map(([p, s]) => p + s),
    descriptor: new ValueStateDescriptor('v', stringSerializer),
    value: text,
  },
  { keySerializer: int32Serializer, key: fc.integer({ min: -0x80000000, max: 0x7fffffff }), descriptor: new ValueStateDescriptor('v', int32Serializer), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) },
  { keySerializer: jsonSerializer, key: fc.oneof(fc.integer(), fc.boolean(), text, fc.array(fc.integer(), { maxLength: 3 })), descriptor: new ValueStateDescriptor('v', jsonSerializer), value: fc.jsonValue() },
  {
    keySerializer: stringSerializer,
    key: text,
    descriptor: new ValueStateDescriptor('v', ttlValueSerializer(stringSerializer)),
    value: fc.tuple(fc.integer({ min: -(2 ** 50), max: 2 ** 50 }), text).map(([ts, v]) => new TtlValue(ts, v)),
  },
  { keySerializer: stringSerializer, key: text, descriptor: new ListStateDescriptor('l', stringSerializer), value: fc.array(text, { minLength: 1, maxLength: 5 }) },
  {
    keySerializer: int32Serializer,
    key: fc.integer({ min: -5, max: 5 }),
    descriptor: new MapStateDescriptor('m', stringSerializer, stringSerializer),
    value: fc.uniqueArray(fc.tuple(text, text), { minLength: 1, maxLength: 6, selector: ([k]) => k }).map((es) => new Map(es)),
  },
  {
    keySerializer: stringSerializer,
    key: text,
    descriptor: new MapStateDescriptor('m', jsonSerializer, ttlValueSerializer(int32Serializer)),
    value: fc
      .uniqueArray(fc.tuple(fc.oneof(fc.integer(), text), fc.integer({ min: -9, max: 9 })), { minLength: 1, maxLength: 6, selector: ([k]) => JSON.stringify(k) })
      .map((es) => new Map(es.map(([k, v]) => [k, new TtlValue(1_700_000_000_000 + v, v)]))),
  },
]

test('heap snapshot chunks equal serialize() + compositeKey, sorted and packed (every built-in fast path and the generic one)', () => {
  // One working space for every call, as a snapshot reuses it from key group to key group.
  const scratch = new KeyGroupScratch()
  for (const c of cases) {
    const codec = codecOf(c.descriptor, keyIdPolicy(c.keySerializer))
    const namespaces = [new Uint8Array(0), Uint8Array.of(1), Uint8Array.of(1, 0), Uint8Array.from({ length: 200 }, (_, i) => i)]
    fc.assert(
      fc.property(
        fc.array(fc.tuple(c.key, fc.nat(namespaces.length - 1), c.value), { maxLength: 60 }),
        fc.integer({ min: 16, max: 600 }),
        fc.integer({ min: 0, max: 0xffff }),
        (entries, targetBytes, keyGroup) => {
          const table = new StateTable()
          for (const [key, nsIndex, value] of entries) {
            const keyBytes = c.keySerializer.serialize(key)
            const keyId = codec.keys.idOf(key, keyBytes)
            const ns = namespaces[nsIndex]!
            // A map value is keyed by user key ids, as the backend stores it.
            const stored = value instanceof Map ? new Map([...value].map(([k, v]) => [codec.userKeys!.idOf(k), v])) : value
            table.insert(latin1(ns), ns, keyId, codec.keys.isDirect(keyId), key, stored)
          }
          if (table.isEmpty()) return
          const actual = keyGroupChunks('s', codec, keyGroup, itemsOf(table), targetBytes, scratch).map((b) => Buffer.from(b))
          const expected = modelChunks(codec, keyGroup, table, targetBytes).map((b) => Buffer.from(b))
          assert.deepEqual(actual, expected)
        },
      ),
      { numRuns: 150 },
    )
  }
})

test('a value its serializer refuses fails the snapshot naming the state, key group and key', () => {
  const codec = codecOf(new ValueStateDescriptor('v', stringSerializer), keyIdPolicy(stringSerializer))
  const table = new StateTable()
  table.insert('', new Uint8Array(0), 'good', true, 'good', 'fine')
  table.insert('', new Uint8Array(0), 'bad', true, 'bad', 42)
  assert.throws(
    () => keyGroupChunks('counts', codec, 7, itemsOf(table), 1 << 20),
    (e) => isKeyedStateError(e) && e.code === 'INVALID_ARGUMENT' && /state 'counts', key group 7: .*key bad/.test(e.message),
  )
})
