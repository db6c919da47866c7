// The conformance suite against the RocksDB backend, each instance in its own
// temporary working directory (reopen = same directory).
import { rocksdbFactory } from './factories.js'
import { runConformanceSuite } from './index.js'

// Checkpoints are full snapshots until the incremental strategy lands; then
// this flag follows the factory's default.
runConformanceSuite({ ...rocksdbFactory(), supports: { reopen: true, incremental: false } })
