// The coordinator over test doubles of the instance interface that write real
// files (see helpers.ts): out-of-order answers, concurrency, aborts, timeouts,
// retention, restart. After every step storage must hold exactly what the
// retained checkpoints need.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CheckpointCoordinator, type CheckpointEvent } from '../../src/checkpoint/coordinator.js'
import { findLatestCompleteCheckpoint, listSnapshots, missingFiles } from '../../src/checkpoint/catalog.js'
import type { HookName } from '../../src/checkpoint/hooks.js'
import { metadataPathOf } from '../../src/checkpoint/layout.js'
import { isKeyedStateError } from '../../src/errors.js'
import { assertStorageExact, FakeInstance, storedPaths, tempStorage, until } from './helpers.js'
import { storageKinds, type StorageKind } from '../s3/server.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

const MAX_P = 16

// The tests that do not depend on timing also run on S3.
const STORAGE_KINDS = storageKinds(tempStorage, after)
const FILE_SYSTEM = STORAGE_KINDS[0]!

async function withStorage(fn: (t: { storage: CheckpointStorage }) => Promise<void>, kind: StorageKind = FILE_SYSTEM): Promise<void> {
  const t = await kind.open()
  try {
    await fn(t)
  } finally {
    await t.cleanup()
  }
}

for (const kind of STORAGE_KINDS) test(`${kind.name}: sequential checkpoints: retention keeps the newest, storage holds exactly what they need`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(3, MAX_P, storage)
    const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 2 })
    const done: number[] = []
    for (let round = 0; round < 6; round++) {
      for (const inst of instances) inst.flush()
      if (round === 3) instances[1]!.compact()
      const md = await c.triggerCheckpoint()
      done.push(md.checkpointId)
      assert.equal(md.parallelism, 3)
      assert.equal(md.instances.length, 3)
      assert.ok(md.incrementalSizeBytes < md.sizeBytes || round === 0)
      await assertStorageExact(storage, done.slice(-2), `after checkpoint ${md.checkpointId}`)
      for (const inst of instances) assert.equal(inst.notifications.at(-1), `complete ${md.checkpointId}`)
    }
    assert.deepEqual(c.completedCheckpoints().map((m) => m.checkpointId), [5, 6])
    await c.close()
    await assertStorageExact(storage, [5, 6], 'after close')
  }, kind))

for (const kind of STORAGE_KINDS) test(`${kind.name}: checkpoints completing out of order are all retained when they fit`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 3, maxConcurrentCheckpoints: 3 })
    for (const i of instances) i.manual = true
    const p1 = c.triggerCheckpoint()
    instances[0]!.flush()
    const p2 = c.triggerCheckpoint()
    instances[1]!.flush()
    const p3 = c.triggerCheckpoint()
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e, 'BUSY'))
    await until(() => instances.every((i) => i.waitingFor().length === 3), 'all snapshots held')
    for (const id of [3, 1, 2]) for (const i of instances) i.release(id)
    const [m1, m2, m3] = await Promise.all([p1, p2, p3])
    assert.deepEqual([m1.checkpointId, m2.checkpointId, m3.checkpointId], [1, 2, 3])
    await assertStorageExact(storage, [1, 2, 3])
    await c.close()
  }, kind))

for (const kind of STORAGE_KINDS) test(`${kind.name}: an older checkpoint that completes after enough newer ones is subsumed, not kept`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const events: CheckpointEvent[] = []
    const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1, maxConcurrentCheckpoints: 2, onEvent: (e) => events.push(e) })
    for (const i of instances) i.manual = true
    const p1 = c.triggerCheckpoint()
    const p2 = c.triggerCheckpoint()
    await until(() => instances.every((i) => i.waitingFor().length === 2), 'held')
    for (const i of instances) i.release(2)
    assert.equal((await p2).checkpointId, 2)
    // Checkpoint 1 can never be retained now: it is aborted without waiting for its answers.
    await assert.rejects(p1, (e: unknown) => isKeyedStateError(e, 'ABORTED') && /subsumed/.test(e.message))
    await assertStorageExact(storage, [2])
    for (const i of instances) assert.deepEqual(i.notifications, ['complete 2', 'aborted 1'])
    assert.ok(events.some((e) => e.type === 'aborted' && e.checkpointId === 1))
    await c.close()
  }, kind))

