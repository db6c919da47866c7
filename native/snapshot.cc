#include "snapshot.h"

#include "addon_data.h"
#include "db.h"

namespace ks {

Napi::Function Snapshot::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Snapshot>::DefineClass(env, kClassName,
                                                 {InstanceMethod<&Snapshot::Release>("release")});
}

// Made by `new` from JS: never initialised, behaves as released.
Snapshot::Snapshot(const Napi::CallbackInfo& info) : Wrapped<Snapshot>(info) {}

Snapshot::~Snapshot() { ReleaseNative(); }

void Snapshot::Init(std::shared_ptr<DbCore> core, Napi::Object db) {
  core_ = std::move(core);
  snapshot_ = core_->db()->GetSnapshot();
  core_->Track(this);
  db_ = Napi::Persistent(db);
}

const rocksdb::Snapshot* Snapshot::Of(Napi::Env env, const DbCore& core) const {
  if (snapshot_ == nullptr) Throw(env, ErrorCode::kClosed, "snapshot is released");
  if (core_.get() != &core) {
    Throw(env, ErrorCode::kInvalidArgument, "snapshot belongs to another database");
  }
  return snapshot_;
}

void Snapshot::ReleaseBeforeClose() {
  if (snapshot_ != nullptr) core_->db()->ReleaseSnapshot(snapshot_);
  snapshot_ = nullptr;
}

void Snapshot::ReleaseNative() {
  if (snapshot_ != nullptr && core_ != nullptr && !core_->closed()) {
    core_->db()->ReleaseSnapshot(snapshot_);
    core_->Untrack(this);
  }
  snapshot_ = nullptr;
}

// Idempotent, and a no-op after the DB closed (which released it already), so
// cleanup code in `finally` blocks never throws.
Napi::Value Snapshot::Release(const Napi::CallbackInfo& info) {
  ReleaseNative();
  db_.Reset();
  return info.Env().Undefined();
}

Napi::Value Db::NewSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenCore(env);
  Napi::Object object = AddonData::Of(env)->snapshotClass.New({});
  Snapshot::Unwrap(object)->Init(shared(), info.This().As<Napi::Object>());
  return object;
}

}  // namespace ks
