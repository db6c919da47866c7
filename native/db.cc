#include "db.h"

#include <cstring>

#include "addon_data.h"
#include "args.h"
#include "snapshot.h"

namespace ks {

Napi::Function Db::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Db>::DefineClass(
      env, kClassName,
      {
          InstanceMethod<&Db::ColumnFamily>("columnFamily"),
          InstanceMethod<&Db::ListColumnFamilies>("listColumnFamilies"),
          InstanceMethod<&Db::CreateColumnFamily>("createColumnFamily"),
          InstanceMethod<&Db::CreateColumnFamilies>("createColumnFamilies"),
          InstanceMethod<&Db::DropColumnFamily>("dropColumnFamily"),
          InstanceMethod<&Db::Get>("get"),
          InstanceMethod<&Db::GetInto>("getInto"),
          InstanceMethod<&Db::Put>("put"),
          InstanceMethod<&Db::Merge>("merge"),
          InstanceMethod<&Db::Delete>("delete"),
          InstanceMethod<&Db::DeleteRange>("deleteRange"),
          InstanceMethod<&Db::NewBatch>("batch"),
          InstanceMethod<&Db::Write>("write"),
          InstanceMethod<&Db::NewSnapshot>("snapshot"),
          InstanceMethod<&Db::NewIterator>("iterator"),
          InstanceMethod<&Db::Flush>("flush"),
          InstanceMethod<&Db::CompactRange>("compactRange"),
          InstanceMethod<&Db::GetProperty>("getProperty"),
          InstanceMethod<&Db::Tickers>("tickers"),
          InstanceMethod<&Db::Checkpoint>("checkpoint"),
          InstanceMethod<&Db::CheckpointAsync>("checkpointAsync"),
          InstanceMethod<&Db::LastBarrierTimings>("lastBarrierTimings"),
          InstanceMethod<&Db::LiveFiles>("liveFiles"),
          InstanceMethod<&Db::Ingest>("ingest"),
          InstanceMethod<&Db::IngestAll>("ingestAll"),
          InstanceMethod<&Db::Close>("close"),
          InstanceAccessor<&Db::Closed>("closed"),
      });
}

// Instances made by `new` from JS have no core and behave as closed; open()
// attaches the core after construction.
Db::Db(const Napi::CallbackInfo& info) : Wrapped<Db>(info) {}

// Collected without close(): iterators, snapshots and batches hold strong
// references to this object, so none of them can still use the DB.
Db::~Db() {
  if (core_ != nullptr) core_->Close();
}

Napi::Value Db::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringValue(env, info[0], "path");
  if (path.empty()) Throw(env, ErrorCode::kInvalidArgument, "path must not be empty");
  OpenConfig config = ParseOpenConfig(env, info[1]);
  AddonData* data = AddonData::Of(env);
  std::shared_ptr<DbCore> core;
  Check(env, DbCore::Open(path, config, &data->openDbs, &core), "open " + path);
  Napi::Object object = data->dbClass.New({});
  Unwrap(object)->core_ = std::move(core);
  return object;
}

Napi::Value Db::Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringValue(env, info[0], "path");
  if (path.empty()) Throw(env, ErrorCode::kInvalidArgument, "path must not be empty");
  Check(env, rocksdb::DestroyDB(path, MakeSstWriterOptions(DefaultCompression())), "destroy " + path);
  return env.Undefined();
}

rocksdb::ColumnFamilyHandle* CfArg(Napi::Env env, const DbCore& core, napi_value value) {
  int64_t id = Integer(env, value, "cf", 0, INT32_MAX);
  rocksdb::ColumnFamilyHandle* handle = core.Cf(id);
  if (handle == nullptr) {
    Throw(env, ErrorCode::kInvalidArgument, "no open column family with id " + std::to_string(id));
  }
  return handle;
}

Napi::Value Db::ColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  return Napi::Number::New(env, static_cast<double>(core.CfId(StringValue(env, info[0], "name"))));
}

Napi::Value Db::ListColumnFamilies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names = OpenCore(env).CfNames();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), names[i]);
  return out;
}

Napi::Value Db::CreateColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::string name = StringValue(env, info[0], "name");
  std::vector<int64_t> ids;
  Check(env, core.CreateCfs({name}, &ids), "createColumnFamily '" + name + "'");
  return Napi::Number::New(env, static_cast<double>(ids.front()));
}

Napi::Value Db::CreateColumnFamilies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::vector<std::string> names = StringArray(env, info[0], "names");
  std::vector<int64_t> ids;
  Check(env, core.CreateCfs(names, &ids), "createColumnFamilies (" + std::to_string(names.size()) + " names)");
  Napi::Array out = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(ids[i])));
  }
  return out;
}

Napi::Value Db::DropColumnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::string name = StringValue(env, info[0], "name");
  Check(env, core.DropCf(name), "dropColumnFamily '" + name + "'");
  return env.Undefined();
}

Napi::Value Db::Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  rocksdb::Slice key = Bytes(env, info[1], "key");
  rocksdb::ReadOptions read;
  if (info.Length() > 2 && !IsNullish(env, info[2])) {
    read.snapshot = Snapshot::FromArg(info[2], "snapshot")->Of(env, core);
  }
  rocksdb::PinnableSlice value;
  rocksdb::Status s = core.db()->Get(read, cf, key, &value);
  if (s.IsNotFound()) return env.Undefined();
  Check(env, s, "get");
  return Napi::Buffer<char>::Copy(env, value.data(), value.size());
}

Napi::Value Db::GetInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  rocksdb::Slice key = Bytes(env, info[1], "key");
  MutableBytes scratch = WritableBytes(env, info[2], "scratch");
  rocksdb::PinnableSlice value;
  rocksdb::Status s = core.db()->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return Napi::Number::New(env, -1);
  Check(env, s, "getInto");
  double size = static_cast<double>(value.size());
  // Too small: tell the caller the size it needs, encoded below -1.
  if (value.size() > scratch.size) return Napi::Number::New(env, -(size + 2));
  if (value.size() > 0) std::memcpy(scratch.data, value.data(), value.size());
  return Napi::Number::New(env, size);
}

Napi::Value Db::Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  rocksdb::Slice key = Bytes(env, info[1], "key");
  rocksdb::Slice value = Bytes(env, info[2], "value");
  Check(env, core.db()->Put(core.writeOptions(), cf, key, value), "put");
  return env.Undefined();
}

Napi::Value Db::Merge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  rocksdb::Slice key = Bytes(env, info[1], "key");
  rocksdb::Slice value = Bytes(env, info[2], "value");
  Check(env, core.db()->Merge(core.writeOptions(), cf, key, value), "merge");
  return env.Undefined();
}

Napi::Value Db::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  rocksdb::Slice key = Bytes(env, info[1], "key");
  Check(env, core.db()->Delete(core.writeOptions(), cf, key), "delete");
  return env.Undefined();
}

Napi::Value Db::DeleteRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  KeyRange range = RangeArgs(env, info[1], info[2]);
  Check(env, core.db()->DeleteRange(core.writeOptions(), cf, range.start, range.end), "deleteRange");
  return env.Undefined();
}

Napi::Value Db::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_ != nullptr && !core_->closed()) {
    std::string path = core_->path();
    Check(env, core_->Close(), "close " + path);
  }
  return env.Undefined();
}

Napi::Value Db::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core_ == nullptr || core_->closed());
}

}  // namespace ks
