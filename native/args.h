// Reading JS arguments. Every reader throws INVALID_ARGUMENT naming the
// argument on a wrong type; none of them copies byte arguments.
#pragma once

#include <napi.h>
#include <rocksdb/slice.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace ks {

inline bool IsNullish(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) != napi_ok || type == napi_undefined || type == napi_null;
}
inline bool IsNullish(Napi::Value value) { return IsNullish(value.Env(), value); }

// The bytes of a Uint8Array (Buffer included), pointing into its memory: valid
// until JS runs again.
rocksdb::Slice Bytes(napi_env env, napi_value value, const char* name);

// A writable view of a Uint8Array.
struct MutableBytes {
  char* data;
  size_t size;
};
MutableBytes WritableBytes(napi_env env, napi_value value, const char* name);

// Like Bytes, but undefined/null gives `present = false`.
struct OptionalSlice {
  bool present = false;
  rocksdb::Slice slice;
};
OptionalSlice OptionalBytes(napi_env env, napi_value value, const char* name);

// The [start, end) byte arguments of a range delete. start > end is refused
// here: RocksDB would accept the write and then fail inside the memtable,
// which stops the whole DB from accepting writes.
struct KeyRange {
  rocksdb::Slice start;
  rocksdb::Slice end;
};
KeyRange RangeArgs(napi_env env, napi_value start, napi_value end);

// An integer in [min, max]; fractions, NaN and non-numbers are rejected.
int64_t Integer(napi_env env, napi_value value, const char* name, int64_t min, int64_t max);

std::string StringValue(Napi::Env env, Napi::Value value, const char* name);
std::vector<std::string> StringArray(Napi::Env env, Napi::Value value, const char* name);
Napi::Object ObjectArg(Napi::Env env, Napi::Value value, const char* name);

// Rejects keys not in `known`, so a misspelled option fails loudly.
void CheckKnownKeys(Napi::Env env, Napi::Object object, const char* what,
                    std::initializer_list<const char*> known);
bool OptionalBool(Napi::Env env, Napi::Object object, const char* key, bool fallback);
uint64_t OptionalSize(Napi::Env env, Napi::Object object, const char* key, uint64_t fallback);

}  // namespace ks
