// Shared ways to drive keyed-state backends with bench data: open in a temp
// dir, fill ValueState, change a fraction of keys, copy key by key, count.
import { openKeyedStateBackend } from '../../src/backends/open.js'
import { compactionOpenOptions } from '../../src/backends/rocksdb/compaction-options.js'
import { memoryOpenOptions } from '../../src/backends/rocksdb/memory-budget.js'
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import type { NativeOpenOptions } from '../../src/backends/rocksdb/native/types.js'
import { assignToKeyGroup, type KeyGroupRange } from '../../src/keygroups.js'
import { stringSerializer } from '../../src/serializers/primitives.js'
import { ValueStateDescriptor } from '../../src/state/descriptors.js'
import type { Dataset } from './data.js'
import type { TempSpace } from './tmp.js'

export type Backend = KeyedStateBackend<string>
export type Kind = 'rocksdb' | 'heap'

export const MAX_PARALLELISM = 128
export const VALUE_STATE = 'value'

export function valueDescriptor(name = VALUE_STATE): ValueStateDescriptor<string> {
  return new ValueStateDescriptor(name, stringSerializer)
}

export type BackendExtras = Omit<Partial<KeyedStateBackendOptions<string>>, 'kind' | 'keySerializer' | 'dir'>

export interface OpenedBackend {
  backend: Backend
  /** The RocksDB working dir (removed by dispose); undefined for heap. */
  dir: string | undefined
  dispose(): Promise<void>
}

export async function openBackend(tmp: TempSpace, kind: Kind, label: string, extras: BackendExtras = {}): Promise<OpenedBackend> {
  const dir = kind === 'rocksdb' ? tmp.path(`${label}-db`) : undefined
  const options: KeyedStateBackendOptions<string> = {
    kind,
    keySerializer: stringSerializer,
    maxParallelism: MAX_PARALLELISM,
    ...extras,
  }
  if (dir) options.dir = dir
  const backend = await openKeyedStateBackend(options)
  return {
    backend,
    dir,
    dispose: async () => {
      await backend.close()
      if (dir) tmp.remove(dir)
    },
  }
}

const keyGroupCache = new WeakMap<Dataset, Uint16Array>()

/** Key group of every key of `data` (computed once per dataset: murmur3 over 5M keys is not free). */
export function keyGroupsOf(data: Dataset): Uint16Array {
  let kgs = keyGroupCache.get(data)
  if (!kgs) {
    kgs = new Uint16Array(data.count)
    for (let i = 0; i < data.count; i++) kgs[i] = assignToKeyGroup(stringSerializer.serialize(data.key(i)), MAX_PARALLELISM)
    keyGroupCache.set(data, kgs)
  }
  return kgs
}

function inRange(range: KeyGroupRange, kg: number): boolean {
  return kg >= range.start && kg <= range.end
}

/**
 * Writes value(i, version) for every key i (or the given indices) that the
 * backend owns, through setCurrentKey + ValueState.update. Returns the count written.
 */
export function writeValues(backend: Backend, data: Dataset, version = 0, indices?: ArrayLike<number>): number {
  const state = backend.getState(valueDescriptor())
  const kgs = keyGroupsOf(data)
  const range = backend.keyGroupRange
  const n = indices ? indices.length : data.count
  let written = 0
  for (let j = 0; j < n; j++) {
    const i = indices ? indices[j]! : j
    if (!inRange(range, kgs[i]!)) continue
    backend.setCurrentKey(data.key(i))
    state.update(data.value(i, version))
    written++
  }
  return written
}

/**
 * Re-inserts every key of `sources` into the targets owning it, key by key
 * through the state API: what rescaling costs without ingestion.
 */
export function copyKeyByKey(sources: readonly Backend[], targets: readonly Backend[]): number {
  const targetStates = targets.map((t) => t.getState(valueDescriptor()))
  let copied = 0
  for (const source of sources) {
    const sourceState = source.getState(valueDescriptor())
    // keys() iterates the source while we read values from it: collect first so
    // the iterator is not invalidated by reads on some backends.
    for (const key of [...source.keys(VALUE_STATE)]) {
      source.setCurrentKey(key)
      const value = sourceState.value()
      const kg = source.getCurrentKeyGroup()
      const t = targets.findIndex((b) => inRange(b.keyGroupRange, kg))
      targets[t]!.setCurrentKey(key)
      targetStates[t]!.update(value)
      copied++
    }
  }
  return copied
}

export function countKeys(backend: Backend): number {
  let n = 0
  for (const _ of backend.keys(VALUE_STATE)) n++
  return n
}

/** Random reads of ValueState over the whole key space: ops/s over `ops` reads. */
export function randomReadsPerSec(backend: Backend, data: Dataset, ops: number, seed: number): number {
  const state = backend.getState(valueDescriptor())
  let x = seed >>> 0
  const start = process.hrtime.bigint()
  for (let j = 0; j < ops; j++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    backend.setCurrentKey(data.key(x % data.count))
    state.value()
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  return (ops * 1000) / ms
}

/**
 * The RocksDB options the backend opens its DB with (src/backends/rocksdb/backend.ts,
 * default incremental mode: the WAL on, universal compaction, the process's default
 * memory budget, whose block cache the raw DB then shares), for the raw references:
 * the same engine settings, no state layer.
 */
export const BACKEND_LIKE_OPTIONS: NativeOpenOptions = {
  createIfMissing: true,
  disableWal: false,
  ...compactionOpenOptions(undefined, 'incremental'),
  ...memoryOpenOptions(undefined),
}
