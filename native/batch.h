// A write batch bound to one database: applied atomically by db.write(batch).
#pragma once

#include <napi.h>
#include <rocksdb/write_batch.h>

#include <memory>

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
  // The batch for a write on `core`; INVALID_ARGUMENT when made by another DB.
  rocksdb::WriteBatch* Of(Napi::Env env, const DbCore& core);

 private:
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value Merge(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value DeleteRange(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Count(const Napi::CallbackInfo& info);
  DbCore& OpenCore(Napi::Env env) const;

  std::shared_ptr<DbCore> core_;
  Napi::ObjectReference db_;
  rocksdb::WriteBatch batch_;
};

}  // namespace ks
