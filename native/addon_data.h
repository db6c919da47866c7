// Per-environment state of the addon (the main thread and every worker thread
// that loads it get their own): the JS classes, the error factory registered by
// the loader, and the databases still open, which the environment cleanup hook
// closes when the thread or process ends.
#pragma once

#include <napi.h>

#include <unordered_set>

namespace ks {

class DbCore;

struct AddonData {
  Napi::FunctionReference dbClass;
  Napi::FunctionReference iteratorClass;
  Napi::FunctionReference snapshotClass;
  Napi::FunctionReference batchClass;
  Napi::FunctionReference sstWriterClass;
  // (code, message, statusText?) => Error; empty until the loader sets it.
  Napi::FunctionReference errorFactory;
  std::unordered_set<DbCore*> openDbs;

  static AddonData* Of(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

  // Closes every database still open in this environment; errors are dropped
  // because nobody is left to receive them.
  void CloseAllDbs();
};

// Registers the instance data and the environment cleanup hook.
AddonData* InstallAddonData(Napi::Env env);

}  // namespace ks
