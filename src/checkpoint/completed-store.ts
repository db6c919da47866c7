// The completed checkpoints a coordinator owns (Flink's
// CompletedCheckpointStore): which ones retention keeps, and what a
// coordinator starting over existing storage adopts. In `claim` mode the
// checkpoints in storage become its own (the restored one protected until a
// newer one completes); in `no-claim` mode nothing found is its own: their
// shared files are pinned in the registry and never deleted, and the first
// new checkpoint uploads everything. Deleting is the cleaner's job; this
// store only decides.
import { KeyedStateError } from '../errors.js'
import type { CheckpointStorage } from '../storage/types.js'
import type { SnapshotListing } from './catalog.js'
import { sharedFilesOf } from './handles.js'
import { parseCheckpointDirName } from './layout.js'
import type { CheckpointMetadata, RestoreMode } from './metadata.js'
import type { SharedStateRegistry } from './registry.js'
import { checkpointsToSubsume, wouldBeSubsumed } from './retention.js'
import type { StoredFile } from '../snapshot/types.js'

export interface RestoreSettings {
  /** The metadata of the checkpoint or savepoint the instances were restored from. */
  metadata: CheckpointMetadata
  /**
   * 'no-claim' (default): the coordinator never deletes a file of that
   * snapshot (nor of any checkpoint it finds in storage at start), and until
   * the first new checkpoint completes it asks instances for full uploads so
   * that no new checkpoint depends on files it does not own.
   * 'claim': the job takes ownership of the checkpoints in its storage; they
   * join retention (the restored one is kept until a newer one completes) and
   * new incremental checkpoints may reuse their shared files. Checkpoints only.
   */
  mode?: RestoreMode
  /** The storage holding the snapshot, when it is not the coordinator's storage (it is then never written to). */
  storage?: CheckpointStorage
}

/** What the coordinator learns from adopting its storage. */
export interface Adoption {
  /** Checkpoint ids continue after the highest one found. */
  nextCheckpointId: number
  /** The first new checkpoint must upload everything (no-claim restore). */
  forceFullUpload: boolean
  /** Complete checkpoints found that this coordinator neither restored nor owns (they are never deleted). */
  foreignCheckpoints: number
}

function sharedFilesOfMetadata(md: CheckpointMetadata): StoredFile[] {
  return md.instances.flatMap((i) => sharedFilesOf(i.handle))
}

export class CompletedCheckpointStore {
  /** Completed checkpoints this coordinator owns (and will delete when subsumed), by id. */
  private readonly completed = new Map<number, CheckpointMetadata>()
  /** Owned checkpoints that retention must not delete yet (a claimed restore, until a newer checkpoint completes). */
  private readonly protectedIds = new Set<number>()

  constructor(
    private readonly storage: CheckpointStorage,
    private readonly registry: SharedStateRegistry,
    readonly retainedCheckpoints: number,
  ) {}

  /**
   * Takes over what `listings` (the storage's snapshots) holds, under the
   * restore mode. Afterwards, call subsumeBeyondRetention(): a claimed
   * storage may hold more than retainedCheckpoints.
   */
  adopt(listings: readonly SnapshotListing[], restore: RestoreSettings | undefined): Adoption {
    const mode = restore?.mode ?? 'no-claim'
    const maxFound = Math.max(0, restore?.metadata.checkpointId ?? 0, ...listings.map((l) => l.checkpointId ?? 0))
    const adoption: Adoption = { nextCheckpointId: maxFound + 1, forceFullUpload: false, foreignCheckpoints: 0 }
    const checkpoints = listings.filter((l) => l.complete && l.type === 'checkpoint' && parseCheckpointDirName(l.dir) !== undefined)

    if (restore && mode === 'claim') {
      if (!this.sameStorage(restore.storage)) {
        throw new KeyedStateError('INVALID_ARGUMENT', `claim mode needs the restored checkpoint in the coordinator's storage (${this.storage.location})`)
      }
      if (restore.metadata.type !== 'checkpoint') {
        throw new KeyedStateError('INVALID_ARGUMENT', 'claim mode applies to checkpoints; savepoints are never deleted, restore them in no-claim mode')
      }
      if (!checkpoints.some((l) => l.metadata!.checkpointId === restore.metadata.checkpointId)) {
        throw new KeyedStateError('NOT_FOUND', `checkpoint ${restore.metadata.checkpointId} is not a complete checkpoint in ${this.storage.location}`)
      }
      for (const l of checkpoints) {
        const md = l.metadata!
        this.completed.set(md.checkpointId, md)
        this.registry.register(md.checkpointId, sharedFilesOfMetadata(md))
      }
      this.protectedIds.add(restore.metadata.checkpointId)
      return adoption
    }

    // Nothing found is ours: never delete it, keep its shared files alive.
    for (const l of checkpoints) this.registry.pin(l.dir, sharedFilesOfMetadata(l.metadata!))
    if (restore) {
      if (this.sameStorage(restore.storage)) this.registry.pin(`restored:${restore.metadata.dir}`, sharedFilesOfMetadata(restore.metadata))
      adoption.forceFullUpload = true
    } else {
      adoption.foreignCheckpoints = checkpoints.length
    }
    return adoption
  }

  /** Adds a checkpoint that just completed; a claimed restore loses its protection. */
  add(md: CheckpointMetadata): void {
    this.completed.set(md.checkpointId, md)
    this.protectedIds.clear()
  }

  /** Removes and returns the checkpoints beyond retention, oldest first; the caller discards them. */
  subsumeBeyondRetention(): CheckpointMetadata[] {
    const ids = checkpointsToSubsume([...this.completed.keys()], this.retainedCheckpoints, this.protectedIds)
    return ids.map((id) => {
      const md = this.completed.get(id)!
      this.completed.delete(id)
      return md
    })
  }

  /** Whether checkpoint `checkpointId`, completing now, would be subsumed at once. */
  wouldBeSubsumed(checkpointId: number): boolean {
    return wouldBeSubsumed(checkpointId, [...this.completed.keys()], this.retainedCheckpoints)
  }

  /** Oldest first. */
  all(): CheckpointMetadata[] {
    return [...this.completed.values()].sort((a, b) => a.checkpointId - b.checkpointId)
  }

  private sameStorage(other: CheckpointStorage | undefined): boolean {
    return other === undefined || other === this.storage || other.location === this.storage.location
  }
}
