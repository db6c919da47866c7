// Group 4: restore and rescale. State at parallelism 2 (two RocksDB backends,
// local recovery on) is checkpointed, then restored from the local copies and
// from storage, and rescaled 2→3 and 3→2, by our restore (ingestion) and by
// re-inserting every key through the state API.
import { keyGroupRangeForOperator, type KeyGroupRange } from '../../src/keygroups.js'
import type { KeyedStateHandle, LocalStateHandle } from '../../src/snapshot/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { takeCompletedCheckpoint, takeSnapshot, type CheckpointCost } from '../lib/checkpointing.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { datasetOfSize, type Dataset } from '../lib/data.js'
import { mbPerSec, sizeLabel } from '../lib/format.js'
import { GOALS, goalCell, judge } from '../lib/goals.js'
import { copyKeyByKey, countKeys, MAX_PARALLELISM, openBackend, writeValues, type OpenedBackend } from '../lib/keyed.js'
import type { Footprint } from '../lib/machine.js'
import { attempt, fsStorageFactory, isUnavailable, Unavailable } from '../lib/pieces.js'
import { forEachSize, largestMeasured, whereLabel } from '../lib/sizes.js'
import { table } from '../lib/table.js'
import { timed } from '../lib/timing.js'

const FOOTPRINT: Footprint = { diskFactor: 9, memoryFactor: 1 }

type Maybe<T> = T | Unavailable

interface RescaleCost {
  ingestionMs: Maybe<number>
  reinsertMs: Maybe<number>
}

interface RestoreMeasures {
  data: Dataset
  /** Type of the handles the default checkpoints produced ('incremental' once built, else 'full'). */
  checkpointType: string
  fromStorageMs: Maybe<number>
  fromLocalMs: Maybe<number>
  fromSavepointMs: Maybe<number>
  /** The same state savepointed by 2 heap instances, restored into RocksDB (the heap → RocksDB switch). */
  fromHeapSavepointMs: Maybe<number>
  rescale2to3: RescaleCost
  rescale3to2: RescaleCost
}

function ranges(parallelism: number): KeyGroupRange[] {
  return Array.from({ length: parallelism }, (_, i) => keyGroupRangeForOperator(MAX_PARALLELISM, parallelism, i))
}

/** A backend whose state is already there: filled, or restored from handles. */
type Instance = OpenedBackend

class Topology {
  constructor(
    private readonly ctx: RunContext,
    readonly storage: CheckpointStorage,
    private readonly label: string,
  ) {}

  async open(range: KeyGroupRange, tag: string, restoreFrom?: readonly KeyedStateHandle[], local?: readonly LocalStateHandle[]): Promise<Instance> {
    const extras: Parameters<typeof openBackend>[3] = { keyGroupRange: range, storage: this.storage }
    if (restoreFrom) extras.restoreFrom = restoreFrom
    if (local) extras.localRestoreFrom = local
    return openBackend(this.ctx.tmp, 'rocksdb', `${this.label}-${tag}-${range.start}`, extras)
  }

  /** Opens one instance per range restored from `handles`; returns them and the total time. */
  async restoreAll(targets: KeyGroupRange[], tag: string, handles: readonly KeyedStateHandle[], local?: readonly LocalStateHandle[]) {
    const instances: Instance[] = []
    let ms = 0
    try {
      for (const range of targets) {
        const t = await timed(() => this.open(range, tag, handles, local))
        ms += t.ms
        instances.push(t.value)
      }
    } catch (e) {
      await disposeAll(instances)
      throw e
    }
    return { instances, ms }
  }

  /** Fresh instances filled key by key from `sources` through the state API; returns the time. */
  async reinsert(sources: readonly Instance[], targets: KeyGroupRange[], tag: string): Promise<number> {
    const fresh: Instance[] = []
    try {
      for (const range of targets) fresh.push(await this.open(range, tag))
      const t = await timed(() => copyKeyByKey(sources.map((s) => s.backend), fresh.map((f) => f.backend)))
      return t.ms
    } finally {
      await disposeAll(fresh)
    }
  }
}

async function disposeAll(instances: readonly Instance[]): Promise<void> {
  for (const i of instances) await i.dispose()
}

function checkAllKeys(instances: readonly Instance[], data: Dataset, what: string): void {
  const n = instances.reduce((sum, i) => sum + countKeys(i.backend), 0)
  if (n !== data.count) throw new Error(`${what}: ${n} keys after restore, expected ${data.count}`)
}

