// Helpers for checkpoint-lifecycle tests: real temporary storage, and a test
// double of the *instance interface* that writes real files the way an
// incremental RocksDB instance does (unique shared SST uploads, reuse of the
// SSTs of the last checkpoint it was told completed, private and meta files per
// checkpoint) or a full one. It lets tests decide when each instance answers.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { CancelledError, KeyedStateError, type ErrorCode } from '../../src/errors.js'
import type { KeyGroupRange } from '../../src/keygroups.js'
import { keyGroupRangeForOperator, rangeSize } from '../../src/keygroups.js'
import type { InstanceAck, InstanceSnapshotRequest, LocalOperatorInstance, OperatorInstance } from '../../src/checkpoint/instance.js'
import { listSnapshots } from '../../src/checkpoint/catalog.js'
import { HISTORY_FILE_NAME } from '../../src/checkpoint/layout.js'
import { referencedPaths } from '../../src/checkpoint/metadata.js'
import type { KeyedStateHandle, StoredFile } from '../../src/snapshot/types.js'
import { FileSystemCheckpointStorage } from '../../src/storage/fs.js'
import type { CheckpointStorage, StorageScope } from '../../src/storage/types.js'

export interface TempStorage {
  root: string
  storage: FileSystemCheckpointStorage
  cleanup(): Promise<void>
}

export async function tempStorage(prefix = 'ks-chk-'): Promise<TempStorage> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  return { root, storage: new FileSystemCheckpointStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) }
}

/** Every file in storage but the checkpoint history (which no `_metadata` references). */
export async function storedPaths(storage: CheckpointStorage): Promise<string[]> {
  return (await storage.list('')).map((e) => e.path).filter((p) => p !== HISTORY_FILE_NAME).sort()
}

/** Every path some valid `_metadata` in storage references (the `_metadata` files included). */
export async function referencedByMetadata(storage: CheckpointStorage): Promise<string[]> {
  const out = new Set<string>()
  for (const l of await listSnapshots(storage)) if (l.metadata) for (const p of referencedPaths(l.metadata)) out.add(p)
  return [...out].sort()
}

/**
 * Storage holds exactly what the complete snapshots need: the `_metadata` of
 * `expectedIds` (and no other), plus every file they reference, nothing else.
 */
export async function assertStorageExact(storage: CheckpointStorage, expectedIds: readonly number[], message = ''): Promise<void> {
  const listings = await listSnapshots(storage)
  const complete = listings.filter((l) => l.complete).map((l) => l.checkpointId!).sort((a, b) => a - b)
  assert.deepEqual(complete, [...expectedIds].sort((a, b) => a - b), `complete snapshots ${message}`)
  assert.deepEqual(listings.filter((l) => !l.complete).map((l) => l.dir), [], `incomplete directories ${message}`)
  assert.deepEqual(await storedPaths(storage), await referencedByMetadata(storage), `stored files vs referenced files ${message}`)
}

function storedFileOf(path: string, bytes: Uint8Array): StoredFile {
  return { path, sizeBytes: bytes.length, crc32: crc32(bytes) >>> 0 }
}

interface Waiter {
  go(): void
  fail(e: Error): void
}

/**
 * An operator instance that checkpoints a fake RocksDB directory: a set of
 * SST "files" (name → bytes) the test mutates with flush()/compact().
 */
export class FakeInstance implements OperatorInstance {
  readonly name: string
  /** Live SSTs of the fake database. */
  readonly ssts = new Map<string, Uint8Array>()
  readonly requests: InstanceSnapshotRequest[] = []
  readonly notifications: string[] = []
  /** When true, snapshots wait for release()/fail(); otherwise they answer as soon as their files are written. */
  manual = false
  /** Never answers and ignores cancellation (a hung child process). */
  hang = false
  /** Notifications are received (recorded) but taken only at releaseNotifications(): a busy event loop. */
  holdNotifications = false
  private readonly heldNotifications: (() => void)[] = []
  private nextSst = 1
  private lastCompleted = -1
  private base = new Map<string, StoredFile>()
  private readonly uploaded = new Map<number, Map<string, StoredFile>>()
  private readonly waiting = new Map<number, Waiter>()

