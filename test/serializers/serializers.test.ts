// Built-in serializers: round trips (fast-check), the exact byte layouts that
// snapshots and RocksDB depend on, compatibility checks, and typed errors on bad input.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  booleanSerializer,
  bytesSerializer,
  float64Serializer,
  int32Serializer,
  int64Serializer,
  isKeyedStateError,
  jsonSerializer,
  listSerializer,
  mapSerializer,
  stringSerializer,
  tupleSerializer,
  voidNamespaceSerializer,
  type ErrorCode,
  type Serializer,
  type SerializerConfig,
} from '../../src/index.js'
import { isJsonWritableQuick, jsonText } from '../../src/serializers/primitives.js'
import { serializerCanRead, serializerConfig } from '../../src/serializers/serializer.js'
import { serializeIntoFnOf } from '../../src/serializers/output.js'

function roundTrip<T>(s: Serializer<T>, v: T): T {
  const bytes = s.serialize(v)
  assert.ok(bytes instanceof Uint8Array)
  return s.deserialize(bytes)
}

function expectError(fn: () => unknown, codes: ErrorCode[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isKeyedStateError(e), `expected a KeyedStateError, got ${String(e)}`)
    assert.ok(codes.includes(e.code), `expected one of ${codes.join(', ')}, got ${e.code}: ${e.message}`)
    return true
  })
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff })
const text = fc.string({ unit: 'grapheme', maxLength: 40 })

test('primitive serializers round-trip every valid value', () => {
  fc.assert(fc.property(text, (v) => assert.equal(roundTrip(stringSerializer, v), v)))
  fc.assert(fc.property(int32, (v) => assert.equal(roundTrip(int32Serializer, v), v === 0 ? 0 : v)))
  fc.assert(fc.property(int64, (v) => assert.equal(roundTrip(int64Serializer, v), v)))
  fc.assert(fc.property(fc.double(), (v) => assert.ok(Object.is(roundTrip(float64Serializer, v), v))))
  fc.assert(fc.property(fc.boolean(), (v) => assert.equal(roundTrip(booleanSerializer, v), v)))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (v) => assert.deepEqual(roundTrip(bytesSerializer, v), v)))
  fc.assert(fc.property(fc.jsonValue(), (v) => assert.deepEqual(roundTrip(jsonSerializer, v), JSON.parse(JSON.stringify(v)))))
  assert.equal(voidNamespaceSerializer.serialize(undefined).length, 0)
  assert.equal(voidNamespaceSerializer.deserialize(new Uint8Array(0)), undefined)
})

test('composite serializers round-trip nested values', () => {
  const listOfTuples = listSerializer(tupleSerializer(stringSerializer, int64Serializer))
  fc.assert(fc.property(fc.array(fc.tuple(text, int64), { maxLength: 10 }), (v) => assert.deepEqual(roundTrip(listOfTuples, v), v)))

  const mapOfLists = mapSerializer(stringSerializer, listSerializer(float64Serializer))
  fc.assert(
    fc.property(fc.array(fc.tuple(text, fc.array(fc.double({ noNaN: true }), { maxLength: 5 })), { maxLength: 8 }), (pairs) => {
      const m = new Map(pairs)
      assert.deepEqual(roundTrip(mapOfLists, m), m)
    }),
  )

  const tuple = tupleSerializer(bytesSerializer, booleanSerializer, jsonSerializer, listSerializer(int32Serializer))
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), fc.boolean(), fc.jsonValue({ maxDepth: 2 }), fc.array(int32, { maxLength: 5 }), (a, b, c, d) => {
      const got = roundTrip(tuple, [a, b, c, d])
      assert.deepEqual(got, [a, b, JSON.parse(JSON.stringify(c)), d.map((x) => (x === 0 ? 0 : x))])
    }),
  )

  // Elements that are not self-delimiting (strings, bytes) stay apart, including empty ones.
  const strings = listSerializer(stringSerializer)
  assert.deepEqual(roundTrip(strings, ['', 'a', '', 'bc']), ['', 'a', '', 'bc'])
  assert.deepEqual(roundTrip(tupleSerializer(stringSerializer, stringSerializer), ['ab', '']), ['ab', ''])
})