for (const kind of STORAGE_KINDS) test(`${kind.name}: a failing instance aborts the checkpoint: its files and the others' are deleted, everyone is told`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(3, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances })
    await c.triggerCheckpoint()
    for (const i of instances) i.flush()
    instances[2]!.manual = true
    const p = c.triggerCheckpoint()
    // Instances 0 and 1 answer (uploading new SSTs); instance 2 fails.
    await until(() => instances[2]!.waitingFor().length === 1, 'held')
    instances[2]!.fail(2)
    await assert.rejects(p, (e: unknown) => isKeyedStateError(e, 'ABORTED') && /fake 2 declined checkpoint 2 \(IO_ERROR\): disk on fire/.test(e.message))
    await assertStorageExact(storage, [1])
    for (const i of instances) assert.equal(i.notifications.at(-1), 'aborted 2')
    instances[2]!.manual = false
    assert.equal((await c.triggerCheckpoint()).checkpointId, 3)
    await assertStorageExact(storage, [1, 3])
    await c.close()
  }, kind))

test('a checkpoint that fails on a full disk says DISK_FULL in its abort reason', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    instances[1]!.manual = true
    const events: CheckpointEvent[] = []
    const c = await CheckpointCoordinator.create({ storage, instances, onEvent: (e) => events.push(e) })
    const p = c.triggerCheckpoint()
    await until(() => instances[1]!.waitingFor().length === 1, 'held')
    instances[1]!.fail(1, 'write chk-1/x: ENOSPC', 'DISK_FULL')
    await assert.rejects(p, (e: unknown) =>
      isKeyedStateError(e, 'ABORTED') && /fake 1 declined checkpoint 1 \(DISK_FULL\)/.test(e.message) && isKeyedStateError(e.cause, 'DISK_FULL'))
    const aborted = events.find((e) => e.type === 'aborted')
    assert.ok(aborted?.type === 'aborted' && /DISK_FULL/.test(aborted.reason.message))
    await assertStorageExact(storage, [])
    await c.close()
  }))

test('notifications never hold the coordinator: a slow instance delays neither the completed event nor the next checkpoint', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const slow = instances[1]!
    slow.holdNotifications = true
    const events: string[] = []
    // The default notification grace (10 s): before the fix, each completion waited for it.
    const c = await CheckpointCoordinator.create({
      storage, instances, retainedCheckpoints: 1,
      onEvent: (e) => events.push(e.type === 'completed' ? `completed ${e.metadata.checkpointId}` : e.type === 'warning' ? `warning ${e.message}` : `${e.type}`),
    })
    const first = await c.triggerCheckpoint()
    // Sent before the trigger resolved, but not taken yet.
    assert.deepEqual(slow.notifications, ['complete 1'])
    for (const i of instances) i.flush()
    const second = await c.triggerCheckpoint()
    assert.deepEqual([first.checkpointId, second.checkpointId], [1, 2])
    assert.deepEqual(events, ['completed 1', 'subsumed', 'completed 2'])
    // The slow instance heard "complete 1" before it was asked for checkpoint 2, in order.
    assert.deepEqual(slow.notifications, ['complete 1', 'complete 2'])
    assert.deepEqual(slow.requests.map((r) => r.checkpointId), [1, 2])
    slow.releaseNotifications()
    await assertStorageExact(storage, [2])
    await c.close()
    assert.deepEqual(events, ['completed 1', 'subsumed', 'completed 2'], 'nothing reported after the notifications were taken')
  }))