  constructor(
    readonly index: number,
    readonly keyGroupRange: KeyGroupRange,
    readonly maxParallelism: number,
    private readonly storage: CheckpointStorage,
    private readonly mode: 'incremental' | 'full' = 'incremental',
  ) {
    this.name = `fake ${index}`
  }

  static many(n: number, maxParallelism: number, storage: CheckpointStorage, mode: 'incremental' | 'full' = 'incremental'): FakeInstance[] {
    return Array.from({ length: n }, (_, i) => new FakeInstance(i, keyGroupRangeForOperator(maxParallelism, n, i), maxParallelism, storage, mode))
  }

  /** A new SST, as a memtable flush makes. */
  flush(sizeBytes = 64): string {
    const name = `${String(this.nextSst++).padStart(6, '0')}.sst`
    this.ssts.set(name, randomBytes(sizeBytes))
    return name
  }

  /** Replaces every SST by one, as a full compaction does. */
  compact(): void {
    if (this.ssts.size === 0) return
    const total = [...this.ssts.values()].reduce((n, b) => n + b.length, 0)
    this.ssts.clear()
    this.flush(Math.min(total, 256))
  }

  waitingFor(): number[] {
    return [...this.waiting.keys()].sort((a, b) => a - b)
  }

  release(checkpointId: number): void {
    const w = this.waiting.get(checkpointId)
    assert.ok(w, `${this.name} holds no snapshot ${checkpointId}`)
    this.waiting.delete(checkpointId)
    w.go()
  }

  fail(checkpointId: number, message = 'disk on fire', code: ErrorCode = 'IO_ERROR'): void {
    const w = this.waiting.get(checkpointId)
    assert.ok(w, `${this.name} holds no snapshot ${checkpointId}`)
    this.waiting.delete(checkpointId)
    w.fail(new KeyedStateError(code, message))
  }

  /** Takes every held notification, in the order they arrived. */
  releaseNotifications(): void {
    for (const take of this.heldNotifications.splice(0)) take()
  }

  snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck> {
    this.requests.push({ ...request })
    if (this.hang) return new Promise<InstanceAck>(() => {})
    // The synchronous part: what the database holds at the barrier.
    const files = new Map(this.ssts)
    const base = request.forceFullUpload ? new Map<string, StoredFile>() : new Map(this.base)
    const id = request.checkpointId
    return (async () => {
      if (this.manual) {
        await new Promise<void>((go, fail) => {
          this.waiting.set(id, { go, fail })
          signal.addEventListener('abort', () => {
            this.waiting.delete(id)
            fail(new CancelledError(`${this.name}: snapshot ${id} cancelled`))
          }, { once: true })
        })
      }
      const written: string[] = []
      const write = async (scope: StorageScope, name: string, bytes: Uint8Array): Promise<StoredFile> => {
        if (signal.aborted) throw new CancelledError(`${this.name}: snapshot ${id} cancelled`)
        const out = await this.storage.create(scope, name)
        written.push(out.path)
        await out.write(bytes)
        await out.commit()
        return storedFileOf(out.path, bytes)
      }
      try {
        if (files.size === 0) return { handle: undefined, syncDurationMs: 0.01, asyncDurationMs: 0.01 }
        const handle = request.type === 'savepoint' || this.mode === 'full'
          ? await this.writeFull(request, files, write)
          : await this.writeIncremental(id, files, base, write)
        if (signal.aborted) throw new CancelledError(`${this.name}: snapshot ${id} cancelled`)
        return { handle, syncDurationMs: 0.01, asyncDurationMs: 0.5 }
      } catch (e) {
        for (const p of written) await this.storage.delete(p)
        throw e
      }
    })()
  }

  private async writeFull(
    request: InstanceSnapshotRequest,
    files: Map<string, Uint8Array>,
    write: (scope: StorageScope, name: string, bytes: Uint8Array) => Promise<StoredFile>,
  ): Promise<KeyedStateHandle> {
    const scope: StorageScope = request.type === 'savepoint' ? { kind: 'savepoint', dir: request.targetDir! } : { kind: 'exclusive', checkpointId: request.checkpointId }
    const file = await write(scope, `full-${this.index}-${randomBytes(4).toString('hex')}`, Buffer.concat([...files.values()]))
    return {
      type: 'full',
      formatVersion: 1,
      checkpointId: request.checkpointId,
      maxParallelism: this.maxParallelism,
      keyGroupRange: this.keyGroupRange,
      file,
      keyGroupOffsets: new Array<number>(rangeSize(this.keyGroupRange)).fill(-1),
    }
  }

