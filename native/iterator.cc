#include "iterator.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "addon_data.h"
#include "args.h"
#include "db.h"
#include "snapshot.h"

namespace ks {

namespace {

constexpr size_t kFirstChunkBytes = 4096;
// A thread-pool read allocates min(maxBytes, this) before reading.
constexpr int64_t kAsyncFirstChunkBytesMax = 16 * 1024 * 1024;
// Room kept between chunks: snapshot chunks are 1 MiB; beyond this only a
// chunk with a huge entry, which should not stay pinned.
constexpr size_t kKeptChunkBytesMax = 16 * 1024 * 1024;
constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

void PutU32le(char* out, uint32_t value) {
  out[0] = static_cast<char>(value);
  out[1] = static_cast<char>(value >> 8);
  out[2] = static_cast<char>(value >> 16);
  out[3] = static_cast<char>(value >> 24);
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

ChunkLimits ChunkLimitArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ChunkLimits limits;
  limits.maxEntries = Integer(env, info[0], "maxEntries", 1, std::numeric_limits<uint32_t>::max());
  limits.maxBytes = Integer(env, info[1], "maxBytes", 1, kMaxSafeInteger);
  OptionalSlice until = OptionalBytes(env, info[2], "until");
  if (until.present) {
    limits.hasUntil = true;
    limits.until = until.slice.ToString();
  }
  return limits;
}

void Fail(ChunkFailure* failure, ErrorCode code, std::string message) {
  failure->code = code;
  failure->message = std::move(message);
}

Napi::Error FailureError(Napi::Env env, const ChunkFailure& failure) {
  return MakeError(env, failure.code, failure.message, failure.hasStatus ? &failure.status : nullptr);
}

}  // namespace

// ---- PackedBytes ----

bool PackedBytes::Reserve(size_t extra, size_t initial) {
  if (extra > std::numeric_limits<size_t>::max() / 2 - size_) return false;
  const size_t needed = size_ + extra;
  if (needed <= capacity_) return true;
  const size_t capacity = std::max(needed, std::max(initial, capacity_ * 2));
  char* grown = static_cast<char*>(std::realloc(data_, capacity));
  if (grown == nullptr) return false;
  data_ = grown;
  capacity_ = capacity;
  return true;
}

void PackedBytes::AppendEntry(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  char* out = data_ + size_;
  PutU32le(out, static_cast<uint32_t>(key.size()));
  if (key.size() > 0) std::memcpy(out + 4, key.data(), key.size());
  out += 4 + key.size();
  PutU32le(out, static_cast<uint32_t>(value.size()));
  if (value.size() > 0) std::memcpy(out + 4, value.data(), value.size());
  size_ += 8 + key.size() + value.size();
}

void PackedBytes::Clear() {
  size_ = 0;
  if (capacity_ > kKeptChunkBytesMax) {
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
  }
}

Napi::Buffer<char> PackedBytes::CopyToBuffer(Napi::Env env) const {
  return Napi::Buffer<char>::Copy(env, data_, size_);
}

Napi::Buffer<char> PackedBytes::MoveToBuffer(Napi::Env env) {
  // Unused room (a short last chunk) would count as external memory for as long as the Buffer lives.
  if (capacity_ - size_ > size_ / 4 + kFirstChunkBytes) {
    char* fitted = static_cast<char*>(std::realloc(data_, size_));
    if (fitted != nullptr) {
      data_ = fitted;
      capacity_ = size_;
    }
  }
  Napi::Buffer<char> buffer = Napi::Buffer<char>::New(env, data_, size_, [](Napi::Env, char* data) { std::free(data); });
  data_ = nullptr;
  size_ = capacity_ = 0;
  return buffer;
}

// ---- IteratorState ----

IteratorState::IteratorState(std::shared_ptr<DbCore> core, rocksdb::ColumnFamilyHandle* cf,
                             IteratorConfig config)
    : core_(std::move(core)), config_(std::move(config)), comparator_(cf->GetComparator()) {
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

IteratorState::~IteratorState() { Close(); }

bool IteratorState::ReadChunk(const ChunkLimits& limits, size_t initialBytes, PackedBytes* out,
                              ChunkFailure* failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  // The DB closes only after ReleaseBeforeClose took this lock and freed the iterator.
  if (iterator_ == nullptr) {
    Fail(failure, ErrorCode::kClosed, ClosedReason());
    return false;
  }
  rocksdb::Iterator& it = *iterator_;
  if (!positioned_) {
    it.SeekToFirst();
    positioned_ = true;
  }
  out->Clear();
  int64_t entries = 0;
  const rocksdb::Slice until(limits.until);
  for (; it.Valid() && entries < limits.maxEntries; it.Next()) {
    rocksdb::Slice key = it.key();
    if (limits.hasUntil && comparator_->Compare(key, until) >= 0) break;
    rocksdb::Slice value = config_.keysOnly ? rocksdb::Slice() : it.value();
    if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
      Fail(failure, ErrorCode::kNotSupported, "iterator.nextChunk: entry larger than 4 GiB");
      return false;
    }
    const size_t entryBytes = 8 + key.size() + value.size();
    // Always at least one entry, so an entry larger than maxBytes still moves.
    if (entries > 0 && out->size() + entryBytes > static_cast<uint64_t>(limits.maxBytes)) break;
    if (!out->Reserve(entryBytes, initialBytes)) {
      Fail(failure, ErrorCode::kInternal, "iterator.nextChunk: out of memory");
      return false;
    }
    out->AppendEntry(key, value);
    entries++;
  }
  const rocksdb::Status status = it.status();
  if (!status.ok()) {
    Fail(failure, ErrorCodeOf(status), "iterator.nextChunk: " + status.ToString());
    failure->hasStatus = true;
    failure->status = status.ToString();
    return false;
  }
  return true;
}

Napi::Value IteratorState::ReadChunkCopy(Napi::Env env, const ChunkLimits& limits) {
  ChunkFailure failure;
  if (!ReadChunk(limits, kFirstChunkBytes, &reused_, &failure)) throw FailureError(env, failure);
  if (reused_.size() == 0) return env.Null();
  Napi::Value buffer = reused_.CopyToBuffer(env);
  reused_.Clear();
  return buffer;
}

void IteratorState::Seek(Napi::Env env, const rocksdb::Slice& target) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (iterator_ == nullptr) {
    Throw(env, ErrorCode::kClosed, ClosedReason());
  }
  // Below the lower bound RocksDB seeks to the bound itself.
  iterator_->Seek(target);
  positioned_ = true;
  Check(env, iterator_->status(), "iterator.seek");
}