async function restoreMeasures(ctx: RunContext, size: number): Promise<RestoreMeasures> {
  const label = sizeLabel(size)
  const storageFactory = await fsStorageFactory()
  if (isUnavailable(storageFactory)) throw storageFactory
  const data = datasetOfSize(size, ctx.config.stateValueChars)
  const storageDir = ctx.tmp.dir(`restore-storage-${label}`)
  const localDir = ctx.tmp.dir(`restore-local-${label}`)
  const topo = new Topology(ctx, storageFactory(storageDir), `restore-${label}`)
  const step = (what: string) => ctx.progress.step(`restore ${label}: ${what}`)
  const onError = (what: string) => ctx.onError(`restore ${label} ${what}`)
  const sources: Instance[] = []
  try {
    step(`fill 2 instances and checkpoint (${data.count.toLocaleString('en-US')} keys)`)
    for (const [i, range] of ranges(2).entries()) {
      const inst = await openBackend(ctx.tmp, 'rocksdb', `restore-${label}-src${i}`, {
        keyGroupRange: range,
        localRecoveryDir: `${localDir}/op${i}`,
      })
      sources.push(inst)
      writeValues(inst.backend, data)
    }
    const checkpoints: CheckpointCost[] = []
    for (const s of sources) checkpoints.push(await takeCompletedCheckpoint(s.backend, 1, topo.storage))
    const handles = checkpoints.map((c) => c.result.handle!)
    const locals = checkpoints.map((c) => c.result.localHandle).filter((l): l is LocalStateHandle => l !== undefined)
    const savepoints: KeyedStateHandle[] = []
    for (const s of sources) savepoints.push((await takeSnapshot(s.backend, 2, topo.storage, 'savepoint')).result.handle!)

    const restoreEach = async (tag: string, pick: (i: number) => { handles: KeyedStateHandle[]; local?: LocalStateHandle[] }) => {
      let ms = 0
      for (const [i, range] of ranges(2).entries()) {
        const p = pick(i)
        const r = await topo.restoreAll([range], tag, p.handles, p.local)
        ms += r.ms
        await disposeAll(r.instances)
      }
      return ms
    }
    step('restore from storage')
    const fromStorageMs = await attempt(() => restoreEach('storage', (i) => ({ handles: [handles[i]!] })), onError('from storage'))
    step('restore from local recovery')
    const fromLocalMs = await attempt(async () => {
      if (locals.length !== handles.length) throw new Unavailable('n/a (checkpoints kept no local copy)')
      return restoreEach('local', (i) => ({ handles: [handles[i]!], local: [locals[i]!] }))
    }, onError('from local'))
    step('restore from savepoint')
    const fromSavepointMs = await attempt(() => restoreEach('savepoint', (i) => ({ handles: [savepoints[i]!] })), onError('from savepoint'))
    step('restore from heap savepoint')
    const fromHeapSavepointMs = await attempt(async () => {
      const heapSavepoints: KeyedStateHandle[] = []
      for (const [i, range] of ranges(2).entries()) {
        const heap = await openBackend(ctx.tmp, 'heap', `restore-${label}-heap${i}`, { keyGroupRange: range })
        try {
          writeValues(heap.backend, data)
          heapSavepoints.push((await takeSnapshot(heap.backend, 4, topo.storage, 'savepoint')).result.handle!)
        } finally {
          await heap.dispose()
        }
      }
      return restoreEach('heap-savepoint', (i) => ({ handles: [heapSavepoints[i]!] }))
    }, onError('from heap savepoint'))

    step('rescale 2→3 by ingestion')
    const rescale2to3: RescaleCost = { ingestionMs: new Unavailable('n/a'), reinsertMs: new Unavailable('n/a') }
    const rescale3to2: RescaleCost = { ingestionMs: new Unavailable('n/a'), reinsertMs: new Unavailable('n/a') }
    let three: Instance[] = []
    rescale2to3.ingestionMs = await attempt(async () => {
      const r = await topo.restoreAll(ranges(3), 'p3', handles)
      three = r.instances
      checkAllKeys(three, data, 'rescale 2→3')
      return r.ms
    }, onError('rescale 2→3'))
    step('rescale 2→3 by re-inserting')
    rescale2to3.reinsertMs = await attempt(() => topo.reinsert(sources, ranges(3), 'p3-reinsert'), onError('re-insert 2→3'))
    await disposeAll(sources.splice(0))
    try {
      if (three.length === 3) {
        step('rescale 3→2 by ingestion')
        const handles3: KeyedStateHandle[] = []
        for (const t of three) handles3.push((await takeCompletedCheckpoint(t.backend, 3, topo.storage)).result.handle!)
        rescale3to2.ingestionMs = await attempt(async () => {
          const r = await topo.restoreAll(ranges(2), 'p2', handles3)
          try {
            checkAllKeys(r.instances, data, 'rescale 3→2')
          } finally {
            await disposeAll(r.instances)
          }
          return r.ms
        }, onError('rescale 3→2'))
        step('rescale 3→2 by re-inserting')
        rescale3to2.reinsertMs = await attempt(() => topo.reinsert(three, ranges(2), 'p2-reinsert'), onError('re-insert 3→2'))
      } else {
        step('rescale 3→2 skipped')
        step('rescale 3→2 skipped')
      }
    } finally {
      await disposeAll(three)
    }
    return {
      data,
      checkpointType: handles[0]?.type ?? 'none',
      fromStorageMs,
      fromLocalMs,
      fromSavepointMs,
      fromHeapSavepointMs,
      rescale2to3,
      rescale3to2,
    }
  } finally {
    await disposeAll(sources)
    ctx.tmp.remove(storageDir)
    ctx.tmp.remove(localDir)
  }
}

