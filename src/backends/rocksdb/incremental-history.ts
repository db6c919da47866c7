// Which SST files earlier checkpoints uploaded, so that the next checkpoint
// uploads only new ones. Only a checkpoint the coordinator confirmed
// (notifyCheckpointComplete) may serve as the base: an unconfirmed or aborted
// checkpoint's files may be deleted at any time, and a handle that referred to
// them could not be restored.
import type { StoredFile } from '../../snapshot/types.js'

/** An SST file in checkpoint storage that a later checkpoint may refer to instead of uploading it again. */
export interface UploadedSst {
  readonly file: StoredFile
  /**
   * False for files this backend did not upload itself (the SSTs of the handle
   * it was restored from). `forceFullUpload` checkpoints never refer to those.
   */
  readonly uploadedHere: boolean
}

export type SstSet = ReadonlyMap<string, UploadedSst>

/** Runs that succeed but are never confirmed nor aborted would otherwise pile up forever. */
const UNCONFIRMED_ENTRIES_MAX = 64

export class UploadedSstHistory {
  /** SST name → uploaded file, per checkpoint that finished its upload (ascending ids). */
  private readonly byCheckpoint = new Map<number, SstSet>()
  /** The last confirmed checkpoint of this backend, or undefined. */
  private lastCompletedId: number | undefined
  private baseFiles: SstSet = new Map()
  /** A completion that arrived while its run was still uploading; applied when it records. */
  private completedBeforeRecorded: number | undefined

  /**
   * Starts from a restored handle's SST files (they are in storage and
   * confirmed: the job was restored from them). Deliberately not a checkpoint
   * id of this backend's own sequence: a new job may number its checkpoints
   * below the restored one, and its completions must still move the base on.
   */
  seed(files: SstSet): void {
    this.baseFiles = files
  }

  /** The files the next checkpoint may refer to. */
  base(): SstSet {
    return this.baseFiles
  }

  /** The checkpoint whose files are the base (undefined: none of ours, maybe a restored set). */
  get baseCheckpointId(): number | undefined {
    return this.lastCompletedId
  }

  /** Checkpoints remembered besides the base, for tests and metrics. */
  get entries(): number {
    return this.byCheckpoint.size
  }

  has(checkpointId: number): boolean {
    return this.byCheckpoint.has(checkpointId)
  }

  /** A run finished uploading: remember what checkpoint `checkpointId` holds. */
  record(checkpointId: number, files: SstSet): void {
    this.byCheckpoint.set(checkpointId, files)
    if (this.byCheckpoint.size > UNCONFIRMED_ENTRIES_MAX) {
      // Drop the oldest entry that is not the base: forgetting it only means
      // uploading its files again should it be confirmed much later.
      for (const id of this.byCheckpoint.keys()) {
        if (id !== this.lastCompletedId && id !== checkpointId) {
          this.byCheckpoint.delete(id)
          break
        }
      }
    }
    if (this.completedBeforeRecorded === checkpointId) {
      this.completedBeforeRecorded = undefined
      this.complete(checkpointId)
    }
  }

  /** The coordinator confirmed `checkpointId`: it becomes the base; older entries are pruned. */
  complete(checkpointId: number): void {
    // A late confirmation of an older checkpoint must not move the base backwards.
    if (this.lastCompletedId !== undefined && checkpointId < this.lastCompletedId) return
    const files = this.byCheckpoint.get(checkpointId)
    if (files === undefined) {
      // Confirmed before its run recorded (or a checkpoint this backend did not
      // take): keep the current base, it is still valid.
      this.completedBeforeRecorded = checkpointId
      return
    }
    this.lastCompletedId = checkpointId
    this.baseFiles = files
    for (const id of [...this.byCheckpoint.keys()]) if (id < checkpointId) this.byCheckpoint.delete(id)
  }

  /** The coordinator gave up on `checkpointId`: its files are never a base. */
  abort(checkpointId: number): void {
    if (this.completedBeforeRecorded === checkpointId) this.completedBeforeRecorded = undefined
    // An abort after a completion contradicts it; the confirmed base stays.
    if (checkpointId === this.lastCompletedId) return
    this.byCheckpoint.delete(checkpointId)
  }
}
