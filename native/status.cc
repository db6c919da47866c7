#include "status.h"

#include "addon_data.h"

namespace ks {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound: return "NOT_FOUND";
    case ErrorCode::kCorruption: return "CORRUPTION";
    case ErrorCode::kNotSupported: return "NOT_SUPPORTED";
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kIoError: return "IO_ERROR";
    case ErrorCode::kBusy: return "BUSY";
    case ErrorCode::kTimedOut: return "TIMED_OUT";
    case ErrorCode::kAborted: return "ABORTED";
    case ErrorCode::kIncomplete: return "INCOMPLETE";
    case ErrorCode::kShutdownInProgress: return "SHUTDOWN_IN_PROGRESS";
    case ErrorCode::kTryAgain: return "TRY_AGAIN";
    case ErrorCode::kDiskFull: return "DISK_FULL";
    case ErrorCode::kClosed: return "CLOSED";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

ErrorCode ErrorCodeOf(const rocksdb::Status& status) {
  using Code = rocksdb::Status::Code;
  using SubCode = rocksdb::Status::SubCode;
  // Sub codes refine IOError into what a caller acts on (disk full, missing path).
  const bool io = status.code() == Code::kIOError || status.code() == Code::kNotFound;
  switch (io ? status.subcode() : SubCode::kNone) {
    case SubCode::kNoSpace:
    case SubCode::kSpaceLimit:
      return ErrorCode::kDiskFull;
    case SubCode::kPathNotFound:
      return ErrorCode::kNotFound;
    default:
      break;
  }
  switch (status.code()) {
    case Code::kNotFound: return ErrorCode::kNotFound;
    case Code::kCorruption: return ErrorCode::kCorruption;
    case Code::kNotSupported: return ErrorCode::kNotSupported;
    case Code::kInvalidArgument: return ErrorCode::kInvalidArgument;
    case Code::kIOError: return ErrorCode::kIoError;
    case Code::kBusy: return ErrorCode::kBusy;
    case Code::kTimedOut: return ErrorCode::kTimedOut;
    case Code::kExpired: return ErrorCode::kTimedOut;
    case Code::kAborted: return ErrorCode::kAborted;
    case Code::kCompactionTooLarge: return ErrorCode::kAborted;
    case Code::kIncomplete: return ErrorCode::kIncomplete;
    case Code::kShutdownInProgress: return ErrorCode::kShutdownInProgress;
    case Code::kTryAgain: return ErrorCode::kTryAgain;
    case Code::kColumnFamilyDropped: return ErrorCode::kInvalidArgument;
    default: return ErrorCode::kInternal;
  }
}

static Napi::Error PlainError(Napi::Env env, ErrorCode code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("code", ErrorCodeName(code));
  return error;
}

Napi::Error MakeError(Napi::Env env, ErrorCode code, const std::string& message,
                      const std::string* status) {
  AddonData* data = AddonData::Of(env);
  if (data == nullptr || data->errorFactory.IsEmpty()) return PlainError(env, code, message);
  try {
    Napi::Value statusValue =
        status == nullptr ? env.Undefined() : Napi::String::New(env, *status);
    Napi::Value made = data->errorFactory.Call(
        {Napi::String::New(env, ErrorCodeName(code)), Napi::String::New(env, message), statusValue});
    if (made.IsObject()) return Napi::Error(env, made);
  } catch (const Napi::Error&) {
    // A factory that throws must not hide the RocksDB error: fall back below.
  }
  return PlainError(env, code, message);
}

void Throw(Napi::Env env, ErrorCode code, const std::string& message) {
  throw MakeError(env, code, message);
}

void ThrowStatus(Napi::Env env, const rocksdb::Status& status, const std::string& what) {
  std::string text = status.ToString();
  throw MakeError(env, ErrorCodeOf(status), what + ": " + text, &text);
}

}  // namespace ks
