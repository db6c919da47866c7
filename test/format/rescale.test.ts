import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { isKeyedStateError } from '../../src/errors.js'
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import { checkCoverage, uncoveredKeyGroups } from '../../src/keygroup-coverage.js'
import { restoreFullHandles, runFullSnapshot } from '../../src/snapshot/full/index.js'
import type { FullSnapshotHandle } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { buildModel, expectedFlat, RecordingSink, removeTempDirs, resourcesOf, runs, tempDir, type Model } from './helpers.js'

after(removeTempDirs)

async function snapshot(model: Model, storage: FileSystemCheckpointStorage, checkpointId = 1): Promise<FullSnapshotHandle | undefined> {
  const run = runFullSnapshot(checkpointId, resourcesOf(model), { type: 'checkpoint', storage }, { maxParallelism: model.maxParallelism, tuning: { blockRawBytesMax: 256 } }, 0)
  return (await run.done).handle as FullSnapshotHandle | undefined
}

const entryArb = fc.record({ key: fc.uint8Array({ maxLength: 6 }), value: fc.uint8Array({ maxLength: 10 }), state: fc.constantFrom('a', 'b', 'c') })

test('snapshot at parallelism p1, restore at p2: the union equals the model and each instance holds exactly its key groups', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 8, max: 64 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.tuple(fc.nat(), entryArb), { maxLength: 80 }),
      async (maxParallelism, p1, p2, raw) => {
        const entries = raw.map(([kg, e]) => ({ ...e, kg: kg % maxParallelism }))
        // One synthetic backend per instance at p1, each with the states it saw.
        const models: Model[] = []
        for (let i = 0; i < p1; i++) {
          const range = keyGroupRangeForOperator(maxParallelism, p1, i)
          const mine = entries.filter((e) => e.kg >= range.start && e.kg <= range.end)
          models.push(buildModel(maxParallelism, range, ['a', 'b', 'c'].map((name) => ({ name, kind: 'value' as const, entries: mine.filter((e) => e.state === name) }))))
        }
        const handles = (await Promise.all(models.map((m, i) => snapshot(m, storage, i + 1)))).filter((h): h is FullSnapshotHandle => h !== undefined)
        const all = expectedFlat(models, { start: 0, end: maxParallelism - 1 })
        const restored: string[] = []
        for (let j = 0; j < p2; j++) {
          const target = keyGroupRangeForOperator(maxParallelism, p2, j)
          // Instances whose old range had no data wrote no file: the checkpoint metadata knows their ranges are empty.
          const knownEmptyRanges = models.filter((_, i) => !handles.some((h) => h.checkpointId === i + 1)).map((m) => m.range)
          const sink = new RecordingSink()
          await restoreFullHandles(handles, storage, target, sink, undefined, { maxParallelism, knownEmptyRanges })
          const got = sink.flat()
          assert.deepEqual(got, expectedFlat(models, target))
          restored.push(...got)
        }
        assert.deepEqual(restored.sort(), all)
      },
    ),
    { numRuns: runs(40) },
  )
})

test('states known to only some handles are all registered; the same name with another kind is refused', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const e = (kg: number) => ({ kg, key: Buffer.from('k'), value: Buffer.from('v') })
  const left = buildModel(8, { start: 0, end: 3 }, [{ name: 'x', kind: 'value', entries: [e(1)] }])
  const right = buildModel(8, { start: 4, end: 7 }, [{ name: 'y', kind: 'map', entries: [e(5)] }, { name: 'x', kind: 'value', entries: [] }])
  const hl = (await snapshot(left, storage, 1))!
  const hr = (await snapshot(right, storage, 2))!
  const sink = new RecordingSink()
  await restoreFullHandles([hr, hl], storage, { start: 0, end: 7 }, sink)
  assert.deepEqual(sink.metaInfos?.map((m) => m.name).sort(), ['x', 'y'])
  assert.deepEqual(sink.flat(), expectedFlat([left, right], { start: 0, end: 7 }))
  assert.equal(sink.flushes, 2)

  const conflicting = buildModel(8, { start: 4, end: 7 }, [{ name: 'x', kind: 'list', entries: [e(6)] }])
  const hc = (await snapshot(conflicting, storage, 3))!
  await assert.rejects(restoreFullHandles([hl, hc], storage, { start: 0, end: 7 }, new RecordingSink()), (err: unknown) => {
    assert.ok(isKeyedStateError(err, 'STATE_CONFLICT'))
    assert.match(err.message, /'x' is value state in one handle and list/)
    return true
  })
})

test('handles that leave key groups uncovered are refused before anything is read, naming the key groups', async () => {
  const storage = new FileSystemCheckpointStorage(await tempDir())
  const m = buildModel(64, { start: 0, end: 39 }, [{ name: 's', kind: 'value', entries: [{ kg: 3, key: Buffer.from('k'), value: Buffer.from('v') }] }])
  const h = (await snapshot(m, storage))!
  const sink = new RecordingSink()
  await assert.rejects(restoreFullHandles([h], storage, { start: 0, end: 63 }, sink), (err: unknown) => {
    assert.ok(isKeyedStateError(err, 'NOT_FOUND'))
    assert.match(err.message, /key groups 40\.\.63 are not covered by any handle/)
    return true
  })
  assert.equal(sink.metaCalls, 0)
  await assert.rejects(restoreFullHandles([], storage, { start: 5, end: 5 }, sink), /key group 5 is not covered by any handle.*no handles were given/)
  // Ranges known to be empty (an instance that wrote no file) count as covered.
  await restoreFullHandles([h], storage, { start: 0, end: 63 }, new RecordingSink(), undefined, { knownEmptyRanges: [{ start: 40, end: 63 }] })
  await assert.rejects(restoreFullHandles([h, h], storage, { start: 0, end: 39 }, sink), /key group 0 is covered by two handles/)
  await assert.rejects(restoreFullHandles([h], storage, { start: 0, end: 10 }, sink, undefined, { maxParallelism: 128 }), /maxParallelism 64.*128/)
})

test('coverage: gaps are computed exactly', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(40), fc.nat(40))), fc.nat(40), fc.nat(40), (raw, a, b) => {
      const ranges = raw.map(([x, y]) => ({ start: Math.min(x, y), end: Math.max(x, y) }))
      const target = { start: Math.min(a, b), end: Math.max(a, b) }
      const gaps = uncoveredKeyGroups(ranges, target)
      for (let kg = target.start; kg <= target.end; kg++) {
        const covered = ranges.some((r) => kg >= r.start && kg <= r.end)
        const inGap = gaps.some((g) => kg >= g.start && kg <= g.end)
        assert.equal(covered, !inGap, `key group ${kg}`)
      }
      if (gaps.length === 0) checkCoverage(ranges, target)
      else assert.throws(() => checkCoverage(ranges, target), (e: unknown) => isKeyedStateError(e, 'NOT_FOUND') && e.keyGroup === gaps[0]!.start)
    }),
  )
  assert.throws(() => checkCoverage([{ start: 0, end: 9 }, { start: 20, end: 29 }], { start: 0, end: 35 }), /key groups 10\.\.19, 30\.\.35 are not covered/)
})
