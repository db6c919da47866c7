// Large files: tens of MB go in and out in bounded pieces (streamed, never
// buffered whole), through create/write, upload, openReadStream and download;
// sizes around the storage's part size (factory.partSizeBytes, S3 multipart)
// and reads across a part boundary; a discarded large file leaves no parts.
import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { crc32 } from 'node:zlib'
import type { StorageFactory } from './factory.js'
import { crcOf, patternBytes, sortedPaths, withStorage } from './helpers.js'

const LARGE_BYTES = 48 * 1024 * 1024
const PIECE_BYTES = 1024 * 1024
/** A stream piece this large would mean the storage buffered a good part of the file. */
const PIECE_MAX_BYTES = 16 * 1024 * 1024

/** CRC-32 and size of a stream, checking that no piece is larger than PIECE_MAX_BYTES. */
async function crcOfStream(stream: NodeJS.ReadableStream): Promise<{ crc: number; sizeBytes: number; pieces: number }> {
  let crc = 0
  let sizeBytes = 0
  let pieces = 0
  for await (const chunk of stream) {
    const b = chunk as Buffer
    assert.ok(b.length <= PIECE_MAX_BYTES, `a ${b.length}-byte piece`)
    crc = crc32(b, crc)
    sizeBytes += b.length
    pieces++
  }
  return { crc: crc >>> 0, sizeBytes, pieces }
}

export function largeFileTests(factory: StorageFactory): void {
  describe(`[${factory.name}] storage large files`, () => {
    test(`a ${LARGE_BYTES >> 20} MB file written in pieces reads back streamed, from any offset`, () =>
      withStorage(factory, async ({ storage }) => {
        const base = patternBytes(PIECE_BYTES)
        /** Piece i: the pattern with its first byte set to i, so a misplaced piece changes the CRC. */
        const pieceNo = (i: number): Buffer => {
          base[0] = i
          return base
        }
        const count = LARGE_BYTES / PIECE_BYTES
        const out = await storage.create({ kind: 'shared' }, 'big.sst')
        let expected = 0
        for (let i = 0; i < count; i++) {
          // The same buffer each time: the caller may reuse it once write() resolves.
          const piece = pieceNo(i)
          expected = crc32(piece, expected)
          await out.write(piece)
        }
        assert.equal(await out.commit(), LARGE_BYTES)
        assert.equal(await storage.size('shared/big.sst'), LARGE_BYTES)
        const whole = await crcOfStream(storage.openReadStream('shared/big.sst'))
        assert.equal(whole.sizeBytes, LARGE_BYTES)
        assert.equal(whole.crc, expected >>> 0)
        assert.ok(whole.pieces > 1, 'streamed in pieces')

        const tailOffset = LARGE_BYTES - 3 * PIECE_BYTES - 5
        const tailExpected = Buffer.concat([Buffer.from(pieceNo(count - 4)).subarray(PIECE_BYTES - 5), ...[3, 2, 1].map((k) => Buffer.from(pieceNo(count - k)))])
        const tail = await crcOfStream(storage.openReadStream('shared/big.sst', tailOffset))
        assert.equal(tail.sizeBytes, tailExpected.length)
        assert.equal(tail.crc, crcOf(tailExpected))
        assert.ok((await storage.readRange('shared/big.sst', tailOffset, 10)).equals(tailExpected.subarray(0, 10)))
      }))

    test('sizes one byte below, at and above the part size round-trip; reads cross the part boundary', async () => {
      const part = factory.partSizeBytes ?? 8 * 1024 * 1024
      const local = await mkdtemp(join(tmpdir(), 'ks-suite-part-'))
      try {
        await withStorage(factory, async ({ storage }) => {
          for (const sizeBytes of [part - 1, part, part + 1]) {
            const data = patternBytes(sizeBytes, sizeBytes % 251)
            const out = await storage.create({ kind: 'shared' }, `p${sizeBytes}`)
            for (let i = 0; i < sizeBytes; i += PIECE_BYTES) await out.write(data.subarray(i, i + PIECE_BYTES))
            assert.equal(await out.commit(), sizeBytes)
            assert.equal(await storage.size(`shared/p${sizeBytes}`), sizeBytes)
            assert.equal((await crcOfStream(storage.openReadStream(`shared/p${sizeBytes}`))).crc, crcOf(data))
            assert.ok((await storage.readRange(`shared/p${sizeBytes}`, part - 3, 6)).equals(data.subarray(part - 3, part + 3)))
          }
          const data = patternBytes(part + 1, 5)
          await writeFile(join(local, 'edge.sst'), data)
          assert.deepEqual(await storage.upload({ kind: 'shared' }, 'edge.sst', join(local, 'edge.sst')), { path: 'shared/edge.sst', sizeBytes: part + 1, crc32: crcOf(data) })
          assert.ok((await storage.readRange('shared/edge.sst', part - 2, 10)).equals(data.subarray(part - 2)))
        })
      } finally {
        await rm(local, { recursive: true, force: true })
      }
    })

    test('a file of several parts discarded before commit leaves no object and no incomplete upload', () =>
      withStorage(factory, async ({ storage }) => {
        const part = factory.partSizeBytes ?? 8 * 1024 * 1024
        const out = await storage.create({ kind: 'exclusive', checkpointId: 1 }, 'discarded')
        const piece = patternBytes(PIECE_BYTES)
        for (let written = 0; written < 2 * part + PIECE_BYTES; written += PIECE_BYTES) await out.write(piece)
        await out.discard()
        assert.equal(await storage.exists('chk-1/discarded'), false)
        assert.deepEqual(await sortedPaths(storage), [])
        if (storage.listIncompleteUploads) assert.deepEqual(await storage.listIncompleteUploads(), [], 'no parts left behind')
      }))

    test(`upload and download of a ${LARGE_BYTES >> 20} MB file`, async () => {
      const local = await mkdtemp(join(tmpdir(), 'ks-suite-large-'))
      try {
        await withStorage(factory, async ({ storage }) => {
          const src = join(local, 'src.sst')
          const fh = await open(src, 'w')
          let expected = 0
          try {
            for (let i = 0; i < LARGE_BYTES / PIECE_BYTES; i++) {
              const piece = patternBytes(PIECE_BYTES, i)
              expected = crc32(piece, expected)
              await fh.write(piece)
            }
          } finally {
            await fh.close()
          }
          const up = await storage.upload({ kind: 'shared' }, 'up.sst', src)
          assert.deepEqual(up, { path: 'shared/up.sst', sizeBytes: LARGE_BYTES, crc32: expected >>> 0 })
          const copy = join(local, 'copy', 'down.sst')
          await storage.download(up.path, copy)
          assert.equal((await stat(copy)).size, LARGE_BYTES)
          assert.equal((await crcOfStream(createReadStream(copy))).crc, expected >>> 0)
          assert.equal(crcOf(await storage.readRange(up.path, LARGE_BYTES - 10, 100)), crcOf(patternBytes(PIECE_BYTES, LARGE_BYTES / PIECE_BYTES - 1).subarray(PIECE_BYTES - 10)))
        })
      } finally {
        await rm(local, { recursive: true, force: true })
      }
    })
  })
}
