// Named points in the checkpoint lifecycle where tests (and the crash test,
// which SIGKILLs its own process inside one) can step in, in the manner of
// RocksDB's sync points. A hook that throws fails the step it interrupts.
import type { SnapshotType } from '../snapshot/types.js'

export const HOOK_NAMES = [
  /** Every instance was asked to snapshot (their synchronous parts are done). */
  'afterTrigger',
  /** Every instance acknowledged; `_metadata` is not written yet. */
  'beforeMetadataWrite',
  /** `_metadata` is durable; no instance has been told the checkpoint completed. */
  'afterMetadataWrite',
  /** Just before notifyCheckpointComplete goes to the instances. */
  'beforeNotifyComplete',
  /** A subsumed checkpoint is about to be deleted (its `_metadata` first). */
  'beforeDiscard',
  /** A subsumed checkpoint's `_metadata` is gone; its files are not deleted yet. */
  'afterDiscardMetadata',
  /** An aborted checkpoint is about to have its files deleted. */
  'beforeAbortCleanup',
] as const

export type HookName = (typeof HOOK_NAMES)[number]

export interface HookContext {
  checkpointId: number
  type: SnapshotType
}

export type CheckpointHooks = Partial<Record<HookName, (context: HookContext) => void | Promise<void>>>