test('byte layouts are stable: big-endian numbers, UTF-8, varint-framed composites', () => {
  assert.equal(hex(int32Serializer.serialize(1)), '00000001')
  assert.equal(hex(int32Serializer.serialize(-2)), 'fffffffe')
  // Big-endian two's complement, as DataView writes it (the serializer writes the bytes itself).
  fc.assert(
    fc.property(int32, (v) => {
      const expected = new Uint8Array(4)
      new DataView(expected.buffer).setInt32(0, v, false)
      assert.deepEqual(int32Serializer.serialize(v), expected)
    }),
  )
  assert.equal(hex(int64Serializer.serialize(258n)), '0000000000000102')
  assert.equal(hex(float64Serializer.serialize(1)), '3ff0000000000000')
  assert.equal(hex(booleanSerializer.serialize(true)), '01')
  assert.equal(hex(stringSerializer.serialize('hé')), '68c3a9')
  assert.equal(hex(jsonSerializer.serialize({ a: [1] })), hex(Buffer.from('{"a":[1]}')))
  // list: count, then (length, bytes) per element
  assert.equal(hex(listSerializer(stringSerializer).serialize(['a', 'bc'])), '0201610262' + '63')
  // tuple: (length, bytes) per element, no count
  assert.equal(hex(tupleSerializer(int32Serializer, stringSerializer).serialize([1, 'x'])), '0400000001' + '0178')
  // map: count of parts (2 per entry), then key and value parts
  assert.equal(hex(mapSerializer(stringSerializer, booleanSerializer).serialize(new Map([['k', false]]))), '02016b0100')
})

test('serializer ids, versions and configs describe composites fully', () => {
  assert.deepEqual(serializerConfig(int32Serializer), { id: 'int32', version: 1 })
  assert.deepEqual(serializerConfig(listSerializer(tupleSerializer(stringSerializer, int64Serializer))), {
    id: 'list',
    version: 1,
    config: { parts: [{ id: 'tuple', version: 1, config: { parts: [{ id: 'string', version: 1 }, { id: 'int64', version: 1 }] } }] },
  })
})

test('canRead: same serializer yes, different type or nested element no', () => {
  const cfg = (s: Serializer<any>) => serializerConfig(s)
  assert.equal(serializerCanRead(int32Serializer, cfg(int32Serializer)), true)
  assert.equal(serializerCanRead(int32Serializer, cfg(int64Serializer)), false)
  assert.equal(serializerCanRead(stringSerializer, { id: 'string', version: 2 }), false)
  assert.equal(serializerCanRead(listSerializer(int32Serializer), cfg(listSerializer(int32Serializer))), true)
  assert.equal(serializerCanRead(listSerializer(int32Serializer), cfg(listSerializer(int64Serializer))), false)
  assert.equal(serializerCanRead(listSerializer(int32Serializer), cfg(int32Serializer)), false)
  assert.equal(serializerCanRead(mapSerializer(stringSerializer, int32Serializer), cfg(mapSerializer(stringSerializer, int32Serializer))), true)
  assert.equal(serializerCanRead(mapSerializer(stringSerializer, int32Serializer), cfg(mapSerializer(int32Serializer, int32Serializer))), false)
  assert.equal(serializerCanRead(tupleSerializer(stringSerializer), cfg(tupleSerializer(stringSerializer, stringSerializer))), false)
  assert.equal(serializerCanRead(tupleSerializer(stringSerializer, int32Serializer), cfg(tupleSerializer(stringSerializer, int32Serializer))), true)
  // Nested composites check all the way down.
  assert.equal(
    serializerCanRead(listSerializer(listSerializer(int32Serializer)), cfg(listSerializer(listSerializer(int64Serializer)))),
    false,
  )
})

