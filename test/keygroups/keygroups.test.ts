import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  assignToKeyGroup,
  keyGroupRangeForOperator,
  murmur3_32,
  operatorIndexForKeyGroup,
} from '../../src/keygroups.js'
import { isKeyedStateError } from '../../src/errors.js'

const utf8 = (s: string) => new TextEncoder().encode(s)

test('murmur3 x86 32-bit matches the reference vectors', () => {
  assert.equal(murmur3_32(new Uint8Array(0)), 0)
  assert.equal(murmur3_32(new Uint8Array(0), 1), 0x514e28b7)
  assert.equal(murmur3_32(new Uint8Array(0), 0xffffffff), 0x81f16f39)
  assert.equal(murmur3_32(Uint8Array.of(0, 0, 0, 0)), 0x2362f9de)
  assert.equal(murmur3_32(utf8('hello')), 0x248bfa47)
  assert.equal(murmur3_32(utf8('Hello, world!')), 0xc0363e43)
  assert.equal(murmur3_32(utf8('The quick brown fox jumps over the lazy dog')), 0x2e4ff723)
  assert.equal(murmur3_32(utf8('a')), 0x3c2569b2)
  assert.equal(murmur3_32(utf8('ab')), 0x9bbfd75f)
  assert.equal(murmur3_32(utf8('abc')), 0xb3dd93fa)
  assert.equal(murmur3_32(utf8('abcd')), 0x43ed676a)
})

test('assignToKeyGroup is murmur3 modulo maxParallelism', () => {
  assert.equal(assignToKeyGroup(utf8('hello'), 128), 0x248bfa47 % 128)
  assert.equal(assignToKeyGroup(utf8('abc'), 32768), 0xb3dd93fa % 32768)
  assert.equal(assignToKeyGroup(utf8('anything'), 1), 0)
})

test('keyGroupRangeForOperator splits the key groups contiguously and completely', () => {
  assert.deepEqual(keyGroupRangeForOperator(128, 2, 0), { start: 0, end: 63 })
  assert.deepEqual(keyGroupRangeForOperator(128, 2, 1), { start: 64, end: 127 })
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 0), { start: 0, end: 42 })
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 1), { start: 43, end: 85 })
  assert.deepEqual(keyGroupRangeForOperator(128, 3, 2), { start: 86, end: 127 })
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 32768 }), fc.integer({ min: 1, max: 64 }), (maxP, p0) => {
      const p = Math.min(p0, maxP)
      let next = 0
      for (let i = 0; i < p; i++) {
        const r = keyGroupRangeForOperator(maxP, p, i)
        assert.equal(r.start, next)
        assert.ok(r.end >= r.start)
        for (const kg of [r.start, r.end]) assert.equal(operatorIndexForKeyGroup(maxP, p, kg), i)
        next = r.end + 1
      }
      assert.equal(next, maxP)
    }),
  )
})

test('invalid maxParallelism and operator indexes are rejected with INVALID_ARGUMENT', () => {
  for (const [m, p, i] of [[0, 1, 0], [32769, 1, 0], [128, 0, 0], [128, 129, 0], [128, 2, 2], [128, 2, -1]] as const) {
    assert.throws(() => keyGroupRangeForOperator(m, p, i), (e) => isKeyedStateError(e, 'INVALID_ARGUMENT'))
  }
})
