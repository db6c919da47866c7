// The conformance suite against the RocksDB backend with incremental
// checkpoints (the default checkpointMode, made explicit here): every
// checkpoint of the snapshot features is incremental, restored directly or by
// ingestion; savepoints stay full.
import { rocksdbFactory } from './factories.js'
import type { BackendFactory } from './factory.js'
import { runConformanceSuite } from './index.js'

const base = rocksdbFactory()
const factory: BackendFactory = {
  ...base,
  name: 'rocksdb-incremental',
  supports: { ...base.supports, incremental: true },
  open: (options, instance) => base.open({ checkpointMode: 'incremental', ...options }, instance),
}
runConformanceSuite(factory)
