// The heap backend hashes string and int32 keys without serializing them; the
// hash must equal murmur3 of the serialized bytes exactly, or keys would land
// in other key groups than on RocksDB and in snapshots.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { keyGroupOfAscii, keyGroupOfInt32, murmur3Ascii, murmur3Int32BE } from '../../src/backends/heap/key-hash.js'
import { assignToKeyGroup, int32Serializer, stringSerializer } from '../../src/index.js'
import { murmur3_32 } from '../../src/keygroups.js'

test('murmur3Ascii equals murmur3 of the UTF-8 bytes for ASCII strings, -1 otherwise', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (s) => {
      assert.equal(murmur3Ascii(s), murmur3_32(stringSerializer.serialize(s)))
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.string({ maxLength: 10 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }), fc.string({ maxLength: 10 }), (a, b, c) => {
      const s = a + b + c
      const ascii = [...s].every((ch) => ch.charCodeAt(0) < 0x80)
      assert.equal(murmur3Ascii(s), ascii ? murmur3_32(stringSerializer.serialize(s)) : -1)
    }),
  )
  assert.equal(murmur3Ascii(''), 0)
  assert.equal(murmur3Ascii('hello'), 0x248bfa47)
  assert.equal(murmur3Ascii('héllo'), -1)
  assert.equal(murmur3Ascii('abc\u0080'), -1)
})

test('murmur3Int32BE equals murmur3 of the int32 serializer bytes', () => {
  fc.assert(
    fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (v) => {
      assert.equal(murmur3Int32BE(v), murmur3_32(int32Serializer.serialize(v)))
    }),
    { numRuns: 2000 },
  )
  for (const v of [0, -0, 1, -1, 0x7fffffff, -0x80000000]) assert.equal(murmur3Int32BE(v), murmur3_32(int32Serializer.serialize(v)))
})

test('keyGroupOfAscii / keyGroupOfInt32 equal assignToKeyGroup for every maxParallelism', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 24 }), fc.integer({ min: 1, max: 32768 }), (s, maxParallelism) => {
      assert.equal(keyGroupOfAscii(s, maxParallelism), assignToKeyGroup(stringSerializer.serialize(s), maxParallelism))
    }),
    { numRuns: 2000 },
  )
  fc.assert(
    fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: 1, max: 32768 }), (v, maxParallelism) => {
      assert.equal(keyGroupOfInt32(v, maxParallelism), assignToKeyGroup(int32Serializer.serialize(v), maxParallelism))
    }),
    { numRuns: 2000 },
  )
  // Powers of two take their own path (a mask instead of a division).
  const powerOfTwo = fc.integer({ min: 0, max: 15 }).map((e) => 2 ** e)
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 24 }), fc.integer({ min: -0x80000000, max: 0x7fffffff }), powerOfTwo, (s, v, maxParallelism) => {
      assert.equal(keyGroupOfAscii(s, maxParallelism), assignToKeyGroup(stringSerializer.serialize(s), maxParallelism))
      assert.equal(keyGroupOfInt32(v, maxParallelism), assignToKeyGroup(int32Serializer.serialize(v), maxParallelism))
    }),
    { numRuns: 2000 },
  )
  assert.equal(keyGroupOfAscii('ü', 128), -1)
  for (const m of [1, 2, 127, 128, 32767, 32768]) assert.equal(keyGroupOfAscii('hello', m), 0x248bfa47 % m)
})
