// State TTL in compactions: a compaction filter that drops expired values and
// map entries, and rewrites list values without their expired elements, so
// expired state stops costing disk space and incremental checkpoint bytes.
//
// Stored TTL values start with the last-access timestamp (i64be milliseconds);
// list values are repeated (u32be length | element) with that prefix in every
// element. Compactions run on RocksDB's threads and cannot ask JS for the time,
// so JS pushes each column family's layout, TTL and current time (per state,
// because every state has its own clock) with setColumnFamilyTtl. A stale time
// only keeps more: it is never later than the state's clock.
//
// Each column family counts what its filters dropped (values and map entries
// removed, list elements cut out), for the TTL metrics.
#pragma once

#include <napi.h>
#include <rocksdb/compaction_filter.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ks {

enum class TtlLayout {
  // One timestamped value per key (value, reducing, aggregating and map state).
  kValue,
  // A list of timestamped elements per key.
  kList,
};

struct TtlFilterConfig {
  TtlLayout layout = TtlLayout::kValue;
  int64_t ttlMs = 0;
  // Until JS sends the state's time, nothing is dropped.
  bool hasTime = false;
  int64_t nowMs = 0;
};

// Installed on every column family of a DB (DbCore); families without a
// config get no filter at all, so state without TTL pays nothing.
class TtlFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  void Set(uint32_t cfId, const TtlFilterConfig& config);
  void Clear(uint32_t cfId);
  // Entries the filters of family `cfId` dropped since the DB opened.
  uint64_t Cleaned(uint32_t cfId);

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override;
  // Recorded in the OPTIONS file; keep it stable.
  const char* Name() const override { return "keyed-state.ttl"; }

 private:
  std::mutex mutex_;
  std::unordered_map<uint32_t, TtlFilterConfig> configs_;
  // Kept when a family's config is cleared: a counter never goes back. One per
  // family that ever had TTL, so bounded by the families.
  std::unordered_map<uint32_t, std::shared_ptr<std::atomic<uint64_t>>> cleaned_;
};

// setColumnFamilyTtl(db, cf, { kind: 'value' | 'list' | 'map', ttlMs, nowMs? } | null)
Napi::Value SetColumnFamilyTtl(const Napi::CallbackInfo& info);
// ttlCleanedEntries(db, cf): entries the TTL filter dropped from the family since the DB opened.
Napi::Value TtlCleanedEntries(const Napi::CallbackInfo& info);

}  // namespace ks
