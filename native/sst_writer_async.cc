// The thread-pool half of the sst writer: putChunksAsync adds the packed
// chunks it is given on the thread pool, checking each entry's framing and key
// group. It holds the chunks (references, no copy: copying a restore's
// gigabytes cost the event loop more than reading them) until it settles, so
// the caller must not change them meanwhile — the restore reader never reuses
// a chunk it handed over;
// finishAsync finishes the file (block flush, index, fsync) there. A restore
// runs several writers at once this way, while the event loop reads and
// verifies the next blocks. Raw Node-API for the reasons iterator.cc gives.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "sst_writer.h"

namespace ks {

namespace {

struct SstWork {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref writer = nullptr;  // keeps the JS object alive until the work settles
  std::shared_ptr<SstFile> file;
  bool finish = false;
  std::vector<napi_ref> held;         // the chunks' JS objects, alive until the work settles
  std::vector<rocksdb::Slice> chunks;  // their bytes
  KeyGroupBounds bounds;
  uint64_t fileSize = 0;
  SstFailure failure;
  bool ok = false;
};

void ExecuteSstWork(napi_env, void* data) {
  auto* work = static_cast<SstWork*>(data);
  if (work->finish) {
    work->ok = work->file->Finish(&work->fileSize, &work->failure);
    return;
  }
  work->ok = true;
  size_t base = 0;
  for (const rocksdb::Slice& chunk : work->chunks) {
    if (!work->file->AddPacked(chunk.data(), chunk.size(), base, work->bounds, &work->failure)) {
      work->ok = false;
      return;
    }
    base += chunk.size();
  }
}

void ReleaseHeld(napi_env env, SstWork* work) {
  for (napi_ref ref : work->held) napi_delete_reference(env, ref);
  work->held.clear();
}

void CompleteSstWork(napi_env env, napi_status status, void* data) {
  std::unique_ptr<SstWork> work(static_cast<SstWork*>(data));
  work->file->set_busy(false);
  napi_delete_async_work(env, work->work);
  ReleaseHeld(env, work.get());
  if (status == napi_ok) {
    napi_value value = nullptr;
    try {
      Napi::Env e(env);
      if (work->ok) value = work->finish ? Napi::Number::New(e, static_cast<double>(work->fileSize)) : e.Undefined();
      else value = SstFailureError(e, work->failure).Value();
    } catch (...) {
      value = nullptr;
    }
    // Statuses ignored on purpose: a failure here means the environment is going away.
    if (value != nullptr) {
      if (work->ok) napi_resolve_deferred(env, work->deferred, value);
      else napi_reject_deferred(env, work->deferred, value);
    }
  }
  napi_delete_reference(env, work->writer);
}

// Queues `work` (the file already checked usable); returns its promise.
Napi::Value Queue(Napi::Env env, napi_value self, std::unique_ptr<SstWork> work, const char* what) {
  napi_value promise = nullptr;
  napi_value name = nullptr;
  if (napi_create_promise(env, &work->deferred, &promise) != napi_ok ||
      napi_create_reference(env, self, 1, &work->writer) != napi_ok ||
      napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteSstWork, CompleteSstWork, work.get(), &work->work) != napi_ok ||
      napi_queue_async_work(env, work->work) != napi_ok) {
    if (work->writer != nullptr) napi_delete_reference(env, work->writer);
    if (work->work != nullptr) napi_delete_async_work(env, work->work);
    ReleaseHeld(env, work.get());
    // The promise (if made) is never settled: nobody receives it.
    Throw(env, ErrorCode::kInternal, std::string(what) + ": cannot queue the work");
  }
  work->file->set_busy(true);
  work.release();  // CompleteSstWork owns it now
  return Napi::Value(env, promise);
}

}  // namespace

// putChunksAsync(chunks: Uint8Array[], minKeyGroup?, maxKeyGroup?): every key
// must start with a u16be key group in [min, max] when they are given.
Napi::Value SstWriter::PutChunksAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Usable(env, "sstWriter.putChunksAsync");
  if (!info[0].IsArray()) Throw(env, ErrorCode::kInvalidArgument, "chunks must be an array of Uint8Array");
  Napi::Array chunks = info[0].As<Napi::Array>();
  auto work = std::make_unique<SstWork>();
  if (!IsNullish(info[1]) || !IsNullish(info[2])) {
    work->bounds.check = true;
    work->bounds.min = static_cast<uint32_t>(Integer(env, info[1], "minKeyGroup", 0, 0xffff));
    work->bounds.max = static_cast<uint32_t>(Integer(env, info[2], "maxKeyGroup", 0, 0xffff));
    if (work->bounds.min > work->bounds.max) Throw(env, ErrorCode::kInvalidArgument, "minKeyGroup > maxKeyGroup");
  }
  const uint32_t n = chunks.Length();
  work->held.reserve(n);
  work->chunks.reserve(n);
  // Every chunk checked before any is held, so a bad one leaves no reference behind.
  std::vector<Napi::Value> values;
  values.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    values.push_back(chunks.Get(i));
    Bytes(env, values.back(), "chunk");
  }
  for (const Napi::Value& chunk : values) {
    rocksdb::Slice bytes = Bytes(env, chunk, "chunk");
    napi_ref ref = nullptr;
    if (napi_create_reference(env, chunk, 1, &ref) != napi_ok) {
      ReleaseHeld(env, work.get());
      Throw(env, ErrorCode::kInternal, "sstWriter.putChunksAsync: cannot hold a chunk");
    }
    work->held.push_back(ref);
    work->chunks.push_back(bytes);
  }
  work->file = file_;
  return Queue(env, info.This(), std::move(work), "keyed-state:sstWriter.putChunksAsync");
}

// finishAsync(): the file's size, 0 when no entry was added (then no file exists).
Napi::Value SstWriter::FinishAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Usable(env, "sstWriter.finishAsync");
  auto work = std::make_unique<SstWork>();
  work->finish = true;
  work->file = file_;
  return Queue(env, info.This(), std::move(work), "keyed-state:sstWriter.finishAsync");
}

}  // namespace ks
