// One attempt of the demo job: N operator instances in child processes, each
// owning its key-group range (restored from a checkpoint, or fresh), and the
// CheckpointCoordinator that checkpoints them periodically. A job that fails
// or rescales is stopped and started again as a new attempt.
import { join } from 'node:path'
import {
  CheckpointCoordinator,
  isKeyedStateError,
  keyGroupRangeForOperator,
  restoreAssignment,
  type BackendKind,
  type CheckpointEvent,
  type CheckpointMetadata,
  type CheckpointStorage,
} from '../../src/index.js'
import { ChildProcessInstance, type InstanceProgress } from './child-instance.js'
import type { StreamConfig } from './events.js'
import type { KeyResult } from './operator.js'
import { resumeOffsetsFor } from './source-position.js'

export interface AttemptOptions {
  label: string
  backend: BackendKind
  parallelism: number
  maxParallelism: number
  storage: CheckpointStorage
  /** Where the instances keep their RocksDB working directories. */
  localDir: string
  stream: StreamConfig
  checkpointIntervalMs: number
  /** The checkpoint to restore every instance from; a fresh start when undefined. */
  restoreFrom?: CheckpointMetadata | undefined
}

export interface AbortedCheckpoint {
  checkpointId: number
  reason: string
}

export class JobAttempt {
  readonly completed: CheckpointMetadata[] = []
  readonly aborted: AbortedCheckpoint[] = []
  readonly warnings: string[] = []
  /** From the first fork until every instance had opened (and restored) its backend. */
  startMs = 0
  private coordinator: CheckpointCoordinator | undefined
  private readonly killed = new Set<ChildProcessInstance>()
  private wake: (() => void) | undefined

  private constructor(
    readonly options: AttemptOptions,
    readonly instances: ChildProcessInstance[],
  ) {}

  static async start(options: AttemptOptions): Promise<JobAttempt> {
    const { parallelism, maxParallelism, restoreFrom } = options
    const assignments = restoreFrom ? restoreAssignment(restoreFrom, parallelism) : undefined
    const started = performance.now()
    let attempt: JobAttempt | undefined
    const starting = await Promise.allSettled(
      Array.from({ length: parallelism }, (_, index) => {
        const keyGroupRange = keyGroupRangeForOperator(maxParallelism, parallelism, index)
        return ChildProcessInstance.start(
          {
            name: `instance ${index + 1}/${parallelism}`,
            backend: options.backend,
            maxParallelism,
            keyGroupRange,
            storageLocation: options.storage.location,
            workDir: join(options.localDir, `${options.label.replace(/\W+/g, '-')}-instance-${index}`),
            // A fresh start passes no restoreFrom: an empty one would be a restore that covers nothing.
            ...(assignments ? { restoreFrom: assignments[index]!.restoreFrom, knownEmptyRanges: assignments[index]!.knownEmptyRanges } : {}),
            resumeFrom: resumeOffsetsFor(restoreFrom, keyGroupRange),
            stream: options.stream,
          },
          () => attempt?.changed(),
        )
      }),
    )
    const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    const instances = starting.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    if (failed) {
      await Promise.all(instances.map((i) => i.close()))
      throw failed.reason
    }
    attempt = new JobAttempt(options, instances)
    attempt.startMs = performance.now() - started
    for (const inst of instances) void inst.exited.then(() => attempt!.changed())
    attempt.coordinator = await CheckpointCoordinator.create({
      storage: options.storage,
      instances,
      intervalMs: options.checkpointIntervalMs,
      retainedCheckpoints: 3,
      // A dead instance fails its requests at once; these only bound a hung one.
      timeoutMs: 60_000,
      cancelGraceMs: 5_000,
      // The job takes over its own checkpoints: retention may delete the one it restored from once newer ones exist.
      ...(restoreFrom ? { restoredFrom: { metadata: restoreFrom, mode: 'claim' as const } } : {}),
      onEvent: (e) => attempt!.onCheckpointEvent(e),
    })
    return attempt
  }

  private onCheckpointEvent(e: CheckpointEvent): void {
    if (e.type === 'completed' && e.metadata.type === 'checkpoint') this.completed.push(e.metadata)
    if (e.type === 'aborted') this.aborted.push({ checkpointId: e.checkpointId, reason: e.reason.message })
    if (e.type === 'warning') this.warnings.push(e.message)
    this.changed()
  }

  private changed(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  get finished(): boolean {
    return this.instances.every((i) => i.progress.finished)
  }

  /** Waits until `condition` holds; fails if an instance dies that nobody killed. */
  async waitUntil(condition: () => boolean): Promise<void> {
    for (;;) {
      const dead = this.instances.find((i) => !i.alive && !this.killed.has(i))
      if (dead) throw new Error(`${dead.name} (pid ${dead.pid}) died unexpectedly: ${dead.failure?.message ?? 'no reason given'}`)
      if (condition()) return
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
    }
  }

  /** SIGKILL: the instance vanishes mid-whatever, as a crashed machine would. */
  async kill(instance: ChildProcessInstance): Promise<InstanceProgress> {
    this.killed.add(instance)
    const at = { ...instance.progress }
    instance.kill()
    await instance.exited
    return at
  }

  /** Takes a checkpoint now (waiting for one already in flight first). */
  async checkpoint(): Promise<CheckpointMetadata> {
    for (;;) {
      try {
        return await this.coordinator!.triggerCheckpoint()
      } catch (e) {
        if (!isKeyedStateError(e, 'BUSY')) throw e
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
  }

  /** End of input on every instance; returns every key's state (each key from the instance that owns it). */
  async drain(): Promise<Map<string, KeyResult>> {
    const out = new Map<string, KeyResult>()
    for (const inst of this.instances) {
      for (const [key, result] of await inst.drain()) {
        if (out.has(key)) throw new Error(`key ${key} has state in two instances`)
        out.set(key, result)
      }
    }
    return out
  }

  /** Stops checkpointing (aborting what is in flight) and shuts the instances down. */
  async stop(): Promise<void> {
    await this.coordinator?.close()
    await Promise.all(this.instances.map((i) => i.close()))
  }
}
