// A small keyed job on real backends for end-to-end checkpoint tests: N
// operator instances, each a real backend with its key-group range, a
// deterministic stream of updates, and a model of what the state must be.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { openKeyedStateBackend } from '../../src/backends/open.js'
import type { BackendKind, KeyedStateBackend } from '../../src/state-backend/types.js'
import { LocalOperatorInstance } from '../../src/checkpoint/instance.js'
import { restoreAssignment } from '../../src/checkpoint/assignment.js'
import type { CheckpointMetadata } from '../../src/checkpoint/metadata.js'
import { assignToKeyGroup, keyGroupRangeForOperator, rangeContains, type KeyGroupRange } from '../../src/keygroups.js'
import { int64Serializer, jsonSerializer, stringSerializer } from '../../src/serializers/primitives.js'
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { SnapshotHooks } from '../../src/snapshot/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

export const countDescriptor = new ValueStateDescriptor<bigint>('count', int64Serializer)
export const lastSeenDescriptor = new MapStateDescriptor<string, number>('last-seen', stringSerializer, jsonSerializer)
export const recentDescriptor = new ListStateDescriptor<string>('recent', stringSerializer)

export interface KeyModel {
  count: bigint
  lastSeen: Map<string, number>
  recent: string[]
}

export type Model = Map<string, KeyModel>

export function cloneModel(m: Model): Model {
  return new Map([...m].map(([k, v]) => [k, { count: v.count, lastSeen: new Map(v.lastSeen), recent: [...v.recent] }]))
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Job {
  readonly model: Model = new Map()
  private offset = 0

  private constructor(
    readonly backends: KeyedStateBackend<string>[],
    readonly instances: LocalOperatorInstance[],
    readonly maxParallelism: number,
    private readonly random: () => number,
  ) {}

  /** A job at `parallelism`, fresh or restored from `restoreFrom` (whose state `model` describes). */
  static async open(options: {
    parallelism: number
    maxParallelism: number
    storage: CheckpointStorage
    kind?: BackendKind
    seed?: number
    restoreFrom?: CheckpointMetadata
    model?: Model
    /** RocksDB: a directory for the instances' working directories. */
    workDir?: string
    checkpointMode?: 'incremental' | 'full'
    /** Passed to every snapshot the instances take. */
    snapshotHooks?: SnapshotHooks
  }): Promise<Job> {
    const kind = options.kind ?? 'heap'
    const assignments = options.restoreFrom ? restoreAssignment(options.restoreFrom, options.parallelism) : undefined
    const backends: KeyedStateBackend<string>[] = []
    for (let i = 0; i < options.parallelism; i++) {
      const keyGroupRange = keyGroupRangeForOperator(options.maxParallelism, options.parallelism, i)
      backends.push(
        await openKeyedStateBackend({
          kind,
          keySerializer: stringSerializer,
          maxParallelism: options.maxParallelism,
          keyGroupRange,
          storage: options.storage,
          ...(kind === 'rocksdb' ? { dir: join(options.workDir!, `instance-${i}-of-${options.parallelism}-${Math.random().toString(36).slice(2)}`) } : {}),
          ...(options.checkpointMode ? { checkpointMode: options.checkpointMode } : {}),
          ...(assignments ? { restoreFrom: assignments[i]!.restoreFrom, knownEmptyRanges: assignments[i]!.knownEmptyRanges } : {}),
        }),
      )
    }
    const instances = backends.map((b, i) => new LocalOperatorInstance(b, options.storage, { name: `instance ${i}`, ...(options.snapshotHooks ? { snapshotHooks: options.snapshotHooks } : {}) }))
    const job = new Job(backends, instances, options.maxParallelism, rng(options.seed ?? 1))
    if (options.model) for (const [k, v] of cloneModel(options.model)) job.model.set(k, v)
    return job
  }

  backendFor(key: string): KeyedStateBackend<string> {
    const kg = assignToKeyGroup(stringSerializer.serialize(key), this.maxParallelism)
    const b = this.backends.find((x) => rangeContains(x.keyGroupRange, kg))
    assert.ok(b, `no instance owns key ${key} (key group ${kg})`)
    return b
  }

  /** Processes `events` events over `keys` keys, updating state and the model. */
  process(events: number, keys = 50, accept: (key: string) => boolean = () => true): void {
    for (let i = 0; i < events; i++) {
      const key = `key-${Math.floor(this.random() * keys)}`
      if (!accept(key)) continue
      const source = `src-${Math.floor(this.random() * 4)}`
      const offset = this.offset++
      const b = this.backendFor(key)
      b.setCurrentKey(key)
      const count = b.getState(countDescriptor)
      count.update((count.value() ?? 0n) + 1n)
      b.getMapState(lastSeenDescriptor).put(source, offset)
      const recent = b.getListState(recentDescriptor)
      const list = recent.get()
      if (list.length >= 3) recent.update([...list.slice(1), source])
      else recent.add(source)

      let m = this.model.get(key)
      if (!m) this.model.set(key, (m = { count: 0n, lastSeen: new Map(), recent: [] }))
      m.count++
      m.lastSeen.set(source, offset)
      m.recent = m.recent.length >= 3 ? [...m.recent.slice(1), source] : [...m.recent, source]
    }
  }

  /** Every key's state equals the model and lives in exactly the instance that owns its key group. */
  assertMatches(model: Model = this.model): void {
    const seen = new Set<string>()
    for (const b of this.backends) {
      // An instance restored from no handle (only empty ranges) has not registered the state yet.
      if (!b.stateNames().includes(countDescriptor.name)) continue
      for (const key of b.keys('count')) {
        assert.ok(!seen.has(key), `key ${key} in two instances`)
        seen.add(key)
      }
    }
    assert.deepEqual([...seen].sort(), [...model.keys()].sort(), 'keys')
    for (const [key, m] of model) {
      const b = this.backendFor(key)
      b.setCurrentKey(key)
      assert.equal(b.getState(countDescriptor).value(), m.count, `count of ${key}`)
      assert.deepEqual(new Map(b.getMapState(lastSeenDescriptor).entries()), m.lastSeen, `last-seen of ${key}`)
      assert.deepEqual(b.getListState(recentDescriptor).get(), m.recent, `recent of ${key}`)
    }
  }

  ranges(): KeyGroupRange[] {
    return this.backends.map((b) => b.keyGroupRange)
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()))
  }
}
