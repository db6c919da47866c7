#include "args.h"

#include <cmath>

#include "status.h"

namespace ks {

namespace {

[[noreturn]] void Invalid(napi_env env, const std::string& message) {
  Throw(Napi::Env(env), ErrorCode::kInvalidArgument, message);
}

// Byte arguments must be Uint8Array: other typed arrays would be accepted by
// napi_get_typedarray_info but their length is in elements, not bytes.
bool ReadUint8Array(napi_env env, napi_value value, void** data, size_t* length) {
  napi_typedarray_type type;
  // `data` already includes the view's byte offset.
  if (napi_get_typedarray_info(env, value, &type, length, data, nullptr, nullptr) != napi_ok) {
    return false;
  }
  return type == napi_uint8_array || type == napi_uint8_clamped_array;
}

}  // namespace

rocksdb::Slice Bytes(napi_env env, napi_value value, const char* name) {
  void* data;
  size_t length;
  if (!ReadUint8Array(env, value, &data, &length)) {
    Invalid(env, std::string(name) + " must be a Uint8Array or Buffer");
  }
  // A zero-length array may report a null pointer; RocksDB compares with memcmp.
  return length == 0 ? rocksdb::Slice("", 0) : rocksdb::Slice(static_cast<const char*>(data), length);
}

MutableBytes WritableBytes(napi_env env, napi_value value, const char* name) {
  void* data;
  size_t length;
  if (!ReadUint8Array(env, value, &data, &length)) {
    Invalid(env, std::string(name) + " must be a Uint8Array or Buffer");
  }
  return MutableBytes{static_cast<char*>(data), length};
}

OptionalSlice OptionalBytes(napi_env env, napi_value value, const char* name) {
  OptionalSlice out;
  if (IsNullish(env, value)) return out;
  out.present = true;
  out.slice = Bytes(env, value, name);
  return out;
}

KeyRange RangeArgs(napi_env env, napi_value start, napi_value end) {
  KeyRange range{Bytes(env, start, "start"), Bytes(env, end, "end")};
  if (range.start.compare(range.end) > 0) Invalid(env, "range start must not be greater than its end");
  return range;
}

int64_t Integer(napi_env env, napi_value value, const char* name, int64_t min, int64_t max) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    Invalid(env, std::string(name) + " must be a number");
  }
  if (!std::isfinite(number) || std::trunc(number) != number || number < static_cast<double>(min) ||
      number > static_cast<double>(max)) {
    Invalid(env, std::string(name) + " must be an integer between " + std::to_string(min) + " and " +
                     std::to_string(max));
  }
  return static_cast<int64_t>(number);
}

std::string StringValue(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsString()) Invalid(env, std::string(name) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

std::vector<std::string> StringArray(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsArray()) Invalid(env, std::string(name) + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) Invalid(env, std::string(name) + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

Napi::Object ObjectArg(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsObject() || value.IsArray()) Invalid(env, std::string(name) + " must be an object");
  return value.As<Napi::Object>();
}

void CheckKnownKeys(Napi::Env env, Napi::Object object, const char* what,
                    std::initializer_list<const char*> known) {
  Napi::Array names = object.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string key = names.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (ok) continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    Invalid(env, std::string("unknown ") + what + " '" + key + "' (known: " + list + ")");
  }
}

bool OptionalBool(Napi::Env env, Napi::Object object, const char* key, bool fallback) {
  Napi::Value value = object.Get(key);
  if (IsNullish(value)) return fallback;
  if (!value.IsBoolean()) Invalid(env, std::string(key) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

uint64_t OptionalSize(Napi::Env env, Napi::Object object, const char* key, uint64_t fallback) {
  Napi::Value value = object.Get(key);
  if (IsNullish(value)) return fallback;
  // 2^53: the largest integer a JS number holds exactly.
  return static_cast<uint64_t>(Integer(env, value, key, 0, 9007199254740991LL));
}

}  // namespace ks