void IteratorState::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (iterator_ != nullptr && !core_->closed()) core_->Untrack(this);
  iterator_.reset();
}

void IteratorState::ReleaseBeforeClose() {
  std::lock_guard<std::mutex> lock(mutex_);
  iterator_.reset();
}

// ---- the async read ----

namespace {

// One nextChunkAsync call: reads on the thread pool, settles its promise on
// the JS thread. Holds the iterator's JS object (and through it the Db
// object) and its native state until then. Raw Node-API rather than
// Napi::AsyncWorker: completion also runs while a worker thread's environment
// is torn down, when no call into JS succeeds, and nothing there may throw.
struct ChunkRead {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref iterator = nullptr;
  std::shared_ptr<IteratorState> state;
  ChunkLimits limits{};
  PackedBytes bytes;
  ChunkFailure failure;
  bool ok = false;
};

void ExecuteRead(napi_env, void* data) {
  auto* read = static_cast<ChunkRead*>(data);
  // Room for a full chunk up front: growing it would copy what was read so far.
  const size_t initial = static_cast<size_t>(std::min<int64_t>(read->limits.maxBytes, kAsyncFirstChunkBytesMax));
  read->ok = read->state->ReadChunk(read->limits, initial, &read->bytes, &read->failure);
}

// The value that settles the promise, or nullptr when none can be made (the
// environment is going away, or out of memory).
napi_value Outcome(napi_env env, ChunkRead* read, bool* resolve) {
  try {
    Napi::Env e(env);
    if (read->ok) {
      *resolve = true;
      return read->bytes.size() == 0 ? e.Null() : read->bytes.MoveToBuffer(e);
    }
    *resolve = false;
    return FailureError(e, read->failure).Value();
  } catch (...) {
    return nullptr;
  }
}

void CompleteRead(napi_env env, napi_status status, void* data) {
  std::unique_ptr<ChunkRead> read(static_cast<ChunkRead*>(data));
  read->state->set_inFlight(false);
  napi_delete_async_work(env, read->work);
  if (status == napi_ok) {
    bool resolve = false;
    napi_value value = Outcome(env, read.get(), &resolve);
    if (value == nullptr) {
      napi_value message = nullptr;
      napi_create_string_utf8(env, "iterator.nextChunkAsync: cannot settle the read", NAPI_AUTO_LENGTH, &message);
      if (message != nullptr) napi_create_error(env, nullptr, message, &value);
      resolve = false;
    }
    // Statuses ignored on purpose: a failure here means the environment is going away.
    if (value != nullptr) {
      if (resolve) napi_resolve_deferred(env, read->deferred, value);
      else napi_reject_deferred(env, read->deferred, value);
    }
  }
  napi_delete_reference(env, read->iterator);
}

}  // namespace