test('a notification taken late, or failing, is only a warning', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    instances[0]!.holdNotifications = true
    instances[1]!.notifyCheckpointComplete = () => Promise.reject(new Error('event loop gone'))
    const warnings: string[] = []
    const c = await CheckpointCoordinator.create({
      storage, instances, cancelGraceMs: 1,
      onEvent: (e) => e.type === 'warning' && warnings.push(e.message),
    })
    const md = await c.triggerCheckpoint()
    await until(() => warnings.length === 2, 'two warnings')
    assert.deepEqual(warnings.sort(), [
      'fake 0 did not take notifyCheckpointComplete(1) within 1 ms',
      'fake 1 did not take notifyCheckpointComplete(1)',
    ])
    instances[0]!.releaseNotifications()
    assert.equal((await c.triggerCheckpoint()).checkpointId, md.checkpointId + 1)
    await assertStorageExact(storage, [1, 2])
    await c.close()
  }))

test('a checkpoint not acknowledged in time is aborted; a hung instance does not block the coordinator', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    instances[1]!.hang = true
    // Long enough for a healthy checkpoint of a few small files on a loaded machine.
    const c = await CheckpointCoordinator.create({ storage, instances, timeoutMs: 500, cancelGraceMs: 20 })
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e, 'ABORTED') && /timed out .* waiting for (fake 0, )?fake 1$/.test(e.message))
    await assertStorageExact(storage, [])
    instances[1]!.hang = false
    await c.triggerCheckpoint()
    await assertStorageExact(storage, [2])
    await c.close()
  }))

test('an answer that arrives after the abort has its files deleted', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, timeoutMs: 30, cancelGraceMs: 10 })
    // Instance 1 ignores cancellation and answers late, after writing its files.
    const late = instances[1]!
    let answerLate!: () => Promise<unknown>
    const original = late.snapshot.bind(late)
    late.snapshot = (req, _signal) => new Promise((resolve, reject) => {
      answerLate = () => {
        const answer = original(req, new AbortController().signal)
        answer.then(resolve, reject)
        return answer
      }
    })
    await assert.rejects(c.triggerCheckpoint(), /timed out/)
    const ack = (await answerLate()) as { handle: unknown }
    assert.ok(ack.handle, 'the late answer wrote files')
    // The coordinator handles the answer after it resolves: poll (bounded) until its files are gone.
    for (let i = 0; i < 400 && (await storedPaths(storage)).length > 0; i++) await new Promise((r) => setTimeout(r, 5))
    await assertStorageExact(storage, [])
    await c.close()
  }))

for (const kind of STORAGE_KINDS) test(`${kind.name}: savepoints are self-contained, never subsumed, and refuse unsafe directories`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1 })
    await c.triggerCheckpoint()
    const sp = await c.triggerSavepoint('backups/sp-a')
    assert.equal(sp.type, 'savepoint')
    assert.equal(sp.dir, 'backups/sp-a')
    for (const inst of sp.instances) assert.equal(inst.handle?.type, 'full')
    assert.deepEqual(instances[0]!.requests.at(-1), { checkpointId: 2, type: 'savepoint', targetDir: 'backups/sp-a' })
    const spDefault = await c.triggerSavepoint()
    assert.equal(spDefault.dir, `savepoints/savepoint-${spDefault.checkpointId}`)
    for (let i = 0; i < 3; i++) await c.triggerCheckpoint()
    await assertStorageExact(storage, [sp.checkpointId, spDefault.checkpointId, 6])
    await assert.rejects(c.triggerSavepoint('backups/sp-a'), /not empty/)
    const racing = await Promise.allSettled([c.triggerSavepoint('backups/sp-b'), c.triggerSavepoint('backups/sp-b')])
    assert.deepEqual(racing.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
    assert.match(String((racing.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /being written to 'backups\/sp-b'/)
    await assert.rejects(c.triggerSavepoint('shared/x'), /checkpoints own/)
    await assert.rejects(c.triggerSavepoint('chk-1'), /checkpoints own/)
    await assert.rejects(c.triggerSavepoint('../outside'), (e: unknown) => isKeyedStateError(e, 'PATH_ESCAPE'))
    await c.close()
  }, kind))

