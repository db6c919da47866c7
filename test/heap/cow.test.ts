// Copy-on-write snapshots of the heap backend: random operations interleaved
// with snapshot barriers (capturing FullSnapshotResources), steps of their
// reading (the writer reads a capture in slices while the job writes on) and
// releases. Every view must keep showing the state as it was at its barrier,
// whatever happens afterwards, with several views in flight; released views
// must leave the tables recording nothing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { HeapKeyedStateBackend } from '../../src/backends/heap/backend.js'
import type { HeapSnapshotResources } from '../../src/backends/heap/full-snapshot.js'
import type { StateTable } from '../../src/backends/heap/state-table.js'
import { jsonSerializer, ListStateDescriptor, MapStateDescriptor, ReducingStateDescriptor, stringSerializer, ValueStateDescriptor } from '../../src/index.js'
import { applyToBackend, compareAll, KEYS, kindOf, Model, opArbitrary, backendView, type Op, type Ns } from '../model/model.js'
import { assertSameDump, dumpModel, dumpResources, type Dump } from './dump.js'

type CowOp = Op | { op: 'barrier' } | { op: 'check'; which: number } | { op: 'release'; which: number } | { op: 'read'; which: number; items: number }

const cowOpArbitrary: fc.Arbitrary<CowOp> = fc.oneof(
  { weight: 12, arbitrary: opArbitrary },
  { weight: 1, arbitrary: fc.constant({ op: 'barrier' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('check' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('read' as const), which: fc.nat(), items: fc.integer({ min: 1, max: 4 }) }) },
)

function tablesOf(backend: HeapKeyedStateBackend<string>): StateTable[] {
  return [...(backend as unknown as { data: Map<string, { table: StateTable }> }).data.values()].map((d) => d.table)
}

/** With nothing pinned, no table records changes for a capture any more (no leaked captures, no needless undo logs). */
function assertUnshared(backend: HeapKeyedStateBackend<string>): void {
  for (const table of tablesOf(backend)) {
    assert.equal(table.activeCaptures, 0)
    assert.equal(table.recording, false)
  }
}

test('pinned snapshot views never see later writes; several in flight; releases unshare', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(cowOpArbitrary, { minLength: 1, maxLength: 150 }), fc.integer({ min: 1, max: 64 }), async (ops, maxParallelism) => {
      const backend = new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer, maxParallelism })
      const model = new Model()
      const pinned: { resources: HeapSnapshotResources; expected: Dump }[] = []
      const check = (p: (typeof pinned)[number], when: string) => assertSameDump(dumpResources(p.resources), p.expected, when)
      try {
        ops.forEach((op, i) => {
          switch (op.op) {
            case 'barrier':
              pinned.push({ resources: backend.captureSnapshotResources(), expected: dumpModel(model, KEYS) })
              return
            case 'check':
              if (pinned.length > 0) check(pinned[op.which % pinned.length]!, `check at step ${i}`)
              return
            case 'read': {
              // A few more items of every state's capture, as the asynchronous path reads them between turns.
              if (pinned.length === 0) return
              const p = pinned[op.which % pinned.length]!
              p.resources.metaInfos.forEach((_m, index) => {
                p.resources.readCaptureSome(index, op.items)
              })
              return
            }
            case 'release': {
              if (pinned.length === 0) return
              const [p] = pinned.splice(op.which % pinned.length, 1)
              check(p!, `release at step ${i}`)
              p!.resources.release()
              return
            }
            default: {
              if (op.op !== 'setKey' && model.currentKey === undefined) return
              applyToBackend(backend, op)
              model.apply(op)
              const kind = kindOf(op)
              if (kind !== undefined) {
                const n = (op as { ns: Ns }).ns
                assert.deepEqual(backendView(backend, kind, n), model.view(kind, n), `step ${i} ${JSON.stringify(op)}`)
              }
            }
          }
        })
        compareAll(backend, model)
        for (const p of pinned.splice(0)) {
          check(p, 'at the end')
          p.resources.release()
        }
        assertUnshared(backend)
        // The live state is its own snapshot too.
        const now = backend.captureSnapshotResources()
        assertSameDump(dumpResources(now), dumpModel(model, KEYS), 'live state')
        now.release()
      } finally {
        await backend.close()
      }
    }),
    { numRuns: process.env.SOAK === '1' ? 2000 : 150 },
  )
})

test('objects read after a barrier can be mutated without changing the snapshot', async () => {
  const backend = new HeapKeyedStateBackend<string>({ kind: 'heap', keySerializer: stringSerializer })
  try {
    const value = backend.getState(new ValueStateDescriptor<{ n: number; seen: string[] }>('value', jsonSerializer))
    const list = backend.getListState(new ListStateDescriptor<{ n: number }>('list', jsonSerializer))
    const map = backend.getMapState(new MapStateDescriptor<string, { n: number }>('map', stringSerializer, jsonSerializer))
    const merge = (a: { n: number }, b: { n: number }) => {
      a.n += b.n
      return a
    }
    const reducing = backend.getReducingState(new ReducingStateDescriptor('reducing', merge, jsonSerializer))
    backend.setCurrentKey('k')
    value.update({ n: 1, seen: ['a'] })
    list.add({ n: 1 })
    map.put('u', { n: 1 })
    reducing.add({ n: 1 })

    const snapshot = backend.captureSnapshotResources()
    const before = JSON.stringify(rawJson(snapshot))

    const v = value.value()!
    v.n = 100 // mutated, not written back
    v.seen.push('b')
    list.get()[0]!.n = 100
    for (const x of map.values()) x.n = 100
    map.get('u')!.n = 100
    reducing.add({ n: 5 })
    reducing.get()!.n = 100
    const [entry] = map.entries()
    entry![1].n = 200

    assert.equal(JSON.stringify(rawJson(snapshot)), before)
    snapshot.release()
    // The live state sees the in-place changes, as heap state does.
    assert.deepEqual(value.value(), { n: 100, seen: ['a', 'b'] })
  } finally {
    await backend.close()
  }
})

function rawJson(resources: HeapSnapshotResources): unknown[] {
  const out: unknown[] = []
  resources.metaInfos.forEach((_m, i) => {
    for (let kg = resources.keyGroupRange.start; kg <= resources.keyGroupRange.end; kg++) {
      for (const chunk of resources.keyGroupChunks(i, kg)) out.push(Buffer.from(chunk).toString('hex'))
    }
  })
  return out
}
