// The conformance suite runs the same behaviour tests against every backend
// (heap, RocksDB, and backends restored from each snapshot type). A feature
// only some backends have is a `supports` flag, not a copy of the suite.
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../../src/state-backend/types.js'
import type { CheckpointStorage } from '../../src/storage/types.js'

export interface SuiteOpenOptions<K> extends Omit<KeyedStateBackendOptions<K>, 'kind' | 'dir'> {}

export interface BackendFactory {
  /** Shown in test names, e.g. 'heap', 'rocksdb'. */
  readonly name: string
  readonly supports: {
    /** close() then open() on the same instance id keeps the state (RocksDB working dir). */
    reopen: boolean
    /** snapshot(..., { type: 'checkpoint' }) produces incremental handles. */
    incremental: boolean
    /**
     * Every write is serialized at once (RocksDB), so a user serializer's
     * failure is the write's; otherwise (heap) the next snapshot serializes
     * the values of user serializers and fails with the same error.
     */
    serializesOnWrite: boolean
  }
  /**
   * Opens a backend. `instance` names its working directory, so opening the
   * same instance again after close() reopens the same data (when supports.reopen).
   */
  open<K>(options: SuiteOpenOptions<K>, instance?: string): Promise<KeyedStateBackend<K>>
  /** A fresh checkpoint storage in a temporary directory. */
  storage(): Promise<CheckpointStorage>
  /** Deletes temporary directories. */
  cleanup(): Promise<void>
}
