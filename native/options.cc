#include "options.h"

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <cmath>

#include "args.h"
#include "merge_operator.h"
#include "status.h"

namespace ks {

namespace {

struct CompressionName {
  const char* name;
  rocksdb::CompressionType type;
};

constexpr CompressionName kCompressions[] = {
    {"none", rocksdb::kNoCompression},
    {"snappy", rocksdb::kSnappyCompression},
    {"lz4", rocksdb::kLZ4Compression},
    {"zstd", rocksdb::kZSTD},
};

bool Supported(rocksdb::CompressionType type) {
  if (type == rocksdb::kNoCompression) return true;
  auto supported = rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), type) != supported.end();
}


// An optional integer option in [min, max]; `fallback` when absent.
int64_t OptionalInteger(Napi::Env env, Napi::Object options, const char* key, int64_t min, int64_t max,
                        int64_t fallback) {
  Napi::Value value = options.Get(key);
  if (IsNullish(value)) return fallback;
  return Integer(env, value, key, min, max);
}

constexpr int64_t kMaxTrigger = 1 << 16;
constexpr uint64_t kMaxTotalWalBytes = 128ull << 20;
constexpr int64_t kMaxJsInteger = 9007199254740991LL;

// RocksDB raises a write trigger below the one before it without a word; an
// explicit value that would stall writes before compaction even starts is
// refused instead.
void CheckTriggerOrder(Napi::Env env, const OpenConfig& config) {
  const rocksdb::ColumnFamilyOptions defaults;
  int trigger = config.level0FileNumCompactionTrigger >= 0 ? config.level0FileNumCompactionTrigger
                                                           : defaults.level0_file_num_compaction_trigger;
  int slowdown = config.level0SlowdownWritesTrigger >= 0 ? config.level0SlowdownWritesTrigger
                                                         : std::max(trigger, defaults.level0_slowdown_writes_trigger);
  if (config.level0SlowdownWritesTrigger >= 0 && slowdown < trigger) {
    Throw(env, ErrorCode::kInvalidArgument,
          "open: level0SlowdownWritesTrigger (" + std::to_string(slowdown) +
              ") must not be below level0FileNumCompactionTrigger (" + std::to_string(trigger) + ")");
  }
  if (config.level0StopWritesTrigger >= 0 && config.level0StopWritesTrigger < slowdown) {
    Throw(env, ErrorCode::kInvalidArgument,
          "open: level0StopWritesTrigger (" + std::to_string(config.level0StopWritesTrigger) +
              ") must not be below level0SlowdownWritesTrigger (" + std::to_string(slowdown) + ")");
  }
  if (config.universalMinMergeWidth >= 0 && config.universalMaxMergeWidth >= 0 &&
      config.universalMinMergeWidth > config.universalMaxMergeWidth) {
    Throw(env, ErrorCode::kInvalidArgument,
          "open: universalMinMergeWidth (" + std::to_string(config.universalMinMergeWidth) +
              ") must not be above universalMaxMergeWidth (" + std::to_string(config.universalMaxMergeWidth) + ")");
  }
}

void ParseCompactionTuning(Napi::Env env, Napi::Object options, OpenConfig& config) {
  config.level0FileNumCompactionTrigger =
      static_cast<int>(OptionalInteger(env, options, "level0FileNumCompactionTrigger", 1, kMaxTrigger, -1));
  config.level0SlowdownWritesTrigger =
      static_cast<int>(OptionalInteger(env, options, "level0SlowdownWritesTrigger", 1, kMaxTrigger, -1));
  config.level0StopWritesTrigger =
      static_cast<int>(OptionalInteger(env, options, "level0StopWritesTrigger", 1, kMaxTrigger, -1));
  config.targetFileSizeBytes = OptionalInteger(env, options, "targetFileSizeBytes", 64 << 10, kMaxJsInteger, -1);
  config.universalSizeRatio = static_cast<int>(OptionalInteger(env, options, "universalSizeRatio", 0, 100000, -1));
  config.universalMinMergeWidth =
      static_cast<int>(OptionalInteger(env, options, "universalMinMergeWidth", 2, kMaxTrigger, -1));
  config.universalMaxMergeWidth =
      static_cast<int>(OptionalInteger(env, options, "universalMaxMergeWidth", 2, kMaxTrigger, -1));
  config.universalMaxSizeAmplificationPercent =
      static_cast<int>(OptionalInteger(env, options, "universalMaxSizeAmplificationPercent", 1, 1000000, -1));
  Napi::Value stopStyle = options.Get("universalStopStyle");
  if (!IsNullish(stopStyle)) {
    std::string style = StringValue(env, stopStyle, "universalStopStyle");
    if (style == "similar-size") {
      config.universalStopStyleSimilarSize = true;
    } else if (style != "total-size") {
      Throw(env, ErrorCode::kInvalidArgument,
            "open: universalStopStyle must be 'total-size' or 'similar-size', got '" + style + "'");
    }
  }
  CheckTriggerOrder(env, config);
}

}  // namespace