for (const kind of STORAGE_KINDS) test(`${kind.name}: a failed savepoint deletes its directory`, () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances })
    instances[1]!.manual = true
    const p = c.triggerSavepoint('sp')
    await until(() => instances[1]!.waitingFor().length === 1, 'held')
    instances[1]!.fail(1)
    await assert.rejects(p, /declined savepoint 1/)
    await assertStorageExact(storage, [])
    await c.close()
  }, kind))

test('hooks run in order; a failing beforeMetadataWrite aborts without a _metadata', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const seen: string[] = []
    let failNext = false
    const hook = (name: HookName) => ({ checkpointId }: { checkpointId: number }) => {
      seen.push(`${name} ${checkpointId}`)
      if (name === 'beforeMetadataWrite' && failNext) throw new Error('injected')
    }
    const names: HookName[] = ['afterTrigger', 'beforeMetadataWrite', 'afterMetadataWrite', 'beforeNotifyComplete', 'beforeDiscard', 'afterDiscardMetadata', 'beforeAbortCleanup']
    const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1, hooks: Object.fromEntries(names.map((n) => [n, hook(n)])) })
    await c.triggerCheckpoint()
    await c.triggerCheckpoint()
    assert.deepEqual(seen, [
      'afterTrigger 1', 'beforeMetadataWrite 1', 'afterMetadataWrite 1', 'beforeNotifyComplete 1',
      'afterTrigger 2', 'beforeMetadataWrite 2', 'afterMetadataWrite 2', 'beforeNotifyComplete 2', 'beforeDiscard 1', 'afterDiscardMetadata 1',
    ])
    failNext = true
    await assert.rejects(c.triggerCheckpoint(), /injected/)
    assert.equal(seen.at(-1), 'beforeAbortCleanup 3')
    await assertStorageExact(storage, [2])
    await c.close()
  }))

test('maxConcurrentCheckpoints and minPauseBetweenCheckpointsMs refuse with BUSY', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(1, MAX_P, storage)
    instances[0]!.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, minPauseBetweenCheckpointsMs: 60_000 })
    await c.triggerCheckpoint()
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e, 'BUSY') && /minPauseBetweenCheckpointsMs/.test(e.message))
    await c.close()
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => isKeyedStateError(e, 'CLOSED'))
  }))

test('periodic checkpoints run at the interval until close', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const completed: number[] = []
    const c = await CheckpointCoordinator.create({
      storage, instances, intervalMs: 5, retainedCheckpoints: 2,
      onEvent: (e) => e.type === 'completed' && completed.push(e.metadata.checkpointId),
    })
    await until(() => completed.length >= 4, 'four periodic checkpoints')
    await c.close()
    const retained = c.completedCheckpoints().map((m) => m.checkpointId)
    assert.equal(retained.length, 2)
    await assertStorageExact(storage, retained)
  }))

test('close aborts what is in flight and cleans up', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c = await CheckpointCoordinator.create({ storage, instances, maxConcurrentCheckpoints: 2 })
    await c.triggerCheckpoint()
    for (const i of instances) i.manual = true
    const p = c.triggerCheckpoint()
    const sp = c.triggerSavepoint('sp')
    await until(() => instances.every((i) => i.waitingFor().length === 2), 'held')
    await c.close()
    await assert.rejects(p, /closing/)
    await assert.rejects(sp, /closing/)
    await assertStorageExact(storage, [1])
  }))

