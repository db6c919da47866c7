// The writer's pipeline: blocks compressed ahead on the thread pool, the file
// CRC folded from block CRCs, and whole-state reads cut at key-group
// boundaries must give the same file, byte for byte, as the plain path.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { compressSync, uncompress, uncompressSync } from 'snappy'
import { isKeyedStateError } from '../../src/errors.js'
import { compositeKey } from '../../src/encoding.js'
import { decompressBlockAsync, savesEnough, snappyLiteralBody, snappyLiteralHead } from '../../src/snapshot/format/codec.js'
import { crc32Combine } from '../../src/snapshot/format/crc.js'
import { FullSnapshotEncoder, type SnapshotMeta } from '../../src/snapshot/format/encoder.js'
import { BLOCK_HEADER_BYTES } from '../../src/snapshot/format/constants.js'
import { restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { CompressionCodec, FullSnapshotHandle, FullSnapshotResources } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { expectedFlat, metaInfo, modelArbitrary, packedChunk, RecordingSink, removeTempDirs, resourcesOf, runs, tempDir, wholeStateResourcesOf, type Model } from './helpers.js'

/** A raw snappy block made of one literal: what the writer stores as head + payload, in one buffer. */
function snappyLiteralBlock(raw: Uint8Array): Buffer {
  return Buffer.concat([snappyLiteralHead(raw.length), raw])
}

after(removeTempDirs)

test('crc32Combine gives the CRC of a concatenation from the CRCs of its parts', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
      const whole = crc32(Buffer.concat([a, b])) >>> 0
      assert.equal(crc32Combine(crc32(a), crc32(b), b.length), whole)
    }),
    { numRuns: runs(300) },
  )
  // Lengths beyond 32 bits (files over 4 GiB): shifting by 2^32 + 5 bytes at once equals shifting by 2^32, then by 5.
  const a = crc32(Buffer.from('a'))
  const n = 2 ** 32 + 5
  assert.equal(crc32Combine(crc32Combine(a, 0, 2 ** 32), 0, 5), crc32Combine(a, 0, n))
})

const meta: SnapshotMeta = {
  maxParallelism: 8,
  keyGroupRange: { start: 0, end: 7 },
  states: [metaInfo('s', 'value')],
}

async function encode(codec: CompressionCodec, blocks: Array<{ kg: number; raw: Buffer; last: boolean }>, compressAhead: number) {
  const parts: Buffer[] = []
  const released: Uint8Array[] = []
  // A sink that accepts bytes at once but reads them later, as a storage write in flight does.
  let writing = Promise.resolve()
  const encoder = new FullSnapshotEncoder(
    meta,
    codec,
    async (bytes, onWritten) => {
      const copy = Buffer.from(bytes)
      writing = writing.then(async () => {
        await new Promise((resolve) => setImmediate(resolve))
        assert.deepEqual(Buffer.from(bytes), copy, 'bytes changed before the sink wrote them')
        parts.push(copy)
        onWritten?.()
      })
    },
    { compressAhead, onPayloadReleased: (p) => released.push(p) },
  )
  await encoder.begin()
  for (const b of blocks) await encoder.block(b.kg, b.raw, b.last)
  const summary = await encoder.finish()
  await writing
  return { file: Buffer.concat(parts), summary, released }
}