rocksdb::CompressionType ParseCompression(Napi::Env env, const std::string& name) {
  for (const auto& c : kCompressions) {
    if (name != c.name) continue;
    if (!Supported(c.type)) {
      Throw(env, ErrorCode::kNotSupported,
            "compression '" + name + "' is not supported by this librocksdb");
    }
    return c.type;
  }
  Throw(env, ErrorCode::kInvalidArgument,
        "compression must be one of 'none', 'snappy', 'lz4', 'zstd', got '" + name + "'");
}

rocksdb::CompressionType DefaultCompression() {
  if (Supported(rocksdb::kLZ4Compression)) return rocksdb::kLZ4Compression;
  if (Supported(rocksdb::kSnappyCompression)) return rocksdb::kSnappyCompression;
  return rocksdb::kNoCompression;
}

OpenConfig ParseOpenConfig(Napi::Env env, Napi::Value value) {
  OpenConfig config;
  config.compression = DefaultCompression();
  if (IsNullish(value)) return config;
  Napi::Object options = ObjectArg(env, value, "open options");
  CheckKnownKeys(env, options, "open options",
                 {"createIfMissing", "columnFamilies", "blockCacheBytes", "memoryBudgetBytes", "memoryBudgetIsDefault", "writeBufferBytes",
                  "disableWal", "compression", "compactionStyle", "disableAutoCompactions",
                  "level0FileNumCompactionTrigger", "level0SlowdownWritesTrigger", "level0StopWritesTrigger",
                  "targetFileSizeBytes", "universalSizeRatio", "universalMinMergeWidth", "universalMaxMergeWidth",
                  "universalMaxSizeAmplificationPercent", "universalStopStyle", "statistics", "mmapReads"});
  config.statistics = OptionalBool(env, options, "statistics", false);
  config.mmapReads = OptionalBool(env, options, "mmapReads", config.mmapReads);
  config.createIfMissing = OptionalBool(env, options, "createIfMissing", config.createIfMissing);
  config.disableWal = OptionalBool(env, options, "disableWal", config.disableWal);
  config.disableAutoCompactions =
      OptionalBool(env, options, "disableAutoCompactions", config.disableAutoCompactions);
  config.blockCacheBytes = OptionalSize(env, options, "blockCacheBytes", config.blockCacheBytes);
  config.memoryBudgetBytes = OptionalSize(env, options, "memoryBudgetBytes", 0);
  config.memoryBudgetIsDefault = OptionalBool(env, options, "memoryBudgetIsDefault", false);
  if (!IsNullish(options.Get("memoryBudgetBytes"))) {
    if (config.memoryBudgetBytes < (1u << 20)) {
      Throw(env, ErrorCode::kInvalidArgument, "open: memoryBudgetBytes must be at least 1048576");
    }
    if (!IsNullish(options.Get("blockCacheBytes"))) {
      Throw(env, ErrorCode::kInvalidArgument,
            "open: blockCacheBytes and memoryBudgetBytes exclude each other (the budget's cache is shared)");
    }
  }
  config.writeBufferBytes = OptionalSize(env, options, "writeBufferBytes", config.writeBufferBytes);
  if (config.writeBufferBytes < (64u << 10)) {
    Throw(env, ErrorCode::kInvalidArgument, "open: writeBufferBytes must be at least 65536");
  }
  Napi::Value families = options.Get("columnFamilies");
  if (!IsNullish(families)) {
    config.columnFamilies = StringArray(env, families, "columnFamilies");
  }
  Napi::Value compression = options.Get("compression");
  if (!IsNullish(compression)) {
    config.compression = ParseCompression(env, StringValue(env, compression, "compression"));
  }
  Napi::Value compactionStyle = options.Get("compactionStyle");
  if (!IsNullish(compactionStyle)) {
    std::string style = StringValue(env, compactionStyle, "compactionStyle");
    if (style == "level") {
      config.compactionStyle = rocksdb::kCompactionStyleLevel;
    } else if (style == "universal") {
      config.compactionStyle = rocksdb::kCompactionStyleUniversal;
    } else {
      Throw(env, ErrorCode::kInvalidArgument,
            "open: compactionStyle must be 'level' or 'universal', got '" + style + "'");
    }
  }
  ParseCompactionTuning(env, options, config);
  return config;
}

