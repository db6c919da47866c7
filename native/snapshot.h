// A RocksDB read snapshot. Reads through it (get, iterator) see the DB as it
// was when it was taken. Keeps the Db JS object alive until released.
#pragma once

#include <napi.h>

#include <memory>

#include "db_core.h"
#include "wrapped.h"

namespace ks {

class Snapshot : public Wrapped<Snapshot>, public DbResource {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000002ull};
  static constexpr const char* kClassName = "RocksSnapshot";

  static Napi::Function DefineClass(Napi::Env env);
  explicit Snapshot(const Napi::CallbackInfo& info);
  ~Snapshot() override;

  void Init(std::shared_ptr<DbCore> core, Napi::Object db);
  // The snapshot for a read on `core`: CLOSED once released, INVALID_ARGUMENT
  // when it was taken on another database.
  const rocksdb::Snapshot* Of(Napi::Env env, const DbCore& core) const;
  void ReleaseBeforeClose() override;

 private:
  Napi::Value Release(const Napi::CallbackInfo& info);
  void ReleaseNative();

  std::shared_ptr<DbCore> core_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  Napi::ObjectReference db_;
};

}  // namespace ks
