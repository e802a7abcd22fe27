#include "cuda/device_argument_check.h"

#include <cstdint>
#include <vector>

#include <llvm/Support/FormatVariadic.h>

#include "cuda/driver_api.h"
#include "cuda/pointer_checks.h"
#include "problem/validate.h"
#include "support/log.h"

namespace flashjit::cuda {
namespace {

Status invalid(std::string message) { return Status(ErrorCode::invalid_argument, std::move(message)); }

// Bytes a tensor spans from its pointer: `entries` batch entries of `rows` rows (0 rows: nothing).
// validate_args (dense) or check_ragged_offsets (ragged) already proved the arithmetic stays in range.
uint64_t span_bytes(const Strides& s, int64_t entries, int64_t rows, int heads, int head_dim, int element_bytes) {
  if (entries <= 0 || rows <= 0) return 0;
  const int64_t last = (entries - 1) * s.batch + (rows - 1) * s.seq + (heads - 1) * s.head + head_dim;
  return static_cast<uint64_t>(last) * element_bytes;
}

// The driver's allocation around `pointer` must hold [pointer, pointer + bytes). Memory the driver
// cannot describe (mapped host memory of another allocator) is left alone.
Status check_within_allocation(const DriverApi& api, const char* name, const void* pointer, uint64_t bytes) {
  if (pointer == nullptr || bytes == 0) return Status::success();
  CUdeviceptr base = 0;
  size_t size = 0;
  const CUdeviceptr at = reinterpret_cast<CUdeviceptr>(pointer);
  if (api.cuMemGetAddressRange(&base, &size, at) != CUDA_SUCCESS) return Status::success();
  const uint64_t room = static_cast<uint64_t>(base + size - at);
  if (bytes <= room) return Status::success();
  return invalid(llvm::formatv("{0} ({1}) runs past its allocation: the call reaches {2} bytes from it, the "
                               "allocation holds {3} from there",
                               name, pointer, bytes, room));
}

}  // namespace

Status check_device_arguments(const AttentionArgs& a, CUstream stream) {
  auto api = driver_api();
  if (!api) return Status(ErrorCode::driver_error, llvm::toString(api.takeError()));
  const bool ragged = a.cu_seqlens_q != nullptr;
  int64_t q_rows = a.seqlen_q, k_rows = a.seqlen_k, entries = a.batch;
  uint64_t lse_floats = static_cast<uint64_t>(a.batch) * a.num_heads * a.seqlen_q;
  const uint64_t offsets_bytes = static_cast<uint64_t>(a.batch + 1) * sizeof(int32_t);
  if (ragged) {
    if (stream_is_capturing(stream)) {
      log::warning("FLASHJIT_CHECK_ARGS: a ragged batch's offsets are not checked while the stream captures a "
                   "CUDA graph (copying them would break the capture)");
      return Status::success();
    }
    for (auto [name, pointer] : {std::pair<const char*, const void*>{"cu_seqlens_q", a.cu_seqlens_q},
                                 std::pair<const char*, const void*>{"cu_seqlens_k", a.cu_seqlens_k}})
      if (Status s = check_within_allocation(*api, name, pointer, offsets_bytes); !s.ok()) return s;
    if (llvm::Error err = check(*api, api->cuStreamSynchronize(stream), "cuStreamSynchronize"))
      return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
    std::vector<int32_t> q(static_cast<size_t>(a.batch) + 1), k(q.size());
    for (auto [host, device] : {std::pair<int32_t*, const int32_t*>{q.data(), a.cu_seqlens_q},
                                std::pair<int32_t*, const int32_t*>{k.data(), a.cu_seqlens_k}})
      if (llvm::Error err = check(*api, api->cuMemcpyDtoH(host, reinterpret_cast<CUdeviceptr>(device), offsets_bytes),
                                  "cuMemcpyDtoH of the ragged offsets"))
        return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
    if (Status s = check_ragged_offsets(a, q.data(), k.data()); !s.ok()) return s;
    q_rows = q.back();
    k_rows = k.back();
    entries = 1;
    lse_floats = static_cast<uint64_t>(a.num_heads) * q_rows;
  }
  struct Extent {
    const char* name;
    const void* pointer;
    uint64_t bytes;
  };
  const Extent extents[] = {
      {"q", a.q.data, span_bytes(a.q.strides, entries, q_rows, a.num_heads, a.head_dim, dtype_size(a.q.dtype))},
      {"k", a.k.data, span_bytes(a.k.strides, entries, k_rows, a.num_kv_heads, a.head_dim, dtype_size(a.k.dtype))},
      {"v", a.v.data, span_bytes(a.v.strides, entries, k_rows, a.num_kv_heads, a.head_dim, dtype_size(a.v.dtype))},
      {"out", a.out.data,
       span_bytes(a.out.strides, entries, q_rows, a.num_heads, a.head_dim, dtype_size(a.out.dtype))},
      {"lse", a.lse, lse_floats * sizeof(float)},
      {"alibi_slopes", a.alibi_slopes,
       a.alibi_slopes ? (static_cast<uint64_t>(a.alibi_batch_stride) * (a.batch - 1) + a.num_heads) * sizeof(float)
                      : 0},
  };
  for (const Extent& e : extents)
    if (Status s = check_within_allocation(*api, e.name, e.pointer, e.bytes); !s.ok()) return s;
  return Status::success();
}

}  // namespace flashjit::cuda