rocksdb::DBOptions MakeDbOptions(const OpenConfig& config) {
  rocksdb::DBOptions options;
  options.create_if_missing = config.createIfMissing;
  options.create_missing_column_families = true;
  // Bounded info log: RocksDB otherwise keeps every rotated LOG file.
  options.keep_log_file_num = 3;
  options.max_log_file_size = 8u << 20;
  options.max_background_jobs = 2;
  // RocksDB opens each column family's SST files with this many threads, and it
  // starts them for every family, even one without files: with the default 16
  // and one family per state, opening a database of 1,000 states started and
  // joined 15,000 threads (about half of the open; issue 14). The files of one
  // family are few (64 MiB target size), so one thread opens them.
  options.max_file_opening_threads = 1;
  // A flush of many families (checkpoint, flush(), close) is one job that writes
  // one MANIFEST record for all of them, instead of one job, one MANIFEST sync
  // and one walk over every family per family: flushing 1,000 families took
  // 2.5 s of CPU without it and 0.95 s with it (issue 14). It also makes the
  // memtable switch at an incremental checkpoint's barrier one switch of all
  // families and one new WAL file (checkpoint_async.cc). The price: when one
  // family's memtable fills up, every family with unflushed writes is flushed
  // with it (small files in the quiet ones; a checkpoint flushes them all anyway).
  options.atomic_flush = true;
  // The WAL (when on) is what an incremental checkpoint takes instead of a
  // flush at the barrier (checkpoint_async.cc). Buffered in memory until the
  // barrier or a full buffer: no write syscall per put, and a crashed working
  // DB is discarded anyway (restore comes from a checkpoint).
  options.manual_wal_flush = true;
  // Bounds the WAL a checkpoint copies: past this, RocksDB flushes the column
  // families that hold the oldest WAL file.
  options.max_total_wal_size = kMaxTotalWalBytes;
  options.allow_mmap_reads = config.mmapReads;
  // The event loop's thread never frees a flushed memtable or deletes obsolete
  // files itself (the last reference to a memtable can be dropped by a put or an
  // iterator's close on that thread): a background job does it.
  options.avoid_unnecessary_blocking_io = true;
  return options;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const OpenConfig& config,
                                           const std::shared_ptr<rocksdb::Cache>& blockCache) {
  rocksdb::ColumnFamilyOptions options;
  options.merge_operator = std::make_shared<ConcatMergeOperator>();
  options.compression = config.compression;
  options.write_buffer_size = config.writeBufferBytes;
  options.compaction_style = config.compactionStyle;
  options.disable_auto_compactions = config.disableAutoCompactions;
  // Level style: all data in the last level and its few levels above, whatever the DB size.
  options.level_compaction_dynamic_level_bytes = config.compactionStyle == rocksdb::kCompactionStyleLevel;
  if (config.level0FileNumCompactionTrigger >= 0) {
    options.level0_file_num_compaction_trigger = config.level0FileNumCompactionTrigger;
  }
  if (config.level0SlowdownWritesTrigger >= 0) {
    options.level0_slowdown_writes_trigger = config.level0SlowdownWritesTrigger;
  }
  if (config.level0StopWritesTrigger >= 0) options.level0_stop_writes_trigger = config.level0StopWritesTrigger;
  if (config.targetFileSizeBytes >= 0) options.target_file_size_base = static_cast<uint64_t>(config.targetFileSizeBytes);
  auto& universal = options.compaction_options_universal;
  if (config.universalSizeRatio >= 0) universal.size_ratio = static_cast<unsigned>(config.universalSizeRatio);
  if (config.universalMinMergeWidth >= 0) universal.min_merge_width = static_cast<unsigned>(config.universalMinMergeWidth);
  if (config.universalMaxMergeWidth >= 0) universal.max_merge_width = static_cast<unsigned>(config.universalMaxMergeWidth);
  if (config.universalMaxSizeAmplificationPercent >= 0) {
    universal.max_size_amplification_percent = static_cast<unsigned>(config.universalMaxSizeAmplificationPercent);
  }
  if (config.universalStopStyleSimilarSize) universal.stop_style = rocksdb::kCompactionStopStyleSimilarSize;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = blockCache;
  if (config.memoryBudgetBytes > 0) {
    // Within the budget: index and filter blocks live in the shared cache
    // (high priority), the level-0 ones pinned as the hot reads need them.
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    // Every file's index and filter block stays pinned (still charged to the
    // budget's cache): a state larger than the cache otherwise has its random
    // reads evict them, and a point read then re-reads them from the file
    // before its data block. They are ~1 % of the data (10 bits of filter per
    // key, an index entry per 4 KiB block); at 1 GB under the default budget
    // random reads took 8 % less CPU each, and writes no more (bench/notes/profiles.md).
    table.metadata_cache_options.unpartitioned_pinning = rocksdb::PinningTier::kAll;
  }
  // Point lookups dominate (value/map state reads): a full bloom filter lets
  // them skip SST files that do not hold the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

rocksdb::Options MakeSstWriterOptions(rocksdb::CompressionType compression) {
  OpenConfig config;
  config.compression = compression;
  rocksdb::ColumnFamilyOptions cf = MakeCfOptions(config, nullptr);
  return rocksdb::Options(MakeDbOptions(config), cf);
}

}  // namespace ks
