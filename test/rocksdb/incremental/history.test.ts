// The bookkeeping of uploaded SSTs under random orders of record / complete /
// abort notifications (the coordinator's messages can arrive late, twice, or
// for checkpoints this backend never took).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { UploadedSstHistory, type SstSet } from '../../../src/backends/rocksdb/incremental-history.js'

type Event = { kind: 'record' | 'complete' | 'abort'; id: number }

const eventArb: fc.Arbitrary<Event> = fc.record({ kind: fc.constantFrom('record' as const, 'complete' as const, 'abort' as const), id: fc.integer({ min: 1, max: 12 }) })

function filesOf(id: number): SstSet {
  return new Map([[`${String(id).padStart(6, '0')}.sst`, { file: { path: `shared/f-${id}`, sizeBytes: id, crc32: id }, uploadedHere: true }]])
}

function idOfBase(h: UploadedSstHistory): number | 'seed' {
  const [entry] = h.base().values()
  return entry === undefined ? 'seed' : entry.file.sizeBytes
}

test('the base is always a recorded, confirmed, never-aborted checkpoint, and never moves back', () => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 80 }), (events) => {
      const h = new UploadedSstHistory()
      h.seed(new Map())
      const recorded = new Set<number>()
      const completed = new Set<number>()
      const abortedFirst = new Set<number>()
      let baseId: number | 'seed' = 'seed'
      for (const e of events) {
        if (e.kind === 'record') {
          // A run records once; the strategy never records an aborted run.
          if (recorded.has(e.id) || abortedFirst.has(e.id)) continue
          recorded.add(e.id)
          h.record(e.id, filesOf(e.id))
        } else if (e.kind === 'complete') {
          completed.add(e.id)
          h.complete(e.id)
        } else {
          if (!completed.has(e.id)) abortedFirst.add(e.id)
          h.abort(e.id)
        }
        const now = idOfBase(h)
        if (now !== 'seed') {
          assert.ok(recorded.has(now) && completed.has(now), `base ${now} was recorded and confirmed`)
          assert.ok(!abortedFirst.has(now), `base ${now} was aborted before it was confirmed`)
          assert.ok(baseId === 'seed' || now >= baseId, `base moved back from ${baseId} to ${now}`)
          assert.equal(h.baseCheckpointId, now)
        }
        baseId = now
        assert.ok(h.entries <= 65)
      }
      // Confirming the newest recorded, never-aborted checkpoint makes it the base.
      const candidates = [...recorded].filter((id) => !abortedFirst.has(id))
      const newest = Math.max(...candidates, -1)
      if (newest >= 0 && (baseId === 'seed' || newest >= baseId) && h.has(newest)) {
        h.complete(newest)
        assert.equal(idOfBase(h), newest)
      }
    }),
    { numRuns: 300 },
  )
})

test('a confirmation before the record applies when the run records; a seed is replaced by the first confirmed checkpoint', () => {
  const h = new UploadedSstHistory()
  h.seed(filesOf(100))
  assert.equal(idOfBase(h), 100)
  h.complete(3)
  assert.equal(idOfBase(h), 100, 'nothing recorded for 3 yet: the seed stays')
  h.record(3, filesOf(3))
  assert.equal(idOfBase(h), 3, 'ids below the restored checkpoint id still move the base')
  h.record(4, filesOf(4))
  h.record(5, filesOf(5))
  h.complete(5)
  assert.equal(h.has(3), false)
  assert.equal(h.has(4), false, 'older entries are pruned on completion')
  h.abort(5)
  assert.equal(idOfBase(h), 5, 'an abort after the confirmation does not take the base away')
})
