// db.checkpointAsync: the directory holds exactly the state at the call, even
// when writes after it switch and flush memtables, compact and delete files
// while the thread pool is still linking and copying; the WAL-off fallback
// (flush at the call) is exact too; file deletions resume afterwards; close()
// during the work leaves a whole directory or none.
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import type { NativeDb } from '../../../src/backends/rocksdb/native/types.js'
import { b, codeOf, native, openDb, scan, tempDir } from './helpers.js'

const FAMILIES = ['a', 'b'] as const
type Family = (typeof FAMILIES)[number]
type Model = Record<Family, Map<string, string>>

type Op =
  | { kind: 'put'; cf: Family; key: string; value: string }
  | { kind: 'merge'; cf: Family; key: string; value: string }
  | { kind: 'delete'; cf: Family; key: string }
  | { kind: 'flush' }
  | { kind: 'compact' }

const keyArb = fc.integer({ min: 0, max: 300 }).map((i) => `k${i.toString().padStart(4, '0')}`)
// Values big enough that a few hundred writes fill a 64 KiB memtable several times.
const valueArb = fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 900 })).map(([v, pad]) => v + 'x'.repeat(pad))
const cfArb = fc.constantFrom<Family>(...FAMILIES)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constantFrom('put' as const, 'merge' as const), cf: cfArb, key: keyArb, value: valueArb }) as fc.Arbitrary<Op> },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant<'delete'>('delete'), cf: cfArb, key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('flush' as const, 'compact' as const) }) as fc.Arbitrary<Op> },
)

function apply(db: NativeDb, ops: readonly Op[], model: Model): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'flush':
        db.flush()
        break
      case 'compact':
        for (const cf of FAMILIES) db.compactRange(db.columnFamily(cf))
        break
      case 'delete':
        db.delete(db.columnFamily(op.cf), b(op.key))
        model[op.cf].delete(op.key)
        break
      case 'put':
        db.put(db.columnFamily(op.cf), b(op.key), b(op.value))
        model[op.cf].set(op.key, op.value)
        break
      case 'merge':
        db.merge(db.columnFamily(op.cf), b(op.key), b(op.value))
        model[op.cf].set(op.key, (model[op.cf].get(op.key) ?? '') + op.value)
        break
    }
  }
}

const emptyModel = (): Model => ({ a: new Map(), b: new Map() })
const cloneModel = (m: Model): Model => ({ a: new Map(m.a), b: new Map(m.b) })

function assertHolds(dir: string, model: Model): void {
  const copy = native.open(dir, { createIfMissing: false })
  try {
    for (const cf of FAMILIES) {
      const expected = [...model[cf]].sort(([x], [y]) => (x < y ? -1 : 1))
      assert.deepEqual(scan(copy, copy.columnFamily(cf)), expected, `column family ${cf}`)
    }
  } finally {
    copy.close()
  }
}

// A flush right after the call makes an SST of later writes before the thread pool's second
// capture, so those runs mostly use the WAL capture; the others mostly the flushed one.
const variants = [
  { disableWal: false, flushFirst: false, name: 'WAL on' },
  { disableWal: false, flushFirst: true, name: 'WAL on, a flush of later writes right after the call' },
  { disableWal: true, flushFirst: false, name: 'WAL off: flush at the call' },
]
const flushFirstOps: Op[] = [{ kind: 'put', cf: 'a', key: 'k0000', value: 'after' }, { kind: 'flush' }]

for (const { disableWal, flushFirst, name } of variants) {
  test(`checkpointAsync (${name}) holds exactly the state at the call`, async () => {
    const outcomes: Record<string, number> = {}
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 300 }), fc.array(opArb, { minLength: 1, maxLength: 300 }), async (before, afterOps) => {
        const { db } = openDb({ columnFamilies: [...FAMILIES], disableWal, writeBufferBytes: 64 << 10 })
        try {
          const atCall = emptyModel()
          apply(db, before, atCall)
          const dir = join(tempDir(), 'cp')
          const written = db.checkpointAsync(dir)
          // Writes, flushes and compactions while the thread pool writes the directory.
          apply(db, flushFirst ? [...flushFirstOps, ...afterOps] : afterOps, cloneModel(atCall))
          const outcome = await written
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
          assert.equal(existsSync(`${dir}.tmp`), false, 'the staging directory is gone')
          assertHolds(dir, atCall)
        } finally {
          db.close()
        }
      }),
      { numRuns: 12 },
    )
    // Which capture the runs used ('flushed' SSTs or the 'wal'); which one a run takes depends on timing.
    console.log(`# checkpointAsync captures (${name}): ${JSON.stringify(outcomes)}`)
  })
}

