// Module entry: registers the classes and the exported functions. Everything
// here is wiring; each concept lives in its own file.
#include <napi.h>
#include <rocksdb/version.h>

#include "addon_data.h"
#include "args.h"
#include "batch.h"
#include "db.h"
#include "iterator.h"
#include "snapshot.h"
#include "block_codec.h"
#include "crc32.h"
#include "sst_writer.h"
#include "ttl_compaction_filter.h"

#ifdef KS_BENCH_LOOP
// Only the bench-only addon (binding.gyp target keyed_state_bench) has the raw loop.
#include "bench_loop.h"
#endif

namespace ks {

// setErrorFactory(fn): fn(code, message, statusText?) returns the Error to
// throw, so the loader's error class is created here and JS needs no wrapper
// around hot calls. null removes it.
static Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonData* data = AddonData::Of(env);
  if (IsNullish(info[0])) {
    data->errorFactory.Reset();
  } else if (info[0].IsFunction()) {
    data->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    Throw(env, ErrorCode::kInvalidArgument, "setErrorFactory expects a function or null");
  }
  return env.Undefined();
}

// closeAll(): closes every DB of this environment, for process 'exit'
// handlers (process.exit() skips environment cleanup hooks).
static Napi::Value CloseAll(const Napi::CallbackInfo& info) {
  AddonData::Of(info.Env())->CloseAllDbs();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = InstallAddonData(env);
  data->dbClass = Napi::Persistent(Db::DefineClass(env));
  data->iteratorClass = Napi::Persistent(Iterator::DefineClass(env));
  data->snapshotClass = Napi::Persistent(Snapshot::DefineClass(env));
  data->batchClass = Napi::Persistent(Batch::DefineClass(env));
  data->sstWriterClass = Napi::Persistent(SstWriter::DefineClass(env));

  exports.Set("open", Napi::Function::New<Db::Open>(env, "open"));
  exports.Set("destroy", Napi::Function::New<Db::Destroy>(env, "destroy"));
  exports.Set("sstWriter", Napi::Function::New<SstWriter::Create>(env, "sstWriter"));
  exports.Set("snappyUncompress", Napi::Function::New<SnappyUncompress>(env, "snappyUncompress"));
  exports.Set("snappyUncompressAsync", Napi::Function::New<SnappyUncompressAsync>(env, "snappyUncompressAsync"));
  exports.Set("snappyCompressedLength", Napi::Function::New<SnappyCompressedLength>(env, "snappyCompressedLength"));
  exports.Set("crc32", Napi::Function::New<Crc32Sync>(env, "crc32"));
  exports.Set("crc32Implementation", Napi::String::New(env, Crc32Implementation()));
  exports.Set("crc32Async", Napi::Function::New<Crc32Async>(env, "crc32Async"));
#ifdef KS_BENCH_LOOP
  exports.Set("benchRawLoop", Napi::Function::New<BenchRawLoop>(env, "benchRawLoop"));
  exports.Set("benchRawOps", Napi::Function::New<BenchRawOps>(env, "benchRawOps"));
#endif
  exports.Set("setColumnFamilyTtl", Napi::Function::New<SetColumnFamilyTtl>(env, "setColumnFamilyTtl"));
  exports.Set("ttlCleanedEntries", Napi::Function::New<TtlCleanedEntries>(env, "ttlCleanedEntries"));
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
  exports.Set("closeAll", Napi::Function::New<CloseAll>(env, "closeAll"));
  exports.Set("rocksdbVersion", Napi::String::New(env, rocksdb::GetRocksVersionAsString(true)));
  return exports;
}

}  // namespace ks

static Napi::Object InitKeyedStateNative(Napi::Env env, Napi::Object exports) {
  return ks::Init(env, exports);
}

// NODE_GYP_MODULE_NAME: keyed_state_native or keyed_state_bench, whichever target this is.
NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitKeyedStateNative)
