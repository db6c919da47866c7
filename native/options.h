// RocksDB options for our databases and for SST files meant to be ingested
// into them. One place, so a DB and an SstFileWriter always agree on the
// comparator, merge operator and table format.
#pragma once

#include <napi.h>
#include <rocksdb/cache.h>
#include <rocksdb/options.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ks {

struct OpenConfig {
  bool createIfMissing = true;
  std::vector<std::string> columnFamilies;
  uint64_t blockCacheBytes = 64ull << 20;
  // 0: this DB has its own block cache of blockCacheBytes. Otherwise the DB
  // shares the process's block cache and write-buffer budget (memory_budget.h),
  // and index and filter blocks are charged to that cache too.
  uint64_t memoryBudgetBytes = 0;
  // The caller named no budget: join the process's pool whatever its size.
  bool memoryBudgetIsDefault = false;
  uint64_t writeBufferBytes = 64ull << 20;
  // A crashed working DB is discarded and restored from a checkpoint, so the
  // WAL serves only incremental checkpoints (checkpoint_async.cc), which turn it on.
  bool disableWal = true;
  rocksdb::CompressionType compression = rocksdb::kNoCompression;
  // Universal compaction rewrites few files per flush (new sorted runs merge
  // with each other, the big one rarely), which is what incremental
  // checkpoints upload; level compaction keeps less garbage.
  rocksdb::CompactionStyle compactionStyle = rocksdb::kCompactionStyleLevel;
  // For databases that are only read once (a checkpoint opened to copy key
  // groups out of it during a rescaling restore): no compaction work at all.
  bool disableAutoCompactions = false;
  // Compaction tuning; a negative value keeps RocksDB's default. Policy (which
  // values suit incremental checkpoints) lives in TypeScript.
  // Sorted runs (universal) or L0 files (level) that start a compaction.
  int level0FileNumCompactionTrigger = -1;
  int level0SlowdownWritesTrigger = -1;
  int level0StopWritesTrigger = -1;
  int64_t targetFileSizeBytes = -1;
  // compaction_options_universal.
  int universalSizeRatio = -1;
  int universalMinMergeWidth = -1;
  int universalMaxMergeWidth = -1;
  int universalMaxSizeAmplificationPercent = -1;
  bool universalStopStyleSimilarSize = false;
  // Keep statistics tickers (block cache hits and misses, stall time) for
  // metrics. Off by default, as in Flink: recording them costs about 6% of the
  // CPU time of a state read from SST files, 1% of an update
  // (bench/notes/metrics-statistics.md).
  bool statistics = false;
  // Read SST files through a memory map (allow_mmap_reads): a block read that
  // misses the block cache is a page-cache lookup, not a pread syscall and a
  // copy. Random reads of 1 GB under the default budget went from 110 k/s to
  // 170 k/s (bench/notes/profiles.md). Checksums are still verified. The cost:
  // an I/O error of the disk under a mapped file is a SIGBUS (the process dies
  // and restarts from its checkpoint) instead of an IO_ERROR, and the mapped
  // pages a process touched count in its RSS (page cache, reclaimable).
  bool mmapReads = true;
};

// Reads the JS options object of open(); throws INVALID_ARGUMENT on unknown keys,
// wrong types or out-of-range numbers (and write triggers that would stall
// writes before compaction starts), NOT_SUPPORTED for a compression this
// librocksdb lacks.
OpenConfig ParseOpenConfig(Napi::Env env, Napi::Value options);

// 'none', 'snappy', 'lz4' or 'zstd'; NOT_SUPPORTED when this librocksdb lacks it.
rocksdb::CompressionType ParseCompression(Napi::Env env, const std::string& name);

// LZ4 when the library has it, else Snappy, else none.
rocksdb::CompressionType DefaultCompression();

rocksdb::DBOptions MakeDbOptions(const OpenConfig& config);
// `blockCache` null: RocksDB's default per-table-factory cache (SST writers only).
rocksdb::ColumnFamilyOptions MakeCfOptions(const OpenConfig& config,
                                           const std::shared_ptr<rocksdb::Cache>& blockCache);
// Options for SstFileWriter: the column family options of a DB opened with
// defaults, with `compression` for the blocks (a restore builds files of
// incompressible state without it: RocksDB would store those blocks raw anyway).
rocksdb::Options MakeSstWriterOptions(rocksdb::CompressionType compression);

}  // namespace ks
