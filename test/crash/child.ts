// The process the crash test kills. It restores RocksDB backends from the
// latest complete checkpoint in storage (checking that they hold exactly the
// state of that checkpoint), then takes incremental checkpoints in a loop
// with a CheckpointCoordinator of its own, the state at checkpoint N being a
// pure function of N (see model.ts).
//
// With CRASH_KILL_AT=<point>:<n> it freezes the n-th time it reaches <point>:
// it writes `FROZEN <point> <checkpointId>` to stdout (synchronously, so the
// line is out before anything else happens) and blocks its only thread, so the
// parent's SIGKILL lands exactly there. Points:
//   sync                 inside the coordinator's synchronous barrier loop: the first
//                        instance's native checkpoint is taken, the second's is not
//   afterSyncPart        an instance's upload is about to start
//   upload               an SST or private file was uploaded
//   beforeMetaFile       every file uploaded, the instance's meta file not yet written
//   beforeMetadataWrite  every instance acknowledged, `_metadata` not written
//   metadataWrite        `_metadata`'s temporary file exists (written partly or wholly)
//   afterMetadataWrite   `_metadata` is durable, nobody was told
//   beforeNotifyComplete just before the instances hear that the checkpoint completed
//   afterDiscardMetadata a subsumed checkpoint lost its `_metadata`, its files are still there
//
// Other stdout lines: `READY <restored checkpoint id or 0>`, `COMPLETED <id>`.
import { readdirSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { KeyedStateBackend } from '../../src/state-backend/types.js'
import { findLatestCompleteCheckpoint } from '../../src/checkpoint/catalog.js'
import { CheckpointCoordinator } from '../../src/checkpoint/coordinator.js'
import type { CheckpointHooks, HookName } from '../../src/checkpoint/hooks.js'
import { LocalOperatorInstance, type InstanceAck, type InstanceSnapshotRequest, type OperatorInstance } from '../../src/checkpoint/instance.js'
import { restoreAssignment } from '../../src/checkpoint/assignment.js'
import { isKeyedStateError } from '../../src/errors.js'
import { keyGroupRangeForOperator } from '../../src/keygroups.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { SnapshotHooks } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { applySteps, assertStateAt, MAX_PARALLELISM, readState } from './model.js'

/** A frozen child nobody kills (the parent died) gives up after this long. */
const FREEZE_TIMEOUT_MS = 60_000
/** Enough checkpoints for any kill point to be reached; the parent normally kills long before. */
const CHECKPOINTS_MAX = 200

function line(text: string): void {
  writeSync(1, `${text}\n`)
}

function env(name: string): string {
  const v = process.env[name]
  if (v === undefined || v === '') throw new Error(`${name} is not set`)
  return v
}

const killAt = process.env.CRASH_KILL_AT ? { point: process.env.CRASH_KILL_AT.split(':')[0]!, hits: Number(process.env.CRASH_KILL_AT.split(':')[1] ?? 1) } : undefined
let hitsSoFar = 0

/** Freezes the process at `point` when it is the chosen one and this is the chosen hit. */
function reached(point: string, checkpointId: number): void {
  if (!killAt || killAt.point !== point || ++hitsSoFar !== killAt.hits) return
  line(`FROZEN ${point} ${checkpointId}`)
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, FREEZE_TIMEOUT_MS)
  process.stderr.write(`crash child: frozen at ${point} for ${FREEZE_TIMEOUT_MS} ms and nobody killed it\n`)
  process.exit(3)
}

/** Real storage; `_metadata` writes are watched so the child can freeze while the temporary file exists. */
class WatchedStorage extends FileSystemCheckpointStorage {
  override async writeAtomic(path: string, data: Uint8Array): Promise<void> {
    const checkpointId = Number(/chk-(\d+)\/_metadata$/.exec(path)?.[1] ?? -1)
    if (checkpointId < 0 || killAt?.point !== 'metadataWrite') return super.writeAtomic(path, data)
    const dir = dirname(this.localPath(path))
    let done = false
    // Every step of the write needs a turn of the event loop; look for the temporary file at every turn.
    const watch = (): void => {
      if (done) return
      const names = (() => {
        try {
          return readdirSync(dir)
        } catch {
          return []
        }
      })()
      if (names.some((n) => n.startsWith('._metadata.') && n.endsWith('.tmp'))) reached('metadataWrite', checkpointId)
      else setImmediate(watch)
    }
    watch()
    try {
      return await super.writeAtomic(path, data)
    } finally {
      done = true
    }
  }
}