test('checkpointAsync refuses an existing directory and a closed DB', async () => {
  const { db } = openDb({ disableWal: false })
  const dir = tempDir()
  assert.equal(codeOf(() => db.checkpointAsync(dir)), 'INVALID_ARGUMENT')
  assert.equal(codeOf(() => db.checkpointAsync('')), 'INVALID_ARGUMENT')
  db.close()
  assert.equal(codeOf(() => db.checkpointAsync(join(tempDir(), 'cp'))), 'CLOSED')
})

test('lastBarrierTimings: null before a checkpoint, then every phase of the last call that started one; CLOSED after close', async () => {
  const { db } = openDb({ disableWal: false })
  assert.equal(db.lastBarrierTimings(), null)
  db.put(0, b('k'), b('v'))
  await db.checkpointAsync(join(tempDir(), 'cp'))
  const t = db.lastBarrierTimings()
  assert.ok(t)
  const phases = [t.walFlush, t.capture, t.memtableSwitch, t.other]
  for (const p of phases) assert.ok(Number.isFinite(p.wallMs) && Number.isFinite(p.cpuMs) && p.cpuMs >= 0, JSON.stringify(t))
  assert.ok(Math.abs(phases.reduce((n, p) => n + p.wallMs, 0) - t.wallMs) < 1e-6, 'the phases add up to the call')
  assert.ok(Math.abs(phases.reduce((n, p) => n + p.cpuMs, 0) - t.cpuMs) < 1e-6)
  // A call refused before it captured anything leaves the last timings as they were.
  assert.equal(codeOf(() => db.checkpointAsync('')), 'INVALID_ARGUMENT')
  assert.deepEqual(db.lastBarrierTimings(), t)
  db.close()
  assert.equal(codeOf(() => db.lastBarrierTimings()), 'CLOSED')
})

test('checkpointAsync into a missing parent rejects and leaves nothing', async () => {
  const { db } = openDb({ disableWal: false })
  db.put(0, b('k'), b('v'))
  const dir = join(tempDir(), 'missing-parent', 'cp')
  await assert.rejects(db.checkpointAsync(dir), (e: { code?: string }) => e.code === 'IO_ERROR')
  assert.equal(existsSync(dir), false)
  assert.equal(existsSync(`${dir}.tmp`), false)
})

test('file deletions resume after checkpointAsync: compaction removes obsolete SSTs', async () => {
  const { db, path } = openDb({ disableWal: false })
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 50; i++) db.put(0, b(`k${i}`), b(`v${round}`))
    db.flush()
  }
  await db.checkpointAsync(join(tempDir(), 'cp'))
  db.compactRange(0)
  const onDisk = readdirSync(path).filter((n) => n.endsWith('.sst')).sort()
  assert.deepEqual(onDisk, db.liveFiles().map((f) => f.name).sort(), 'only live SSTs remain')
})

test('close() during checkpointAsync leaves a whole checkpoint or none, and the promise settles', async () => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { db } = openDb({ disableWal: false })
    for (let i = 0; i < 2000; i++) {
      db.put(db.columnFamily('default'), b(`k${i}`), b(`v${i}`))
      if (i === 1000) db.flush()
    }
    const dir = join(tempDir(), 'cp')
    const written = db.checkpointAsync(dir)
    db.close()
    const outcome = await written.then(
      () => 'written',
      (e: { code?: string }) => e.code,
    )
    assert.ok(outcome === 'written' || outcome === 'CLOSED', `settled with ${outcome}`)
    assert.equal(existsSync(`${dir}.tmp`), false)
    assert.equal(existsSync(dir), outcome === 'written')
    if (outcome === 'written') {
      const copy = native.open(dir, { createIfMissing: false })
      try {
        assert.equal(scan(copy, 0).length, 2000)
      } finally {
        copy.close()
      }
    }
  }
})
