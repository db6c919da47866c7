// Shared set-up for the incremental checkpoint tests: RocksDB backends in
// temporary directories with checkpointMode 'incremental', bulk data, and
// measures of what a checkpoint put into storage.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openRocksDBBackend, type RocksDBKeyedStateBackend } from '../../../src/backends/rocksdb/backend.js'
import type { KeyedStateBackendOptions } from '../../../src/state-backend/types.js'
import { assignToKeyGroup, type KeyGroupRange } from '../../../src/keygroups.js'
import { int32Serializer, stringSerializer } from '../../../src/serializers/primitives.js'
import type { IncrementalSnapshotRun } from '../../../src/backends/rocksdb/incremental-run.js'
import type { IncrementalRestoreStats } from '../../../src/backends/rocksdb/incremental-restore.js'
import type { IncrementalSnapshotHandle, KeyedStateHandle, SnapshotResult, StoredFile } from '../../../src/snapshot/types.js'
import { MapStateDescriptor, ValueStateDescriptor } from '../../../src/state/descriptors.js'
import { FileSystemCheckpointStorage } from '../../../src/storage/fs.js'
import type { CheckpointStorage } from '../../../src/storage/types.js'
import { HISTORY_FILE_NAME } from '../../../src/checkpoint/layout.js'

export const valueState = new ValueStateDescriptor('value', stringSerializer)
export const mapState = new MapStateDescriptor('map', stringSerializer, int32Serializer)

export interface TestDirs {
  root: string
  storage: FileSystemCheckpointStorage
  dir(name: string): string
  remove(): Promise<void>
}

export async function testDirs(prefix = 'ks-incremental-'): Promise<TestDirs> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  return {
    root,
    storage: new FileSystemCheckpointStorage(join(root, 'storage')),
    dir: (name) => join(root, name),
    remove: () => rm(root, { recursive: true, force: true }),
  }
}

export type IncOptions = Partial<Omit<KeyedStateBackendOptions<string>, 'kind' | 'dir' | 'keySerializer'>>

export function openIncremental(dir: string, options: IncOptions = {}): Promise<RocksDBKeyedStateBackend<string>> {
  return openRocksDBBackend<string>({
    kind: 'rocksdb',
    dir,
    keySerializer: stringSerializer,
    maxParallelism: 128,
    checkpointMode: 'incremental',
    ...options,
  })
}

/** Key i's value is `v<generation>-<i>` padded to `valueBytes`; its map holds {a: i, b: generation}. */
export function valueOf(i: number, generation: number, valueBytes = 64): string {
  return `v${generation}-${i}-`.padEnd(valueBytes, 'x')
}

export function keyName(i: number): string {
  return `key-${i}`
}

export function owns(range: KeyGroupRange, key: string, maxParallelism = 128): boolean {
  const kg = assignToKeyGroup(stringSerializer.serialize(key), maxParallelism)
  return kg >= range.start && kg <= range.end
}

/** Writes keys `indexes` with `generation`; keys outside the backend's range are skipped. */
export function writeKeys(b: RocksDBKeyedStateBackend<string>, indexes: Iterable<number>, generation: number, valueBytes = 64): void {
  const v = b.getState(valueState)
  const m = b.getMapState(mapState)
  for (const i of indexes) {
    const key = keyName(i)
    if (!owns(b.keyGroupRange, key, b.maxParallelism)) continue
    b.setCurrentKey(key)
    v.update(valueOf(i, generation, valueBytes))
    m.putAll([['a', i], ['b', generation]])
  }
}

/** Asserts that key i holds generation `expected.get(i)` (or nothing when absent) for every i < count in range. */
export function checkKeys(b: RocksDBKeyedStateBackend<string>, count: number, expected: (i: number) => number | undefined, valueBytes = 64): void {
  const v = b.getState(valueState)
  const m = b.getMapState(mapState)
  for (let i = 0; i < count; i++) {
    const key = keyName(i)
    if (!owns(b.keyGroupRange, key, b.maxParallelism)) continue
    b.setCurrentKey(key)
    const gen = expected(i)
    if (gen === undefined) {
      assert.equal(v.value(), undefined, `key ${key} should be absent`)
      assert.equal(m.isEmpty(), true, `map of ${key} should be empty`)
    } else {
      assert.equal(v.value(), valueOf(i, gen, valueBytes), `value of ${key}`)
      assert.deepEqual(new Map(m.entries()), new Map([['a', i], ['b', gen]]), `map of ${key}`)
    }
  }
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => start + i)
}

export function incremental(h: KeyedStateHandle | undefined): IncrementalSnapshotHandle {
  assert.ok(h, 'expected a handle')
  assert.equal(h.type, 'incremental')
  return h as IncrementalSnapshotHandle
}

export function filesOf(h: IncrementalSnapshotHandle): StoredFile[] {
  return [...Object.values(h.sharedFiles), ...Object.values(h.privateFiles), h.metaFile]
}

export function sizeOf(h: IncrementalSnapshotHandle): number {
  return filesOf(h).reduce((n, f) => n + f.sizeBytes, 0)
}

/** Bytes of `h` that `previous` did not already hold in storage: what this checkpoint uploaded. */
export function newBytes(h: IncrementalSnapshotHandle, previous?: IncrementalSnapshotHandle): number {
  const old = new Set(previous ? filesOf(previous).map((f) => f.path) : [])
  return filesOf(h).filter((f) => !old.has(f.path)).reduce((n, f) => n + f.sizeBytes, 0)
}

export async function checkpoint(
  b: RocksDBKeyedStateBackend<string>,
  id: number,
  storage: CheckpointStorage,
  extra: { forceFullUpload?: boolean } = {},
): Promise<{ result: SnapshotResult; handle: IncrementalSnapshotHandle; run: IncrementalSnapshotRun }> {
  const run = b.snapshot(id, { type: 'checkpoint', storage, ...extra }) as IncrementalSnapshotRun
  const result = await run.done
  return { result, handle: incremental(result.handle), run }
}

/** Runs `body` with fresh test directories and removes them afterwards, whatever happens. */
export async function withTestDirs(body: (t: TestDirs) => Promise<void>): Promise<void> {
  const t = await testDirs()
  try {
    await body(t)
  } finally {
    await t.remove()
  }
}

/** A backend in `t.dir('a')` holding keys 0..count-1 (generation 1), checkpointed as checkpoint 1 and closed. */
export async function checkpointedKeys(t: TestDirs, count: number, options: IncOptions = {}): ReturnType<typeof checkpoint> {
  const b = await openIncremental(t.dir('a'), options)
  try {
    writeKeys(b, range(count), 1)
    return await checkpoint(b, 1, t.storage)
  } finally {
    await b.close()
  }
}

/** Every file in storage (storage-relative paths) but the checkpoint history, sorted. */
export async function storedPaths(storage: CheckpointStorage): Promise<string[]> {
  return (await storage.list('')).map((e) => e.path).filter((p) => p !== HISTORY_FILE_NAME).sort()
}

/** `fn` opens a backend by restoring and returns it (closed); what its incremental restore reported. */
export async function restoreStats(fn: () => Promise<RocksDBKeyedStateBackend<string>>): Promise<IncrementalRestoreStats> {
  const stats = (await fn()).incrementalRestoreStats
  assert.ok(stats, 'an incremental restore ran')
  return stats
}
