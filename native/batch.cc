#include "batch.h"

#include <algorithm>

#include "addon_data.h"
#include "args.h"
#include "db.h"

namespace ks {

Napi::Function Batch::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Batch>::DefineClass(env, kClassName,
                                              {
                                                  InstanceMethod<&Batch::Put>("put"),
                                                  InstanceMethod<&Batch::Merge>("merge"),
                                                  InstanceMethod<&Batch::Delete>("delete"),
                                                  InstanceMethod<&Batch::DeleteRange>("deleteRange"),
                                                  InstanceMethod<&Batch::Clear>("clear"),
                                                  InstanceAccessor<&Batch::Count>("count"),
                                              });
}

// Made by `new` from JS: never initialised, behaves as closed.
Batch::Batch(const Napi::CallbackInfo& info) : Wrapped<Batch>(info) {}

void Batch::Init(std::shared_ptr<DbCore> core, Napi::Object db) {
  core_ = std::move(core);
  db_ = Napi::Persistent(db);
}

DbCore& Batch::OpenCore(Napi::Env env) const {
  if (core_ == nullptr || core_->closed()) Throw(env, ErrorCode::kClosed, "database is closed");
  return *core_;
}

rocksdb::WriteBatch* Batch::Of(Napi::Env env, const DbCore& core) {
  if (core_.get() != &core) Throw(env, ErrorCode::kInvalidArgument, "batch belongs to another database");
  for (uint32_t id : families_) {
    if (core.Cf(id) == nullptr) {
      Throw(env, ErrorCode::kInvalidArgument,
            "batch writes to column family id " + std::to_string(id) + ", which was dropped");
    }
  }
  return &batch_;
}

rocksdb::ColumnFamilyHandle* Batch::Family(Napi::Env env, const DbCore& core, napi_value value) {
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, value);
  const uint32_t id = cf->GetID();
  if (std::find(families_.begin(), families_.end(), id) == families_.end()) families_.push_back(id);
  return cf;
}

Napi::Value Batch::Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = Family(env, core, info[0]);
  Check(env, batch_.Put(cf, Bytes(env, info[1], "key"), Bytes(env, info[2], "value")), "batch.put");
  return env.Undefined();
}

Napi::Value Batch::Merge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = Family(env, core, info[0]);
  Check(env, batch_.Merge(cf, Bytes(env, info[1], "key"), Bytes(env, info[2], "value")), "batch.merge");
  return env.Undefined();
}

Napi::Value Batch::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = Family(env, core, info[0]);
  Check(env, batch_.Delete(cf, Bytes(env, info[1], "key")), "batch.delete");
  return env.Undefined();
}

Napi::Value Batch::DeleteRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = Family(env, core, info[0]);
  KeyRange range = RangeArgs(env, info[1], info[2]);
  Check(env, batch_.DeleteRange(cf, range.start, range.end), "batch.deleteRange");
  return env.Undefined();
}

Napi::Value Batch::Clear(const Napi::CallbackInfo& info) {
  OpenCore(info.Env());
  batch_.Clear();
  families_.clear();
  return info.Env().Undefined();
}

// Readable after close: it reports what the batch holds and touches no DB.
Napi::Value Batch::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), batch_.Count());
}

Napi::Value Db::NewBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenCore(env);
  Napi::Object object = AddonData::Of(env)->batchClass.New({});
  Batch::Unwrap(object)->Init(shared(), info.This().As<Napi::Object>());
  return object;
}

Napi::Value Db::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::WriteBatch* batch = Batch::FromArg(info[0], "batch")->Of(env, core);
  Check(env, core.db()->Write(core.writeOptions(), batch), "write");
  return env.Undefined();
}

}  // namespace ks
