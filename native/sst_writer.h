// Writes an SST file for ingestion into one of our DBs (same comparator, merge
// operator and table format). The file is created by the first entry, so an
// empty writer leaves nothing behind. Entries are added on the JS thread
// (put, putChunk, finish) or on the thread pool (putChunksAsync, finishAsync:
// sst_writer_async.cc), never both at once: while an async call is in flight
// every other call is refused with BUSY.
#pragma once

#include <napi.h>
#include <rocksdb/sst_file_writer.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "status.h"
#include "wrapped.h"

namespace ks {

// Why adding to or finishing a file failed, built off the JS thread.
struct SstFailure {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool hasStatus = false;
  std::string status;
};

// Key groups an entry must have (the u16be prefix of its key); all when min > max is not set.
struct KeyGroupBounds {
  bool check = false;
  uint32_t min = 0;
  uint32_t max = 0;
};

// The file itself, shared between the JS object and async work in flight.
// One caller at a time: the JS object sets `busy` while work runs.
class SstFile {
 public:
  SstFile(std::string path, rocksdb::Options options) : path_(std::move(path)), options_(std::move(options)) {}

  const std::string& path() const { return path_; }
  bool finished() const { return finished_; }
  uint64_t entries() const { return entries_.load(std::memory_order_relaxed); }
  bool busy() const { return busy_.load(); }
  void set_busy(bool busy) { busy_.store(busy); }

  // Adds every entry of packed chunks (u32le keyLength | key | u32le valueLength | value)*.
  // `base` is the offset of `data` in what the caller handed over, for messages.
  bool AddPacked(const char* data, size_t size, size_t base, const KeyGroupBounds& bounds, SstFailure* failure);
  bool Add(const rocksdb::Slice& key, const rocksdb::Slice& value, SstFailure* failure);
  // Finishes the file; `*fileSize` is 0 when no entry was added (then no file exists).
  bool Finish(uint64_t* fileSize, SstFailure* failure);
  // Drops an unfinished file's writer (the caller removes the file).
  void Abandon();

 private:
  bool Fail(const rocksdb::Status& status, const std::string& what, SstFailure* failure);

  const std::string path_;
  const rocksdb::Options options_;
  std::unique_ptr<rocksdb::SstFileWriter> writer_;
  bool finished_ = false;
  std::atomic<uint64_t> entries_{0};  // read by the JS accessor while work runs
  std::atomic<bool> busy_{false};
};

class SstWriter : public Wrapped<SstWriter> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000005ull};
  static constexpr const char* kClassName = "SstWriter";

  static Napi::Function DefineClass(Napi::Env env);
  // Export: sstWriter(path, { compression }?).
  static Napi::Value Create(const Napi::CallbackInfo& info);
  explicit SstWriter(const Napi::CallbackInfo& info);

 private:
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value PutChunk(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Entries(const Napi::CallbackInfo& info);
  // sst_writer_async.cc
  Napi::Value PutChunksAsync(const Napi::CallbackInfo& info);
  Napi::Value FinishAsync(const Napi::CallbackInfo& info);

  // The file, unless finished, aborted or busy (then throws CLOSED or BUSY).
  SstFile& Usable(Napi::Env env, const char* what);

  std::shared_ptr<SstFile> file_;  // null until Create sets it: behaves as finished
};

Napi::Error SstFailureError(Napi::Env env, const SstFailure& failure);

}  // namespace ks
