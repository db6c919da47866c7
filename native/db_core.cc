#include "db_core.h"

#include <rocksdb/cache.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace ks {

namespace {

bool HasCurrentFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec);
}

}  // namespace

DbCore::DbCore(std::string path, const OpenConfig& config, SharedMemory memory,
               std::unordered_set<DbCore*>* registry)
    : path_(std::move(path)), memory_(std::move(memory)), registry_(registry) {
  writeOptions_.disableWAL = config.disableWal;
  blockCache_ = memory_.cache != nullptr ? memory_.cache : rocksdb::NewLRUCache(config.blockCacheBytes);
  cfOptions_ = MakeCfOptions(config, blockCache_);
  // Every family gets the factory; it creates a filter only for TTL'd states.
  ttlFilters_ = std::make_shared<TtlFilterFactory>();
  cfOptions_.compaction_filter_factory = ttlFilters_;
  if (config.statistics) {
    // Per DB, even when the block cache is shared: the hit ratio is this DB's.
    statistics_ = rocksdb::CreateDBStatistics();
    statistics_->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  }
}

DbCore::~DbCore() { Close(); }

namespace {

// RocksDB's flush and compaction threads run below the event loop's priority
// (nice 19, process-wide, once): on a machine with as many busy threads as
// cores, a flush that preempted the thread doing the job's puts held up a turn
// of the event loop by milliseconds (bench/notes/profiles.md, checkpoint pause).
// They still get every core the job leaves idle.
void LowerBackgroundPriority() {
  static std::once_flag once;
  std::call_once(once, [] {
    rocksdb::Env* env = rocksdb::Env::Default();
    // Statuses ignored on purpose: where the platform cannot lower priorities, threads keep the default.
    env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::HIGH, rocksdb::CpuPriority::kLow).PermitUncheckedError();
    env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow).PermitUncheckedError();
  });
}

}  // namespace

rocksdb::Status DbCore::Open(const std::string& path, const OpenConfig& config,
                             std::unordered_set<DbCore*>* registry, std::shared_ptr<DbCore>* out) {
  SharedMemory memory;
  if (config.memoryBudgetBytes > 0) {
    rocksdb::Status s = AcquireSharedMemory(config.memoryBudgetBytes, config.memoryBudgetIsDefault, &memory);
    if (!s.ok()) return s;
  }
  std::shared_ptr<DbCore> core(new DbCore(path, config, memory, registry));
  LowerBackgroundPriority();
  rocksdb::DBOptions dbOptions = MakeDbOptions(config);
  dbOptions.write_buffer_manager = memory.writeBuffers;
  dbOptions.statistics = core->statistics_;

  const bool exists = HasCurrentFile(path);
  if (!exists && !config.createIfMissing) {
    return rocksdb::Status::PathNotFound("no database at " + path + " and createIfMissing is false");
  }
  if (!exists) {
    // RocksDB creates only the last path component.
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return rocksdb::Status::IOError("cannot create directory " + path, ec.message());
  }

  // Every family on disk must be opened (RocksDB refuses otherwise), plus the
  // requested ones, which create_missing_column_families creates.
  std::vector<std::string> names{rocksdb::kDefaultColumnFamilyName};
  if (exists) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(dbOptions, path, &names);
    if (!s.ok()) return s;
  }
  for (const auto& name : config.columnFamilies) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, core->cfOptions_);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(dbOptions, path, descriptors, &handles, &core->db_);
  if (!s.ok()) return s;
  for (auto* handle : handles) core->IndexHandle(handle);
  core->RebuildOpenHandles();
  if (registry != nullptr) registry->insert(core.get());
  *out = std::move(core);
  return s;
}

void DbCore::IndexHandle(rocksdb::ColumnFamilyHandle* handle) {
  size_t id = handle->GetID();
  if (cfs_.size() <= id) cfs_.resize(id + 1, nullptr);
  cfs_[id] = handle;
}

void DbCore::RebuildOpenHandles() {
  openHandles_.clear();
  idsByName_.clear();
  for (auto* handle : cfs_) {
    if (handle == nullptr) continue;
    openHandles_.push_back(handle);
    idsByName_.emplace(handle->GetName(), handle->GetID());
  }
}

int64_t DbCore::CfId(const std::string& name) const {
  auto it = idsByName_.find(name);
  return it == idsByName_.end() ? -1 : it->second;
}

std::vector<std::string> DbCore::CfNames() const {
  std::vector<std::string> names;
  for (auto* handle : openHandles_) names.push_back(handle->GetName());
  return names;
}

rocksdb::Status DbCore::CreateCfs(const std::vector<std::string>& names, std::vector<int64_t>* ids) {
  ids->clear();
  std::unordered_set<std::string> seen;
  for (const auto& name : names) {
    // Checked before RocksDB creates any: a refused name must not leave half the batch behind.
    if (name.empty()) return rocksdb::Status::InvalidArgument("column family name must not be empty");
    if (!seen.insert(name).second) {
      return rocksdb::Status::InvalidArgument("column family '" + name + "' is named twice");
    }
    if (CfId(name) >= 0) return rocksdb::Status::InvalidArgument("column family '" + name + "' already exists");
  }
  if (names.empty()) return rocksdb::Status::OK();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = db_->CreateColumnFamilies(cfOptions_, names, &handles);
  // Handles of the families created before a failure are ours too.
  for (auto* handle : handles) IndexHandle(handle);
  RebuildOpenHandles();
  if (!s.ok()) return s;
  if (handles.size() != names.size()) {
    return rocksdb::Status::Corruption("CreateColumnFamilies returned " + std::to_string(handles.size()) +
                                       " handles for " + std::to_string(names.size()) + " names");
  }
  ids->reserve(handles.size());
  for (auto* handle : handles) ids->push_back(handle->GetID());
  return s;
}

rocksdb::Status DbCore::DropCf(const std::string& name) {
  int64_t id = CfId(name);
  if (id < 0) return rocksdb::Status::NotFound("no column family named '" + name + "'");
  rocksdb::ColumnFamilyHandle* handle = cfs_[id];
  rocksdb::Status s = db_->DropColumnFamily(handle);
  if (!s.ok()) return s;
  // Open iterators keep the family's data alive on their own; the handle is ours.
  s = db_->DestroyColumnFamilyHandle(handle);
  cfs_[id] = nullptr;
  RebuildOpenHandles();
  return s;
}

rocksdb::Status DbCore::Close() {
  if (db_ == nullptr) return rocksdb::Status::OK();
  // Release() of a resource calls Untrack, so work on a copy.
  std::vector<DbResource*> resources(resources_.begin(), resources_.end());
  for (DbResource* resource : resources) resource->ReleaseBeforeClose();
  resources_.clear();

  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  rocksdb::Status result = db_->Flush(flush, openHandles_);

  for (auto* handle : openHandles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(handle);
    if (result.ok() && !s.ok()) result = s;
  }
  cfs_.clear();
  openHandles_.clear();
  idsByName_.clear();
  rocksdb::Status s = db_->Close();
  if (result.ok() && !s.ok()) result = s;
  delete db_;
  db_ = nullptr;
  // Give the process's memory budget back now, not when JS collects the Db
  // object: the table factory in the options holds the cache too.
  cfOptions_ = rocksdb::ColumnFamilyOptions();
  blockCache_.reset();
  memory_ = SharedMemory();
  if (registry_ != nullptr) registry_->erase(this);
  registry_ = nullptr;
  return result;
}

}  // namespace ks
