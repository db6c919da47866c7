#pragma once

#include <napi.h>

namespace ks {

Napi::Value BenchRawLoop(const Napi::CallbackInfo& info);
Napi::Value BenchRawOps(const Napi::CallbackInfo& info);

}  // namespace ks
