// Shared by the runtime tests: read every key's state out of a completed
// checkpoint or savepoint (restored into one in-process backend owning
// every key group) and compare it with what the source produced.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RunJobOptions } from '../../src/runtime/job.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { withSnapshotState } from '../../src/runtime/snapshot-backend.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import type { CheckpointStorage } from '../../src/storage/types.js'
import { assignToKeyGroup } from '../../src/keygroups.js'
import { byTypeDescriptor, countDescriptor, eventAt, expectedCounts, type CountingParams } from './counting-job.js'

export type Counts = Map<string, { count: number; byType: Record<string, number> }>

export async function countsIn(storage: CheckpointStorage, md: CheckpointMetadata): Promise<Counts> {
  return withSnapshotState(storage, md, stringSerializer, (backend) => {
    const count = backend.getState(countDescriptor)
    const byType = backend.getMapState(byTypeDescriptor)
    const out: Counts = new Map()
    for (const key of [...backend.keys('count')]) {
      backend.setCurrentKey(key)
      out.set(key, { count: count.value()!, byType: Object.fromEntries(byType.entries()) })
    }
    return out
  })
}

/** Every key's state equals what `events` events produce: nothing lost, nothing counted twice. */
export function assertExactlyOnce(actual: Counts, params: { events: number; keys: number }): void {
  const expected = expectedCounts(params)
  const sorted = (m: Counts) => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.count, Object.entries(v.byType).sort()])
  const total = (m: Counts) => [...m.values()].reduce((s, r) => s + r.count, 0)
  assert.deepEqual(sorted(actual), sorted(expected), `${total(actual)} events counted for ${actual.size} keys, expected ${total(expected)} for ${expected.size}`)
}

export const COUNTING_JOB = new URL('./counting-job.js', import.meta.url)

export async function withStorage(fn: (storage: FileSystemCheckpointStorage, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ks-runtime-'))
  try {
    await fn(new FileSystemCheckpointStorage(dir), dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export function options(storage: FileSystemCheckpointStorage, params: CountingParams, more: Partial<RunJobOptions> = {}): RunJobOptions {
  return {
    job: COUNTING_JOB,
    params: { ...params },
    parallelism: 2,
    maxParallelism: 16,
    backend: 'rocksdb',
    storage,
    checkpointIntervalMs: 50,
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 10 },
    ...more,
  }
}

export async function until(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}


/** Effectively unbounded: a job on it ends by stop(), never by the end of its stream. */
export const ENDLESS = 1_000_000_000

/**
 * Every key's state equals what the generator's events before each key
 * group's recorded position produce: the check for a snapshot of a job that
 * was stopped mid-stream (each key group stopped at its own position).
 */
export async function assertMatchesPositions(storage: CheckpointStorage, md: CheckpointMetadata, keys: number): Promise<number> {
  const positions = new Map<number, number>()
  for (const inst of md.instances) {
    for (const [start, end, position] of (inst.operatorState as { sourcePositions: [number, number, number][] }).sourcePositions) {
      for (let kg = start; kg <= end; kg++) positions.set(kg, position)
    }
  }
  const end = Math.max(...positions.values())
  const expected: Counts = new Map()
  for (let o = 0; o < end; o++) {
    const e = eventAt(keys, o)
    if (o >= positions.get(assignToKeyGroup(stringSerializer.serialize(e.key), md.maxParallelism))!) continue
    let r = expected.get(e.key)
    if (!r) expected.set(e.key, (r = { count: 0, byType: {} }))
    r.count++
    r.byType[e.type] = (r.byType[e.type] ?? 0) + 1
  }
  const actual = await countsIn(storage, md)
  const sorted = (m: Counts) => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.count, Object.entries(v.byType).sort()])
  assert.deepEqual(sorted(actual), sorted(expected))
  return [...actual.values()].reduce((s, r) => s + r.count, 0)
}
