// The per-block work of reading the canonical snapshot format, for the
// restore of a RocksDB backend (handed to the format reader, which stays
// backend-independent): CRC-32 (zlib's) and snappy decompression into a new
// Buffer, on the thread pool for big blocks, so the lanes of a restore check
// and decompress their blocks side by side off the event loop. The snappy
// package's decompression cost several times more CPU per byte (a fresh
// allocation of its own allocator per block, zeroed by the kernel page by page).
#pragma once

#include <napi.h>

namespace ks {

// snappyUncompress(stored: Uint8Array, rawLength: number): Buffer
Napi::Value SnappyUncompress(const Napi::CallbackInfo& info);
// snappyUncompressAsync(stored: Uint8Array, rawLength: number): Promise<Buffer>
Napi::Value SnappyUncompressAsync(const Napi::CallbackInfo& info);
// snappyCompressedLength(sample: Uint8Array): number — how well a sample
// compresses (a restore skips compressing files RocksDB would store raw).
Napi::Value SnappyCompressedLength(const Napi::CallbackInfo& info);
// crc32Async(bytes: Uint8Array): Promise<number>
Napi::Value Crc32Async(const Napi::CallbackInfo& info);

}  // namespace ks
