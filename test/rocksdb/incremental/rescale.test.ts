// Property: random state at parallelism p1, an incremental checkpoint of every
// instance, restore at p2 (any of 1..8, random maxParallelism): the union is
// the model and every instance holds exactly its key groups — in the API and
// in the database below it. Then more writes and incremental checkpoints on
// top of the restored instances, and a restore at p3.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { keyGroupRangeForOperator, type KeyGroupRange } from '../../../src/keygroups.js'
import type { IncrementalRestoreStats } from '../../../src/backends/rocksdb/incremental-restore.js'
import type { IncrementalSnapshotHandle, KeyedStateHandle } from '../../../src/snapshot/types.js'
import { int32Serializer } from '../../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../../src/state/descriptors.js'
import { rawEntries, withRawDb } from '../helpers.js'
import { applyOps, assertModelEqual, cloneModel, emptyModel, modelOpArb, readModel, type ModelOp, type SnapshotModel } from '../../suite/snapshot.js'
import { checkpoint, checkKeys, openIncremental, owns, range, testDirs, withTestDirs, writeKeys, type TestDirs } from './helpers.js'

function modelInRange(model: SnapshotModel, range: KeyGroupRange, maxParallelism: number): SnapshotModel {
  const out = emptyModel()
  for (const [k, v] of model.values) if (owns(range, k, maxParallelism)) out.values.set(k, v)
  for (const [k, v] of model.lists) if (owns(range, k, maxParallelism)) out.lists.set(k, [...v])
  for (const [k, v] of model.maps) if (owns(range, k, maxParallelism)) out.maps.set(k, new Map(v))
  return out
}

interface Generation {
  handles: KeyedStateHandle[]
  modes: Array<IncrementalRestoreStats['mode'] | 'fresh'>
}

/**
 * Restores `handles` at `parallelism`, checks every instance against the
 * model, applies `more` ops and takes checkpoint `nextId` of each; returns the
 * new handles.
 */
async function restoreCheckAndContinue(
  t: TestDirs,
  label: string,
  handles: KeyedStateHandle[],
  parallelism: number,
  maxParallelism: number,
  model: SnapshotModel,
  more: readonly ModelOp[],
  nextId: number,
): Promise<Generation> {
  const out: Generation = { handles: [], modes: [] }
  const union = emptyModel()
  const after = emptyModel()
  for (let i = 0; i < parallelism; i++) {
    const keyGroupRange = keyGroupRangeForOperator(maxParallelism, parallelism, i)
    let mode: Generation['modes'][number] = 'fresh'
    const dir = t.dir(`${label}-${i}`)
    const b = await openIncremental(dir, { maxParallelism, keyGroupRange, ...(handles.length ? { restoreFrom: handles, storage: t.storage } : {}) })
    if (b.incrementalRestoreStats) mode = b.incrementalRestoreStats.mode
    out.modes.push(mode)
    try {
      const got = readModel(b)
      assertModelEqual(got, modelInRange(model, keyGroupRange, maxParallelism), `${label}: instance ${i} of ${parallelism}`)
      for (const name of b.stateNames()) for (const key of b.keys(name)) assert.ok(owns(keyGroupRange, key, maxParallelism), `${label}: ${key} of ${name} outside its range`)
      for (const [k, v] of got.values) union.values.set(k, v)
      for (const [k, v] of got.lists) union.lists.set(k, v)
      for (const [k, v] of got.maps) union.maps.set(k, v)
      // Incremental checkpoints on top of the restored state.
      Object.assign(after, mergeModels(after, got))
      applyOps(b, more, after)
      // Every instance holds something, so its handle covers its key groups at the next restore.
      b.setCurrentKey(markerKey(keyGroupRange, maxParallelism))
      b.getState(marker).update(nextId)
      // An instance without state writes no handle; its key groups need none.
      const { handle } = await b.snapshot(nextId, { type: 'checkpoint', storage: t.storage }).done
      if (handle) out.handles.push(handle)
      b.notifyCheckpointComplete(nextId)
    } finally {
      await b.close()
    }
    withRawDb(dir, (db) => {
      for (const cf of db.listColumnFamilies().filter((c) => c.startsWith('s:'))) {
        for (const { key } of rawEntries(db, cf)) {
          const kg = key.readUInt16BE(0)
          assert.ok(kg >= keyGroupRange.start && kg <= keyGroupRange.end, `${label}: instance ${i} stores key group ${kg} in ${cf}`)
        }
      }
    })
  }
  assertModelEqual(union, model, `${label}: union of all instances`)
  Object.assign(model, after)
  return out
}

/** Outside the model's states: it only makes every instance non-empty. */
const marker = new ValueStateDescriptor('marker', int32Serializer)

function markerKey(range: KeyGroupRange, maxParallelism: number): string {
  for (let i = 0; ; i++) if (owns(range, `marker-${i}`, maxParallelism)) return `marker-${i}`
}

/**
 * A new model with copies of the lists and maps of both: `applyOps` edits the
 * model's maps in place, and the ones read from an instance are also in the
 * union checked against the model.
 */
function mergeModels(a: SnapshotModel, b: SnapshotModel): SnapshotModel {
  const [x, y] = [cloneModel(a), cloneModel(b)]
  return {
    values: new Map([...x.values, ...y.values]),
    lists: new Map([...x.lists, ...y.lists]),
    maps: new Map([...x.maps, ...y.maps]),
  }
}

