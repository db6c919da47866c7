import assert from 'node:assert/strict'
import { readFile, truncate, writeFile } from 'node:fs/promises'
import { after, test } from 'node:test'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { CorruptSnapshotError, isKeyedStateError } from '../../src/errors.js'
import { openFullSnapshot, verifyFullSnapshot } from '../../src/snapshot/format/index.js'
import { restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { CompressionCodec, FullSnapshotHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { buildModel, expectedFlat, modelArbitrary, RecordingSink, removeTempDirs, resourcesOf, runs, tempDir, type Model } from './helpers.js'

after(removeTempDirs)

const CORRUPT_CODES = ['CORRUPTION', 'CHECKSUM_MISMATCH', 'TRUNCATED']

async function snapshot(model: Model, storage: FileSystemCheckpointStorage, codec: CompressionCodec, checkpointId: number) {
  const run = runFullSnapshot(checkpointId, resourcesOf(model), { type: 'checkpoint', storage, compression: codec }, {
    maxParallelism: model.maxParallelism,
    tuning: { blockRawBytesMax: 96 },
  }, 0)
  return (await run.done).handle as FullSnapshotHandle | undefined
}

/** Everything a sink received must be in the model (never wrong data), whatever happened after. */
function assertOnlyTrueData(sink: RecordingSink, model: Model): void {
  const truth = new Set(expectedFlat([model], model.range))
  for (const e of sink.flat()) assert.ok(truth.has(e), `restore delivered wrong data: ${e}`)
}

function assertCorrupt(e: unknown, file: string): void {
  assert.ok(e instanceof CorruptSnapshotError, `expected CorruptSnapshotError, got ${String(e)}`)
  assert.ok(CORRUPT_CODES.includes(e.code), e.code)
  assert.ok(e.message.includes(file), `message names the file: ${e.message}`)
  assert.equal(typeof e.offset, 'number', `error carries an offset: ${e.message}`)
}

const nonEmptyModel = modelArbitrary({ maxEntries: 40 }).filter((m) => expectedFlat([m], m.range).length > 0)

test('a flipped byte anywhere in the file is always detected and never restored', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  let id = 0
  await fc.assert(
    fc.asyncProperty(nonEmptyModel, fc.constantFrom<CompressionCodec>('none', 'snappy'), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }), async (model, codec, where, mask) => {
      const handle = (await snapshot(model, storage, codec, ++id))!
      const file = storage.localPath(handle.file.path)
      const bytes = await readFile(file)
      const at = Math.floor(where * bytes.length)
      bytes[at]! ^= mask
      await writeFile(file, bytes)
      const sink = new RecordingSink()
      const error = await restoreFullHandles([handle], storage, model.range, sink).then(() => undefined, (e: unknown) => e)
      assert.ok(error, `flip of byte ${at} (of ${bytes.length}) with 0x${mask.toString(16)} was not detected`)
      assertCorrupt(error, file)
      assertOnlyTrueData(sink, model)
      const report = await verifyFullSnapshot(storage, handle.file.path)
      assert.equal(report.ok, false, `verify missed the flip of byte ${at}`)
    }),
    { numRuns: runs(80) },
  )
})

test('a truncation anywhere is always detected, with and without the handle', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  let id = 0
  await fc.assert(
    fc.asyncProperty(nonEmptyModel, fc.constantFrom<CompressionCodec>('none', 'snappy'), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), async (model, codec, where) => {
      const handle = (await snapshot(model, storage, codec, ++id))!
      const file = storage.localPath(handle.file.path)
      const length = Math.floor(where * handle.file.sizeBytes)
      await truncate(file, length)
      const sink = new RecordingSink()
      const error = await restoreFullHandles([handle], storage, model.range, sink).then(() => undefined, (e: unknown) => e)
      assertCorrupt(error, file)
      assert.equal((error as CorruptSnapshotError).code, 'TRUNCATED')
      assert.equal(sink.flat().length, 0)
      // A tool opening the bare file (no size from a handle) still finds out.
      const opened = await openFullSnapshot(storage, handle.file.path).then(() => undefined, (e: unknown) => e)
      assertCorrupt(opened, file)
      const report = await verifyFullSnapshot(storage, handle.file.path)
      assert.equal(report.ok, false)
    }),
    { numRuns: runs(40) },
  )
})

async function rewriteHeader(file: string, edit: (header: Buffer) => void): Promise<void> {
  const bytes = await readFile(file)
  edit(bytes)
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 12)), 12) // a well-formed header from a different writer
  await writeFile(file, bytes)
}

test('wrong magic, unknown format version, unknown codec and unknown flags are refused with clear errors', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const model = buildModel(4, { start: 0, end: 3 }, [{ name: 's', kind: 'value', entries: [{ kg: 1, key: Buffer.from('k'), value: Buffer.from('v') }] }])
  const cases: Array<[string, (h: Buffer) => void, RegExp]> = [
    ['magic', (h) => h.write('NOTSNAP!', 0, 'latin1'), /bad magic/],
    ['version', (h) => h.writeUInt16LE(99, 8), /unsupported format version 99/],
    ['codec', (h) => h.writeUInt8(7, 10), /unknown compression codec id 7/],
    ['flags', (h) => h.writeUInt8(1, 11), /unknown header flags/],
  ]
  let id = 0
  for (const [what, edit, message] of cases) {
    const handle = (await snapshot(model, storage, 'snappy', ++id))!
    await rewriteHeader(storage.localPath(handle.file.path), edit)
    const sink = new RecordingSink()
    await assert.rejects(restoreFullHandles([handle], storage, model.range, sink), (e: unknown) => {
      assert.ok(e instanceof CorruptSnapshotError, what)
      assert.equal(e.code, 'CORRUPTION', what)
      assert.match(e.message, message)
      assert.equal(e.offset !== undefined, true)
      return true
    })
    assert.equal(sink.metaCalls, 0)
  }
})

test('a missing snapshot file is reported as MISSING_FILE naming it', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const model = buildModel(4, { start: 0, end: 3 }, [{ name: 's', kind: 'value', entries: [{ kg: 1, key: Buffer.from('k'), value: Buffer.from('v') }] }])
  const handle = (await snapshot(model, storage, 'snappy', 1))!
  await storage.delete(handle.file.path)
  await assert.rejects(restoreFullHandles([handle], storage, model.range, new RecordingSink()), (e: unknown) => {
    assert.ok(isKeyedStateError(e, 'MISSING_FILE'))
    assert.ok(e.message.includes(handle.file.path), e.message)
    return true
  })
})

test('a handle that does not match its file (offsets edited) is refused', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const model = buildModel(4, { start: 0, end: 3 }, [{ name: 's', kind: 'value', entries: [1, 2].map((kg) => ({ kg, key: Buffer.from('k'), value: Buffer.from('v') })) }])
  const handle = (await snapshot(model, storage, 'snappy', 1))!
  const forged: FullSnapshotHandle = { ...handle, keyGroupOffsets: handle.keyGroupOffsets.map((o) => (o >= 0 ? o + 1 : o)) }
  await assert.rejects(restoreFullHandles([forged], storage, model.range, new RecordingSink()), /does not match its handle/)
})
