// The conformance suite against the RocksDB backend, each instance in its own
// temporary working directory (reopen = same directory).
import { rocksdbFactory } from './factories.js'
import type { BackendFactory } from './factory.js'
import { runConformanceSuite } from './index.js'

// Full checkpoints here (checkpointMode 'full'); the default, incremental
// checkpoints, run the same suite in rocksdb-incremental.test.ts.
const base = rocksdbFactory()
const factory: BackendFactory = {
  ...base,
  supports: { ...base.supports, incremental: false },
  open: (options, instance) => base.open({ checkpointMode: 'full', ...options }, instance),
}
runConformanceSuite(factory)
