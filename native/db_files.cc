// The DB's files: flushes, compaction, properties, native checkpoints, the
// list of live SST files and ingestion of external ones.
#include <rocksdb/metadata.h>
#include <rocksdb/utilities/checkpoint.h>

#include <unordered_set>

#include "args.h"
#include "db.h"

namespace ks {

Napi::Value Db::Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::FlushOptions flush;
  flush.wait = true;
  Check(env, core.db()->Flush(flush, core.OpenHandles()), "flush");
  return env.Undefined();
}

Napi::Value Db::CompactRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  OptionalSlice start = OptionalBytes(env, info[1], "start");
  OptionalSlice end = OptionalBytes(env, info[2], "end");
  rocksdb::CompactRangeOptions options;
  Check(env,
        core.db()->CompactRange(options, cf, start.present ? &start.slice : nullptr,
                                end.present ? &end.slice : nullptr),
        "compactRange");
  return env.Undefined();
}

Napi::Value Db::GetProperty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  std::string name = StringValue(env, info[1], "name");
  std::string value;
  if (!core.db()->GetProperty(cf, name, &value)) return env.Undefined();
  return Napi::String::New(env, value);
}

Napi::Value Db::Tickers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const rocksdb::Statistics* stats = OpenCore(env).statistics();
  if (stats == nullptr) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  // Doubles: exact up to 2^53, far beyond what a DB counts in its life.
  auto set = [&](const char* name, rocksdb::Tickers ticker) {
    out.Set(name, Napi::Number::New(env, static_cast<double>(stats->getTickerCount(ticker))));
  };
  set("blockCacheHits", rocksdb::BLOCK_CACHE_HIT);
  set("blockCacheMisses", rocksdb::BLOCK_CACHE_MISS);
  set("stallMicros", rocksdb::STALL_MICROS);
  return out;
}

Napi::Value Db::Checkpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::string dir = StringValue(env, info[0], "dir");
  if (dir.empty()) Throw(env, ErrorCode::kInvalidArgument, "checkpoint dir must not be empty");
  const std::string what = "checkpoint " + dir;
  rocksdb::Checkpoint* raw = nullptr;
  Check(env, rocksdb::Checkpoint::Create(core.db(), &raw), what);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: always flush memtables, so the checkpoint holds every
  // write even with the WAL disabled.
  Check(env, checkpoint->CreateCheckpoint(dir, 0), what);
  return env.Undefined();
}

Napi::Value Db::LiveFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::vector<rocksdb::LiveFileMetaData> files;
  core.db()->GetLiveFilesMetaData(&files);
  Napi::Array out = Napi::Array::New(env, files.size());
  for (size_t i = 0; i < files.size(); i++) {
    const rocksdb::LiveFileMetaData& file = files[i];
    // RocksDB reports "/000012.sst": relative to db_path, with a leading slash.
    std::string name = file.name;
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", name);
    entry.Set("columnFamily", file.column_family_name);
    entry.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(file.size)));
    entry.Set("level", Napi::Number::New(env, file.level));
    entry.Set("smallestKey", Napi::Buffer<char>::Copy(env, file.smallestkey.data(), file.smallestkey.size()));
    entry.Set("largestKey", Napi::Buffer<char>::Copy(env, file.largestkey.data(), file.largestkey.size()));
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

namespace {

rocksdb::IngestExternalFileOptions IngestOptionsArg(Napi::Env env, Napi::Value value) {
  rocksdb::IngestExternalFileOptions options;
  if (IsNullish(value)) return options;
  Napi::Object object = ObjectArg(env, value, "ingest options");
  CheckKnownKeys(env, object, "ingest option", {"move"});
  options.move_files = OptionalBool(env, object, "move", false);
  return options;
}

}  // namespace

Napi::Value Db::Ingest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[0]);
  std::vector<std::string> files = StringArray(env, info[1], "files");
  rocksdb::IngestExternalFileOptions options = IngestOptionsArg(env, info[2]);
  if (files.empty()) return env.Undefined();
  Check(env, core.db()->IngestExternalFile(cf, files, options), "ingest " + files.front());
  return env.Undefined();
}

// One IngestExternalFiles call for several column families: RocksDB reserves
// file numbers and writes its MANIFEST (each a sync) once for all of them,
// instead of once per family (issue 14: a restore of 1,000 states ingested
// 1,000 times).
Napi::Value Db::IngestAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  if (!info[0].IsArray()) Throw(env, ErrorCode::kInvalidArgument, "ingestAll: groups must be an array of { cf, files }");
  Napi::Array groups = info[0].As<Napi::Array>();
  rocksdb::IngestExternalFileOptions options = IngestOptionsArg(env, info[1]);
  std::vector<rocksdb::IngestExternalFileArg> args;
  std::unordered_set<rocksdb::ColumnFamilyHandle*> seen;
  for (uint32_t i = 0; i < groups.Length(); i++) {
    Napi::Object group = ObjectArg(env, groups.Get(i), "ingestAll group");
    CheckKnownKeys(env, group, "ingestAll group key", {"cf", "files"});
    rocksdb::IngestExternalFileArg arg;
    arg.column_family = CfArg(env, core, group.Get("cf"));
    arg.external_files = StringArray(env, group.Get("files"), "files");
    arg.options = options;
    // RocksDB refuses two groups of one family, and a group without files.
    if (!seen.insert(arg.column_family).second) {
      Throw(env, ErrorCode::kInvalidArgument, "ingestAll: column family " + std::to_string(arg.column_family->GetID()) + " is in two groups");
    }
    if (!arg.external_files.empty()) args.push_back(std::move(arg));
  }
  if (args.empty()) return env.Undefined();
  Check(env, core.db()->IngestExternalFiles(args),
        "ingest " + std::to_string(args.size()) + " column families (first file " + args.front().external_files.front() + ")");
  return env.Undefined();
}

}  // namespace ks
