#include "addon_data.h"

#include <vector>

#include "db_core.h"

namespace ks {

void AddonData::CloseAllDbs() {
  // Close() unregisters each database from openDbs, so iterate over a copy.
  std::vector<DbCore*> open(openDbs.begin(), openDbs.end());
  for (DbCore* core : open) core->Close();
  openDbs.clear();
}

static void CleanupHook(void* arg) { static_cast<AddonData*>(arg)->CloseAllDbs(); }

static void FinalizeAddonData(napi_env env, void* data, void* /*hint*/) {
  // Normally the hook ran already (hooks run before Node-API tears down the
  // environment); removing it makes a late finalizer order harmless.
  napi_remove_env_cleanup_hook(env, CleanupHook, data);
  auto* addon = static_cast<AddonData*>(data);
  addon->CloseAllDbs();
  delete addon;
}

AddonData* InstallAddonData(Napi::Env env) {
  auto* data = new AddonData();
  napi_status status = napi_set_instance_data(env, data, FinalizeAddonData, nullptr);
  if (status != napi_ok) {
    delete data;
    throw Napi::Error::New(env, "keyed_state_native: cannot set instance data");
  }
  status = napi_add_env_cleanup_hook(env, CleanupHook, data);
  if (status != napi_ok) throw Napi::Error::New(env, "keyed_state_native: cannot add cleanup hook");
  return data;
}

}  // namespace ks
