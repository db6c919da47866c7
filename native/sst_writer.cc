#include "sst_writer.h"

#include <cstring>

#include "addon_data.h"
#include "args.h"
#include "options.h"

namespace ks {

namespace {

constexpr uint64_t kBytesPerSync = 1 << 20;

uint32_t ReadU32le(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

}  // namespace

// ---- SstFile (any thread, one at a time) ----

bool SstFile::Fail(const rocksdb::Status& status, const std::string& what, SstFailure* failure) {
  failure->code = ErrorCodeOf(status);
  failure->status = status.ToString();
  failure->hasStatus = true;
  failure->message = what + " " + path_ + ": " + failure->status;
  return false;
}

bool SstFile::Add(const rocksdb::Slice& key, const rocksdb::Slice& value, SstFailure* failure) {
  if (finished_) {
    failure->code = ErrorCode::kClosed;
    failure->message = "sst writer is finished";
    return false;
  }
  if (writer_ == nullptr) {
    // Start writing pages out every MiB (sync_file_range, not waiting) so Finish's fsync has
    // little left: without it a 1 GB restore sat idle ~0.4 s at the end waiting on the disk.
    rocksdb::EnvOptions envOptions;
    envOptions.bytes_per_sync = kBytesPerSync;
    // Keep written pages cached: the file is usually ingested right away.
    auto writer = std::make_unique<rocksdb::SstFileWriter>(envOptions, options_, nullptr,
                                                           /*invalidate_page_cache=*/false);
    rocksdb::Status s = writer->Open(path_);
    if (!s.ok()) return Fail(s, "sstWriter.open", failure);
    writer_ = std::move(writer);
  }
  rocksdb::Status s = writer_->Put(key, value);
  if (!s.ok()) return Fail(s, "sstWriter.put", failure);
  entries_++;
  return true;
}

bool SstFile::AddPacked(const char* p, size_t size, size_t base, const KeyGroupBounds& bounds, SstFailure* failure) {
  size_t offset = 0;
  // Each entry's framing (and key group) is checked before it is added, so a
  // bad chunk fails at the offset where it breaks.
  auto bad = [&](size_t at, const std::string& why) {
    failure->code = ErrorCode::kInvalidArgument;
    failure->message = "sstWriter: packed entry at offset " + std::to_string(base + at) + " " + why;
    return false;
  };
  while (offset < size) {
    const size_t entryStart = offset;
    if (size - offset < 4) return bad(entryStart, "is truncated");
    const size_t keyLength = ReadU32le(p + offset);
    offset += 4;
    if (size - offset < 4 || size - offset - 4 < keyLength) return bad(entryStart, "is truncated");
    rocksdb::Slice key(p + offset, keyLength);
    offset += keyLength;
    const size_t valueLength = ReadU32le(p + offset);
    offset += 4;
    if (size - offset < valueLength) return bad(entryStart, "is truncated");
    rocksdb::Slice value(p + offset, valueLength);
    offset += valueLength;
    if (bounds.check) {
      if (keyLength < 2) return bad(entryStart, "has a key without a key-group prefix");
      const auto* k = reinterpret_cast<const unsigned char*>(key.data());
      const uint32_t keyGroup = static_cast<uint32_t>(k[0]) << 8 | k[1];
      if (keyGroup < bounds.min || keyGroup > bounds.max) {
        return bad(entryStart, "has key group " + std::to_string(keyGroup) + ", outside " + std::to_string(bounds.min) +
                                   ".." + std::to_string(bounds.max));
      }
    }
    if (!Add(key, value, failure)) {
      failure->message = "packed entry at offset " + std::to_string(base + entryStart) + ": " + failure->message;
      return false;
    }
  }
  return true;
}

bool SstFile::Finish(uint64_t* fileSize, SstFailure* failure) {
  if (finished_) {
    failure->code = ErrorCode::kClosed;
    failure->message = "sst writer is finished";
    return false;
  }
  finished_ = true;
  *fileSize = 0;
  if (writer_ == nullptr) return true;
  rocksdb::ExternalSstFileInfo file;
  rocksdb::Status s = writer_->Finish(&file);
  writer_.reset();
  if (!s.ok()) return Fail(s, "sstWriter.finish", failure);
  *fileSize = file.file_size;
  return true;
}

void SstFile::Abandon() {
  finished_ = true;
  writer_.reset();  // SstFileWriter's destructor abandons an unfinished table
}

Napi::Error SstFailureError(Napi::Env env, const SstFailure& failure) {
  return MakeError(env, failure.code, failure.message, failure.hasStatus ? &failure.status : nullptr);
}

// ---- the JS class ----

Napi::Function SstWriter::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<SstWriter>::DefineClass(env, kClassName,
                                                  {
                                                      InstanceMethod<&SstWriter::Put>("put"),
                                                      InstanceMethod<&SstWriter::PutChunk>("putChunk"),
                                                      InstanceMethod<&SstWriter::PutChunksAsync>("putChunksAsync"),
                                                      InstanceMethod<&SstWriter::Finish>("finish"),
                                                      InstanceMethod<&SstWriter::FinishAsync>("finishAsync"),
                                                      InstanceMethod<&SstWriter::Abort>("abort"),
                                                      InstanceAccessor<&SstWriter::Entries>("entries"),
                                                  });
}

// Made by `new` from JS: no file, behaves as finished.
SstWriter::SstWriter(const Napi::CallbackInfo& info) : Wrapped<SstWriter>(info) {}

Napi::Value SstWriter::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringValue(env, info[0], "path");
  if (path.empty()) Throw(env, ErrorCode::kInvalidArgument, "path must not be empty");
  rocksdb::CompressionType compression = DefaultCompression();
  if (info.Length() > 1 && !IsNullish(env, info[1])) {
    Napi::Object options = ObjectArg(env, info[1], "sstWriter options");
    CheckKnownKeys(env, options, "sstWriter options", {"compression"});
    Napi::Value name = options.Get("compression");
    if (!IsNullish(env, name)) compression = ParseCompression(env, StringValue(env, name, "compression"));
  }
  Napi::Object object = AddonData::Of(env)->sstWriterClass.New({});
  Unwrap(object)->file_ = std::make_shared<SstFile>(std::move(path), MakeSstWriterOptions(compression));
  return object;
}

