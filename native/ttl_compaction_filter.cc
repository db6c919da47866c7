#include "ttl_compaction_filter.h"

#include <limits>
#include <string>
#include <utility>

#include "args.h"
#include "db.h"

namespace ks {

namespace {

constexpr size_t kTimestampBytes = 8;
constexpr size_t kElementLengthBytes = 4;
// JS numbers are exact up to 2^53; timestamps and TTLs come from there.
constexpr int64_t kMaxSafeInteger = (1LL << 53) - 1;

int64_t ReadI64be(const char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < kTimestampBytes; i++) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}

uint32_t ReadU32be(const char* p) {
  uint32_t v = 0;
  for (size_t i = 0; i < kElementLengthBytes; i++) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

class TtlCompactionFilter : public rocksdb::CompactionFilter {
 public:
  TtlCompactionFilter(const TtlFilterConfig& config, std::shared_ptr<std::atomic<uint64_t>> cleaned)
      : config_(config), cleaned_(std::move(cleaned)) {}

  // Never throws into RocksDB (it is not exception-safe): anything unexpected
  // keeps the entry as it is. Malformed bytes are kept too; reading them is the
  // state's business, and it reports them with the state's name.
  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType type,
                    const rocksdb::Slice& value, std::string* newValue,
                    std::string* /*skipUntil*/) const override {
    try {
      if (config_.layout == TtlLayout::kList) {
        // Appends arrive as merge operands holding whole list frames; they can be
        // filtered like values (an emptied operand simply disappears).
        if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
        return FilterList(value, newValue);
      }
      if (type != ValueType::kValue) return Decision::kKeep;
      if (value.size() < kTimestampBytes) return Decision::kKeep;
      if (!Expired(ReadI64be(value.data()))) return Decision::kKeep;
      Count(1);
      return Decision::kRemove;
    } catch (...) {
      return Decision::kKeep;
    }
  }

  const char* Name() const override { return "keyed-state.ttl"; }

 private:
  bool Expired(int64_t lastAccessMs) const {
    const int64_t max = std::numeric_limits<int64_t>::max();
    const int64_t expiresAtMs = lastAccessMs > max - config_.ttlMs ? max : lastAccessMs + config_.ttlMs;
    return expiresAtMs <= config_.nowMs;
  }

  Decision FilterList(const rocksdb::Slice& value, std::string* newValue) const {
    const char* data = value.data();
    const size_t size = value.size();
    // First pass: validate the framing and count what expired, without copying.
    size_t expired = 0;
    size_t elements = 0;
    for (size_t pos = 0; pos < size;) {
      if (size - pos < kElementLengthBytes) return Decision::kKeep;
      const size_t length = ReadU32be(data + pos);
      pos += kElementLengthBytes;
      if (length > size - pos || length < kTimestampBytes) return Decision::kKeep;
      if (Expired(ReadI64be(data + pos))) expired++;
      elements++;
      pos += length;
    }
    if (expired == 0) return Decision::kKeep;
    Count(expired);
    if (expired == elements) return Decision::kRemove;
    newValue->clear();
    newValue->reserve(size);
    for (size_t pos = 0; pos < size;) {
      const size_t length = ReadU32be(data + pos);
      const size_t frame = kElementLengthBytes + length;
      if (!Expired(ReadI64be(data + pos + kElementLengthBytes))) newValue->append(data + pos, frame);
      pos += frame;
    }
    return Decision::kChangeValue;
  }

  // Relaxed: a metric read later, nothing is ordered by it.
  void Count(uint64_t entries) const { cleaned_->fetch_add(entries, std::memory_order_relaxed); }

  const TtlFilterConfig config_;
  const std::shared_ptr<std::atomic<uint64_t>> cleaned_;
};

TtlLayout ParseLayout(Napi::Env env, const std::string& kind) {
  if (kind == "value" || kind == "map") return TtlLayout::kValue;
  if (kind == "list") return TtlLayout::kList;
  Throw(env, ErrorCode::kInvalidArgument,
        "setColumnFamilyTtl: kind must be 'value', 'list' or 'map', got '" + kind + "'");
}

}  // namespace

void TtlFilterFactory::Set(uint32_t cfId, const TtlFilterConfig& config) {
  std::lock_guard<std::mutex> lock(mutex_);
  configs_[cfId] = config;
  auto& counter = cleaned_[cfId];
  if (counter == nullptr) counter = std::make_shared<std::atomic<uint64_t>>(0);
}

void TtlFilterFactory::Clear(uint32_t cfId) {
  std::lock_guard<std::mutex> lock(mutex_);
  configs_.erase(cfId);
}

uint64_t TtlFilterFactory::Cleaned(uint32_t cfId) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cleaned_.find(cfId);
  return it == cleaned_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

std::unique_ptr<rocksdb::CompactionFilter> TtlFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context& context) {
  TtlFilterConfig config;
  std::shared_ptr<std::atomic<uint64_t>> cleaned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = configs_.find(context.column_family_id);
    if (it == configs_.end()) return nullptr;
    config = it->second;
    cleaned = cleaned_[context.column_family_id];  // made by Set
  }
  // One compaction uses one time: the latest JS sent when it started.
  if (!config.hasTime || config.ttlMs <= 0 || cleaned == nullptr) return nullptr;
  return std::make_unique<TtlCompactionFilter>(config, std::move(cleaned));
}

Napi::Value SetColumnFamilyTtl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Db* db = Db::FromArg(info[0], "db");
  DbCore& core = db->OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[1]);
  const uint32_t cfId = cf->GetID();
  if (IsNullish(info[2])) {
    core.ttlFilters()->Clear(cfId);
    return env.Undefined();
  }
  Napi::Object options = ObjectArg(env, info[2], "ttl config");
  CheckKnownKeys(env, options, "ttl config option", {"kind", "ttlMs", "nowMs"});
  TtlFilterConfig config;
  config.layout = ParseLayout(env, StringValue(env, options.Get("kind"), "kind"));
  config.ttlMs = Integer(env, options.Get("ttlMs"), "ttlMs", 1, kMaxSafeInteger);
  Napi::Value now = options.Get("nowMs");
  if (!IsNullish(now)) {
    config.hasTime = true;
    config.nowMs = Integer(env, now, "nowMs", -kMaxSafeInteger, kMaxSafeInteger);
  }
  core.ttlFilters()->Set(cfId, config);
  return env.Undefined();
}

Napi::Value TtlCleanedEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Db* db = Db::FromArg(info[0], "db");
  DbCore& core = db->OpenCore(env);
  rocksdb::ColumnFamilyHandle* cf = CfArg(env, core, info[1]);
  return Napi::Number::New(env, static_cast<double>(core.ttlFilters()->Cleaned(cf->GetID())));
}

}  // namespace ks