test('custom serializers: default compatibility is id + version + config; canRead can accept older versions', () => {
  const v1: Serializer<{ n: number }> = {
    id: 'point',
    version: 1,
    config: { b: 2, a: 1 },
    serialize: (v) => jsonSerializer.serialize(v),
    deserialize: (b) => jsonSerializer.deserialize(b),
  }
  // Config comparison does not depend on key order.
  assert.equal(serializerCanRead(v1, { id: 'point', version: 1, config: { a: 1, b: 2 } }), true)
  assert.equal(serializerCanRead(v1, { id: 'point', version: 1, config: { a: 1, b: 3 } }), false)
  assert.equal(serializerCanRead(v1, { id: 'point', version: 2, config: { a: 1, b: 2 } }), false)
  const v2: Serializer<{ n: number }> = {
    ...v1,
    version: 2,
    canRead: (prev: SerializerConfig) => prev.id === 'point' && (prev.version === 1 || prev.version === 2),
  }
  assert.equal(serializerCanRead(v2, serializerConfig(v1)), true)
  assert.equal(serializerCanRead(v2, { id: 'other', version: 1 }), false)
  // A composite of custom serializers asks them.
  assert.equal(serializerCanRead(listSerializer(v2), serializerConfig(listSerializer(v1))), true)
  assert.equal(serializerCanRead(listSerializer(v1), serializerConfig(listSerializer(v2))), false)
})

test('values a serializer cannot write are refused with INVALID_ARGUMENT', () => {
  const invalid: ErrorCode[] = ['INVALID_ARGUMENT']
  expectError(() => int32Serializer.serialize(1.5), invalid)
  expectError(() => int32Serializer.serialize(2 ** 31), invalid)
  expectError(() => int32Serializer.serialize('1' as never), invalid)
  expectError(() => int64Serializer.serialize(1 as never), invalid)
  expectError(() => int64Serializer.serialize(1n << 63n), invalid)
  expectError(() => float64Serializer.serialize('x' as never), invalid)
  expectError(() => booleanSerializer.serialize(1 as never), invalid)
  expectError(() => stringSerializer.serialize(5 as never), invalid)
  expectError(() => bytesSerializer.serialize([1, 2] as never), invalid)
  expectError(() => jsonSerializer.serialize(undefined), invalid)
  expectError(() => tupleSerializer(int32Serializer, int32Serializer).serialize([1] as never), invalid)
  expectError(() => listSerializer(int32Serializer).serialize([1, 1.5]), invalid)
})

test('a refused value is described with what the serializer expects', () => {
  const message = (f: () => unknown): string => {
    try {
      f()
    } catch (e) {
      return (e as Error).message
    }
    return assert.fail('expected a throw')
  }
  assert.equal(message(() => int64Serializer.serialize(1 as never)), 'int64 serializer expects a bigint from -(2n ** 63n) to 2n ** 63n - 1n, got a number (1)')
  assert.match(message(() => int64Serializer.serialize(1n << 63n)), /expects a bigint .* got a bigint \(9223372036854775808n\)/)
  assert.match(message(() => int32Serializer.serialize('1' as never)), /int32 serializer expects an integer number from -2147483648 to 2147483647, got a string \("1"\)/)
  assert.match(message(() => float64Serializer.serialize(null as never)), /float64 serializer expects a number, got null/)
  assert.match(message(() => booleanSerializer.serialize(1 as never)), /boolean serializer expects a boolean, got a number \(1\)/)
  assert.match(message(() => stringSerializer.serialize({} as never)), /string serializer expects a string, got an object/)
})

test('bytes a serializer cannot read are refused with a typed error', () => {
  const unreadable: ErrorCode[] = ['SERIALIZER_MISMATCH', 'CORRUPTION']
  expectError(() => int32Serializer.deserialize(Uint8Array.of(1, 2, 3)), unreadable)
  expectError(() => int64Serializer.deserialize(new Uint8Array(9)), unreadable)
  expectError(() => float64Serializer.deserialize(new Uint8Array(4)), unreadable)
  expectError(() => booleanSerializer.deserialize(Uint8Array.of(2)), unreadable)
  expectError(() => booleanSerializer.deserialize(new Uint8Array(0)), unreadable)
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xff, 0xfe)), unreadable)
  expectError(() => jsonSerializer.deserialize(Buffer.from('{not json')), unreadable)
  const list = listSerializer(stringSerializer)
  const good = list.serialize(['abc', 'de'])
  expectError(() => list.deserialize(good.subarray(0, good.length - 1)), unreadable)
  expectError(() => list.deserialize(Uint8Array.of(...good, 0)), unreadable)
  expectError(() => tupleSerializer(int32Serializer, int32Serializer).deserialize(tupleSerializer(int32Serializer).serialize([1])), unreadable)
  expectError(() => mapSerializer(stringSerializer, stringSerializer).deserialize(listSerializer(stringSerializer).serialize(['odd'])), unreadable)
})

