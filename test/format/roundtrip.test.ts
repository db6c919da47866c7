import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { rangeIntersection, rangeSize } from '../../src/keygroups.js'
import { openFullSnapshot, verifyFullSnapshot } from '../../src/snapshot/format/index.js'
import { restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { CompressionCodec, FullSnapshotHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { buildModel, expectedFlat, modelArbitrary, RecordingSink, recordingStorage, removeTempDirs, resourcesOf, runs, tempDir, type Model } from './helpers.js'

after(removeTempDirs)

async function snapshot(model: Model, storage: FileSystemCheckpointStorage, codec: CompressionCodec, blockRawBytesMax?: number, checkpointId = 1) {
  const run = runFullSnapshot(checkpointId, resourcesOf(model), { type: 'checkpoint', storage, compression: codec }, {
    maxParallelism: model.maxParallelism,
    tuning: { blockRawBytesMax },
  }, 0)
  return (await run.done).handle as FullSnapshotHandle | undefined
}

test('random state → snapshot → restore of the whole range is equal, for both codecs and any block bound', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  await fc.assert(
    fc.asyncProperty(modelArbitrary(), fc.constantFrom<CompressionCodec>('none', 'snappy'), fc.constantFrom(undefined, 64, 200), async (model, codec, bound) => {
      const handle = await snapshot(model, storage, codec, bound)
      const expected = expectedFlat([model], model.range)
      if (expected.length === 0) {
        assert.equal(handle, undefined)
        return
      }
      assert.ok(handle)
      const sink = new RecordingSink()
      await restoreFullHandles([handle], storage, model.range, sink, undefined, { maxParallelism: model.maxParallelism })
      assert.equal(sink.metaCalls, 1)
      assert.deepEqual(sink.metaInfos, model.states.map((s) => s.meta))
      assert.deepEqual(sink.flat(), expected)
      // Entries of a state in a key group arrive in key order.
      for (const s of model.states) for (const [kg, list] of s.entries) if (list.length) assert.deepEqual(sink.data.get(s.meta.name)?.get(kg), list)
      const report = await verifyFullSnapshot(storage, handle)
      assert.deepEqual(report.problems, [])
      assert.equal(report.entries, expected.length)
      const reader = await openFullSnapshot(storage, handle.file.path)
      assert.equal(reader.codec, codec)
      let n = 0
      for await (const _ of reader.entries()) n++
      assert.equal(n, expected.length)
    }),
    { numRuns: runs(60) },
  )
})

test('a restore of any sub-range reads only the bytes of its key groups, besides header, meta-info, index and footer', async () => {
  const root = await tempDir()
  await fc.assert(
    fc.asyncProperty(modelArbitrary({ maxEntries: 120 }), fc.nat(), fc.nat(), async (model, a, b) => {
      const inner = new FileSystemCheckpointStorage(root)
      const handle = await snapshot(model, inner, 'snappy', 128)
      if (!handle) return
      const size = model.range.end - model.range.start + 1
      const target = { start: model.range.start + Math.min(a % size, b % size), end: model.range.start + Math.max(a % size, b % size) }
      const storage = recordingStorage(inner)
      const sink = new RecordingSink()
      await restoreFullHandles([handle], storage, target, sink)
      assert.deepEqual(sink.flat(), expectedFlat([model], target))
      const reader = await openFullSnapshot(inner, handle)
      const { dataStart, indexOffset } = reader.layout
      const offsets = handle.keyGroupOffsets
      const extentEnd = (i: number): number => {
        for (let j = i + 1; j < offsets.length; j++) if (offsets[j]! >= 0) return offsets[j]!
        return indexOffset
      }
      let firstData = -1
      let lastDataEnd = -1
      for (let kg = target.start; kg <= target.end; kg++) {
        const i = kg - handle.keyGroupRange.start
        if (offsets[i]! < 0) continue
        if (firstData < 0) firstData = offsets[i]!
        lastDataEnd = extentEnd(i)
      }
      for (const r of storage.reads) {
        const end = r.offset + r.length
        const inFixedRecords = end <= dataStart || r.offset >= indexOffset
        const inTargetData = firstData >= 0 && r.offset >= firstData && end <= lastDataEnd
        assert.ok(inFixedRecords || inTargetData, `read [${r.offset}, ${end}) outside the target's key groups ${JSON.stringify(target)}`)
      }
    }),
    { numRuns: runs(40) },
  )
})

test('large key groups are split into blocks no larger than the bound (a single larger entry gets its own block)', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const big = Buffer.alloc(5000, 7)
  const entries = Array.from({ length: 200 }, (_, i) => ({ kg: 3, key: Buffer.from(`key-${String(i).padStart(4, '0')}`), value: Buffer.alloc(100, i) }))
  entries.push({ kg: 3, key: Buffer.from('zz-big'), value: big })
  const model = buildModel(8, { start: 0, end: 7 }, [{ name: 'a', kind: 'value', entries }, { name: 'b', kind: 'list', entries: entries.slice(0, 50) }])
  const handle = await snapshot(model, storage, 'none', 1024)
  assert.ok(handle)
  const report = await verifyFullSnapshot(storage, handle)
  assert.deepEqual(report.problems, [])
  assert.ok(report.blocks > 20, `expected many blocks, got ${report.blocks}`)
  const reader = await openFullSnapshot(storage, handle)
  const { readKeyGroupBlocks, storageByteSource } = await import('../../src/snapshot/format/decoder.js')
  for await (const block of readKeyGroupBlocks(storageByteSource(storage, handle.file.path), reader.layout, reader.keyGroupRange)) {
    assert.ok(block.rawLength <= 1024 || block.sections.every((s) => s.entryCount === 1), `block of ${block.rawLength} raw bytes`)
  }
  const sink = new RecordingSink()
  await restoreFullHandles([handle], storage, { start: 0, end: 7 }, sink)
  assert.deepEqual(sink.flat(), expectedFlat([model], { start: 0, end: 7 }))
  assert.equal(rangeSize(rangeIntersection(handle.keyGroupRange, { start: 0, end: 7 })), 8)
})

