// What a storage implementation gives the storage conformance suite. Every
// CheckpointStorage (file system, S3, ...) runs the same cases; what only some
// storages can do is a `supports` flag, not a copy of the suite.
import type { CheckpointStorage } from '../../../src/storage/types.js'

export interface OpenedStorage {
  /** A fresh, empty storage. */
  storage: CheckpointStorage
  /**
   * The same backing store one level up: `storage`'s root is `parent`'s
   * directory (or key prefix) `rootName`. The containment cases plant victim
   * files beside the root through it and check that nothing reaches them.
   */
  parent: CheckpointStorage
  rootName: string
  /** The local directory `storage` keeps its files in (storages with supports.localSymlinks). */
  root?: string
  /** Deletes everything `open()` made. */
  cleanup(): Promise<void>
}

export interface StorageFactory {
  /** Shown in test names, e.g. 'fs', 's3'. */
  readonly name: string
  /** Static per storage, so the suite knows what to skip when it registers its tests. */
  readonly supports: {
    /** Files live in a local directory (`root`) where the suite may plant symbolic links. */
    localSymlinks: boolean
  }
  /**
   * Bytes from which a write splits into parts (S3 multipart); the large-file
   * cases write several times this and read across a part boundary. Storages
   * that never split leave it out.
   */
  readonly partSizeBytes?: number
  open(): Promise<OpenedStorage>
}
