// Model-based property: random writes, merges, range deletes, batches, flushes
// and snapshots on a column family, compared with a sorted in-memory map after
// every step through get and bounded iteration.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import type { NativeDb, NativeSnapshot } from '../../../src/backends/rocksdb/native/types.js'
import { drain, openDb } from './helpers.js'

type Model = Map<string, Buffer>
const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')

function sortedEntries(model: Model, gte?: Buffer, lt?: Buffer): Array<[Buffer, Buffer]> {
  return [...model.entries()]
    .map(([k, v]) => [Buffer.from(k, 'hex'), v] as [Buffer, Buffer])
    .filter(([k]) => (gte === undefined || Buffer.compare(k, gte) >= 0) && (lt === undefined || Buffer.compare(k, lt) < 0))
    .sort((a, b) => Buffer.compare(a[0], b[0]))
}

// Few distinct bytes so keys collide, prefixes nest and ranges overlap.
const keyArb = fc.uint8Array({ minLength: 0, maxLength: 3 }).map((a) => Buffer.from(a.map((x) => [0, 1, 0x7f, 0xff][x % 4]!)))
const valueArb = fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a))

type Write =
  | { op: 'put'; key: Buffer; value: Buffer }
  | { op: 'merge'; key: Buffer; value: Buffer }
  | { op: 'delete'; key: Buffer }
  | { op: 'deleteRange'; start: Buffer; end: Buffer }

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant('merge' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
  fc.record({ op: fc.constant('deleteRange' as const), start: keyArb, end: keyArb }),
)

type Step =
  | Write
  | { op: 'batch'; writes: Write[] }
  | { op: 'flush' }
  | { op: 'snapshot' }
  | { op: 'scan'; gte?: Buffer; lt?: Buffer; seek?: Buffer }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: writeArb },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('batch' as const), writes: fc.array(writeArb, { maxLength: 5 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'snapshot' as const }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constant('scan' as const), gte: keyArb, lt: keyArb, seek: keyArb },
      { requiredKeys: ['op'] },
    ),
  },
)

function applyToModel(model: Model, w: Write): void {
  switch (w.op) {
    case 'put':
      model.set(hex(w.key), w.value)
      break
    case 'merge':
      model.set(hex(w.key), Buffer.concat([model.get(hex(w.key)) ?? Buffer.alloc(0), w.value]))
      break
    case 'delete':
      model.delete(hex(w.key))
      break
    case 'deleteRange':
      for (const [k] of sortedEntries(model, w.start, w.end)) model.delete(hex(k))
      break
  }
}

function rangeIsValid(w: Write): boolean {
  return w.op !== 'deleteRange' || Buffer.compare(w.start, w.end) <= 0
}

function scanDb(db: NativeDb, cf: number, o: { gte?: Buffer; lt?: Buffer; seek?: Buffer; snapshot?: NativeSnapshot }) {
  const it = db.iterator(cf, { gte: o.gte, lt: o.lt, snapshot: o.snapshot })
  try {
    if (o.seek !== undefined) it.seek(o.seek)
    return drain(it, 4, 40).map((e) => [Buffer.from(e.key), Buffer.from(e.value)] as [Buffer, Buffer])
  } finally {
    it.close()
  }
}

test('the binding behaves like a sorted map with concatenating merges', () => {
  const { db } = openDb()
  let run = 0
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => {
      const cf = db.createColumnFamily(`run-${run++}`)
      const model: Model = new Map()
      const snapshots: Array<{ snapshot: NativeSnapshot; model: Model }> = []
      try {
        for (const step of steps) {
          switch (step.op) {
            case 'put':
              db.put(cf, step.key, step.value)
              applyToModel(model, step)
              break
            case 'merge':
              db.merge(cf, step.key, step.value)
              applyToModel(model, step)
              break
            case 'delete':
              db.delete(cf, step.key)
              applyToModel(model, step)
              break
            case 'deleteRange':
              if (!rangeIsValid(step)) {
                assert.throws(() => db.deleteRange(cf, step.start, step.end), { code: 'INVALID_ARGUMENT' })
                break
              }
              db.deleteRange(cf, step.start, step.end)
              applyToModel(model, step)
              break
            case 'batch': {
              const batch = db.batch()
              const writes = step.writes.filter(rangeIsValid)
              for (const w of writes) {
                if (w.op === 'put') batch.put(cf, w.key, w.value)
                else if (w.op === 'merge') batch.merge(cf, w.key, w.value)
                else if (w.op === 'delete') batch.delete(cf, w.key)
                else batch.deleteRange(cf, w.start, w.end)
              }
              db.write(batch)
              for (const w of writes) applyToModel(model, w)
              break
            }
            case 'flush':
              db.flush()
              break
            case 'snapshot':
              snapshots.push({ snapshot: db.snapshot(), model: new Map(model) })
              break
            case 'scan': {
              const expected = sortedEntries(model, step.gte, step.lt).filter(
                ([k]) => step.seek === undefined || Buffer.compare(k, step.seek) >= 0,
              )
              assert.deepEqual(scanDb(db, cf, step), expected)
              break
            }
          }
          for (const [k, v] of model) assert.deepEqual(db.get(cf, Buffer.from(k, 'hex')), v)
          assert.deepEqual(scanDb(db, cf, {}), sortedEntries(model))
        }
        for (const { snapshot, model: then } of snapshots) {
          assert.deepEqual(scanDb(db, cf, { snapshot }), sortedEntries(then))
          for (const [k, v] of then) assert.deepEqual(db.get(cf, Buffer.from(k, 'hex'), snapshot), v)
        }
      } finally {
        for (const { snapshot } of snapshots) snapshot.release()
        db.dropColumnFamily(`run-${run - 1}`)
      }
    }),
    { numRuns: 60 },
  )
})