test('compressing ahead writes the same bytes as compressing each block in turn; the file CRC is that of the bytes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 2000 }), repeat: fc.integer({ min: 1, max: 40 }), last: fc.boolean() }), { minLength: 1, maxLength: 12 }),
      fc.constantFrom<CompressionCodec>('none', 'snappy'),
      fc.integer({ min: 1, max: 4 }),
      async (specs, codec, ahead) => {
        // Ascending key groups, each ending with a last block.
        const blocks = specs.slice(0, 8).map((s, i) => ({ kg: i, raw: Buffer.concat(new Array(s.repeat).fill(Buffer.from(s.bytes))), last: true }))
        const plain = await encode(codec, blocks, 0)
        const ahead_ = await encode(codec, blocks, ahead)
        assert.ok(plain.file.equals(ahead_.file))
        assert.deepEqual(ahead_.summary, plain.summary)
        assert.equal(plain.summary.crc32, crc32(plain.file) >>> 0)
        assert.equal(plain.summary.sizeBytes, plain.file.length)
        // Every payload comes back once, so the caller can reuse it.
        assert.equal(ahead_.released.length, blocks.length)
        if (codec === 'snappy') {
          // Stored bytes are what snappy's one-shot compressor makes (the format older files have),
          // or, when that would not save an eighth, one literal of the raw bytes.
          const first = plain.summary.keyGroupOffsets[0]!
          const raw = blocks[0]!.raw
          const compressed = compressSync(raw)
          const stored = plain.file.subarray(first + BLOCK_HEADER_BYTES, first + BLOCK_HEADER_BYTES + plain.file.readUInt32LE(first + 4))
          if (savesEnough(raw.length, compressed.length)) assert.ok(stored.equals(compressed) || stored.equals(snappyLiteralBlock(raw)))
          else assert.ok(stored.equals(snappyLiteralBlock(raw)), 'a block that saves too little is stored as a literal')
        }
      },
    ),
    { numRuns: runs(40) },
  )
})

test('a snappy block of one literal reads back with both snappy decompressors, at every length encoding', async () => {
  const lengths = [1, 59, 60, 61, 255, 256, 257, 65_535, 65_536, 65_537, 1 << 20, (1 << 24) + 3]
  for (const n of lengths) {
    const raw = Buffer.alloc(n)
    for (let i = 0; i < n; i++) raw[i] = (i * 7919) & 0xff
    const block = snappyLiteralBlock(raw)
    assert.ok((uncompressSync(block, { asBuffer: true }) as Buffer).equals(raw), `${n} bytes (sync)`)
    assert.ok(((await uncompress(block, { asBuffer: true })) as Buffer).equals(raw), `${n} bytes (thread pool)`)
    const view = snappyLiteralBody(block, n)
    assert.ok(view && Buffer.from(view).equals(raw) && view.buffer === block.buffer, `${n} bytes (read in place, no copy)`)
    assert.ok(Buffer.from(await decompressBlockAsync('snappy', block, n)).equals(raw), `${n} bytes (the reader)`)
  }
})

test('only a block of exactly one literal of the announced length is read in place; every snappy block reads back the same', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.boolean(), async (bytes, repetitive) => {
      const raw = Buffer.from(repetitive ? Buffer.concat([bytes, bytes, bytes]) : bytes)
      const compressed = compressSync(raw)
      const body = snappyLiteralBody(compressed, raw.length)
      if (body) assert.ok(Buffer.from(body).equals(raw))
      assert.ok(Buffer.from(await decompressBlockAsync('snappy', compressed, raw.length)).equals(raw))
      const literal = snappyLiteralBlock(raw)
      // A literal followed by anything, or one that does not fill the block, is decompressed instead.
      assert.equal(snappyLiteralBody(Buffer.concat([literal, Buffer.from([0])]), raw.length), undefined)
      assert.equal(snappyLiteralBody(literal.subarray(0, literal.length - 1), raw.length), undefined)
    }),
    { numRuns: runs(100) },
  )
})

test('blocks that do not compress by an eighth are stored as literals, the others as snappy makes them', async () => {
  const random = randomBytes(1 << 20)
  const text = Buffer.from('user-4711 clicked checkout; '.repeat(40_000).slice(0, 1 << 20))
  for (const compressAhead of [0, 2]) {
    const { file, summary } = await encode('snappy', [{ kg: 0, raw: random, last: true }, { kg: 1, raw: text, last: true }], compressAhead)
    const storedOf = (kg: number) => {
      const at = summary.keyGroupOffsets[kg]!
      return file.subarray(at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + file.readUInt32LE(at + 4))
    }
    assert.ok(storedOf(0).equals(snappyLiteralBlock(random)), 'random bytes: one literal')
    assert.ok(storedOf(0).length < random.length + 8)
    assert.ok(storedOf(1).equals(compressSync(text)), 'text: compressed')
  }
})