SstFile& SstWriter::Usable(Napi::Env env, const char* what) {
  if (file_ != nullptr && file_->busy()) {
    Throw(env, ErrorCode::kBusy, std::string(what) + ": an async call is in flight on this sst writer; await it first");
  }
  if (file_ == nullptr || file_->finished()) Throw(env, ErrorCode::kClosed, "sst writer is finished");
  return *file_;
}

Napi::Value SstWriter::Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SstFile& file = Usable(env, "sstWriter.put");
  SstFailure failure;
  if (!file.Add(Bytes(env, info[0], "key"), Bytes(env, info[1], "value"), &failure)) throw SstFailureError(env, failure);
  return env.Undefined();
}

Napi::Value SstWriter::PutChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SstFile& file = Usable(env, "sstWriter.putChunk");
  rocksdb::Slice chunk = Bytes(env, info[0], "chunk");
  SstFailure failure;
  if (!file.AddPacked(chunk.data(), chunk.size(), 0, KeyGroupBounds{}, &failure)) throw SstFailureError(env, failure);
  return env.Undefined();
}

Napi::Value SstWriter::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SstFile& file = Usable(env, "sstWriter.finish");
  uint64_t size = 0;
  SstFailure failure;
  if (!file.Finish(&size, &failure)) throw SstFailureError(env, failure);
  return Napi::Number::New(env, static_cast<double>(size));
}

// Idempotent: drops an unfinished file's writer (a failed restore); refused while an async call is in flight.
Napi::Value SstWriter::Abort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (file_ != nullptr && file_->busy()) {
    Throw(env, ErrorCode::kBusy, "sstWriter.abort: an async call is in flight on this sst writer; await it first");
  }
  if (file_ != nullptr) file_->Abandon();
  return env.Undefined();
}

Napi::Value SstWriter::Entries(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(file_ == nullptr ? 0 : file_->entries()));
}

}  // namespace ks
