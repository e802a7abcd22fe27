#include "cuda/tensor_map_encoder.h"

#include <cstring>

#include <llvm/Support/FormatVariadic.h>

#include "cuda/driver_api.h"
#include "support/error.h"

namespace flashjit::cuda {

static_assert(sizeof(CUtensorMap) == sizeof(TensorMapBits), "a tensor map is 128 opaque bytes");

llvm::Expected<TensorMapBits> encode_tensor_map(const TensorMapRequest& r) {
  auto api = driver_api();
  if (!api) return api.takeError();
  const cuuint64_t dims[4] = {r.dims[0], r.dims[1], r.dims[2], r.dims[3]};
  const cuuint64_t strides[3] = {r.strides_bytes[0], r.strides_bytes[1], r.strides_bytes[2]};
  const cuuint32_t box[4] = {r.box[0], r.box[1], r.box[2], r.box[3]};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUtensorMapDataType type =
      r.dtype == DType::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  CUtensorMap map;
  // 128-byte swizzle: the layout wgmma reads (templates/wgmma_primitives.cuh); out-of-bounds rows and
  // columns arrive as zeros; K/V tiles are re-read by every query block of a head, so L2 keeps 256-byte lines.
  const CUresult result = api->cuTensorMapEncodeTiled(
      &map, type, 4, const_cast<void*>(r.address), dims, strides, box, element_strides,
      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS)
    return make_error(
        ErrorCode::launch_error,
        llvm::formatv("cuTensorMapEncodeTiled failed: {0} (dims {1}x{2}x{3}x{4}, strides {5}/{6}/{7} bytes, box "
                      "{8}x{9}x{10}x{11}; sequence, head, batch in dimensions {12}, {13}, {14})",
                      describe_result(*api, result), r.dims[0], r.dims[1], r.dims[2], r.dims[3], r.strides_bytes[0],
                      r.strides_bytes[1], r.strides_bytes[2], r.box[0], r.box[1], r.box[2], r.box[3], r.seq_slot,
                      r.head_slot, r.batch_slot)
            .str());
  TensorMapBits bits;
  std::memcpy(&bits, &map, sizeof bits);
  return bits;
}

}  // namespace flashjit::cuda