test('truncated or extended composite bytes never decode to a wrong value silently', () => {
  const s = listSerializer(tupleSerializer(stringSerializer, int32Serializer))
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ maxLength: 5 }), int32), { minLength: 1, maxLength: 5 }), fc.nat(), (v, cutSeed) => {
      const bytes = s.serialize(v)
      const cut = cutSeed % bytes.length
      try {
        s.deserialize(bytes.subarray(0, cut))
        assert.fail(`decoding ${cut} of ${bytes.length} bytes should fail`)
      } catch (e) {
        assert.ok(isKeyedStateError(e), String(e))
      }
    }),
  )
})

test('the string serializer writing in place (the RocksDB hot path) writes exactly the bytes serialize returns, or asks for room it then fits in', () => {
  const into = serializeIntoFnOf(stringSerializer, { role: 'value' })!
  // Short and long (both sides of the ASCII loops' limits), ASCII-only and any code unit, lone surrogates included.
  const strings = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 80, size: 'max' }),
    fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', 'é', '\u20ac', '\uD83D\uDE00', '\uD800'), maxLength: 700, size: 'max' }),
    fc.string({ maxLength: 700, size: 'max' }),
  )
  fc.assert(
    fc.property(strings, fc.nat(8), fc.nat(2100), (s, pos, room) => {
      const expected = stringSerializer.serialize(s)
      const out = new Uint8Array(pos + room).fill(0xaa)
      let end = into(s, out, pos)
      let buffer = out
      if (end < 0) {
        const need = -1 - end
        assert.ok(need >= expected.length, `asked for ${need} bytes, needs ${expected.length}`)
        buffer = new Uint8Array(pos + need).fill(0xaa)
        end = into(s, buffer, pos)
        assert.ok(end >= 0, 'the room it asked for must be enough')
      }
      assert.equal(hex(buffer.subarray(pos, end)), hex(expected))
      // Nothing before pos is touched.
      assert.ok(buffer.subarray(0, pos).every((b) => b === 0xaa))
    }),
  )
  expectError(() => into(5 as unknown as string, new Uint8Array(8), 0), ['INVALID_ARGUMENT'])
  assert.equal(serializeIntoFnOf(int32Serializer, { role: 'value' }), undefined)
})

test('strings are WTF-8: every string round-trips, well-formed ones as their UTF-8, different strings as different bytes', () => {
  // unit 'binary' draws any UTF-16 code unit, lone surrogates included; the second kind is mostly ASCII
  // (the short-ASCII fast path) with now and then a code unit that is not, at any place and length.
  const anyString = fc.string({ unit: 'binary', maxLength: 24 })
  const mostlyAscii = fc.string({ unit: fc.oneof({ weight: 8, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) }, fc.constantFrom('\x80', 'é', '\uD800', '\uDC00', '😀')), maxLength: 80 })
  const utf8 = new TextEncoder()
  fc.assert(
    fc.property(fc.oneof(anyString, mostlyAscii), (s) => {
      const bytes = stringSerializer.serialize(s)
      assert.equal(stringSerializer.deserialize(bytes), s)
      if (s.isWellFormed()) assert.deepEqual(bytes, utf8.encode(s))
    }),
  )
  fc.assert(
    fc.property(anyString, anyString, (a, b) => {
      fc.pre(a !== b)
      assert.notEqual(hex(stringSerializer.serialize(a)), hex(stringSerializer.serialize(b)))
    }),
  )
  // The vectors of the WTF-8 specification: a lone surrogate is the 3-byte form of its code point.
  assert.equal(hex(stringSerializer.serialize('\uD800')), 'eda080')
  assert.equal(hex(stringSerializer.serialize('\uDC00')), 'edb080')
  assert.equal(hex(stringSerializer.serialize('\uDC00\uD800')), 'edb080eda080')
  assert.equal(hex(stringSerializer.serialize('a\uDBFFb')), '61edafbf62')
  assert.equal(hex(stringSerializer.serialize('\uD83D\uDE00')), 'f09f9880')
  // A leading byte-order mark is a character, not a marker to drop.
  assert.equal(stringSerializer.deserialize(stringSerializer.serialize('\uFEFFa')), '\uFEFFa')
})

