// The addon's block work for restores (native/block_codec.cc, crc32.cc): the same CRC-32
// as node:zlib and the same bytes as the snappy package, on the JS thread and
// on the thread pool; forged or damaged blocks are refused with CORRUPTION,
// a forged length before anything is allocated.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { compressSync } from 'snappy'
import { codeOf, native, rejectionCode } from './helpers.js'

test('crc32 and crc32Async equal node:zlib crc32 (continued from any value too); snappyUncompress(Async) returns what the snappy package compressed', async () => {
  assert.ok(['libdeflate', 'zlib'].includes(native.crc32Implementation))
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.nat(3), fc.integer({ min: 0, max: 0xffffffff }), async (bytes, repeat, initial) => {
      const raw = Buffer.concat(Array.from({ length: repeat + 1 }, () => Buffer.from(bytes)))
      assert.equal(await native.crc32Async(raw), crc32(raw))
      assert.equal(native.crc32(raw), crc32(raw))
      // Zero bytes leave a CRC as it was; node:zlib answers 0 when the empty view has no memory (zlib's "initial value" call).
      assert.equal(native.crc32(raw, initial), raw.length === 0 ? initial : crc32(raw, initial))
      const stored = compressSync(raw)
      assert.deepEqual(native.snappyUncompress(stored, raw.length), raw)
      assert.deepEqual(await native.snappyUncompressAsync(stored, raw.length), raw)
    }),
    { numRuns: 100 },
  )
})

test('damaged or forged snappy blocks are refused with CORRUPTION, a forged length before any allocation', async () => {
  const raw = Buffer.from('abcdefgh'.repeat(1000))
  const stored = compressSync(raw)
  // Announces 4 GiB: refused for the mismatch, nothing is allocated.
  const forged = Buffer.concat([Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10]), stored.subarray(2)])
  assert.equal(codeOf(() => native.snappyUncompress(forged, raw.length)), 'CORRUPTION')
  assert.equal(codeOf(() => native.snappyUncompress(stored, raw.length + 1)), 'CORRUPTION', 'length other than announced')
  assert.equal(codeOf(() => native.snappyUncompress(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1)), 'CORRUPTION', 'malformed preamble')
  const cut = stored.subarray(0, stored.length - 3)
  assert.equal(codeOf(() => native.snappyUncompress(cut, raw.length)), 'CORRUPTION')
  assert.equal(await rejectionCode(native.snappyUncompressAsync(cut, raw.length)), 'CORRUPTION')
  assert.equal(codeOf(() => void native.snappyUncompressAsync(forged, raw.length)), 'CORRUPTION', 'refused before queueing')
  for (const bad of [undefined, 'x', 5]) {
    assert.equal(codeOf(() => native.snappyUncompress(bad as never, 1)), 'INVALID_ARGUMENT')
    assert.equal(codeOf(() => void native.crc32Async(bad as never)), 'INVALID_ARGUMENT')
    assert.equal(codeOf(() => native.crc32(bad as never)), 'INVALID_ARGUMENT')
    assert.equal(codeOf(() => native.crc32(Buffer.from('x'), bad === 5 ? -1 : (bad as never))), bad === undefined ? undefined : 'INVALID_ARGUMENT')
  }
  assert.equal(codeOf(() => native.snappyUncompress(stored, -1)), 'INVALID_ARGUMENT')
})
