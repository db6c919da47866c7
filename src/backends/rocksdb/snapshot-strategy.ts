// The seam between the RocksDB backend and the ways it snapshots itself. The
// backend owns the database and the registered states; a strategy turns them
// into a SnapshotRun. Full snapshots (canonical format, savepoints and 'full'
// checkpoints) live in full-snapshot.ts; incremental checkpoints (native
// checkpoint + shared SST upload) plug in here as another SnapshotStrategy,
// chosen by RocksDBKeyedStateBackend.strategyFor().
import type { KeyGroupRange } from '../../keygroups.js'
import type { NativeBinding, NativeDb } from './native/types.js'
import type { SerializerConfig } from '../../serializers/serializer.js'
import type { SnapshotOptions, SnapshotRun } from '../../snapshot/types.js'
import type { StateMetaInfo } from '../../state/meta.js'
import type { InFlightRuns } from './in-flight-runs.js'
import type { WorkingDir } from './working-dir.js'

/** A registered state as stored in RocksDB: its meta-info and its column family. */
export interface StateColumnFamily {
  readonly meta: StateMetaInfo
  /** Column family name, e.g. 's:<state name>'. */
  readonly columnFamily: string
  /** Column family handle id for NativeDb calls. */
  readonly cf: number
}

/** What a strategy may use of the backend. */
export interface RocksDBSnapshotContext {
  readonly native: NativeBinding
  readonly db: NativeDb
  readonly workingDir: WorkingDir
  /** Stable id of this working directory's lineage (new on restore). */
  readonly backendId: string
  readonly maxParallelism: number
  readonly keyGroupRange: KeyGroupRange
  /** Recorded in full snapshots (incremental ones take it from the working directory's record). */
  readonly keySerializer: SerializerConfig
  /** Local recovery directory for checkpoints (never used for savepoints). */
  readonly localRecoveryDir: string | undefined
  /** Runs whose resources close() must cancel and wait for. */
  readonly inFlight: InFlightRuns
  /** Every registered state now, in registration order (meta-info is immutable JSON). */
  states(): StateColumnFamily[]
  /** Full snapshots: per-state transformers for a snapshot taken now (TTL drops expired entries). */
  ttlTransformers?(): ReadonlyMap<string, (key: Uint8Array, value: Uint8Array) => Uint8Array | undefined> | undefined
}

export interface SnapshotStrategy {
  /** For messages, e.g. 'full', 'incremental'. */
  readonly name: string
  /** Does the synchronous part and returns the run (tracked in context.inFlight). */
  snapshot(checkpointId: number, options: SnapshotOptions): SnapshotRun
  notifyCheckpointComplete(checkpointId: number): void
  notifyCheckpointAborted(checkpointId: number): void
  /** Called by close() after every in-flight run settled. */
  dispose?(): Promise<void> | void
}