test('rescaling incremental checkpoints: p1 → p2 → p3, union equals the model, each instance exactly its key groups', async () => {
  const seen = new Set<string>()
  await fc.assert(
    fc.asyncProperty(
      fc.array(modelOpArb, { minLength: 1, maxLength: 150 }),
      fc.array(modelOpArb, { maxLength: 60 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 8, max: 300 }),
      async (ops, more, p1, p2, p3, maxParallelism) => {
        const t = await testDirs('ks-incremental-rescale-')
        try {
          const model = emptyModel()
          const first = await restoreCheckAndContinue(t, 'p1', [], p1, maxParallelism, model, ops, 1)
          const second = await restoreCheckAndContinue(t, 'p2', first.handles, p2, maxParallelism, model, more, 2)
          const third = await restoreCheckAndContinue(t, 'p3', second.handles, p3, maxParallelism, model, [], 3)
          for (const m of [...second.modes, ...third.modes]) seen.add(m)
        } finally {
          await t.remove()
        }
      },
    ),
    { numRuns: process.env.SOAK ? 100 : 4, examples: [
        [[{ op: 'put', key: 'key-1', value: 1 }], [], 2, 4, 1, 16],
        // Once found a test bug: the union shared its maps with the model being edited.
        [[{ op: 'mapPut', key: 'key-35', userKey: 'ü', value: 0 }, { op: 'clearList', key: 'key-0' }], [{ op: 'mapRemove', key: 'key-35', userKey: 'ü' }], 1, 1, 1, 8],
      ],
    },
  )
  // Both restore paths ran: opening one handle in place, and ingesting several.
  assert.ok(seen.has('direct') && seen.has('ingest'), `restore modes seen: ${[...seen].join(', ')}`)
})

test('mixed full and incremental handles restore into one backend by ingestion', () => withTestDirs(async (t) => {
  const ops = fc.sample(modelOpArb, { numRuns: 200, seed: 3 })
  const model = emptyModel()
  const handles: KeyedStateHandle[] = []
  for (let op = 0; op < 2; op++) {
    const keyGroupRange = keyGroupRangeForOperator(32, 2, op)
    const b = await openIncremental(t.dir(`src${op}`), { maxParallelism: 32, keyGroupRange, checkpointMode: op === 0 ? 'full' : 'incremental' })
    applyOps(b, ops, model)
    const { handle } = await b.snapshot(1, { type: 'checkpoint', storage: t.storage }).done
    assert.equal(handle?.type, op === 0 ? 'full' : 'incremental')
    handles.push(handle!)
    await b.close()
  }
  for (const [label, keyGroupRange] of [['all', { start: 0, end: 31 }], ['middle', { start: 8, end: 23 }]] as const) {
    const r = await openIncremental(t.dir(`r-${label}`), { maxParallelism: 32, keyGroupRange, restoreFrom: handles, storage: t.storage })
    const stats = r.incrementalRestoreStats
    assert.equal(stats?.mode, 'ingest')
    assert.equal(stats?.fullHandles, 1)
    assert.equal(stats?.incrementalHandles, 1)
    assert.equal(stats?.inPlaceHandles, 1, 'the incremental handle is the base, the full one is ingested')
    assertModelEqual(readModel(r), modelInRange(model, keyGroupRange, 32))
    await r.close()
  }
}))

test('rescaling 2 → 3: the handle with the most key groups is opened in place, the other ingested; the next checkpoint builds on the base', () => withTestDirs(async (t) => {
  const handles: IncrementalSnapshotHandle[] = []
  for (let op = 0; op < 2; op++) {
    const b = await openIncremental(t.dir(`src${op}`), { keyGroupRange: keyGroupRangeForOperator(128, 2, op) })
    writeKeys(b, range(3000), 1)
    handles.push((await checkpoint(b, 1, t.storage)).handle)
    await b.close()
  }
  const middle = keyGroupRangeForOperator(128, 3, 1) // 43..85: 21 key groups of the first handle, 22 of the second
  const r = await openIncremental(t.dir('middle'), { keyGroupRange: middle, restoreFrom: handles, storage: t.storage })
  const stats = r.incrementalRestoreStats
  assert.equal(stats?.mode, 'ingest')
  assert.equal(stats?.inPlaceHandles, 1)
  assert.equal(stats?.clippedKeyGroups, 64 - 22)
  assert.ok(stats!.entries > 0, 'the first handle\'s key groups were copied')
  assert.notEqual(r.backendId, handles[1]!.backendId)
  checkKeys(r, 3000, () => 1)
  writeKeys(r, range(30), 2)
  const next = await checkpoint(r, 2, t.storage)
  const reused = Object.entries(next.handle.sharedFiles).filter(([name, f]) => handles[1]!.sharedFiles[name]?.path === f.path)
  assert.ok(reused.length > 0, 'the base handle\'s SSTs are referred to, not uploaded again')
  await r.close()
  const again = await openIncremental(t.dir('again'), { keyGroupRange: middle, restoreFrom: [next.handle], storage: t.storage })
  checkKeys(again, 3000, (i) => (i < 30 ? 2 : 1))
  await again.close()
}))
