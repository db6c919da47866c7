// Base of every JS class of the addon. Each instance carries a Node-API type
// tag, so an object passed as an argument is checked to be of the expected
// class (INVALID_ARGUMENT otherwise) before its memory is used.
#pragma once

#include <napi.h>

#include <string>

#include "status.h"

namespace ks {

template <typename T>
class Wrapped : public Napi::ObjectWrap<T> {
 public:
  explicit Wrapped(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {
    if (napi_type_tag_object(info.Env(), info.This(), &T::kTypeTag) != napi_ok) {
      throw Napi::Error::New(info.Env());
    }
  }

  // Hides ObjectWrap::Unwrap, which node-addon-api's method wrappers call on
  // `this`. V8 already checked the receiver (napi_define_class gives methods a
  // signature, so a foreign `this` throws "Illegal invocation"), so this skips
  // the tag check that would cost every hot call a second property lookup.
  static T* Unwrap(Napi::Object object) {
    void* self = nullptr;
    if (napi_unwrap(object.Env(), object, &self) != napi_ok || self == nullptr) {
      Throw(object.Env(), ErrorCode::kInvalidArgument, std::string("expected a ") + T::kClassName);
    }
    return static_cast<T*>(self);
  }

  // An instance passed as an argument: checks the type tag first, so a
  // Snapshot passed where a Batch is expected is refused instead of misread.
  static T* FromArg(Napi::Value value, const char* name) {
    bool tagged = false;
    if (napi_check_object_type_tag(value.Env(), value, &T::kTypeTag, &tagged) != napi_ok || !tagged) {
      Throw(value.Env(), ErrorCode::kInvalidArgument, std::string(name) + " must be a " + T::kClassName);
    }
    return Unwrap(value.As<Napi::Object>());
  }
};

}  // namespace ks
