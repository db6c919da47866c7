// The TTL byte layout: timestamp encoding, the stored-value serializer, and the
// snapshot transformer's handling of values, lists and malformed bytes.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { encodeListElements, decodeListElements } from '../../src/encoding.js'
import { isKeyedStateError } from '../../src/errors.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { readTimestamp, TtlValue, ttlSnapshotTransformer, ttlValueSerializer, withoutExpired, writeTimestamp } from '../../src/ttl/value.js'

const safeInt = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })

test('timestamps round-trip as i64be, negative ones included, and equal BigInt64 encoding', () => {
  fc.assert(
    fc.property(safeInt, (ms) => {
      const out = new Uint8Array(10)
      writeTimestamp(out, 1, ms)
      assert.equal(readTimestamp(out, 1), ms)
      const expected = Buffer.alloc(8)
      expected.writeBigInt64BE(BigInt(ms))
      assert.deepEqual(Buffer.from(out.subarray(1, 9)), expected)
    }),
  )
})

test('the stored-value serializer wraps the user bytes after the timestamp', () => {
  const s = ttlValueSerializer(stringSerializer)
  fc.assert(
    fc.property(safeInt, fc.string(), (ts, v) => {
      const bytes = s.serialize(new TtlValue(ts, v))
      assert.deepEqual(bytes.subarray(8), stringSerializer.serialize(v))
      assert.deepEqual(s.deserialize(bytes), new TtlValue(ts, v))
    }),
  )
  assert.throws(() => s.deserialize(Uint8Array.of(1, 2, 3)), (e: unknown) => isKeyedStateError(e, 'CORRUPTION'))
})

function stamped(ts: number, text: string): Uint8Array {
  return ttlValueSerializer(stringSerializer).serialize(new TtlValue(ts, text))
}

test('withoutExpired: values go when expired, lists lose expired elements, malformed bytes stay', () => {
  const live = stamped(60, 'live')
  assert.equal(withoutExpired('value', live, 100, 159), live)
  assert.equal(withoutExpired('value', live, 100, 160), undefined)
  const short = Uint8Array.of(1, 2)
  assert.equal(withoutExpired('value', short, 1, 1e12), short)

  const list = encodeListElements([stamped(0, 'a'), stamped(60, 'b'), stamped(10, 'c')])
  assert.equal(withoutExpired('list', list, 100, 99), list)
  assert.deepEqual(decodeListElements(withoutExpired('list', list, 100, 150)!), [stamped(60, 'b')])
  assert.equal(withoutExpired('list', list, 100, 1000), undefined)
  const badFraming = Uint8Array.of(0, 0, 0, 9, 1)
  assert.equal(withoutExpired('list', badFraming, 1, 1e12), badFraming)
  const shortElement = encodeListElements([Uint8Array.of(1)])
  assert.equal(withoutExpired('list', shortElement, 1, 1e12), shortElement)

  const map = ttlSnapshotTransformer('map', 100, 150)
  assert.equal(map(new Uint8Array(0), stamped(0, 'x')), undefined)
  const reducing = ttlSnapshotTransformer('reducing', 100, 150)
  assert.equal(reducing(new Uint8Array(0), live), live)
})
