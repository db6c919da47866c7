import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  assignToKeyGroup,
  keyGroupRangeForOperator,
  murmur3_32,
  formatRange,
  keyGroupRange,
  operatorIndexForKeyGroup,
  rangeContains,
  rangeIntersection,
  rangeSize,
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

const invalidArgument = (fragment: string) => (e: unknown) =>
  isKeyedStateError(e, 'INVALID_ARGUMENT') && (e as Error).message.includes(fragment)

test('assignToKeyGroup refuses a maxParallelism outside 1..32768 and keys that are not bytes (it answered NaN and a number)', () => {
  for (const m of [0, -1, 1.5, NaN, 32769, '128' as unknown as number]) {
    assert.throws(() => assignToKeyGroup(utf8('k'), m), invalidArgument('maxParallelism'))
  }
  for (const k of ['abc', 5, null, undefined, [1, 2], { length: 1 }] as unknown as Uint8Array[]) {
    assert.throws(() => assignToKeyGroup(k, 128), invalidArgument('keyBytes must be a Uint8Array'))
  }
  // A Buffer is a Uint8Array and gives the same key group as the same bytes.
  assert.equal(assignToKeyGroup(Buffer.from('hello'), 128), assignToKeyGroup(utf8('hello'), 128))
})

test('operatorIndexForKeyGroup refuses key groups and parallelisms it cannot place', () => {
  for (const [m, p, kg, fragment] of [
    [128, 2, 128, 'keyGroup'], [128, 2, -1, 'keyGroup'], [128, 2, 1.5, 'keyGroup'], [128, 0, 0, 'parallelism'],
    [128, 129, 0, 'parallelism'], [0, 1, 0, 'maxParallelism'],
  ] as const) {
    assert.throws(() => operatorIndexForKeyGroup(m, p, kg), invalidArgument(fragment))
  }
})

test('the key-group range helpers refuse what is not a range; formatRange names anything without throwing', () => {
  const notRanges = [null, 5, 'a', {}, { start: 0 }, { start: 0.5, end: 3 }, { start: 5, end: 2 }] as unknown as { start: number; end: number }[]
  for (const r of notRanges) {
    assert.throws(() => rangeSize(r), invalidArgument('rangeSize'))
    assert.throws(() => rangeContains(r, 1), invalidArgument('rangeContains'))
    assert.throws(() => rangeIntersection(r, { start: 0, end: 1 }), invalidArgument('rangeIntersection'))
    assert.throws(() => rangeIntersection({ start: 0, end: 1 }, r), invalidArgument('rangeIntersection'))
    assert.equal(typeof formatRange(r), 'string')
  }
  assert.throws(() => rangeContains({ start: 0, end: 3 }, 1.5), invalidArgument('keyGroup'))
  assert.throws(() => keyGroupRange(-1, 3), invalidArgument('start'))
  assert.throws(() => keyGroupRange(4, 2), invalidArgument('keyGroupRange'))
  assert.deepEqual(keyGroupRange(3, 2), { start: 3, end: 2 })
  assert.equal(formatRange(keyGroupRange(3, 2)), '[empty]')
  assert.equal(formatRange({ start: 1, end: 4 }), '[1..4]')
})
