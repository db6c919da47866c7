#include "iterator.h"

#include <cstdint>
#include <limits>

#include "addon_data.h"
#include "args.h"
#include "db.h"
#include "snapshot.h"

namespace ks {

namespace {

void AppendU32le(std::string* out, uint32_t value) {
  char bytes[4] = {static_cast<char>(value), static_cast<char>(value >> 8),
                   static_cast<char>(value >> 16), static_cast<char>(value >> 24)};
  out->append(bytes, 4);
}

IteratorConfig ParseIteratorConfig(Napi::Env env, const DbCore& core, Napi::Value value) {
  IteratorConfig config;
  if (IsNullish(value)) return config;
  Napi::Object options = ObjectArg(env, value, "iterator options");
  CheckKnownKeys(env, options, "iterator option", {"gte", "lt", "snapshot", "keysOnly"});
  OptionalSlice gte = OptionalBytes(env, options.Get("gte"), "gte");
  if (gte.present) {
    config.hasLower = true;
    config.lower = gte.slice.ToString();
  }
  OptionalSlice lt = OptionalBytes(env, options.Get("lt"), "lt");
  if (lt.present) {
    config.hasUpper = true;
    config.upper = lt.slice.ToString();
  }
  Napi::Value snapshot = options.Get("snapshot");
  if (!IsNullish(snapshot)) config.snapshot = Snapshot::FromArg(snapshot, "snapshot")->Of(env, core);
  config.keysOnly = OptionalBool(env, options, "keysOnly", false);
  return config;
}

}  // namespace

Napi::Function Iterator::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Iterator>::DefineClass(env, kClassName,
                                                 {
                                                     InstanceMethod<&Iterator::Seek>("seek"),
                                                     InstanceMethod<&Iterator::NextChunk>("nextChunk"),
                                                     InstanceMethod<&Iterator::Close>("close"),
                                                 });
}

// Made by `new` from JS: never initialised, behaves as closed.
Iterator::Iterator(const Napi::CallbackInfo& info) : Wrapped<Iterator>(info) {}

Iterator::~Iterator() { CloseNative(); }

void Iterator::Init(std::shared_ptr<DbCore> core, Napi::Object db, rocksdb::ColumnFamilyHandle* cf,
                    IteratorConfig config) {
  core_ = std::move(core);
  db_ = Napi::Persistent(db);
  config_ = std::move(config);
  rocksdb::ReadOptions read;
  read.snapshot = config_.snapshot;
  if (config_.hasLower) {
    lowerSlice_ = rocksdb::Slice(config_.lower);
    read.iterate_lower_bound = &lowerSlice_;
  }
  if (config_.hasUpper) {
    upperSlice_ = rocksdb::Slice(config_.upper);
    read.iterate_upper_bound = &upperSlice_;
  }
  iterator_.reset(core_->db()->NewIterator(read, cf));
  core_->Track(this);
}

void Iterator::CloseNative() {
  if (iterator_ != nullptr && core_ != nullptr && !core_->closed()) core_->Untrack(this);
  iterator_.reset();
}

rocksdb::Iterator& Iterator::OpenIterator(Napi::Env env) {
  if (core_ != nullptr && core_->closed()) Throw(env, ErrorCode::kClosed, "database is closed");
  if (iterator_ == nullptr) Throw(env, ErrorCode::kClosed, "iterator is closed");
  return *iterator_;
}

Napi::Value Iterator::Seek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Iterator& it = OpenIterator(env);
  // Below the lower bound RocksDB seeks to the bound itself.
  it.Seek(Bytes(env, info[0], "target"));
  positioned_ = true;
  Check(env, it.status(), "iterator.seek");
  return env.Undefined();
}

Napi::Value Iterator::NextChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Iterator& it = OpenIterator(env);
  const int64_t maxEntries = Integer(env, info[0], "maxEntries", 1, std::numeric_limits<uint32_t>::max());
  const int64_t maxBytes = Integer(env, info[1], "maxBytes", 1, 9007199254740991LL);
  if (!positioned_) {
    it.SeekToFirst();
    positioned_ = true;
  }
  chunk_.clear();
  int64_t entries = 0;
  for (; it.Valid() && entries < maxEntries; it.Next()) {
    rocksdb::Slice key = it.key();
    rocksdb::Slice value = config_.keysOnly ? rocksdb::Slice() : it.value();
    if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
      Throw(env, ErrorCode::kNotSupported, "iterator.nextChunk: entry larger than 4 GiB");
    }
    const size_t entryBytes = 8 + key.size() + value.size();
    // Always at least one entry, so an entry larger than maxBytes still moves.
    if (entries > 0 && chunk_.size() + entryBytes > static_cast<uint64_t>(maxBytes)) break;
    AppendU32le(&chunk_, static_cast<uint32_t>(key.size()));
    chunk_.append(key.data(), key.size());
    AppendU32le(&chunk_, static_cast<uint32_t>(value.size()));
    chunk_.append(value.data(), value.size());
    entries++;
  }
  Check(env, it.status(), "iterator.nextChunk");
  if (entries == 0) return env.Null();
  return Napi::Buffer<char>::Copy(env, chunk_.data(), chunk_.size());
}

// Idempotent, and a no-op after the DB closed (which closed it already).
Napi::Value Iterator::Close(const Napi::CallbackInfo& info) {
  CloseNative();
  db_.Reset();
  return info.Env().Undefined();
}

Napi::Value Db::NewIterator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  IteratorConfig config = ParseIteratorConfig(env, core, info[1]);
  Napi::Object object = AddonData::Of(env)->iteratorClass.New({});
  Iterator::Unwrap(object)->Init(shared(), info.This().As<Napi::Object>(), cf, std::move(config));
  return object;
}

}  // namespace ks
