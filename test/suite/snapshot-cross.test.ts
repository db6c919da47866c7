// Savepoints are canonical: heap ⇄ RocksDB. Runs once both backends can open here.
import { after, test } from 'node:test'
import { factoryAvailable, heapFactory, rocksdbFactory } from './factories.js'
import { crossBackendSnapshotTests } from './snapshot.js'

const heap = heapFactory()
const rocksdb = rocksdbFactory()
const available = await Promise.all([factoryAvailable(heap), factoryAvailable(rocksdb)])
const missing = available.find((a) => !a.ok)

if (missing && !missing.ok) {
  test('heap ⇄ rocksdb savepoints', { skip: `a backend is not available here: ${missing.reason}` }, () => {})
} else {
  crossBackendSnapshotTests(heap, rocksdb)
  crossBackendSnapshotTests(rocksdb, heap)
  after(() => Promise.all([heap.cleanup(), rocksdb.cleanup()]))
}
