// Private to the host emulation of templates/wgmma_primitives.cuh: what both tma_emulation.cpp
// (TMA copies write tiles into shared memory) and wgmma_emulation.cpp (wgmma reads its operands from
// there) need to address the emulated shared memory the way the hardware does.
//
// Shared-memory addresses: the hooks get host addresses into dev::smem; the hardware works on
// shared-window addresses, which here are byte offsets from dev::smem. The 128-byte swizzle (16-byte
// chunk bits 4..6 XOR row bits 7..9) is applied to window addresses, as the hardware applies it to
// address bits; tiles are 1024-byte aligned so that equals swizzling within the tile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

#include "emulation/cuda_emulation.h"

namespace flashjit {
namespace emulation {
namespace detail {

inline unsigned char* shared_bytes() { return reinterpret_cast<unsigned char*>(dev::smem); }

// The byte offset of `address` from dev::smem; fails unless [address, address + bytes) is inside it.
inline unsigned window_of(const void* address, std::size_t bytes, const char* what) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  const auto begin = reinterpret_cast<std::uintptr_t>(dev::smem);
  if (at < begin || at - begin + bytes > dev::kEmulatedSharedBytes)
    fail("%s: address %p is not in shared memory", what, address);
  return static_cast<unsigned>(at - begin);
}

// Fails unless the window bytes [window, window + bytes) lie in what the launch reserved. The
// reservation is known to check_shared_chunk16, so check the 16-byte chunks at both ends.
inline void check_reserved(unsigned window, std::size_t bytes, const char* what) {
  const unsigned first = window & ~15u;
  const unsigned last = static_cast<unsigned>((window + bytes - 1) & ~std::size_t{15});
  for (unsigned chunk : {first, last}) {
    if (chunk + 16 > dev::kEmulatedSharedBytes) fail("%s: shared address 0x%x is out of range", what, chunk);
    check_shared_chunk16(shared_bytes() + chunk, what);
  }
}

// 128-byte swizzle: the 16-byte chunk within a 128-byte row (bits 4..6) is XORed with the row's
// position in its 1024-byte group of 8 rows (bits 7..9).
inline unsigned swizzle_128b(unsigned window) { return window ^ (((window >> 7) & 7u) << 4); }

}  // namespace detail
}  // namespace emulation
}  // namespace flashjit
