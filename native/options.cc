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

rocksdb::CompressionType ParseCompression(Napi::Env env, const std::string& name) {
  for (const auto& c : kCompressions) {
    if (name != c.name) continue;
    if (!Supported(c.type)) {
      Throw(env, ErrorCode::kNotSupported,
            "open: compression '" + name + "' is not supported by this librocksdb");
    }
    return c.type;
  }
  Throw(env, ErrorCode::kInvalidArgument,
        "open: compression must be one of 'none', 'snappy', 'lz4', 'zstd', got '" + name + "'");
}

}  // namespace

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
                 {"createIfMissing", "columnFamilies", "blockCacheBytes", "writeBufferBytes",
                  "disableWal", "compression", "compactionStyle", "disableAutoCompactions"});
  config.createIfMissing = OptionalBool(env, options, "createIfMissing", config.createIfMissing);
  config.disableWal = OptionalBool(env, options, "disableWal", config.disableWal);
  config.disableAutoCompactions =
      OptionalBool(env, options, "disableAutoCompactions", config.disableAutoCompactions);
  config.blockCacheBytes = OptionalSize(env, options, "blockCacheBytes", config.blockCacheBytes);
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

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = blockCache;
  // Point lookups dominate (value/map state reads): a full bloom filter lets
  // them skip SST files that do not hold the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

rocksdb::Options MakeSstWriterOptions() {
  OpenConfig config;
  config.compression = DefaultCompression();
  rocksdb::ColumnFamilyOptions cf = MakeCfOptions(config, nullptr);
  return rocksdb::Options(MakeDbOptions(config), cf);
}

}  // namespace ks
