// The native side of one open database: the rocksdb::DB, its column family
// handles, and the iterators and snapshots that must be released before the DB
// closes. Shared (shared_ptr) by the JS Db object and every iterator, snapshot
// and batch made from it, so those can still answer CLOSED after the Db object
// itself was collected.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "memory_budget.h"
#include "options.h"
#include "ttl_compaction_filter.h"

namespace ks {

// Something that holds RocksDB resources of a DB (an iterator, a snapshot) and
// must give them back before the DB closes.
class DbResource {
 public:
  virtual ~DbResource() = default;
  virtual void ReleaseBeforeClose() = 0;
};

class DbCore {
 public:
  static rocksdb::Status Open(const std::string& path, const OpenConfig& config,
                              std::unordered_set<DbCore*>* registry, std::shared_ptr<DbCore>* out);
  ~DbCore();

  DbCore(const DbCore&) = delete;
  DbCore& operator=(const DbCore&) = delete;

  bool closed() const { return db_ == nullptr; }
  rocksdb::DB* db() const { return db_; }
  const std::string& path() const { return path_; }
  const rocksdb::WriteOptions& writeOptions() const { return writeOptions_; }
  // TTL compaction filter settings per column family (ttl_compaction_filter.h).
  TtlFilterFactory* ttlFilters() const { return ttlFilters_.get(); }
  // This DB's tickers (block cache hits and misses, stall time), for metrics;
  // null unless opened with `statistics`. Tickers only: histograms and timers
  // cost time on every operation.
  const rocksdb::Statistics* statistics() const { return statistics_.get(); }

  // Handle by column family id (RocksDB's own ids, stable across reopen), or
  // nullptr when no such family is open.
  rocksdb::ColumnFamilyHandle* Cf(int64_t id) const {
    return id >= 0 && static_cast<size_t>(id) < cfs_.size() ? cfs_[id] : nullptr;
  }
  // Id of the family called `name`, -1 when absent.
  int64_t CfId(const std::string& name) const;
  std::vector<std::string> CfNames() const;
  const std::vector<rocksdb::ColumnFamilyHandle*>& OpenHandles() const { return openHandles_; }

  // Creates the families `names` (none of which may exist yet) in one RocksDB
  // call: RocksDB rewrites its OPTIONS file, one section per family, after each
  // create call, so creating n families one by one costs O(n^2) (issue 14).
  // On failure the families created before it stay open and indexed, and `ids`
  // is left empty.
  rocksdb::Status CreateCfs(const std::vector<std::string>& names, std::vector<int64_t>* ids);
  rocksdb::Status DropCf(const std::string& name);

  void Track(DbResource* resource) { resources_.insert(resource); }
  void Untrack(DbResource* resource) { resources_.erase(resource); }

  // Releases tracked iterators and snapshots, flushes every memtable (the WAL
  // may be off, so this is what makes writes survive), then closes the DB. The
  // DB is closed even when the flush fails; the first error is returned.
  // Idempotent.
  rocksdb::Status Close();

 private:
  DbCore(std::string path, const OpenConfig& config, SharedMemory memory, std::unordered_set<DbCore*>* registry);
  void IndexHandle(rocksdb::ColumnFamilyHandle* handle);
  void RebuildOpenHandles();

  std::string path_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::WriteOptions writeOptions_;
  std::shared_ptr<rocksdb::Cache> blockCache_;
  // The process's budget when opened with one (the cache above is its cache).
  SharedMemory memory_;
  rocksdb::ColumnFamilyOptions cfOptions_;
  std::shared_ptr<TtlFilterFactory> ttlFilters_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // index = column family id
  std::vector<rocksdb::ColumnFamilyHandle*> openHandles_;
  std::unordered_map<std::string, int64_t> idsByName_;  // open families only
  std::unordered_set<DbResource*> resources_;
  std::unordered_set<DbCore*>* registry_;
};

}  // namespace ks
