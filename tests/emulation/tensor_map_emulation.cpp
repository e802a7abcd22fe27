// The emulated cuTensorMapEncodeTiled (see tensor_map_emulation.h). The checks are the ones the
// CUDA driver API documents for cuTensorMapEncodeTiled, restricted to what TensorMapRequest can
// express (rank 4, 2-byte elements, no interleave, unit element strides, 128-byte swizzle).
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "emulation/tensor_map_emulation.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace flashjit {
namespace emulation {
namespace {

// "FJ-TMAP1": marks bytes made by encode_tensor_map, so a map from anywhere else (a zeroed one, or
// one the real driver encoded) is refused instead of being read as garbage.
constexpr std::uint64_t kMagic = 0x464a2d544d415031ull;

// The request, as stored in the opaque bytes. Fixed-width fields: nothing depends on the host ABI
// beyond what the static_assert checks.
struct EncodedMap {
  std::uint64_t magic;
  std::uint64_t address;
  std::uint64_t dims[4];
  std::uint64_t strides_bytes[3];
  std::uint32_t box[4];
  std::uint8_t dtype;
  std::int8_t slots[3];  // seq, head, batch: not the driver's business, kept so decode round-trips
};
static_assert(sizeof(EncodedMap) <= sizeof(TensorMapBits), "the encoded request must fit a CUtensorMap");
static_assert(std::is_trivially_copyable<EncodedMap>::value, "stored with memcpy");

constexpr std::uint64_t kMaxDim = 1ull << 32;       // globalDim: non-zero, at most 2^32
constexpr std::uint64_t kStrideLimit = 1ull << 40;  // globalStrides: below 2^40
constexpr unsigned kMaxBox = 256;                   // boxDim: non-zero, at most 256
constexpr unsigned kSwizzleSpanBytes = 128;         // CU_TENSOR_MAP_SWIZZLE_128B
constexpr unsigned kElementBytes = 2;               // f16 / bf16

void check_address_and_type(const TensorMapRequest& r) {
  if (reinterpret_cast<std::uintptr_t>(r.address) % 16 != 0)
    fail("cuTensorMapEncodeTiled (emulated): global address %p is not 16-byte aligned", r.address);
  if (r.dtype != DType::f16 && r.dtype != DType::bf16)
    fail("cuTensorMapEncodeTiled (emulated): element type %s; the wgmma kernel's maps are f16 or bf16",
         dtype_name(r.dtype));
}

void check_dims_and_strides(const TensorMapRequest& r) {
  for (int d = 0; d < 4; ++d)
    if (r.dims[d] == 0 || r.dims[d] > kMaxDim)
      fail("cuTensorMapEncodeTiled (emulated): dimension %d has %llu elements; it must be in 1..2^32", d, r.dims[d]);
  for (int d = 0; d < 3; ++d) {
    const unsigned long long stride = r.strides_bytes[d];
    if (stride % 16 != 0 || stride >= kStrideLimit)
      fail(
          "cuTensorMapEncodeTiled (emulated): the stride of dimension %d is %llu bytes; it must be a multiple of "
          "16 below 2^40",
          d + 1, stride);
  }
}

void check_box(const TensorMapRequest& r) {
  for (int d = 0; d < 4; ++d) {
    const unsigned box = r.box[d];
    if (box == 0 || box > kMaxBox)
      fail("cuTensorMapEncodeTiled (emulated): box dimension %d is %u; it must be in 1..256", d, box);
  }
  const unsigned inner_bytes = r.box[0] * kElementBytes;
  if (inner_bytes % 16 != 0)
    fail("cuTensorMapEncodeTiled (emulated): the box's inner dimension is %u bytes; it must be a multiple of 16",
         inner_bytes);
  if (inner_bytes > kSwizzleSpanBytes)
    fail(
        "cuTensorMapEncodeTiled (emulated): the box's inner dimension is %u bytes, more than the 128-byte "
        "swizzle span",
        inner_bytes);
}

void validate(const TensorMapRequest& r) {
  check_address_and_type(r);
  check_dims_and_strides(r);
  check_box(r);
}

}  // namespace

TensorMapBits encode_tensor_map(const TensorMapRequest& request) {
  validate(request);
  EncodedMap e{};
  e.magic = kMagic;
  e.address = reinterpret_cast<std::uintptr_t>(request.address);
  for (int d = 0; d < 4; ++d) {
    e.dims[d] = request.dims[d];
    e.box[d] = request.box[d];
  }
  for (int d = 0; d < 3; ++d) e.strides_bytes[d] = request.strides_bytes[d];
  e.dtype = static_cast<std::uint8_t>(request.dtype);
  e.slots[0] = static_cast<std::int8_t>(request.seq_slot);
  e.slots[1] = static_cast<std::int8_t>(request.head_slot);
  e.slots[2] = static_cast<std::int8_t>(request.batch_slot);
  TensorMapBits bits{};
  std::memcpy(bits.opaque, &e, sizeof e);
  return bits;
}

TensorMapRequest decode_tensor_map(const TensorMapBits& map) {
  EncodedMap e;
  std::memcpy(&e, map.opaque, sizeof e);
  if (e.magic != kMagic)
    fail(
        "TMA: the tensor map at %p was not made by the emulated cuTensorMapEncodeTiled (it starts with "
        "0x%016llx)",
        static_cast<const void*>(&map), static_cast<unsigned long long>(e.magic));
  TensorMapRequest r;
  r.address = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(e.address));
  r.dtype = static_cast<DType>(e.dtype);
  for (int d = 0; d < 4; ++d) {
    r.dims[d] = e.dims[d];
    r.box[d] = e.box[d];
  }
  for (int d = 0; d < 3; ++d) r.strides_bytes[d] = e.strides_bytes[d];
  r.seq_slot = e.slots[0];
  r.head_slot = e.slots[1];
  r.batch_slot = e.slots[2];
  // The magic only says who wrote the bytes; a map overwritten after encoding is caught here.
  validate(r);
  return r;
}

}  // namespace emulation
}  // namespace flashjit
