// Group 7: many states (issue 14). One column family per state, and RocksDB
// rewrites its OPTIONS file (a section per family) on every create call, so the
// cost of registering and restoring grew with the square of the state count.
// For 10, 100 and 1,000 value states with one key each: registering them all
// and then using each once (their families are created in one batch), the same
// one state at a time (register, use, register, use: one create call each),
// a savepoint and an incremental checkpoint, restoring each, and reopening.
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { int32Serializer, stringSerializer } from '../../src/serializers/primitives.js'
import type { KeyedStateHandle } from '../../src/snapshot/types.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import { emptyResult, type BenchGroup, type GroupResult, type RunContext } from '../lib/context.js'
import { MAX_PARALLELISM, openBackend, type OpenedBackend } from '../lib/keyed.js'
import { attempt, isUnavailable } from '../lib/pieces.js'
import { table } from '../lib/table.js'

const COUNTS = [10, 100, 1000]
/** One create call per state costs O(states) each; past this count it takes minutes, so it is not run. */
const ONE_AT_A_TIME_MAX = 100

/** Wall time and the CPU time of every thread of the process (RocksDB's included). */
interface Cost {
  ms: number
  cpuMs: number
}

/**
 * Both, because the wall time of these steps is mostly fsync: RocksDB syncs its
 * MANIFEST once per column family created, flushed or ingested into, and on a
 * disk other processes write to, each sync waits its turn.
 */
async function cost<T>(fn: () => Promise<T>): Promise<Cost & { value: T }> {
  const start = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  const value = await fn()
  const used = process.cpuUsage(cpu)
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (used.user + used.system) / 1000, value }
}

interface StatesMeasures {
  registerAndUse: Cost
  oneAtATime: Cost | undefined
  savepoint: Cost
  checkpointSyncMs: number
  checkpoint: Cost
  restoreSavepoint: Cost
  restoreCheckpoint: Cost
  reopen: Cost
}

const descriptors = (n: number) => Array.from({ length: n }, (_, i) => new ValueStateDescriptor(`state-${i}`, int32Serializer))

function useAll(b: OpenedBackend['backend'], ds: ReadonlyArray<ValueStateDescriptor<number>>): void {
  b.setCurrentKey('k')
  for (const [i, d] of ds.entries()) b.getState(d).update(i)
}

async function measure(ctx: RunContext, n: number): Promise<StatesMeasures> {
  const storage = new FileSystemCheckpointStorage(ctx.tmp.path(`many-states-${n}-storage`))
  const opened: OpenedBackend[] = []
  const open = async (tag: string, restoreFrom?: readonly KeyedStateHandle[]) => {
    const o = await openBackend(ctx.tmp, 'rocksdb', `many-states-${n}-${tag}`, {
      checkpointMode: 'incremental',
      storage,
      ...(restoreFrom ? { restoreFrom } : {}),
    })
    opened.push(o)
    return o
  }
  try {
    const ds = descriptors(n)
    const source = await open('source')
    const registerAndUse = await cost(async () => {
      const states = ds.map((d) => source.backend.getState(d))
      source.backend.setCurrentKey('k')
      for (const [i, s] of states.entries()) s.update(i)
    })
    let oneAtATime: Cost | undefined
    if (n <= ONE_AT_A_TIME_MAX) {
      const other = await open('one-at-a-time')
      oneAtATime = await cost(async () => useAll(other.backend, ds))
      await other.dispose()
    }
    const savepoint = await cost(async () => (await source.backend.snapshot(1, { type: 'savepoint', storage }).done).handle!)
    let checkpointSyncMs = 0
    const checkpoint = await cost(async () => {
      const run = source.backend.snapshot(2, { type: 'checkpoint', storage })
      checkpointSyncMs = run.syncDurationMs
      return (await run.done).handle!
    })
    source.backend.notifyCheckpointComplete(2)
    await source.backend.close()
    const restoreSavepoint = await cost(() => open('from-savepoint', [savepoint.value]))
    const restoreCheckpoint = await cost(() => open('from-checkpoint', [checkpoint.value]))
    for (const r of [restoreSavepoint.value, restoreCheckpoint.value]) {
      if (r.backend.stateNames().length !== n) throw new Error(`restored ${r.backend.stateNames().length} states, not ${n}`)
    }
    const reopen = await cost(() =>
      openKeyedStateBackend({ kind: 'rocksdb', dir: source.dir!, keySerializer: stringSerializer, maxParallelism: MAX_PARALLELISM, checkpointMode: 'incremental' }),
    )
    const reopenedStates = reopen.value.stateNames().length
    await reopen.value.close()
    if (reopenedStates !== n) throw new Error(`reopened with ${reopenedStates} states, not ${n}`)
    return { registerAndUse, oneAtATime, savepoint, checkpointSyncMs, checkpoint, restoreSavepoint, restoreCheckpoint, reopen }
  } finally {
    for (const o of opened) await o.dispose()
  }
}

export const manyStatesGroup: BenchGroup = {
  id: 'many-states',
  title: 'Many states',
  description:
    'RocksDB keeps each state in a column family of its own. For 10, 100 and 1,000 value states with one key each: registering them all and then ' +
    'using each once, the same one state at a time (register, use, register, use), a savepoint and an incremental checkpoint (whole run, and its ' +
    'synchronous part), restoring a backend from each, and reopening the working directory. One run each (wall time).',
  steps: () => COUNTS.length,

  async run(ctx: RunContext): Promise<GroupResult> {
    const result = emptyResult()
    const columns = (what: string): Array<[string, 'ms' | 'count']> => [
      ['states', 'count'],
      [`register all, then use (${what})`, 'ms'],
      ['one at a time', 'ms'],
      ['savepoint', 'ms'],
      ['checkpoint', 'ms'],
      ['restore savepoint', 'ms'],
      ['restore checkpoint', 'ms'],
      ['reopen', 'ms'],
    ]
    const wall = table('Many states (RocksDB): wall time', [...columns('wall'), ['checkpoint sync part', 'ms']])
    const cpu = table('Many states (RocksDB): CPU time of all threads', columns('CPU'))
    for (const n of COUNTS) {
      ctx.progress.step(`${n} states`)
      const m = await attempt(() => measure(ctx, n), ctx.onError(`${n} states`))
      if (isUnavailable(m)) {
        wall.rows.push([n, m.reason])
        continue
      }
      for (const [t, pick] of [[wall, (c: Cost) => c.ms], [cpu, (c: Cost) => c.cpuMs]] as const) {
        const steps = [m.registerAndUse, m.oneAtATime, m.savepoint, m.checkpoint, m.restoreSavepoint, m.restoreCheckpoint, m.reopen]
        t.rows.push([n, ...steps.map((c) => (c === undefined ? null : pick(c)))])
      }
      wall.rows.at(-1)!.push(m.checkpointSyncMs)
    }
    wall.notes.push(
      `"one at a time" is not run past ${ONE_AT_A_TIME_MAX} states: each state registered after the last use of any state costs one create ` +
        'call, which rewrites and re-reads the OPTIONS file with a section per existing state.',
    )
    cpu.notes.push('process.cpuUsage() around each step: every thread of the process, RocksDB\'s background flushes included.')
    result.tables.push(wall, cpu)
    return result
  },
}
