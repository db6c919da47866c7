// Native checkpoints that never block the event loop on a flush or an fsync.
//
// The barrier (db.checkpointAsync, on the JS thread) does no I/O but the WAL
// buffer write (manual_wal_flush keeps the WAL in memory) and the creation of
// a new WAL file. It
//  1. captures a checkpoint that is exact by construction: stops file
//     deletions and lists the live files with the bytes of each that belong
//     to the checkpoint (GetLiveFilesStorageInfo without a memtable flush:
//     what the memtables hold is also in the WAL, and the active WAL is cut
//     at its size now; no other thread writes to the DB);
//  2. takes a snapshot (sequence number S) and switches the memtables
//     (Flush with wait=false): writes after the call go to new memtables and
//     a new WAL file, the old memtables flush on RocksDB's background threads.
// On the thread pool: once the switched memtables are flushed, a second
// capture lists the live files again, now without any WAL; it holds the
// state at the barrier iff every SST in it has sequence numbers <= S (the
// snapshot keeps compaction from zeroing newer ones). That capture is used
// then: the next checkpoint refers to its SSTs instead of uploading the WAL
// and then the same data again as an SST. Otherwise (writes after the barrier
// filled and flushed a memtable before the barrier's flush ended) the first
// capture is used, WAL included. Then the directory is written the way
// RocksDB's CheckpointImpl does: SSTs hard-linked, the other files copied up
// to their captured size into `<dir>.tmp`, everything fsynced, the staging
// directory renamed to `<dir>` and the parent fsynced; file deletions resume.
// A DB opened with the WAL disabled has nothing to cut, so its barrier
// flushes the memtables (the old, blocking behaviour) to stay exact.
// Each call records the wall and thread-CPU time of its phases
// (db.lastBarrierTimings()): measured under load, nearly all of a long call is
// time off the CPU, mostly in the memtable switch (bench/RESULTS.md).
#include <fcntl.h>
#include <napi.h>
#include <time.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "args.h"
#include "db.h"

namespace ks {

namespace {

rocksdb::Status Errno(const std::string& what) { return rocksdb::Status::IOError(what, std::strerror(errno)); }

// Closes a file descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

rocksdb::Status SyncPath(const std::string& path, int flags) {
  Fd f;
  f.fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (f.fd < 0) return Errno("open " + path);
  if (::fsync(f.fd) != 0) return Errno("fsync " + path);
  return rocksdb::Status::OK();
}

rocksdb::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write " + path);
    data += n;
    size -= static_cast<size_t>(n);
  }
  return rocksdb::Status::OK();
}

// Copies the first `size` bytes of `source` (a WAL or MANIFEST may have grown since the barrier).
rocksdb::Status CopyPrefix(const std::string& source, const std::string& target, uint64_t size) {
  Fd in;
  in.fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) return Errno("open " + source);
  Fd out;
  out.fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out.fd < 0) return Errno("create " + target);
  std::vector<char> buffer(1 << 20);
  uint64_t left = size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    ssize_t n = ::read(in.fd, buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read " + source);
    if (n == 0) {
      return rocksdb::Status::Corruption("checkpoint: " + source + " is shorter than the " + std::to_string(size) +
                                         " bytes captured at the barrier");
    }
    rocksdb::Status s = WriteAll(out.fd, buffer.data(), static_cast<size_t>(n), target);
    if (!s.ok()) return s;
    left -= static_cast<uint64_t>(n);
  }
  if (::fsync(out.fd) != 0) return Errno("fsync " + target);
  return rocksdb::Status::OK();
}

rocksdb::Status WriteContents(const std::string& target, const std::string& contents) {
  Fd out;
  out.fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out.fd < 0) return Errno("create " + target);
  rocksdb::Status s = WriteAll(out.fd, contents.data(), contents.size(), target);
  if (s.ok() && ::fsync(out.fd) != 0) s = Errno("fsync " + target);
  return s;
}

// SSTs and blob files never change: a hard link (same file system) or a full copy.
rocksdb::Status LinkOrCopy(const std::string& source, const std::string& target, uint64_t size) {
  if (::link(source.c_str(), target.c_str()) == 0) return rocksdb::Status::OK();
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) return Errno("link " + source + " to " + target);
  return CopyPrefix(source, target, size);
}

// How long the thread pool waits for the barrier's flush before it falls back
// to the capture with the WAL (a flush stuck behind a background error).
constexpr auto kFlushWaitMax = std::chrono::seconds(10);
constexpr auto kFlushPoll = std::chrono::milliseconds(2);