test('options are checked with helpful messages', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    assert.throws(() => new CheckpointCoordinator({ storage, instances, retainedcheckpoints: 2 } as never), /did you mean 'retainedCheckpoints'/)
    assert.throws(() => new CheckpointCoordinator({ storage, instances, maxConcurrentCheckpoints: 0 }), /maxConcurrentCheckpoints must be an integer >= 1/)
    assert.throws(() => new CheckpointCoordinator({ storage, instances: [instances[1]!, instances[0]!] }), /key-group order/)
    assert.throws(() => new CheckpointCoordinator({ storage, instances: [instances[0]!] }), /not all of \[0\.\.15\]/)
    const c = new CheckpointCoordinator({ storage, instances })
    await assert.rejects(c.triggerCheckpoint(), /start\(\)/)
  }))

for (const kind of STORAGE_KINDS) test(`${kind.name}: restart in claim mode: the registry is rebuilt and retention continues over the old checkpoints`, () =>
  withStorage(async ({ storage }) => {
    let instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c1 = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 2 })
    for (let i = 0; i < 3; i++) {
      for (const inst of instances) inst.flush()
      await c1.triggerCheckpoint()
    }
    // The process dies: no close, no cleanup. A fresh coordinator takes over.
    const latest = await findLatestCompleteCheckpoint(storage, { checkFiles: true })
    assert.equal(latest?.checkpointId, 3)
    instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c2 = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 2, restoredFrom: { metadata: latest!, mode: 'claim' } })
    assert.deepEqual(c2.completedCheckpoints().map((m) => m.checkpointId), [2, 3])
    assert.ok(c2.registry.files().every((f) => f.checkpoints.length > 0 && f.pins.length === 0), 'registered, not pinned')
    assert.equal(c2.forcesFullUpload, false)
    const m4 = await c2.triggerCheckpoint()
    assert.equal(m4.checkpointId, 4)
    assert.equal(m4.restoredFrom?.mode, 'claim')
    await assertStorageExact(storage, [3, 4])
    await c2.triggerCheckpoint()
    await assertStorageExact(storage, [4, 5])
    await c2.close()
  }, kind))

for (const kind of STORAGE_KINDS) test(`${kind.name}: restart in no-claim mode: old checkpoints are never deleted and new ones upload everything first`, () =>
  withStorage(async ({ storage }) => {
    let instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c1 = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1 })
    await c1.triggerCheckpoint()
    await c1.triggerCheckpoint()
    await c1.close()
    const latest = (await findLatestCompleteCheckpoint(storage))!
    assert.equal(latest.checkpointId, 2)

    instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c2 = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: 1, restoredFrom: { metadata: latest } })
    assert.ok(c2.forcesFullUpload)
    assert.ok(c2.registry.files().every((f) => f.pins.length > 0))
    const m3 = await c2.triggerCheckpoint()
    assert.equal(instances[0]!.requests[0]!.forceFullUpload, true)
    assert.equal(c2.forcesFullUpload, false)
    for (let i = 0; i < 3; i++) await c2.triggerCheckpoint()
    assert.equal(instances[0]!.requests.at(-1)!.forceFullUpload, undefined)
    await assertStorageExact(storage, [2, 6])
    assert.equal(m3.restoredFrom?.checkpointId, 2)
    await c2.close()
  }, kind))

test('claim mode refuses savepoints and snapshots outside its storage', () =>
  withStorage(async ({ storage }) => {
    const instances = FakeInstance.many(2, MAX_P, storage)
    for (const i of instances) i.flush()
    const c1 = await CheckpointCoordinator.create({ storage, instances })
    const sp = await c1.triggerSavepoint('sp')
    await c1.close()
    await assert.rejects(
      CheckpointCoordinator.create({ storage, instances, restoredFrom: { metadata: sp, mode: 'claim' } }),
      /savepoints are never deleted/,
    )
    const other = await tempStorage()
    try {
      await assert.rejects(
        CheckpointCoordinator.create({ storage: other.storage, instances, restoredFrom: { metadata: sp, mode: 'claim', storage } }),
        /claim mode needs/,
      )
      // no-claim from another storage: ids continue after the restored one.
      const fresh = FakeInstance.many(2, MAX_P, other.storage)
      for (const i of fresh) i.flush()
      const c3 = await CheckpointCoordinator.create({ storage: other.storage, instances: fresh, restoredFrom: { metadata: sp, storage } })
      assert.equal((await c3.triggerCheckpoint()).checkpointId, sp.checkpointId + 1)
      await c3.close()
    } finally {
      await other.cleanup()
    }
  }))