  private async writeIncremental(
    id: number,
    files: Map<string, Uint8Array>,
    base: Map<string, StoredFile>,
    write: (scope: StorageScope, name: string, bytes: Uint8Array) => Promise<StoredFile>,
  ): Promise<KeyedStateHandle> {
    const sharedFiles: Record<string, StoredFile> = {}
    for (const [name, bytes] of files) {
      // Upload paths are unique per upload: the registry relies on it.
      sharedFiles[name] = base.get(name) ?? (await write({ kind: 'shared' }, `${this.index}-${randomBytes(6).toString('hex')}-${name}`, bytes))
    }
    const manifest = Buffer.from(JSON.stringify([...files.keys()]))
    const privateFiles = { [`MANIFEST-${this.index}`]: await write({ kind: 'exclusive', checkpointId: id }, `MANIFEST-${this.index}`, manifest) }
    // The meta file as the incremental strategy writes it (docs/FORMAT.md §7), so tools can read it.
    const meta = {
      format: 'keyed-state/incremental-meta',
      formatVersion: 1,
      checkpointId: id,
      backendId: `fake-${this.index}`,
      maxParallelism: this.maxParallelism,
      keyGroupRange: this.keyGroupRange,
      keySerializer: { id: 'string', version: 1 },
      rocksdbVersion: 'fake',
      states: [{ meta: { name: 'fake', kind: 'value', namespaceSerializer: { id: 'void', version: 1 }, valueSerializer: { id: 'bytes', version: 1 } }, columnFamily: 'fake' }],
    }
    const metaFile = await write({ kind: 'exclusive', checkpointId: id }, `meta-${this.index}`, Buffer.from(JSON.stringify(meta)))
    this.uploaded.set(id, new Map(Object.entries(sharedFiles)))
    return {
      type: 'incremental',
      formatVersion: 1,
      backendId: `fake-${this.index}`,
      checkpointId: id,
      maxParallelism: this.maxParallelism,
      keyGroupRange: this.keyGroupRange,
      sharedFiles,
      privateFiles,
      metaFile,
    }
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    this.notifications.push(`complete ${checkpointId}`)
    if (this.holdNotifications) await new Promise<void>((take) => this.heldNotifications.push(take))
    // As the incremental strategy does: only a newer confirmed checkpoint becomes the base.
    const files = this.uploaded.get(checkpointId)
    if (checkpointId > this.lastCompleted && files) {
      this.lastCompleted = checkpointId
      this.base = files
      for (const k of [...this.uploaded.keys()]) if (k < checkpointId) this.uploaded.delete(k)
    }
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    this.notifications.push(`aborted ${checkpointId}`)
    this.uploaded.delete(checkpointId)
  }
}

/** Waits until `predicate` holds, polling the event loop (bounded). */
export async function until(predicate: () => boolean, what: string, maxTurns = 10_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (predicate()) return
    await new Promise((r) => setTimeout(r, 1))
  }
  assert.fail(`timed out waiting for ${what}`)
}

/** A real in-process instance that also acknowledges with an operator state (`state()` is called at each barrier). */
export class InstanceWithOperatorState implements OperatorInstance {
  constructor(private readonly inner: LocalOperatorInstance, private readonly state: () => unknown) {}
  get name(): string {
    return this.inner.name
  }
  get keyGroupRange() {
    return this.inner.keyGroupRange
  }
  get maxParallelism(): number {
    return this.inner.maxParallelism
  }
  async snapshot(request: InstanceSnapshotRequest, signal: AbortSignal): Promise<InstanceAck> {
    const operatorState = this.state() as InstanceAck['operatorState']
    return { ...(await this.inner.snapshot(request, signal)), operatorState }
  }
  notifyCheckpointComplete(id: number): Promise<void> {
    return this.inner.notifyCheckpointComplete(id)
  }
  notifyCheckpointAborted(id: number): Promise<void> {
    return this.inner.notifyCheckpointAborted(id)
  }
}
