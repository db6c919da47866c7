// The physical limits the benchmarks compare against, all in C++ with the DB's
// own write options; each returns the elapsed nanoseconds.
// benchRawLoop(db, cf, n, valueBytes): n put+get pairs on distinct 8-byte keys.
// benchRawOps(db, cf, op, keys, keyEnds, order, value, n): n puts, gets or
// merges of the caller's keys (the backend's composite keys, prebuilt), in the
// caller's order, so the C++ loop touches exactly the keys the state API does.
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "args.h"
#include "bench_loop.h"
#include "db.h"

namespace ks {

Napi::Value BenchRawLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Db* db = Db::FromArg(info[0], "db");
  DbCore& core = db->OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[1]);
  const int64_t n = Integer(env, info[2], "n", 0, 1LL << 40);
  const int64_t valueBytes = Integer(env, info[3], "valueBytes", 0, 64LL << 20);

  std::string value(static_cast<size_t>(valueBytes), 'v');
  char key[8];
  rocksdb::PinnableSlice read;
  const rocksdb::ReadOptions readOptions;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i++) {
    // Big-endian counter: distinct keys in ascending order, like key groups.
    for (int b = 0; b < 8; b++) key[b] = static_cast<char>(static_cast<uint64_t>(i) >> (56 - 8 * b));
    const rocksdb::Slice keySlice(key, sizeof key);
    Check(env, core.db()->Put(core.writeOptions(), cf, keySlice, value), "benchRawLoop.put");
    read.Reset();
    Check(env, core.db()->Get(readOptions, cf, keySlice, &read), "benchRawLoop.get");
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  return Napi::Number::New(
      env, static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
}

namespace {

enum class RawOp { kPut = 0, kGet = 1, kMerge = 2 };

// A Uint32Array argument (the packed keys' end offsets, the visiting order).
std::pair<const uint32_t*, size_t> Uint32s(Napi::Env env, Napi::Value value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    Throw(env, ErrorCode::kInvalidArgument, std::string(name) + " must be a Uint32Array");
  }
  Napi::Uint32Array array = value.As<Napi::Uint32Array>();
  return {array.Data(), array.ElementLength()};
}

}  // namespace

Napi::Value BenchRawOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Db* db = Db::FromArg(info[0], "db");
  DbCore& core = db->OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[1]);
  const auto op = static_cast<RawOp>(Integer(env, info[2], "op", 0, 2));
  const rocksdb::Slice keys = Bytes(env, info[3], "keys");
  const auto [ends, keyCount] = Uint32s(env, info[4], "keyEnds");
  const auto [order, orderLength] = Uint32s(env, info[5], "order");
  const rocksdb::Slice value = Bytes(env, info[6], "value");
  const int64_t n = Integer(env, info[7], "n", 0, 1LL << 40);
  if (keyCount == 0 || orderLength == 0) Throw(env, ErrorCode::kInvalidArgument, "benchRawOps needs keys and an order");
  for (size_t i = 0; i < keyCount; i++) {
    if (ends[i] > keys.size() || (i > 0 && ends[i] < ends[i - 1])) {
      Throw(env, ErrorCode::kInvalidArgument, "keyEnds must ascend within keys");
    }
  }
  for (size_t i = 0; i < orderLength; i++) {
    if (order[i] >= keyCount) Throw(env, ErrorCode::kInvalidArgument, "order names a key that keyEnds does not hold");
  }

  rocksdb::PinnableSlice read;
  const rocksdb::ReadOptions readOptions;
  size_t c = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i++) {
    const uint32_t k = order[c];
    if (++c == orderLength) c = 0;
    const uint32_t begin = k == 0 ? 0 : ends[k - 1];
    const rocksdb::Slice key(keys.data() + begin, ends[k] - begin);
    switch (op) {
      case RawOp::kPut:
        Check(env, core.db()->Put(core.writeOptions(), cf, key, value), "benchRawOps.put");
        break;
      case RawOp::kMerge:
        Check(env, core.db()->Merge(core.writeOptions(), cf, key, value), "benchRawOps.merge");
        break;
      case RawOp::kGet: {
        read.Reset();
        const rocksdb::Status s = core.db()->Get(readOptions, cf, key, &read);
        if (!s.IsNotFound()) Check(env, s, "benchRawOps.get");
        break;
      }
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  return Napi::Number::New(
      env, static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()));
}

}  // namespace ks
