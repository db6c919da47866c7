// CRC-32 (zlib's polynomial: the snapshot format's checksum) with the fastest
// implementation the build found: libdeflate's (carry-less multiply, ~9 GB/s on
// this machine) when pkg-config knows libdeflate, else zlib's (~2 GB/s; node's
// own zlib.crc32 is the same table code). The two give the same values; the
// build picks one (binding.gyp, KS_HAVE_LIBDEFLATE).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace ks {

// CRC-32 of `size` bytes continuing from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, const char* data, size_t size);

// Export: crc32(bytes: Uint8Array, initial?: number): number — on the calling thread.
Napi::Value Crc32Sync(const Napi::CallbackInfo& info);

// Export value: 'libdeflate' or 'zlib'.
const char* Crc32Implementation();

}  // namespace ks
