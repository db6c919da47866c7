// Turns rocksdb::Status and our own argument/lifetime failures into JS errors
// that carry a `code`. Callers branch on the code, never on the message.
#pragma once

#include <napi.h>
#include <rocksdb/status.h>

#include <string>

namespace ks {

enum class ErrorCode {
  kNotFound,
  kCorruption,
  kNotSupported,
  kInvalidArgument,
  kIoError,
  kBusy,
  kTimedOut,
  kAborted,
  kIncomplete,
  kShutdownInProgress,
  kTryAgain,
  kDiskFull,
  kClosed,
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);
ErrorCode ErrorCodeOf(const rocksdb::Status& status);

// The error object, built by the factory the loader registered (so JS receives
// its own error class) or, without one, a plain Error with `code` set.
// `status` is the RocksDB status text when the error came from RocksDB.
Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message,
                      const std::string* status = nullptr);

[[noreturn]] void Throw(Napi::Env env, ErrorCode code, const std::string& message);

// `what` names the operation (and file), e.g. "put" or "open /tmp/db".
[[noreturn]] void ThrowStatus(Napi::Env env, const rocksdb::Status& status, const std::string& what);

inline void Check(Napi::Env env, const rocksdb::Status& status, const char* what) {
  if (!status.ok()) ThrowStatus(env, status, what);
}
inline void Check(Napi::Env env, const rocksdb::Status& status, const std::string& what) {
  if (!status.ok()) ThrowStatus(env, status, what);
}

}  // namespace ks
