// A write batch bound to one database: applied atomically by db.write(batch).
#pragma once

#include <napi.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "db_core.h"
#include "wrapped.h"

namespace ks {

class Batch : public Wrapped<Batch> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000004ull};
  static constexpr const char* kClassName = "RocksBatch";

  static Napi::Function DefineClass(Napi::Env env);
  explicit Batch(const Napi::CallbackInfo& info);

  void Init(std::shared_ptr<DbCore> core, Napi::Object db);
  // The batch for a write on `core`: INVALID_ARGUMENT when made by another DB
  // or when one of its column families was dropped since (RocksDB would apply
  // part of the batch and then stop accepting writes altogether).
  rocksdb::WriteBatch* Of(Napi::Env env, const DbCore& core);

 private:
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value Merge(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value DeleteRange(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Count(const Napi::CallbackInfo& info);
  DbCore& OpenCore(Napi::Env env) const;
  // The handle for a cf argument, remembered for the check in Of().
  rocksdb::ColumnFamilyHandle* Family(Napi::Env env, const DbCore& core, napi_value value);

  std::shared_ptr<DbCore> core_;
  Napi::ObjectReference db_;
  rocksdb::WriteBatch batch_;
  std::vector<uint32_t> families_;  // ids used by batch_, usually one or two
};

}  // namespace ks