// What the barrier captured, and the work that turns it into a directory. A
// DbResource: the DB's close() waits for a materialization in progress (the
// mutex) and gives back file deletions and the snapshot if none ran.
class CheckpointCapture : public DbResource {
 public:
  CheckpointCapture(std::shared_ptr<DbCore> core, std::string dir, std::vector<rocksdb::LiveFileStorageInfo> files,
                    const rocksdb::Snapshot* barrier)
      : core_(std::move(core)), dir_(std::move(dir)), files_(std::move(files)), barrier_(barrier) {}

  // Thread pool. `closed` tells a CLOSED failure from a RocksDB or file one;
  // `flushed` whether the directory holds the barrier's flush instead of the WAL.
  rocksdb::Status Materialize(bool* closed, bool* flushed) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (released_) {
      *closed = true;
      return rocksdb::Status::Aborted("database closed before checkpoint " + dir_ + " was written");
    }
    rocksdb::DB* db = core_->db();
    bool secondDisabled = false;
    if (barrier_ != nullptr) {
      std::vector<rocksdb::LiveFileStorageInfo> flushedFiles;
      if (FlushedCapture(&flushedFiles, &secondDisabled)) {
        files_ = std::move(flushedFiles);
        *flushed = true;
      }
      db->ReleaseSnapshot(barrier_);
      barrier_ = nullptr;
    }
    rocksdb::Status s = WriteStaging();
    if (secondDisabled) db->EnableFileDeletions(/*force=*/false);  // statuses: the first failure wins below
    rocksdb::Status enabled = db->EnableFileDeletions(/*force=*/false);
    released_ = true;
    return s.ok() ? enabled : s;
  }

  void ReleaseBeforeClose() override {
    closing_ = true;  // ends the wait for the barrier's flush early
    std::lock_guard<std::mutex> lock(mutex_);
    if (released_) return;
    rocksdb::DB* db = core_->db();
    if (barrier_ != nullptr) db->ReleaseSnapshot(barrier_);
    barrier_ = nullptr;
    db->EnableFileDeletions(/*force=*/false);  // status moot: the DB closes next
    released_ = true;
  }

  const std::shared_ptr<DbCore>& core() const { return core_; }
  const std::string& dir() const { return dir_; }

 private:
  // Waits for the memtables switched at the barrier to be flushed, then
  // captures the live files without WAL. True when that capture holds exactly
  // the barrier's state; `disabled` tells whether it stopped file deletions.
  bool FlushedCapture(std::vector<rocksdb::LiveFileStorageInfo>* out, bool* disabled) {
    rocksdb::DB* db = core_->db();
    const auto deadline = std::chrono::steady_clock::now() + kFlushWaitMax;
    for (;;) {
      uint64_t immutable = 0;
      if (!db->GetAggregatedIntProperty(rocksdb::DB::Properties::kNumImmutableMemTable, &immutable)) return false;
      if (immutable == 0) break;
      if (closing_ || std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(kFlushPoll);
    }
    if (!db->DisableFileDeletions().ok()) return false;
    *disabled = true;
    rocksdb::LiveFilesStorageInfoOptions options;
    options.wal_size_for_flush = std::numeric_limits<uint64_t>::max();
    std::vector<rocksdb::LiveFileStorageInfo> files;
    if (!db->GetLiveFilesStorageInfo(options, &files).ok()) return false;
    // Deletions are off, so every SST listed above is still in this list unless compacted away meanwhile.
    std::vector<rocksdb::LiveFileMetaData> meta;
    db->GetLiveFilesMetaData(&meta);
    std::unordered_map<uint64_t, uint64_t> largestSeqno;
    for (const auto& m : meta) largestSeqno[m.file_number] = m.largest_seqno;
    const uint64_t barrierSeqno = barrier_->GetSequenceNumber();
    for (const auto& f : files) {
      if (f.file_type == rocksdb::kBlobFile) return false;  // no sequence numbers to check
      if (f.file_type != rocksdb::kTableFile) continue;
      auto it = largestSeqno.find(f.file_number);
      if (it == largestSeqno.end() || it->second > barrierSeqno) return false;
    }
    // Every write up to the barrier is in an SST now; the WAL holds only later ones.
    for (auto& f : files) {
      if (f.file_type != rocksdb::kWalFile) out->push_back(std::move(f));
    }
    return true;
  }

  rocksdb::Status WriteStaging() {
    const std::string staging = dir_ + ".tmp";
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    if (!std::filesystem::create_directory(staging, ec) || ec) {
      return rocksdb::Status::IOError("create " + staging, ec.message());
    }
    rocksdb::Status s = WriteFiles(staging);
    if (s.ok()) s = SyncPath(staging, O_RDONLY | O_DIRECTORY);
    if (s.ok() && ::rename(staging.c_str(), dir_.c_str()) != 0) s = Errno("rename " + staging + " to " + dir_);
    if (s.ok()) s = SyncPath(std::filesystem::path(dir_).parent_path().string(), O_RDONLY | O_DIRECTORY);
    if (!s.ok()) {
      // A failed checkpoint leaves nothing behind.
      std::filesystem::remove_all(staging, ec);
      std::filesystem::remove_all(dir_, ec);
    }
    return s;
  }

  rocksdb::Status WriteFiles(const std::string& staging) {
    for (const auto& f : files_) {
      const std::string source = f.directory + "/" + f.relative_filename;
      const std::string target = staging + "/" + f.relative_filename;
      rocksdb::Status s;
      if (!f.replacement_contents.empty()) {
        s = WriteContents(target, f.replacement_contents);
      } else if (f.file_type == rocksdb::kTableFile || f.file_type == rocksdb::kBlobFile) {
        s = LinkOrCopy(source, target, f.size);
      } else {
        s = CopyPrefix(source, target, f.size);
      }
      if (!s.ok()) return s;
    }
    return rocksdb::Status::OK();
  }

  std::mutex mutex_;
  std::shared_ptr<DbCore> core_;
  std::string dir_;
  std::vector<rocksdb::LiveFileStorageInfo> files_;
  // The barrier's snapshot while the flushed capture is still possible (WAL on).
  const rocksdb::Snapshot* barrier_;
  bool released_ = false;  // file deletions given back (guarded by mutex_)
  std::atomic<bool> closing_{false};
};

