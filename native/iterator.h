// An iterator over one column family, optionally bounded and on a snapshot.
// Entries cross into JS in packed chunks (one N-API call for many entries):
// repeated (u32le keyLength | key | u32le valueLength | value).
#pragma once

#include <napi.h>
#include <rocksdb/iterator.h>

#include <memory>
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

class Iterator : public Wrapped<Iterator>, public DbResource {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6b657965645f7374ull, 0x617465db00000003ull};
  static constexpr const char* kClassName = "RocksIterator";

  static Napi::Function DefineClass(Napi::Env env);
  explicit Iterator(const Napi::CallbackInfo& info);
  ~Iterator() override;

  void Init(std::shared_ptr<DbCore> core, Napi::Object db, rocksdb::ColumnFamilyHandle* cf,
            IteratorConfig config);
  void ReleaseBeforeClose() override { iterator_.reset(); }

 private:
  Napi::Value Seek(const Napi::CallbackInfo& info);
  Napi::Value NextChunk(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  rocksdb::Iterator& OpenIterator(Napi::Env env);
  void CloseNative();

  std::shared_ptr<DbCore> core_;
  Napi::ObjectReference db_;
  // The bounds live here: ReadOptions only points at them.
  IteratorConfig config_;
  rocksdb::Slice lowerSlice_;
  rocksdb::Slice upperSlice_;
  std::unique_ptr<rocksdb::Iterator> iterator_;
  bool positioned_ = false;
  std::string chunk_;  // reused between chunks
};

}  // namespace ks
