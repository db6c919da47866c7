// The shared-state registry: which checkpoints reference each shared file
// (incremental SSTs), and when a file that nobody references any more may
// really be deleted.
//
// The hard case is several checkpoints in flight. An incremental backend
// bases checkpoint N+1 on the last checkpoint it was told completed and refers
// to that checkpoint's SSTs by path, but the coordinator learns those
// references only when N+1 acknowledges. If the base checkpoint is subsumed
// meanwhile, its SSTs have no known reference and a naive registry deletes
// files that N+1 will reference (the reference system had exactly this bug).
// So a file whose last known reference goes away is only queued: it is deleted
// once every checkpoint that was in flight at that moment has settled (then
// every reference they hold is known), and only if it is still unreferenced.
// Checkpoints triggered later cannot reference it: the file belonged to no
// retained checkpoint when they started.
//
// This relies on one property of backends: a shared file's storage path is
// never reused for a different upload (paths are unique per upload), so a
// re-upload can never race the deletion of an old copy under the same name.
import type { StoredFile } from '../snapshot/types.js'

type Owner = string

function checkpointOwner(checkpointId: number): Owner {
  return `chk:${checkpointId}`
}

function pinOwner(name: string): Owner {
  return `pin:${name}`
}

export interface RegisteredFile {
  path: string
  sizeBytes: number
  /** Checkpoint ids and pin names that reference the file. */
  checkpoints: number[]
  pins: string[]
}

export class SharedStateRegistry {
  private readonly owners = new Map<string, Set<Owner>>()
  private readonly filesOf = new Map<Owner, Set<string>>()
  private readonly sizes = new Map<string, number>()
  private readonly inFlight = new Set<number>()
  /** Unreferenced files waiting for the checkpoints that were in flight when they lost their last reference. */
  private readonly pendingDeletes = new Map<string, Set<number>>()

  /** A checkpoint was triggered: it may reference any file registered now. */
  checkpointStarted(checkpointId: number): void {
    this.inFlight.add(checkpointId)
  }

  /** A checkpoint completed or was aborted: every reference it holds is known. */
  checkpointSettled(checkpointId: number): void {
    this.inFlight.delete(checkpointId)
    for (const waits of this.pendingDeletes.values()) waits.delete(checkpointId)
  }

  get inFlightCheckpoints(): ReadonlySet<number> {
    return this.inFlight
  }

  /**
   * Records that `checkpointId` references `files`. Returns the files no
   * other owner referenced before (the checkpoint's new uploads).
   */
  register(checkpointId: number, files: readonly StoredFile[]): StoredFile[] {
    return this.add(checkpointOwner(checkpointId), files)
  }

  /** Keeps `files` alive until unpin(name): files of a restored snapshot the coordinator does not own. */
  pin(name: string, files: readonly StoredFile[]): void {
    this.add(pinOwner(name), files)
  }

  unpin(name: string): void {
    this.remove(pinOwner(name))
  }

  /** Drops every reference of a subsumed or aborted checkpoint. */
  release(checkpointId: number): void {
    this.remove(checkpointOwner(checkpointId))
  }

  /** Whether the registry has seen the file (referenced, pinned or waiting for deletion). */
  isKnown(path: string): boolean {
    return this.sizes.has(path)
  }

  isReferenced(path: string): boolean {
    return (this.owners.get(path)?.size ?? 0) > 0
  }

  /** Whether the file is referenced, or unreferenced but still possibly needed by an in-flight checkpoint. */
  isProtected(path: string): boolean {
    return this.isReferenced(path) || (this.pendingDeletes.get(path)?.size ?? 0) > 0
  }

  referencedBy(checkpointId: number): string[] {
    return [...(this.filesOf.get(checkpointOwner(checkpointId)) ?? [])].sort()
  }

  /** Every file the registry knows of, referenced or waiting for deletion. */
  files(): RegisteredFile[] {
    const out: RegisteredFile[] = []
    const paths = new Set([...this.owners.keys(), ...this.pendingDeletes.keys()])
    for (const path of [...paths].sort()) {
      const owners = [...(this.owners.get(path) ?? [])]
      out.push({
        path,
        sizeBytes: this.sizes.get(path) ?? 0,
        checkpoints: owners.filter((o) => o.startsWith('chk:')).map((o) => Number(o.slice(4))).sort((a, b) => a - b),
        pins: owners.filter((o) => o.startsWith('pin:')).map((o) => o.slice(4)).sort(),
      })
    }
    return out
  }

  /**
   * Takes the files that may be deleted now: unreferenced, and every
   * checkpoint that was in flight when they lost their last reference has
   * settled. The caller deletes them (and calls retryDelete on failure).
   */
  takeDeletable(): string[] {
    const out: string[] = []
    for (const [path, waits] of this.pendingDeletes) {
      if (waits.size > 0) continue
      this.pendingDeletes.delete(path)
      if (this.isReferenced(path)) continue
      this.sizes.delete(path)
      out.push(path)
    }
    return out.sort()
  }

  /** A deletion that failed: keep the file queued so the next cleanup tries again. */
  retryDelete(path: string): void {
    if (!this.isReferenced(path) && !this.pendingDeletes.has(path)) this.pendingDeletes.set(path, new Set())
  }

  get pendingDeleteCount(): number {
    return this.pendingDeletes.size
  }

  private add(owner: Owner, files: readonly StoredFile[]): StoredFile[] {
    const fresh: StoredFile[] = []
    let mine = this.filesOf.get(owner)
    if (!mine) this.filesOf.set(owner, (mine = new Set()))
    for (const f of files) {
      let owners = this.owners.get(f.path)
      if (!owners) this.owners.set(f.path, (owners = new Set()))
      // The registry knows every file from its first reference until its deletion.
      if (!this.sizes.has(f.path)) fresh.push(f)
      owners.add(owner)
      mine.add(f.path)
      this.sizes.set(f.path, f.sizeBytes)
      // Referenced again before its deletion ran: it stays.
      this.pendingDeletes.delete(f.path)
    }
    return fresh
  }

  private remove(owner: Owner): void {
    const mine = this.filesOf.get(owner)
    if (!mine) return
    this.filesOf.delete(owner)
    for (const path of mine) {
      const owners = this.owners.get(path)
      owners?.delete(owner)
      if (owners && owners.size > 0) continue
      this.owners.delete(path)
      this.pendingDeletes.set(path, new Set(this.inFlight))
    }
  }
}