// One checkpointAsync call in flight: raw Node-API for the reasons iterator.cc gives.
struct CheckpointWork {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref db = nullptr;  // keeps the Db object (and its core) alive
  std::shared_ptr<CheckpointCapture> capture;
  rocksdb::Status status;
  bool closed = false;
  bool flushed = false;
};

void ExecuteCheckpoint(napi_env, void* data) {
  auto* work = static_cast<CheckpointWork*>(data);
  work->status = work->capture->Materialize(&work->closed, &work->flushed);
}

void CompleteCheckpoint(napi_env env, napi_status status, void* data) {
  std::unique_ptr<CheckpointWork> work(static_cast<CheckpointWork*>(data));
  const auto& core = work->capture->core();
  if (!core->closed()) core->Untrack(work->capture.get());
  napi_delete_async_work(env, work->work);
  if (status == napi_ok) {
    napi_value value = nullptr;
    bool resolve = work->status.ok() && !work->closed;
    try {
      Napi::Env e(env);
      if (resolve) {
        value = Napi::String::New(e, work->flushed ? "flushed" : "wal");
      } else {
        const std::string what = "checkpoint " + work->capture->dir();
        const std::string text = work->status.ToString();
        value = work->closed ? MakeError(e, ErrorCode::kClosed, what + ": database is closed").Value()
                             : MakeError(e, ErrorCodeOf(work->status), what + ": " + text, &text).Value();
      }
    } catch (...) {
      value = nullptr;
    }
    // Statuses ignored on purpose: a failure here means the environment is going away.
    if (value != nullptr) {
      if (resolve) napi_resolve_deferred(env, work->deferred, value);
      else napi_reject_deferred(env, work->deferred, value);
    }
  }
  napi_delete_reference(env, work->db);
}

// The barrier's phases, for Db::BarrierTimings. Thread CPU time below the wall
// time of a phase is time the event loop's thread was off the CPU: waiting for
// one (a loaded machine) or blocked (a mutex, the file system).
constexpr const char* kBarrierPhaseNames[] = {"walFlush", "capture", "memtableSwitch", "other"};
static_assert(sizeof(kBarrierPhaseNames) / sizeof(kBarrierPhaseNames[0]) == 4, "one name per phase");

double ClockMs(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return 0;  // never on Linux/macOS for these clocks; a 0 reads as "no time"
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Two readings (wall, thread CPU) per phase boundary; `other` is what the phases leave of the call.
class BarrierClock {
 public:
  BarrierClock() : startWall_(ClockMs(CLOCK_MONOTONIC)), startCpu_(ClockMs(CLOCK_THREAD_CPUTIME_ID)) {
    lastWall_ = startWall_;
    lastCpu_ = startCpu_;
  }
  void End(int phase) {
    const double wall = ClockMs(CLOCK_MONOTONIC);
    const double cpu = ClockMs(CLOCK_THREAD_CPUTIME_ID);
    wallMs_[phase] += wall - lastWall_;
    cpuMs_[phase] += cpu - lastCpu_;
    lastWall_ = wall;
    lastCpu_ = cpu;
  }
  template <typename Timings>
  void Store(Timings* out) {
    const double wall = ClockMs(CLOCK_MONOTONIC) - startWall_;
    const double cpu = ClockMs(CLOCK_THREAD_CPUTIME_ID) - startCpu_;
    double wallKnown = 0;
    double cpuKnown = 0;
    for (int i = 0; i < kOther; i++) {
      wallKnown += wallMs_[i];
      cpuKnown += cpuMs_[i];
    }
    wallMs_[kOther] = wall - wallKnown;
    cpuMs_[kOther] = cpu - cpuKnown;
    for (int i = 0; i <= kOther; i++) {
      out->wallMs[i] = wallMs_[i];
      out->cpuMs[i] = cpuMs_[i];
    }
    out->valid = true;
  }

  static constexpr int kWalFlush = 0, kCapture = 1, kSwitch = 2, kOther = 3;

 private:
  double startWall_, startCpu_, lastWall_, lastCpu_;
  double wallMs_[4] = {};
  double cpuMs_[4] = {};
};

}  // namespace

