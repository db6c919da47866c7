#include "crc32.h"

#include <algorithm>

#ifdef KS_HAVE_LIBDEFLATE
#include <libdeflate.h>
#else
#include <zlib.h>
#endif

#include "args.h"

namespace ks {

uint32_t Crc32(uint32_t crc, const char* data, size_t size) {
  // Both libraries answer 0 for a null buffer (their "initial value" call): an empty view may have one.
  if (size == 0) return crc;
#ifdef KS_HAVE_LIBDEFLATE
  return libdeflate_crc32(crc, data, size);
#else
  uLong c = crc;
  while (size > 0) {
    // zlib's length is a uInt.
    const uInt n = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(data), n);
    data += n;
    size -= n;
  }
  return static_cast<uint32_t>(c);
#endif
}

const char* Crc32Implementation() {
#ifdef KS_HAVE_LIBDEFLATE
  return "libdeflate";
#else
  return "zlib";
#endif
}

Napi::Value Crc32Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rocksdb::Slice bytes = Bytes(env, info[0], "bytes");
  uint32_t initial = 0;
  if (info.Length() > 1 && !IsNullish(env, info[1])) initial = static_cast<uint32_t>(Integer(env, info[1], "initial", 0, 0xffffffffLL));
  return Napi::Number::New(env, Crc32(initial, bytes.data(), bytes.size()));
}

}  // namespace ks