test('blocks larger than the output buffer keep file order (header bytes before a large payload)', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const entries = []
  for (let kg = 0; kg < 4; kg++) for (let i = 0; i < 12; i++) entries.push({ kg, key: Buffer.from(`big-${i}`), value: Buffer.alloc(150_000 + kg, i) })
  const model = buildModel(4, { start: 0, end: 3 }, [{ name: 'big', kind: 'value', entries }])
  for (const codec of ['none', 'snappy'] as const) {
    const handle = await snapshot(model, storage, codec)
    assert.ok(handle)
    const sink = new RecordingSink()
    await restoreFullHandles([handle], storage, { start: 0, end: 3 }, sink)
    assert.deepEqual(sink.flat(), expectedFlat([model], { start: 0, end: 3 }))
    assert.deepEqual((await verifyFullSnapshot(storage, handle)).problems, [])
  }
})

test('the asynchronous part lets the event loop run: work scheduled after the synchronous part runs before the first key group is written', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const model = buildModel(8, { start: 0, end: 7 }, [{ name: 's', kind: 'value', entries: [0, 3, 5].map((kg) => ({ kg, key: Buffer.from('k'), value: Buffer.from('v') })) }])
  const order: string[] = []
  const hooks = {
    afterKeyGroup: ({ keyGroup }: { keyGroup?: number }) => {
      order.push(`kg${keyGroup}`)
    },
  }
  const run = runFullSnapshot(1, resourcesOf(model), { type: 'checkpoint', storage, hooks }, { maxParallelism: 8 }, 0)
  setImmediate(() => order.push('record'))
  await run.done
  assert.equal(order[0], 'record')
  assert.deepEqual(order.slice(1), ['kg0', 'kg1', 'kg2', 'kg3', 'kg4', 'kg5', 'kg6', 'kg7'])
})