// Random interleavings of flushes, compactions, triggers, out-of-order answers
// and failures over several concurrent checkpoints. Invariants: after every step
// no complete checkpoint misses a file; when everything settled, storage holds
// exactly the retained checkpoints' files.
test('model: concurrent checkpoints never lose a file another checkpoint needs', async () => {
  type Op =
    | { op: 'flush'; inst: number }
    | { op: 'compact'; inst: number }
    | { op: 'trigger' }
    | { op: 'release'; inst: number; pick: number }
    | { op: 'fail'; inst: number; pick: number }
  const N = 3
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), inst: fc.nat({ max: N - 1 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), inst: fc.nat({ max: N - 1 }) }) },
    { weight: 2, arbitrary: fc.constant({ op: 'trigger' as const }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('release' as const), inst: fc.nat({ max: N - 1 }), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('fail' as const), inst: fc.nat({ max: N - 1 }), pick: fc.nat() }) },
  )
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), async (ops, retained, concurrent) => {
      const t = await tempStorage()
      try {
        const { storage } = t
        const instances = FakeInstance.many(N, MAX_P, storage)
        for (const i of instances) i.flush()
        const c = await CheckpointCoordinator.create({ storage, instances, retainedCheckpoints: retained, maxConcurrentCheckpoints: concurrent })
        for (const i of instances) i.manual = true
        const outcomes: Promise<unknown>[] = []
        const settle = async (): Promise<void> => {
          // Let answered snapshots write their files and the coordinator react.
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
        }
        for (const o of ops) {
          const inst = 'inst' in o ? instances[o.inst]! : undefined
          if (o.op === 'flush') inst!.flush()
          else if (o.op === 'compact') inst!.compact()
          else if (o.op === 'trigger') {
            const p = c.triggerCheckpoint()
            outcomes.push(p.catch((e: unknown) => assert.ok(isKeyedStateError(e, 'BUSY') || isKeyedStateError(e, 'ABORTED'), String(e))))
            await settle()
          } else {
            const held = inst!.waitingFor()
            if (held.length === 0) continue
            const id = held[o.pick % held.length]!
            if (o.op === 'release') inst!.release(id)
            else inst!.fail(id)
            await settle()
          }
          for (const l of await listSnapshots(storage)) {
            if (!l.metadata) continue
            const missing = await missingFiles(storage, l.metadata)
            // The coordinator runs on while this looks: one it discarded meanwhile lost its
            // `_metadata` before any file, so it is no longer complete. A file missing while
            // `_metadata` is still there afterwards is a lost file.
            if (missing.length > 0 && !(await storage.exists(metadataPathOf(l.dir)))) continue
            assert.deepEqual(missing, [], `checkpoint ${l.checkpointId} misses files`)
          }
        }
        // Answer everything still held, then everything must be exact.
        for (;;) {
          const held = instances.flatMap((i) => i.waitingFor().map((id) => [i, id] as const))
          if (held.length === 0 && c.inFlightCheckpoints().length === 0) break
          for (const [i, id] of held) i.release(id)
          await settle()
          await new Promise((r) => setTimeout(r, 1))
        }
        await Promise.all(outcomes)
        const retainedIds = c.completedCheckpoints().map((m) => m.checkpointId)
        assert.ok(retainedIds.length <= retained)
        await assertStorageExact(storage, retainedIds)
        await c.close()
      } finally {
        await t.cleanup()
      }
    }),
    { numRuns: 40 },
  )
})
