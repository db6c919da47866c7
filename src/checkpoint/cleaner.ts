// Deletes what the checkpoint lifecycle no longer needs (Flink's
// CheckpointsCleaner): subsumed checkpoints, aborted ones, late answers, and
// shared files the registry released. Deleting is best effort: a file that
// cannot be deleted becomes a warning and an orphan for gc, never a failed
// checkpoint.
//
// A subsumed checkpoint loses its `_metadata` first, then its files: a crash
// in between leaves orphans (gc finds them), never a `_metadata` that points
// at deleted files.
import type { StoredFile } from '../snapshot/types.js'
import type { CheckpointStorage } from '../storage/types.js'
import { removeEmptyDirectories } from './gc.js'
import { exclusiveFilesOf, filesOfHandle } from './handles.js'
import type { HookName } from './hooks.js'
import type { InstanceAck } from './instance.js'
import { metadataPathOf } from './layout.js'
import type { CheckpointMetadata } from './metadata.js'
import type { PendingCheckpoint } from './pending-checkpoint.js'
import type { SharedStateRegistry } from './registry.js'

export interface CleanerContext {
  storage: CheckpointStorage
  registry: SharedStateRegistry
  /** Runs a test hook; a hook's failure becomes a warning (cleanup goes on). */
  callHook(name: HookName, checkpointId: number, type: CheckpointMetadata['type']): Promise<void>
  warn(message: string, checkpointId: number | undefined, error: unknown): void
}

export class CheckpointCleaner {
  constructor(private readonly ctx: CleanerContext) {}

  /** Deletes a completed checkpoint that left retention, `_metadata` first, and releases its shared files. */
  async discardCompleted(md: CheckpointMetadata): Promise<void> {
    await this.ctx.callHook('beforeDiscard', md.checkpointId, md.type)
    // `_metadata` first: from here on the checkpoint is incomplete, whatever happens to its files.
    if (!(await this.deleteFiles([metadataPathOf(md.dir)], md.checkpointId))) return // stays complete in storage; claim or gc later
    await this.ctx.callHook('afterDiscardMetadata', md.checkpointId, md.type)
    const exclusive = md.instances.flatMap((i) => exclusiveFilesOf(i.handle))
    await this.deleteFiles(exclusive.map((f) => f.path), md.checkpointId)
    await this.deleteDirectoryContents(md.dir, md.checkpointId)
    this.ctx.registry.release(md.checkpointId)
  }

  /** Deletes what an aborted checkpoint wrote: the exclusive files of its answers and its directory. */
  async discardAborted(p: PendingCheckpoint): Promise<void> {
    await this.ctx.callHook('beforeAbortCleanup', p.checkpointId, p.type)
    const exclusive = p.acks.flatMap((a) => exclusiveFilesOf(a?.ack.handle))
    await this.deleteFiles(exclusive.map((f) => f.path), p.checkpointId)
    await this.deleteDirectoryContents(p.dir, p.checkpointId)
    if (p.type === 'checkpoint') this.ctx.registry.release(p.checkpointId)
  }

  /** Deletes the files of an answer that came too late (or was refused); shared files anyone knows stay. */
  async discardLateAck(checkpointId: number, ack: InstanceAck): Promise<void> {
    const handle = ack?.handle
    if (!handle || typeof handle !== 'object') return
    let files: StoredFile[]
    try {
      files = filesOfHandle(handle).filter((f) => !(f.shared && this.ctx.registry.isKnown(f.path)))
    } catch {
      return // a malformed handle: its files, if any, are orphans for gc
    }
    await this.deleteFiles(files.map((f) => f.path), checkpointId)
  }

  /** Deletes the shared files no retained, in-flight or restored snapshot references any more. */
  async deleteReleasedSharedFiles(): Promise<void> {
    const { storage, registry } = this.ctx
    for (const path of registry.takeDeletable()) {
      try {
        await storage.delete(path)
      } catch (e) {
        registry.retryDelete(path)
        this.ctx.warn(`could not delete shared file ${path}; will retry`, undefined, e)
      }
    }
  }

  /** Deletes files; failures become warnings (the files are orphans for gc). Returns whether all were deleted. */
  private async deleteFiles(paths: readonly string[], checkpointId: number): Promise<boolean> {
    const { storage } = this.ctx
    if (storage.deleteMany && paths.length > 1) {
      // Object stores: one DeleteObjects request per 1,000 files instead of one request each.
      try {
        const { failed } = await storage.deleteMany(paths)
        for (const f of failed) this.ctx.warn(`could not delete ${f.path}: ${f.error}`, checkpointId, undefined)
        return failed.length === 0
      } catch (e) {
        this.ctx.warn(`could not delete ${paths.length} file(s) of checkpoint ${checkpointId}`, checkpointId, e)
        return false
      }
    }
    let ok = true
    for (const path of paths) {
      try {
        await this.ctx.storage.delete(path)
      } catch (e) {
        ok = false
        this.ctx.warn(`could not delete ${path}`, checkpointId, e)
      }
    }
    return ok
  }

  private async deleteDirectoryContents(dir: string, checkpointId: number): Promise<void> {
    let left: string[]
    try {
      left = (await this.ctx.storage.list(dir)).map((e) => e.path)
    } catch (e) {
      this.ctx.warn(`could not list ${dir}`, checkpointId, e)
      return
    }
    await this.deleteFiles(left, checkpointId)
    await removeEmptyDirectories(this.ctx.storage, [`${dir}/x`])
  }
}