test('string bytes that are neither UTF-8 nor WTF-8 are refused with SERIALIZER_MISMATCH', () => {
  const unreadable: ErrorCode[] = ['SERIALIZER_MISMATCH']
  // A surrogate pair as two 3-byte forms: its only WTF-8 form is the 4-byte one, or two byte strings would read as one string.
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)), unreadable)
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xed, 0xa0)), unreadable)
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xed, 0xa0, 0x41)), unreadable)
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xed, 0xa0, 0x80, 0xff)), unreadable)
  expectError(() => stringSerializer.deserialize(Uint8Array.of(0xc0, 0x80, 0xed, 0xa0, 0x80)), unreadable)
  // A high then a low surrogate with something between them are two lone surrogates.
  assert.equal(stringSerializer.deserialize(Uint8Array.of(0xed, 0xa0, 0xbd, 0x41, 0xed, 0xb8, 0x80)), '\uD83DA\uDE00')
})

test('json: lone surrogates round-trip (escaped); bigints, circular values, functions and symbols are refused with INVALID_ARGUMENT', () => {
  for (const v of ['\uD800', { '\uDC00k': ['\uD800', 'a\uDBFF'] }]) assert.deepEqual(roundTrip(jsonSerializer, v), v)
  const circular: Record<string, unknown> = {}
  circular.self = circular
  for (const bad of [1n, { a: [2n] }, circular, () => 1, Symbol('s'), { toJSON: () => undefined }]) {
    expectError(() => jsonSerializer.serialize(bad), ['INVALID_ARGUMENT'])
  }
})

test('composites check what their element serializers return and the shape of what they are given', () => {
  const broken: Serializer<number> = { id: 'broken', version: 1, serialize: () => 'abc' as never, deserialize: () => 0 }
  for (const write of [
    () => listSerializer(broken).serialize([1]),
    () => mapSerializer(broken, int32Serializer).serialize(new Map([[1, 1]])),
    () => mapSerializer(int32Serializer, broken).serialize(new Map([[1, 1]])),
    () => tupleSerializer(int32Serializer, broken).serialize([1, 1]),
  ]) {
    assert.throws(write, (e: unknown) => isKeyedStateError(e, 'INVALID_ARGUMENT') && e.message.includes("'broken'") && e.message.includes('a string'))
  }
  expectError(() => listSerializer(int32Serializer).serialize({ length: 2 } as never), ['INVALID_ARGUMENT'])
  expectError(() => mapSerializer(int32Serializer, int32Serializer).serialize({} as never), ['INVALID_ARGUMENT'])
})

test('the heap\'s quick json check never accepts what jsonText refuses, and accepts plain JSON data', () => {
  const accepts = (v: unknown): boolean => {
    try {
      jsonText(v)
      return true
    } catch (e) {
      assert.ok(isKeyedStateError(e, 'INVALID_ARGUMENT'), String(e))
      return false
    }
  }
  const anything = fc.anything({
    withBigInt: true,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
  })
  const odd = fc.constantFrom<unknown>(() => 1, Symbol('s'), undefined, { toJSON: () => 1n }, { get bad() { throw new Error('getter') } }, [1, [2, [3n]]])
  fc.assert(
    fc.property(fc.oneof(anything, odd, fc.jsonValue()), (v) => {
      if (isJsonWritableQuick(v) && !accepts(v)) assert.fail(`the quick check said yes to ${fc.stringify(v)}`)
    }),
    { numRuns: 2000 },
  )
  const circular: Record<string, unknown> = { a: [1] }
  ;(circular.a as unknown[]).push(circular)
  assert.equal(isJsonWritableQuick(circular), false)
  let deep: unknown = 1
  for (let i = 0; i < 100; i++) deep = [deep]
  assert.equal(isJsonWritableQuick(deep), false)
  assert.ok(accepts(deep))
  for (const plain of [null, 'x', 1.5, true, [], {}, { a: [1, 'b', null, { c: false }] }, Object.create(null)]) {
    assert.equal(isJsonWritableQuick(plain), true, fc.stringify(plain))
  }
})
