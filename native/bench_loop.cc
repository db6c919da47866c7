// benchRawLoop(db, cf, n, valueBytes): the physical limit the benchmarks compare
// against. n put+get pairs on distinct keys, all in C++, with the DB's own
// write options; returns the elapsed nanoseconds.
#include <chrono>
#include <cstring>
#include <string>

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

}  // namespace ks
