// One memory budget per process, like Flink's managed memory: every database
// opened with memoryBudgetBytes shares one block cache of that size, and their
// memtables are charged to the same cache through one WriteBufferManager, so
// memory stays within the budget whatever the number of states and backends.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/status.h>
#include <rocksdb/write_buffer_manager.h>

#include <cstdint>
#include <memory>

namespace ks {

struct SharedMemory {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> writeBuffers;
};

// Share of the budget memtables may take before the largest is flushed; the
// rest (and whatever memtables leave) holds data, index and filter blocks.
constexpr double kWriteBufferShare = 0.5;

// The process's pool for `budgetBytes`: made by the first database that asks,
// shared while any database holds it. A pool with another budget still in use
// is joined when `budgetIsDefault` (the caller named none), else refused with
// InvalidArgument (one budget per process). Thread-safe.
rocksdb::Status AcquireSharedMemory(uint64_t budgetBytes, bool budgetIsDefault, SharedMemory* out);

}  // namespace ks
