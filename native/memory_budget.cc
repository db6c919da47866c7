#include "memory_budget.h"

#include <mutex>
#include <string>

namespace ks {

namespace {

// Weak: the pool lives as long as a database uses it, so a process can pick a
// new budget once every database of the old one closed.
std::mutex gMutex;
std::weak_ptr<rocksdb::Cache> gCache;
std::weak_ptr<rocksdb::WriteBufferManager> gWriteBuffers;
uint64_t gBudgetBytes = 0;

}  // namespace

rocksdb::Status AcquireSharedMemory(uint64_t budgetBytes, bool budgetIsDefault, SharedMemory* out) {
  std::lock_guard<std::mutex> lock(gMutex);
  SharedMemory pool{gCache.lock(), gWriteBuffers.lock()};
  if (pool.cache != nullptr && pool.writeBuffers != nullptr) {
    if (gBudgetBytes != budgetBytes && !budgetIsDefault) {
      return rocksdb::Status::InvalidArgument("this process's memory budget is " + std::to_string(gBudgetBytes) +
                                              " bytes (databases still open use it), not " +
                                              std::to_string(budgetBytes));
    }
    *out = std::move(pool);
    return rocksdb::Status::OK();
  }
  rocksdb::LRUCacheOptions cacheOptions;
  cacheOptions.capacity = budgetBytes;
  // Index and filter blocks go to the high-priority pool: evicted last.
  cacheOptions.high_pri_pool_ratio = 0.1;
  pool.cache = rocksdb::NewLRUCache(cacheOptions);
  pool.writeBuffers = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(static_cast<double>(budgetBytes) * kWriteBufferShare), pool.cache, /*allow_stall=*/false);
  gCache = pool.cache;
  gWriteBuffers = pool.writeBuffers;
  gBudgetBytes = budgetBytes;
  *out = std::move(pool);
  return rocksdb::Status::OK();
}

}  // namespace ks
