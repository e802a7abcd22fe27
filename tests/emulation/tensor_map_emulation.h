// The host emulation's stand-in for cuTensorMapEncodeTiled: the runtime asks the driver for a
// CUtensorMap whose 128 bytes only the TMA unit understands; under emulation the same request is
// stored in those bytes in a format of our own, which the emulated TMA (tma_emulation.cpp) reads
// back. Both sides check what the driver and the hardware would, so an emulated kernel cannot rely
// on a map the driver would refuse.
#pragma once

#include "runtime/tensor_map_request.h"
#include "tma_params.cuh"

namespace flashjit {
namespace emulation {

// Validates `request` the way cuTensorMapEncodeTiled does for a rank-4, 2-byte, 128-byte-swizzled
// tiled map (16-byte aligned address; dims in 1..2^32; strides multiples of 16 below 2^40; box
// dims in 1..256 with box[0] * 2 a multiple of 16 and at most the 128-byte swizzle span; f16 or
// bf16) and stores it in the map's opaque bytes. A request the driver would refuse fails (see fail()).
TensorMapBits encode_tensor_map(const TensorMapRequest& request);

// The request `map` was encoded from. Fails, with a message, when the bytes were not made by
// encode_tensor_map (a zeroed, uninitialized or driver-made map).
TensorMapRequest decode_tensor_map(const TensorMapBits& map);

}  // namespace emulation
}  // namespace flashjit