Napi::Value Db::LastBarrierTimings(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenCore(env);
  if (!barrier_timings_.valid) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  double wall = 0;
  double cpu = 0;
  for (int i = 0; i < BarrierTimings::kPhases; i++) {
    Napi::Object phase = Napi::Object::New(env);
    phase.Set("wallMs", barrier_timings_.wallMs[i]);
    phase.Set("cpuMs", barrier_timings_.cpuMs[i]);
    out.Set(kBarrierPhaseNames[i], phase);
    wall += barrier_timings_.wallMs[i];
    cpu += barrier_timings_.cpuMs[i];
  }
  out.Set("wallMs", wall);
  out.Set("cpuMs", cpu);
  return out;
}

Napi::Value Db::CheckpointAsync(const Napi::CallbackInfo& info) {
  BarrierClock clock;
  Napi::Env env = info.Env();
  DbCore& core = OpenCore(env);
  std::string dir = StringValue(env, info[0], "dir");
  if (dir.empty()) Throw(env, ErrorCode::kInvalidArgument, "checkpoint dir must not be empty");
  const std::string what = "checkpoint " + dir;
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) Throw(env, ErrorCode::kInvalidArgument, what + ": the directory exists");
  rocksdb::DB* db = core.db();

  rocksdb::LiveFilesStorageInfoOptions options;
  // With the WAL on, no flush: the WAL cut at its current size holds the memtables.
  options.wal_size_for_flush = core.writeOptions().disableWAL ? 0 : std::numeric_limits<uint64_t>::max();
  clock.End(BarrierClock::kOther);
  if (!core.writeOptions().disableWAL) Check(env, db->FlushWAL(/*sync=*/false), what);
  clock.End(BarrierClock::kWalFlush);
  Check(env, db->DisableFileDeletions(), what);
  std::vector<rocksdb::LiveFileStorageInfo> files;
  rocksdb::Status s = db->GetLiveFilesStorageInfo(options, &files);
  if (!s.ok()) {
    db->EnableFileDeletions(/*force=*/false);  // the capture's own failure is the one to report
    ThrowStatus(env, s, what);
  }
  clock.End(BarrierClock::kCapture);

  // Writes after this call go to new memtables (and a new WAL file); the old
  // ones flush in the background. A failed switch only costs the flushed capture.
  const rocksdb::Snapshot* barrier = nullptr;
  if (!core.writeOptions().disableWAL) {
    barrier = db->GetSnapshot();
    rocksdb::FlushOptions flush;
    flush.wait = false;
    flush.allow_write_stall = true;
    if (!db->Flush(flush, core.OpenHandles()).ok()) {
      db->ReleaseSnapshot(barrier);
      barrier = nullptr;
    }
  }
  clock.End(BarrierClock::kSwitch);

  auto work = std::make_unique<CheckpointWork>();
  work->capture = std::make_shared<CheckpointCapture>(shared(), dir, std::move(files), barrier);
  napi_value promise = nullptr;
  napi_value name = nullptr;
  if (napi_create_promise(env, &work->deferred, &promise) != napi_ok ||
      napi_create_reference(env, info.This(), 1, &work->db) != napi_ok ||
      napi_create_string_utf8(env, "keyed-state:checkpointAsync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, ExecuteCheckpoint, CompleteCheckpoint, work.get(), &work->work) !=
          napi_ok ||
      napi_queue_async_work(env, work->work) != napi_ok) {
    if (work->db != nullptr) napi_delete_reference(env, work->db);
    if (work->work != nullptr) napi_delete_async_work(env, work->work);
    work->capture->ReleaseBeforeClose();  // gives file deletions back
    Throw(env, ErrorCode::kInternal, what + ": cannot start the checkpoint work");
  }
  core.Track(work->capture.get());
  work.release();  // CompleteCheckpoint owns it now
  clock.Store(&barrier_timings_);
  return Napi::Value(env, promise);
}

}  // namespace ks
