#include "sst_writer.h"

#include <cstring>

#include "addon_data.h"
#include "args.h"
#include "options.h"

namespace ks {

namespace {

uint32_t ReadU32le(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
         static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
}

}  // namespace

Napi::Function SstWriter::DefineClass(Napi::Env env) {
  return Napi::ObjectWrap<SstWriter>::DefineClass(env, kClassName,
                                                  {
                                                      InstanceMethod<&SstWriter::Put>("put"),
                                                      InstanceMethod<&SstWriter::PutChunk>("putChunk"),
                                                      InstanceMethod<&SstWriter::Finish>("finish"),
                                                      InstanceAccessor<&SstWriter::Entries>("entries"),
                                                  });
}

// Made by `new` from JS: no path, behaves as finished.
SstWriter::SstWriter(const Napi::CallbackInfo& info) : Wrapped<SstWriter>(info) {}

Napi::Value SstWriter::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringValue(env, info[0], "path");
  if (path.empty()) Throw(env, ErrorCode::kInvalidArgument, "path must not be empty");
  Napi::Object object = AddonData::Of(env)->sstWriterClass.New({});
  SstWriter* writer = Unwrap(object);
  writer->path_ = std::move(path);
  writer->options_ = MakeSstWriterOptions();
  writer->finished_ = false;
  return object;
}

void SstWriter::Add(Napi::Env env, const rocksdb::Slice& key, const rocksdb::Slice& value) {
  if (finished_) Throw(env, ErrorCode::kClosed, "sst writer is finished");
  if (writer_ == nullptr) {
    // Keep written pages cached: the file is usually ingested right away.
    auto writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options_, nullptr,
                                                           /*invalidate_page_cache=*/false);
    Check(env, writer->Open(path_), "sstWriter.open " + path_);
    writer_ = std::move(writer);
  }
  Check(env, writer_->Put(key, value), "sstWriter.put " + path_);
  entries_++;
}

Napi::Value SstWriter::Put(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Add(env, Bytes(env, info[0], "key"), Bytes(env, info[1], "value"));
  return env.Undefined();
}

Napi::Value SstWriter::PutChunk(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice chunk = Bytes(env, info[0], "chunk");
  const char* p = chunk.data();
  const size_t size = chunk.size();
  size_t offset = 0;
  // Validate an entry's framing before adding it, so a truncated chunk fails
  // at the offset where it breaks.
  auto truncated = [&](size_t at) {
    Throw(env, ErrorCode::kInvalidArgument,
          "sstWriter.putChunk: packed chunk truncated at offset " + std::to_string(at));
  };
  while (offset < size) {
    const size_t entryStart = offset;
    if (size - offset < 4) truncated(entryStart);
    const size_t keyLength = ReadU32le(p + offset);
    offset += 4;
    if (size - offset < keyLength + 4) truncated(entryStart);
    rocksdb::Slice key(p + offset, keyLength);
    offset += keyLength;
    const size_t valueLength = ReadU32le(p + offset);
    offset += 4;
    if (size - offset < valueLength) truncated(entryStart);
    rocksdb::Slice value(p + offset, valueLength);
    offset += valueLength;
    Add(env, key, value);
  }
  return env.Undefined();
}

Napi::Value SstWriter::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (finished_) Throw(env, ErrorCode::kClosed, "sst writer is finished");
  finished_ = true;
  if (writer_ == nullptr) return Napi::Number::New(env, 0);
  rocksdb::ExternalSstFileInfo file;
  rocksdb::Status s = writer_->Finish(&file);
  writer_.reset();
  Check(env, s, "sstWriter.finish " + path_);
  return Napi::Number::New(env, static_cast<double>(file.file_size));
}

Napi::Value SstWriter::Entries(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(entries_));
}

}  // namespace ks
