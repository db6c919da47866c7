// The JS Db class: a thin shell over DbCore. Every method first checks that the
// DB is open (CLOSED otherwise), then reads its arguments without copying bytes.
#pragma once

#include <napi.h>

#include <memory>

#include "db_core.h"
#include "wrapped.h"

namespace ks {

// The handle for the column family id in `value`, or throws INVALID_ARGUMENT.
rocksdb::ColumnFamilyHandle* CfArg(Napi::Env env, const DbCore& core, napi_value value);

class Db : public Wrapped<Db> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000001ull};
  static constexpr const char* kClassName = "RocksDb";

  static Napi::Function DefineClass(Napi::Env env);
  // Exports: open(path, options?) and destroy(path).
  static Napi::Value Open(const Napi::CallbackInfo& info);
  static Napi::Value Destroy(const Napi::CallbackInfo& info);

  explicit Db(const Napi::CallbackInfo& info);
  ~Db() override;

  // The open core, or throws CLOSED.
  DbCore& OpenCore(Napi::Env env) const {
    if (core_ == nullptr || core_->closed()) Throw(env, ErrorCode::kClosed, "database is closed");
    return *core_;
  }
  const std::shared_ptr<DbCore>& shared() const { return core_; }

 private:
  // Column families.
  Napi::Value ColumnFamily(const Napi::CallbackInfo& info);
  Napi::Value ListColumnFamilies(const Napi::CallbackInfo& info);
  Napi::Value CreateColumnFamily(const Napi::CallbackInfo& info);
  // All at once: RocksDB writes its OPTIONS file once per call, not per family.
  Napi::Value CreateColumnFamilies(const Napi::CallbackInfo& info);
  Napi::Value DropColumnFamily(const Napi::CallbackInfo& info);
  // Point reads and writes (the hot path).
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value GetInto(const Napi::CallbackInfo& info);
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value Merge(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value DeleteRange(const Napi::CallbackInfo& info);
  // Objects bound to this DB (batch.cc, snapshot.cc, iterator.cc).
  Napi::Value NewBatch(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value NewSnapshot(const Napi::CallbackInfo& info);
  Napi::Value NewIterator(const Napi::CallbackInfo& info);
  // Files and maintenance (db_files.cc).
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value CompactRange(const Napi::CallbackInfo& info);
  Napi::Value GetProperty(const Napi::CallbackInfo& info);
  // { blockCacheHits, blockCacheMisses, stallMicros }: counts since the DB
  // opened; undefined when it was opened without `statistics`.
  Napi::Value Tickers(const Napi::CallbackInfo& info);
  Napi::Value Checkpoint(const Napi::CallbackInfo& info);
  // checkpoint_async.cc: captures at the call, writes the directory on the thread pool.
  Napi::Value CheckpointAsync(const Napi::CallbackInfo& info);
  // Where the last checkpointAsync call spent its time (bench/tools/checkpoint-pause.ts).
  Napi::Value LastBarrierTimings(const Napi::CallbackInfo& info);
  Napi::Value LiveFiles(const Napi::CallbackInfo& info);
  Napi::Value Ingest(const Napi::CallbackInfo& info);
  Napi::Value IngestAll(const Napi::CallbackInfo& info);
  // Lifecycle.
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);

  std::shared_ptr<DbCore> core_;
  // Wall and thread-CPU milliseconds of the last barrier's phases (checkpoint_async.cc), per kBarrierPhases.
  struct BarrierTimings {
    static constexpr int kPhases = 4;
    double wallMs[kPhases] = {};
    double cpuMs[kPhases] = {};
    bool valid = false;
  } barrier_timings_;
};

}  // namespace ks
