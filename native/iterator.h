// An iterator over one column family, optionally bounded and on a snapshot.
// Entries cross into JS in packed chunks (one N-API call for many entries):
// repeated (u32le keyLength | key | u32le valueLength | value).
//
// A chunk is read either on the JS thread (nextChunk) or on the libuv thread
// pool (nextChunkAsync, so a reader can work on one chunk while the next is
// read). The RocksDB iterator lives in an IteratorState shared by the JS
// object and the async read in flight: whoever runs last frees it, and a DB
// close in the middle waits for the chunk being read instead of pulling the
// iterator from under the thread pool.
#pragma once

#include <napi.h>
#include <rocksdb/iterator.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "db_core.h"
#include "wrapped.h"

namespace ks {

struct IteratorConfig {
  bool hasLower = false;
  std::string lower;  // inclusive
  bool hasUpper = false;
  std::string upper;  // exclusive
  const rocksdb::Snapshot* snapshot = nullptr;
  bool keysOnly = false;
};

// The packed bytes of one chunk. The JS-thread read reuses one (fresh memory
// per chunk costs a page fault per 4 KiB there, more than copying the chunk
// into the Buffer handed to JS); a thread-pool read fills a fresh one, whose
// page faults fall on the thread pool, and hands its memory to JS as is.
class PackedBytes {
 public:
  PackedBytes() = default;
  PackedBytes(const PackedBytes&) = delete;
  PackedBytes& operator=(const PackedBytes&) = delete;
  ~PackedBytes() { std::free(data_); }

  // Room for `extra` more bytes, at least `initial` in all; false when out of memory.
  bool Reserve(size_t extra, size_t initial);
  void AppendEntry(const rocksdb::Slice& key, const rocksdb::Slice& value);
  size_t size() const { return size_; }
  // Empties the chunk; gives very large room back (one huge entry must not pin it).
  void Clear();
  // A new Buffer with a copy of the bytes.
  Napi::Buffer<char> CopyToBuffer(Napi::Env env) const;
  // A Buffer that owns the bytes (freed with it); this object is empty afterwards.
  Napi::Buffer<char> MoveToBuffer(Napi::Env env);

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// How much one chunk read may take. `until` (exclusive key) holds its own
// bytes: a thread-pool read outlives the JS call that gave it.
struct ChunkLimits {
  int64_t maxEntries = 0;
  int64_t maxBytes = 0;
  bool hasUntil = false;
  std::string until;
};

// Why a chunk read failed, built into a JS error on the JS thread.
struct ChunkFailure {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool hasStatus = false;
  std::string status;
};

// The RocksDB side of one iterator. `mutex` guards `iterator` and
// `positioned`: the JS thread (sync calls, close, DB close) and one thread-pool
// read may touch them.
class IteratorState : public DbResource {
 public:
  IteratorState(std::shared_ptr<DbCore> core, rocksdb::ColumnFamilyHandle* cf, IteratorConfig config);
  ~IteratorState() override;

  // Reads the next entries into `out` (empty: exhausted), stopping before the
  // first key >= `until` when given (the iterator stays on it); `initialBytes`
  // is the room to start with. Any thread; false with `failure` set on error.
  bool ReadChunk(const ChunkLimits& limits, size_t initialBytes, PackedBytes* out, ChunkFailure* failure);
  // nextChunk: reads into the reused bytes and copies them out. JS thread.
  Napi::Value ReadChunkCopy(Napi::Env env, const ChunkLimits& limits);
  // JS thread. Throws CLOSED when the iterator or its DB is closed.
  void Seek(Napi::Env env, const rocksdb::Slice& target);
  // JS thread; idempotent. Waits for a chunk being read on the thread pool.
  void Close();
  // DbCore::Close (JS thread): frees the RocksDB iterator before the DB goes.
  void ReleaseBeforeClose() override;
  const std::shared_ptr<DbCore>& core() const { return core_; }
  // Why the iterator is gone: its DB closed, or it was closed itself.
  const char* ClosedReason() const { return core_->closed() ? "database is closed" : "iterator is closed"; }
  // Whether a thread-pool read is in flight. JS thread only.
  bool inFlight() const { return inFlight_; }
  void set_inFlight(bool value) { inFlight_ = value; }

 private:
  std::mutex mutex_;
  std::shared_ptr<DbCore> core_;
  // The bounds live here: ReadOptions only points at them.
  IteratorConfig config_;
  rocksdb::Slice lowerSlice_;
  rocksdb::Slice upperSlice_;
  std::unique_ptr<rocksdb::Iterator> iterator_;
  // The column family's key order, for `until`.
  const rocksdb::Comparator* comparator_;
  bool positioned_ = false;
  PackedBytes reused_;  // nextChunk's, JS thread only
  bool inFlight_ = false;
};

class Iterator : public Wrapped<Iterator> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000003ull};
  static constexpr const char* kClassName = "RocksIterator";

  static Napi::Function DefineClass(Napi::Env env);
  explicit Iterator(const Napi::CallbackInfo& info);
  ~Iterator() override;

  void Init(std::shared_ptr<DbCore> core, Napi::Object db, rocksdb::ColumnFamilyHandle* cf,
            IteratorConfig config);

 private:
  Napi::Value Seek(const Napi::CallbackInfo& info);
  Napi::Value NextChunk(const Napi::CallbackInfo& info);
  Napi::Value NextChunkAsync(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // Throws BUSY while a nextChunkAsync read is in flight.
  void ThrowIfBusy(Napi::Env env, const char* what) const;
  // The state for a call from JS: CLOSED when closed, BUSY while an async read is in flight.
  IteratorState& Usable(Napi::Env env, const char* what);

  std::shared_ptr<IteratorState> state_;
  Napi::ObjectReference db_;
};

}  // namespace ks
