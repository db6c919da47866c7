// Synthetic backends for format tests: a model of states → key groups → sorted
// entries, exposed as FullSnapshotResources, and a sink that records what a
// restore delivers.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { compositeKey, encodeListElements } from '../../src/encoding.js'
import type { KeyGroupRange } from '../../src/keygroups.js'
import { packEntries, unpackEntries, type PackedEntry } from '../../src/snapshot/format/packed.js'
import type { FullSnapshotResources, RestoreSink } from '../../src/snapshot/types.js'
import type { StateKind } from '../../src/state/descriptors.js'
import type { StateMetaInfo } from '../../src/state/meta.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

export interface ModelState {
  meta: StateMetaInfo
  /** key group → entries sorted by key bytes (hex strings for easy comparison). */
  entries: Map<number, Array<[string, string]>>
}

export interface Model {
  maxParallelism: number
  range: KeyGroupRange
  states: ModelState[]
}

export function metaInfo(name: string, kind: StateKind): StateMetaInfo {
  const base = { name, kind, namespaceSerializer: { id: 'void', version: 1 }, valueSerializer: { id: 'bytes', version: 1 } }
  return kind === 'map' ? { ...base, userKeySerializer: { id: 'string', version: 1 } } : base
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A model with `states` states, entries spread over `range`. */
export function buildModel(
  maxParallelism: number,
  range: KeyGroupRange,
  states: Array<{ name: string; kind: StateKind; entries: Array<{ kg: number; key: Uint8Array; ns?: Uint8Array; value: Uint8Array }> }>,
): Model {
  return {
    maxParallelism,
    range,
    states: states.map((s) => {
      const byKg = new Map<number, Map<string, string>>()
      for (const e of s.entries) {
        const k = hex(compositeKey(e.kg, e.key, e.ns ?? new Uint8Array(0)))
        let m = byKg.get(e.kg)
        if (!m) byKg.set(e.kg, (m = new Map()))
        // A list value is framed elements, never empty (docs/FORMAT.md 2.2): the value is its one element.
        m.set(k, hex(s.kind === 'list' ? encodeListElements([e.value]) : e.value))
      }
      const entries = new Map<number, Array<[string, string]>>()
      for (const [kg, m] of byKg) entries.set(kg, [...m.entries()].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'hex'), Buffer.from(b[0], 'hex'))))
      return { meta: metaInfo(s.name, s.kind), entries }
    }),
  }
}

export interface ResourceStats {
  released: number
}

/** FullSnapshotResources over a model; chunks hold `entriesPerChunk` entries each. */
/** All `entries` in one packed chunk. */
export function packedChunk(entries: readonly PackedEntry[]): Uint8Array {
  return [...packEntries(entries, Infinity)][0] ?? new Uint8Array(0)
}

export function resourcesOf(model: Model, entriesPerChunk = 3, stats: ResourceStats = { released: 0 }): FullSnapshotResources {
  return {
    metaInfos: model.states.map((s) => s.meta),
    keyGroupRange: model.range,
    *keyGroupChunks(stateIndex: number, keyGroup: number) {
      const list = model.states[stateIndex]!.entries.get(keyGroup) ?? []
      for (let i = 0; i < list.length; i += entriesPerChunk) {
        yield packedChunk(list.slice(i, i + entriesPerChunk).map(([k, v]) => [Buffer.from(k, 'hex'), Buffer.from(v, 'hex')] as const))
      }
    },
    isEmpty() {
      return model.states.every((s) => [...s.entries.values()].every((l) => l.length === 0))
    },
    release() {
      stats.released++
    },
  }
}

/**
 * The same model, also read the way the RocksDB backend prefers: one pass per
 * state whose chunks of `entriesPerChunk` entries cross key-group boundaries.
 */
export function wholeStateResourcesOf(model: Model, entriesPerChunk = 3, stats: ResourceStats = { released: 0 }): FullSnapshotResources {
  const base = resourcesOf(model, entriesPerChunk, stats)
  return {
    ...base,
    *stateChunks(stateIndex: number) {
      const all = [...model.states[stateIndex]!.entries.entries()]
        .filter(([kg]) => kg >= model.range.start && kg <= model.range.end)
        .sort((a, b) => a[0] - b[0])
        .flatMap(([, list]) => list)
      for (let i = 0; i < all.length; i += entriesPerChunk) {
        yield packedChunk(all.slice(i, i + entriesPerChunk).map(([k, v]) => [Buffer.from(k, 'hex'), Buffer.from(v, 'hex')] as const))
      }
    },
  }
}

