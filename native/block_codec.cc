#include "block_codec.h"

#include <snappy.h>

#include <memory>
#include <string>

#include "args.h"
#include "crc32.h"
#include "status.h"

namespace ks {

namespace {

// A sample is compressed on the caller's thread: keep it small.
constexpr size_t kSampleBytesMax = 1 << 20;

// Bound of a block's raw size here; the format's own limit (BLOCK_RAW_BYTES_LIMIT) is lower.
constexpr int64_t kRawBytesMax = int64_t{1} << 31;

// Checks the preamble announces `rawLength`, so a forged length never sizes an allocation.
void CheckAnnounced(Napi::Env env, const rocksdb::Slice& stored, size_t rawLength) {
  size_t announced = 0;
  if (!snappy::GetUncompressedLength(stored.data(), stored.size(), &announced)) {
    Throw(env, ErrorCode::kCorruption, "snappy block has a malformed length preamble");
  }
  if (announced != rawLength) {
    Throw(env, ErrorCode::kCorruption,
          "snappy block announces " + std::to_string(announced) + " bytes, expected " + std::to_string(rawLength));
  }
}

// One call on the thread pool: a CRC of `input`, or its decompression into `output`.
struct BlockWork {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref input = nullptr;   // the bytes read, alive until the work settles
  napi_ref output = nullptr;  // the Buffer being filled (decompression only)
  const char* data = nullptr;
  size_t size = 0;
  char* raw = nullptr;
  uint32_t crc = 0;
  bool ok = false;
};

void ExecuteBlockWork(napi_env, void* data) {
  auto* work = static_cast<BlockWork*>(data);
  if (work->output == nullptr) {
    work->crc = Crc32(0, work->data, work->size);
    work->ok = true;
  } else {
    work->ok = snappy::RawUncompress(work->data, work->size, work->raw);
  }
}

void CompleteBlockWork(napi_env env, napi_status status, void* data) {
  std::unique_ptr<BlockWork> work(static_cast<BlockWork*>(data));
  napi_delete_async_work(env, work->work);
  if (status == napi_ok) {
    napi_value value = nullptr;
    try {
      Napi::Env e(env);
      if (!work->ok) value = MakeError(e, ErrorCode::kCorruption, "snappy block does not decompress").Value();
      else if (work->output == nullptr) value = Napi::Number::New(e, work->crc);
      else napi_get_reference_value(env, work->output, &value);
    } catch (...) {
      value = nullptr;
    }
    // Statuses ignored on purpose: a failure here means the environment is going away.
    if (value != nullptr) {
      if (work->ok) napi_resolve_deferred(env, work->deferred, value);
      else napi_reject_deferred(env, work->deferred, value);
    }
  }
  napi_delete_reference(env, work->input);
  if (work->output != nullptr) napi_delete_reference(env, work->output);
}

// Queues `work` (input set, output set for a decompression); returns its promise.
Napi::Value Queue(Napi::Env env, napi_value input, napi_value output, std::unique_ptr<BlockWork> work, const char* what) {
  napi_value promise = nullptr;
  napi_value name = nullptr;
  if (napi_create_promise(env, &work->deferred, &promise) != napi_ok ||
      napi_create_reference(env, input, 1, &work->input) != napi_ok ||
      (output != nullptr && napi_create_reference(env, output, 1, &work->output) != napi_ok) ||
      napi_create_string_utf8(env, what, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteBlockWork, CompleteBlockWork, work.get(), &work->work) !=
          napi_ok ||
      napi_queue_async_work(env, work->work) != napi_ok) {
    if (work->input != nullptr) napi_delete_reference(env, work->input);
    if (work->output != nullptr) napi_delete_reference(env, work->output);
    if (work->work != nullptr) napi_delete_async_work(env, work->work);
    // The promise (if made) is never settled: nobody receives it.
    Throw(env, ErrorCode::kInternal, std::string(what) + ": cannot queue the work");
  }
  work.release();  // CompleteBlockWork owns it now
  return Napi::Value(env, promise);
}

// The arguments (stored, rawLength) checked, and the Buffer the block decompresses into.
struct UncompressArgs {
  rocksdb::Slice stored;
  Napi::Buffer<char> raw;
};

UncompressArgs UncompressArgsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice stored = Bytes(env, info[0], "stored");
  const size_t rawLength = static_cast<size_t>(Integer(env, info[1], "rawLength", 0, kRawBytesMax));
  CheckAnnounced(env, stored, rawLength);
  return {stored, Napi::Buffer<char>::New(env, rawLength)};
}

}  // namespace

Napi::Value SnappyUncompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [stored, raw] = UncompressArgsOf(info);
  if (!snappy::RawUncompress(stored.data(), stored.size(), raw.Data())) {
    Throw(env, ErrorCode::kCorruption, "snappy block does not decompress");
  }
  return raw;
}

Napi::Value SnappyUncompressAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [stored, raw] = UncompressArgsOf(info);
  auto work = std::make_unique<BlockWork>();
  work->data = stored.data();
  work->size = stored.size();
  work->raw = raw.Data();
  return Queue(env, info[0], raw, std::move(work), "keyed-state:snappyUncompressAsync");
}

Napi::Value SnappyCompressedLength(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice bytes = Bytes(env, info[0], "bytes");
  if (bytes.size() > kSampleBytesMax) {
    Throw(env, ErrorCode::kInvalidArgument, "snappyCompressedLength takes at most " + std::to_string(kSampleBytesMax) + " bytes");
  }
  std::string compressed(snappy::MaxCompressedLength(bytes.size()), '\0');
  size_t length = 0;
  snappy::RawCompress(bytes.data(), bytes.size(), compressed.data(), &length);
  return Napi::Number::New(env, static_cast<double>(length));
}

Napi::Value Crc32Async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice bytes = Bytes(env, info[0], "bytes");
  auto work = std::make_unique<BlockWork>();
  work->data = bytes.data();
  work->size = bytes.size();
  return Queue(env, info[0], nullptr, std::move(work), "keyed-state:crc32Async");
}

}  // namespace ks