async function snapshotBytes(resources: FullSnapshotResources, model: Model, storage: FileSystemCheckpointStorage, root: string, codec: CompressionCodec, bound?: number) {
  const run = runFullSnapshot(1, resources, { type: 'checkpoint', storage, compression: codec }, { maxParallelism: model.maxParallelism, tuning: { blockRawBytesMax: bound } }, 0)
  const handle = (await run.done).handle as FullSnapshotHandle | undefined
  if (!handle) return undefined
  return { handle, bytes: await readFile(join(root, handle.file.path)) }
}

test('reading each state in one pass (chunks across key groups) writes the same file as reading key group by key group', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  await fc.assert(
    fc.asyncProperty(modelArbitrary(), fc.integer({ min: 1, max: 7 }), fc.constantFrom<CompressionCodec>('none', 'snappy'), fc.constantFrom(undefined, 64, 200), async (model, perChunk, codec, bound) => {
      const byKeyGroup = await snapshotBytes(resourcesOf(model, perChunk), model, storage, root, codec, bound)
      const whole = await snapshotBytes(wholeStateResourcesOf(model, perChunk), model, storage, root, codec, bound)
      if (!byKeyGroup || !whole) {
        assert.equal(byKeyGroup, whole)
        return
      }
      assert.ok(whole.bytes.equals(byKeyGroup.bytes))
      assert.deepEqual(whole.handle.keyGroupOffsets, byKeyGroup.handle.keyGroupOffsets)
      assert.equal(whole.handle.file.crc32, crc32(whole.bytes) >>> 0)
      const sink = new RecordingSink()
      await restoreFullHandles([whole.handle], storage, model.range, sink, undefined, { maxParallelism: model.maxParallelism })
      assert.deepEqual(sink.flat(), expectedFlat([model], model.range))
    }),
    { numRuns: runs(40) },
  )
})

test('a backend whose whole-state chunks go backwards or leave the range fails the run naming the state, and leaves no file', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const entry = (kg: number, k: string) => [compositeKey(kg, Buffer.from(k), new Uint8Array(0)), Buffer.from('v')] as const
  const cases: Array<[string, Array<ReturnType<typeof entry>>, RegExp]> = [
    ['backwards', [entry(2, 'a'), entry(1, 'b')], /state 'ordered' gave an entry of key group 1 while key group 2 was read/],
    ['outside', [entry(1, 'a'), entry(9, 'b')], /state 'ordered' gave an entry of key group 9 while key group 1 was read/],
  ]
  for (const [, entries, message] of cases) {
    const resources: FullSnapshotResources = {
      metaInfos: [metaInfo('ordered', 'value')],
      keyGroupRange: { start: 0, end: 3 },
      keyGroupChunks: () => [],
      *stateChunks() {
        yield packedChunk(entries)
      },
      isEmpty: () => false,
      release() {},
    }
    const run = runFullSnapshot(1, resources, { type: 'checkpoint', storage }, { maxParallelism: 16 }, 0)
    await assert.rejects(run.done, (e) => isKeyedStateError(e) && e.code === 'INTERNAL' && message.test(e.message))
    assert.deepEqual(await storage.list(''), [])
  }
})

test('a file larger than the background sync interval of the file-system storage commits whole', async () => {
  const root = await tempDir()
  const storage = new FileSystemCheckpointStorage(root)
  const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'big.kss')
  const piece = Buffer.alloc(1024 * 1024)
  let crc = 0
  for (let i = 0; i < 20; i++) {
    piece.fill(i)
    crc = crc32(piece, crc)
    await out.write(piece)
  }
  assert.equal(await out.commit(), 20 * piece.length)
  const bytes = await readFile(join(root, out.path))
  assert.equal(crc32(bytes) >>> 0, crc >>> 0)
})