/**
 * An instance of the job: before its barrier it brings the state up to the
 * checkpoint's id (the events before the barrier), then snapshots as a local
 * instance does.
 */
class SteppingInstance implements OperatorInstance {
  constructor(
    private readonly index: number,
    private readonly inner: LocalOperatorInstance,
    private readonly stepTo: (checkpointId: number) => void,
  ) {}
  get name(): string {
    return this.inner.name
  }
  get keyGroupRange() {
    return this.inner.keyGroupRange
  }
  get maxParallelism(): number {
    return this.inner.maxParallelism
  }
  snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck> {
    this.stepTo(request.checkpointId)
    if (this.index === 1) reached('sync', request.checkpointId)
    return this.inner.snapshot(request, signal)
  }
  notifyCheckpointComplete(checkpointId: number): Promise<void> {
    return this.inner.notifyCheckpointComplete(checkpointId)
  }
  notifyCheckpointAborted(checkpointId: number): Promise<void> {
    return this.inner.notifyCheckpointAborted(checkpointId)
  }
}

async function main(): Promise<void> {
  const storage = new WatchedStorage(env('CRASH_STORAGE'))
  const workDir = env('CRASH_WORK')
  const parallelism = Number(env('CRASH_PARALLELISM'))

  const latest = await findLatestCompleteCheckpoint(storage)
  const assignments = latest ? restoreAssignment(latest, parallelism) : undefined
  const backends: KeyedStateBackend<string>[] = []
  for (let i = 0; i < parallelism; i++) {
    backends.push(
      await openKeyedStateBackend({
        kind: 'rocksdb',
        keySerializer: stringSerializer,
        maxParallelism: MAX_PARALLELISM,
        keyGroupRange: keyGroupRangeForOperator(MAX_PARALLELISM, parallelism, i),
        dir: join(workDir, `instance-${i}`),
        storage,
        checkpointMode: 'incremental',
        ...(assignments ? { restoreFrom: assignments[i]!.restoreFrom, knownEmptyRanges: assignments[i]!.knownEmptyRanges } : {}),
      }),
    )
  }
  let applied = latest?.checkpointId ?? 0
  if (latest) assertStateAt(readState(backends), applied, `child restored from checkpoint ${applied}`)
  line(`READY ${applied}`)

  const stepTo = (checkpointId: number): void => {
    if (checkpointId <= applied) return
    applySteps(backends, applied, checkpointId)
    applied = checkpointId
  }
  const snapshotHooks: SnapshotHooks = {
    afterSyncPart: ({ checkpointId }) => reached('afterSyncPart', checkpointId),
    afterUpload: ({ checkpointId }) => reached('upload', checkpointId),
    beforeMetaFile: ({ checkpointId }) => reached('beforeMetaFile', checkpointId),
  }
  const instances = backends.map((b, i) => new SteppingInstance(i, new LocalOperatorInstance(b, storage, { name: `instance ${i}`, snapshotHooks }), stepTo))
  const hooks: CheckpointHooks = {}
  for (const name of ['beforeMetadataWrite', 'afterMetadataWrite', 'beforeNotifyComplete', 'afterDiscardMetadata'] satisfies HookName[]) {
    hooks[name] = ({ checkpointId }) => reached(name, checkpointId)
  }

  const coordinator = await CheckpointCoordinator.create({
    storage,
    instances,
    // Two in flight: a checkpoint's upload overlaps the next one's barrier, and they may complete out of order.
    maxConcurrentCheckpoints: 2,
    retainedCheckpoints: 2,
    hooks,
    ...(latest ? { restoredFrom: { metadata: latest, mode: 'claim' as const } } : {}),
  })
  const inFlight = new Set<Promise<void>>()
  for (let i = 0; i < CHECKPOINTS_MAX; i++) {
    while (inFlight.size >= 2) await Promise.race(inFlight)
    const p: Promise<void> = coordinator.triggerCheckpoint().then(
      (md) => line(`COMPLETED ${md.checkpointId}`),
      (e: unknown) => {
        // Aborts (a newer checkpoint subsumed it) are part of the game; anything else is a bug.
        if (!isKeyedStateError(e, 'ABORTED')) throw e
      },
    ).finally(() => inFlight.delete(p))
    inFlight.add(p)
    // Let the first one's upload start before the next barrier.
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await Promise.all(inFlight)
  await coordinator.close()
  await Promise.all(backends.map((b) => b.close()))
  line('DONE')
}

main().catch((e: unknown) => {
  process.stderr.write(`crash child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(2)
})