const memoKey = (sizeBytes: number) => `restore:${sizeBytes}`

export function restoreMeasuresAt(ctx: RunContext, size: number): Promise<Maybe<RestoreMeasures>> {
  return ctx.memo(memoKey(size), () => attempt(() => restoreMeasures(ctx, size), ctx.onError(`restore ${sizeLabel(size)}`)))
}

export function allRestoreMeasures(ctx: RunContext) {
  return forEachSize(ctx, FOOTPRINT, (size) => restoreMeasuresAt(ctx, size), memoKey)
}

function speedup(c: RescaleCost): number | string | null {
  if (isUnavailable(c.ingestionMs)) return c.ingestionMs.reason
  if (isUnavailable(c.reinsertMs)) return c.reinsertMs.reason
  return c.reinsertMs / c.ingestionMs
}

function msCell(v: Maybe<number>): number | string {
  return isUnavailable(v) ? v.reason : v
}

function throughputCell(v: Maybe<number>, bytes: number): number | null {
  return isUnavailable(v) ? null : mbPerSec(bytes, v)
}

export const restoreGroup: BenchGroup = {
  id: 'restore',
  title: 'Restore and rescale',
  description:
    'The state of each size held by 2 RocksDB instances (maxParallelism 128, local recovery on), checkpointed with the default ' +
    'checkpoint type. Restore = opening both instances again from their handles (times summed), from the local recovery copies, ' +
    'from storage, from a savepoint (full canonical format) and from a savepoint of heap instances. Rescale = opening the instances of the new parallelism from all ' +
    'old handles (our restore: key-group offsets / ingestion) against re-inserting every key through the state API ' +
    '(keys() + value() on the old instances, setCurrentKey + update on new ones). Key counts are checked after each rescale.',
  steps: (config) => config.sizes.length * 9,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const measures = await allRestoreMeasures(ctx)
    const restore = table('Restore (whole state, 2 instances)', [
      ['state', 'text'],
      ['checkpoint type', 'text'],
      ['from local recovery', 'ms'],
      ['MB/s', 'MB/s'],
      ['from storage', 'ms'],
      ['MB/s', 'MB/s'],
      ['from savepoint', 'ms'],
      ['MB/s', 'MB/s'],
      ['from heap savepoint', 'ms'],
      ['MB/s', 'MB/s'],
    ])
    const rescale = table('Rescale: our restore vs re-inserting key by key', [
      ['state', 'text'],
      ['rescale', 'text'],
      ['ours (ingestion)', 'ms'],
      ['re-insert', 'ms'],
      ['speed-up', 'ratio'],
      ['goal', 'text'],
    ])
    const top = largestMeasured(measures)
    const where = `rescale 2→3 at ${whereLabel(ctx, top?.size)}`
    const goal = judge(GOALS.rescaleVsReinsert, top ? numberOrNull(speedup(top.value.rescale2to3)) : null, where)
    for (const size of ctx.config.sizes) {
      const label = sizeLabel(size)
      const m = measures.get(size)
      if (!m || isUnavailable(m)) {
        restore.rows.push([label, m?.reason ?? 'n/a'])
        rescale.rows.push([label, m?.reason ?? 'n/a'])
        continue
      }
      const bytes = m.data.logicalBytes
      restore.rows.push([
        label,
        m.checkpointType,
        msCell(m.fromLocalMs),
        throughputCell(m.fromLocalMs, bytes),
        msCell(m.fromStorageMs),
        throughputCell(m.fromStorageMs, bytes),
        msCell(m.fromSavepointMs),
        throughputCell(m.fromSavepointMs, bytes),
        msCell(m.fromHeapSavepointMs),
        throughputCell(m.fromHeapSavepointMs, bytes),
      ])
      for (const [name, c] of [['2→3', m.rescale2to3], ['3→2', m.rescale3to2]] as const) {
        rescale.rows.push([label, name, msCell(c.ingestionMs), msCell(c.reinsertMs), speedup(c), top?.size === size && name === '2→3' ? goalCell(goal) : ''])
      }
    }
    restore.notes.push(
      'MB/s = state size (keys + values) / time. From heap savepoint = the same state savepointed by 2 heap instances, restored into RocksDB. ' +
        'Where a savepoint restore goes: node dist/bench/tools/restore-breakdown.js 100MB 3 (--baseline <checkout> compares with another build side by side).',
    )
    result.tables.push(restore, rescale)
    result.goals.push(goal)
    return result
  },
}

function numberOrNull(v: number | string | null): number | null {
  return typeof v === 'number' ? v : null
}
