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
import { addEvent, byTypeDescriptor, countDescriptor, eventAt, expectedCounts, type Counts } from '../../examples/counting-job.js'
import type { FaultyCountingParams } from './counting-job.js'

export type { Counts }

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
  assertSameCounts(actual, expectedCounts(params))
}

export const totalCount = (m: Counts): number => [...m.values()].reduce((s, r) => s + r.count, 0)

export function assertSameCounts(actual: Counts, expected: Counts): void {
  const sorted = (m: Counts) => [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.count, Object.entries(v.byType).sort()])
  assert.deepEqual(sorted(actual), sorted(expected), `${totalCount(actual)} events counted for ${actual.size} keys, expected ${totalCount(expected)} for ${expected.size}`)
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

export function options(storage: FileSystemCheckpointStorage, params: FaultyCountingParams, more: Partial<RunJobOptions> = {}): RunJobOptions {
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

/** Each key group's generator offset recorded in a checkpoint or savepoint (where its state ends). */
export function generatorPositions(md: CheckpointMetadata): Map<number, number> {
  const positions = new Map<number, number>()
  for (const inst of md.instances) {
    for (const [start, end, position] of (inst.operatorState as { sourcePositions: [number, number, number][] }).sourcePositions) {
      for (let kg = start; kg <= end; kg++) positions.set(kg, position)
    }
  }
  return positions
}

/** Every key group of `later` is past where it was in `earlier`: every worker that took `later` read on. */
export function everyKeyGroupMovedOn(earlier: CheckpointMetadata, later: CheckpointMetadata): boolean {
  const before = generatorPositions(earlier)
  return [...generatorPositions(later)].every(([kg, p]) => p > before.get(kg)!)
}

/**
 * Every key's state equals what the generator's events before each key
 * group's recorded position produce: the check for a snapshot of a job that
 * was stopped mid-stream (each key group stopped at its own position).
 */
export async function assertMatchesPositions(storage: CheckpointStorage, md: CheckpointMetadata, keys: number): Promise<number> {
  const positions = generatorPositions(md)
  const end = Math.max(...positions.values())
  const expected: Counts = new Map()
  for (let o = 0; o < end; o++) {
    const e = eventAt(keys, o)
    if (o < positions.get(assignToKeyGroup(stringSerializer.serialize(e.key), md.maxParallelism))!) addEvent(expected, e)
  }
  const actual = await countsIn(storage, md)
  assertSameCounts(actual, expected)
  return totalCount(actual)
}
