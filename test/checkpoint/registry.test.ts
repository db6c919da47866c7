import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SharedStateRegistry } from '../../src/checkpoint/registry.js'
import type { StoredFile } from '../../src/snapshot/types.js'

const file = (path: string): StoredFile => ({ path, sizeBytes: 10, crc32: 0 })

test('a file is deleted only after its last reference goes', () => {
  const r = new SharedStateRegistry()
  assert.deepEqual(r.register(1, [file('a'), file('b')]).map((f) => f.path), ['a', 'b'])
  r.checkpointSettled(1)
  assert.deepEqual(r.register(2, [file('b'), file('c')]).map((f) => f.path), ['c'], 'only c is new')
  r.checkpointSettled(2)
  r.release(1)
  assert.deepEqual(r.takeDeletable(), ['a'])
  r.release(2)
  assert.deepEqual(r.takeDeletable(), ['b', 'c'])
  assert.deepEqual(r.files(), [])
})

test('a file that loses its last reference waits for the checkpoints in flight at that moment', () => {
  const r = new SharedStateRegistry()
  r.register(1, [file('a')])
  r.checkpointSettled(1)
  // Checkpoint 2 is based on 1 and will reference a, but has not acknowledged yet.
  r.checkpointStarted(2)
  r.release(1)
  assert.deepEqual(r.takeDeletable(), [], 'checkpoint 2 may still reference a')
  assert.ok(r.isProtected('a'))
  // A checkpoint triggered after the release cannot reference a: it does not hold it back.
  r.checkpointStarted(3)
  r.register(2, [file('a')])
  r.checkpointSettled(2)
  assert.deepEqual(r.takeDeletable(), [], 'checkpoint 2 references a')
  r.release(2)
  r.checkpointSettled(3)
  assert.deepEqual(r.takeDeletable(), ['a'])
})

test('an in-flight checkpoint that aborts lets the waiting file go', () => {
  const r = new SharedStateRegistry()
  r.register(1, [file('a')])
  r.checkpointSettled(1)
  r.checkpointStarted(2)
  r.release(1)
  r.release(2)
  r.checkpointSettled(2)
  assert.deepEqual(r.takeDeletable(), ['a'])
})

test('pins keep files of a restored snapshot alive', () => {
  const r = new SharedStateRegistry()
  r.pin('restored', [file('x')])
  r.register(5, [file('x'), file('y')])
  r.checkpointSettled(5)
  r.release(5)
  assert.deepEqual(r.takeDeletable(), ['y'])
  assert.ok(r.isReferenced('x'))
  assert.deepEqual(r.files().map((f) => [f.path, f.pins]), [['x', ['restored']]])
  r.unpin('restored')
  assert.deepEqual(r.takeDeletable(), ['x'])
})

test('a failed delete is retried by the next cleanup', () => {
  const r = new SharedStateRegistry()
  r.register(1, [file('a')])
  r.checkpointSettled(1)
  r.release(1)
  assert.deepEqual(r.takeDeletable(), ['a'])
  r.retryDelete('a')
  assert.deepEqual(r.takeDeletable(), ['a'])
  assert.deepEqual(r.takeDeletable(), [])
})

// Model: checkpoints start, reference files (possibly those of checkpoints that
// were live when they started), settle, and are released. The registry must
// never hand out for deletion a file that a live owner references or that a
// checkpoint still in flight could reference; and must hand out every file
// nobody can reference once nothing is in flight.
test('model: never deletes a file that is referenced or may still be referenced', () => {
  type Op =
    | { op: 'start' }
    | { op: 'ack'; pick: number; files: number[] }
    | { op: 'abort'; pick: number }
    | { op: 'release'; pick: number }
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ op: 'start' as const }),
    fc.record({ op: fc.constant('ack' as const), pick: fc.nat(), files: fc.array(fc.nat({ max: 30 }), { maxLength: 4 }) }),
    fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
  )
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const r = new SharedStateRegistry()
      let nextId = 1
      let nextFile = 1
      const inFlight = new Map<number, Set<string>>() // id -> files it may reference (known at its start)
      const live = new Map<number, Set<string>>() // completed, not released
      const deleted = new Set<string>()
      const referencedNow = (): Set<string> => new Set([...live.values()].flatMap((s) => [...s]))
      const check = (): void => {
        for (const p of r.takeDeletable()) {
          assert.ok(!referencedNow().has(p), `${p} deleted while referenced`)
          for (const [id, possible] of inFlight) assert.ok(!possible.has(p), `${p} deleted while checkpoint ${id} may reference it`)
          assert.ok(!deleted.has(p), `${p} deleted twice`)
          deleted.add(p)
        }
      }
      for (const o of ops) {
        if (o.op === 'start') {
          const id = nextId++
          inFlight.set(id, referencedNow())
          r.checkpointStarted(id)
        } else if (o.op === 'ack' && inFlight.size > 0) {
          const id = [...inFlight.keys()][o.pick % inFlight.size]!
          const possible = [...inFlight.get(id)!].filter((p) => !deleted.has(p)).sort()
          // References: some files that existed at its start, plus fresh uploads.
          const files = new Set<string>()
          for (const n of o.files) {
            if (possible.length > 0 && n % 2 === 0) files.add(possible[n % possible.length]!)
            else files.add(`new-${nextFile++}`)
          }
          r.register(id, [...files].map(file))
          inFlight.delete(id)
          r.checkpointSettled(id)
          live.set(id, files)
        } else if (o.op === 'abort' && inFlight.size > 0) {
          const id = [...inFlight.keys()][o.pick % inFlight.size]!
          inFlight.delete(id)
          r.release(id)
          r.checkpointSettled(id)
        } else if (o.op === 'release' && live.size > 0) {
          const id = [...live.keys()][o.pick % live.size]!
          live.delete(id)
          r.release(id)
        }
        check()
      }
      for (const id of [...inFlight.keys()]) {
        inFlight.delete(id)
        r.release(id)
        r.checkpointSettled(id)
      }
      check()
      const stillReferenced = referencedNow()
      for (const f of r.files()) assert.ok(stillReferenced.has(f.path), `${f.path} kept though nothing can reference it`)
    }),
    { numRuns: 300 },
  )
})
