// Writes an SST file for ingestion into one of our DBs (same comparator, merge
// operator and table format). The file is created by the first entry, so an
// empty writer leaves nothing behind.
#pragma once

#include <napi.h>
#include <rocksdb/sst_file_writer.h>

#include <cstdint>
#include <memory>
#include <string>

#include "wrapped.h"

namespace ks {

class SstWriter : public Wrapped<SstWriter> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000005ull};
  static constexpr const char* kClassName = "SstWriter";

  static Napi::Function DefineClass(Napi::Env env);
  // Export: sstWriter(path).
  static Napi::Value Create(const Napi::CallbackInfo& info);
  explicit SstWriter(const Napi::CallbackInfo& info);

 private:
  Napi::Value Put(const Napi::CallbackInfo& info);
  Napi::Value PutChunk(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  Napi::Value Entries(const Napi::CallbackInfo& info);
  void Add(Napi::Env env, const rocksdb::Slice& key, const rocksdb::Slice& value);

  std::string path_;
  rocksdb::Options options_;
  std::unique_ptr<rocksdb::SstFileWriter> writer_;
  bool finished_ = true;  // until Create sets the path
  uint64_t entries_ = 0;
};

}  // namespace ks