/** What a restore delivered: state → key group → entries in delivery order. */
export class RecordingSink implements RestoreSink {
  metaInfos: StateMetaInfo[] | undefined
  metaCalls = 0
  flushes = 0
  readonly data = new Map<string, Map<number, Array<[string, string]>>>()

  restoreMetaInfos(metaInfos: readonly StateMetaInfo[]): void {
    this.metaCalls++
    this.metaInfos = [...metaInfos]
  }

  restoreChunk(stateName: string, keyGroup: number, chunk: Uint8Array): void {
    let byKg = this.data.get(stateName)
    if (!byKg) this.data.set(stateName, (byKg = new Map()))
    let list = byKg.get(keyGroup)
    if (!list) byKg.set(keyGroup, (list = []))
    for (const [key, value] of unpackEntries(chunk)) list.push([hex(key), hex(value)])
  }

  flushRestore(): void {
    this.flushes++
  }

  /** Entries delivered as a flat, sorted list of "state/kg/key=value". */
  flat(): string[] {
    const out: string[] = []
    for (const [name, byKg] of this.data) for (const [kg, list] of byKg) for (const [k, v] of list) out.push(`${name}/${kg}/${k}=${v}`)
    return out.sort()
  }
}

/** The model's entries inside `range`, in RecordingSink.flat() form. */
export function expectedFlat(models: readonly Model[], range: KeyGroupRange): string[] {
  const out: string[] = []
  for (const model of models) {
    for (const s of model.states) {
      for (const [kg, list] of s.entries) {
        if (kg < range.start || kg > range.end) continue
        for (const [k, v] of list) out.push(`${s.meta.name}/${kg}/${k}=${v}`)
      }
    }
  }
  return out.sort()
}

const KINDS: StateKind[] = ['value', 'list', 'map', 'reducing', 'aggregating']

/** Arbitrary model: maxParallelism, a range inside it, up to 4 states with random entries. */
export function modelArbitrary(options: { maxEntries?: number; maxValueBytes?: number; maxMaxParallelism?: number } = {}): fc.Arbitrary<Model> {
  const maxEntries = options.maxEntries ?? 60
  return fc
    .integer({ min: 1, max: options.maxMaxParallelism ?? 48 })
    .chain((maxParallelism) =>
      fc
        .tuple(fc.integer({ min: 0, max: maxParallelism - 1 }), fc.integer({ min: 0, max: maxParallelism - 1 }))
        .map(([a, b]) => ({ maxParallelism, range: { start: Math.min(a, b), end: Math.max(a, b) } })),
    )
    .chain(({ maxParallelism, range }) =>
      fc
        .uniqueArray(
          fc.record({
            name: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/),
            kind: fc.constantFrom(...KINDS),
            entries: fc.array(
              fc.record({
                kg: fc.integer({ min: range.start, max: range.end }),
                key: fc.uint8Array({ minLength: 0, maxLength: 12 }),
                ns: fc.uint8Array({ minLength: 0, maxLength: 3 }),
                value: fc.uint8Array({ minLength: 0, maxLength: options.maxValueBytes ?? 40 }),
              }),
              { maxLength: maxEntries },
            ),
          }),
          { maxLength: 4, selector: (s) => s.name },
        )
        .map((states) => buildModel(maxParallelism, range, states)),
    )
}

const tempDirs: string[] = []

export async function tempDir(prefix = 'ks-format-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  tempDirs.push(dir)
  return dir
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

export interface ReadRecord {
  path: string
  offset: number
  length: number
}

/** Wraps a storage and records every readRange / read (reads only; writes go through). */
export function recordingStorage(inner: CheckpointStorage): CheckpointStorage & { reads: ReadRecord[] } {
  const reads: ReadRecord[] = []
  const wrapper = Object.create(inner) as CheckpointStorage & { reads: ReadRecord[] }
  wrapper.reads = reads
  wrapper.readRange = async (path, offset, length) => {
    const buf = await inner.readRange(path, offset, length)
    reads.push({ path, offset, length: buf.length })
    return buf
  }
  wrapper.read = async (path) => {
    const buf = await inner.read(path)
    reads.push({ path, offset: 0, length: buf.length })
    return buf
  }
  return wrapper
}

/** Property runs: a few seconds' worth by default, ten times more with SOAK=1. */
export function runs(n: number): number {
  return process.env.SOAK === '1' ? n * 10 : n
}