// ---- the JS class ----

Napi::Function Iterator::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<Iterator>::DefineClass(env, kClassName,
                                                 {
                                                     InstanceMethod<&Iterator::Seek>("seek"),
                                                     InstanceMethod<&Iterator::NextChunk>("nextChunk"),
                                                     InstanceMethod<&Iterator::NextChunkAsync>("nextChunkAsync"),
                                                     InstanceMethod<&Iterator::Close>("close"),
                                                 });
}

// Made by `new` from JS: never initialised, behaves as closed.
Iterator::Iterator(const Napi::CallbackInfo& info) : Wrapped<Iterator>(info) {}

// An async read in flight holds this object, so none is running here.
Iterator::~Iterator() {
  if (state_ != nullptr) state_->Close();
}

void Iterator::Init(std::shared_ptr<DbCore> core, Napi::Object db, rocksdb::ColumnFamilyHandle* cf,
                    IteratorConfig config) {
  state_ = std::make_shared<IteratorState>(std::move(core), cf, std::move(config));
  db_ = Napi::Persistent(db);
}

void Iterator::ThrowIfBusy(Napi::Env env, const char* what) const {
  if (state_ != nullptr && state_->inFlight()) {
    Throw(env, ErrorCode::kBusy,
          std::string(what) + ": a nextChunkAsync call is in flight on this iterator; await it first");
  }
}

IteratorState& Iterator::Usable(Napi::Env env, const char* what) {
  ThrowIfBusy(env, what);
  if (state_ == nullptr) Throw(env, ErrorCode::kClosed, "iterator is closed");
  if (state_->core()->closed()) Throw(env, ErrorCode::kClosed, "database is closed");
  return *state_;
}

Napi::Value Iterator::Seek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IteratorState& state = Usable(env, "iterator.seek");
  state.Seek(env, Bytes(env, info[0], "target"));
  return env.Undefined();
}

Napi::Value Iterator::NextChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IteratorState& state = Usable(env, "iterator.nextChunk");
  return state.ReadChunkCopy(env, ChunkLimitArgs(info));
}

Napi::Value Iterator::NextChunkAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IteratorState& state = Usable(env, "iterator.nextChunkAsync");
  auto read = std::make_unique<ChunkRead>();
  read->limits = ChunkLimitArgs(info);
  read->state = state_;
  napi_value promise = nullptr;
  napi_value name = nullptr;
  if (napi_create_promise(env, &read->deferred, &promise) != napi_ok ||
      napi_create_reference(env, info.This(), 1, &read->iterator) != napi_ok ||
      napi_create_string_utf8(env, "keyed-state:nextChunkAsync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteRead, CompleteRead, read.get(), &read->work) != napi_ok) {
    if (read->iterator != nullptr) napi_delete_reference(env, read->iterator);
    if (read->work != nullptr) napi_delete_async_work(env, read->work);
    // The promise (if made) is never settled: nobody receives it.
    Throw(env, ErrorCode::kInternal, "iterator.nextChunkAsync: cannot start the read");
  }
  if (napi_queue_async_work(env, read->work) != napi_ok) {
    napi_delete_reference(env, read->iterator);
    napi_delete_async_work(env, read->work);
    Throw(env, ErrorCode::kInternal, "iterator.nextChunkAsync: cannot queue the read");
  }
  state.set_inFlight(true);
  read.release();  // CompleteRead owns it now
  return Napi::Value(env, promise);
}

// Idempotent, and a no-op after the DB closed (which closed it already).
// Refused while an async read is in flight: the caller awaits it first.
Napi::Value Iterator::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfBusy(env, "iterator.close");
  if (state_ != nullptr) state_->Close();
  state_.reset();
  db_.Reset();
  return env.Undefined();
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
