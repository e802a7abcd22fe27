#include "cuda/device_argument_check.h"

#include <cstdint>
#include <string>
#include <vector>

#include <llvm/Support/FormatVariadic.h>

#include "cuda/driver_api.h"
#include "cuda/pointer_checks.h"
#include "problem/kv_cache_args.h"
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

// `count` int32 entries of device memory at `device`, copied to the host.
Status copy_ints(const DriverApi& api, const char* name, const int32_t* device, size_t count,
                 std::vector<int32_t>& host) {
  host.resize(count);
  const std::string what = std::string("cuMemcpyDtoH of ") + name;
  if (llvm::Error err = check(api, api.cuMemcpyDtoH(host.data(), reinterpret_cast<CUdeviceptr>(device),
                                                    count * sizeof(int32_t)),
                              what.c_str()))
    return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
  return Status::success();
}

// The entries of block_table the call reads: batch rows of block_table_stride, the last one
// max_pages_per_sequence long.
uint64_t block_table_entries(const AttentionArgs& a) {
  const int64_t stride = a.block_table_stride > 0 ? a.block_table_stride : a.max_pages_per_sequence;
  return static_cast<uint64_t>((int64_t{a.batch} - 1) * stride + a.max_pages_per_sequence);
}

}  // namespace

Status check_device_arguments(const AttentionArgs& a, CUstream stream) {
  auto api = driver_api();
  if (!api) return Status(ErrorCode::driver_error, llvm::toString(api.takeError()));
  const bool ragged = a.cu_seqlens_q != nullptr;
  const bool cached = has_kv_cache(a);
  int64_t q_rows = a.seqlen_q, k_rows = a.seqlen_k, q_entries = a.batch, k_entries = a.batch;
  uint64_t lse_floats = static_cast<uint64_t>(a.batch) * a.num_heads * a.seqlen_q;
  if (is_paged(a)) {
    k_entries = a.num_pages;
    k_rows = a.page_size;
  }
  if (ragged || cached) {
    if (stream_is_capturing(stream)) {
      log::warning(std::string("FLASHJIT_CHECK_ARGS: ") +
                   (ragged ? "a ragged batch's offsets" : "a KV cache's seqused_k and block table") +
                   " are not checked while the stream captures a CUDA graph (copying them would break the capture)");
      return Status::success();
    }
    // The counts, offsets and table may be written by work queued before.
    if (llvm::Error err = check(*api, api->cuStreamSynchronize(stream), "cuStreamSynchronize"))
      return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
  }
  if (ragged) {
    const uint64_t offsets_bytes = static_cast<uint64_t>(a.batch + 1) * sizeof(int32_t);
    for (auto [name, pointer] : {std::pair<const char*, const void*>{"cu_seqlens_q", a.cu_seqlens_q},
                                 std::pair<const char*, const void*>{"cu_seqlens_k", a.cu_seqlens_k}})
      if (Status s = check_within_allocation(*api, name, pointer, offsets_bytes); !s.ok()) return s;
    std::vector<int32_t> q, k;
    if (Status s = copy_ints(*api, "cu_seqlens_q", a.cu_seqlens_q, a.batch + 1, q); !s.ok()) return s;
    if (!cached)
      if (Status s = copy_ints(*api, "cu_seqlens_k", a.cu_seqlens_k, a.batch + 1, k); !s.ok()) return s;
    if (Status s = check_ragged_offsets(a, q.data(), cached ? nullptr : k.data()); !s.ok()) return s;
    q_rows = q.back();
    q_entries = 1;
    if (!cached) {
      k_rows = k.back();
      k_entries = 1;
    }
    lse_floats = static_cast<uint64_t>(a.num_heads) * q_rows;
  }
  if (cached) {
    // A count past the pages a row holds, or a table entry that is no page, would read (and an
    // append write) outside the cache.
    const uint64_t table_entries = is_paged(a) ? block_table_entries(a) : 0;
    if (Status s = check_within_allocation(*api, "seqused_k", a.seqused_k, uint64_t(a.batch) * sizeof(int32_t)); !s.ok())
      return s;
    if (Status s = check_within_allocation(*api, "block_table", a.block_table, table_entries * sizeof(int32_t)); !s.ok())
      return s;
    std::vector<int32_t> used, table;
    if (Status s = copy_ints(*api, "seqused_k", a.seqused_k, a.batch, used); !s.ok()) return s;
    if (is_paged(a))
      if (Status s = copy_ints(*api, "block_table", a.block_table, table_entries, table); !s.ok()) return s;
    if (Status s = check_kv_cache_contents(a, used.data(), is_paged(a) ? table.data() : nullptr); !s.ok()) return s;
  }
  struct Extent {
    const char* name;
    const void* pointer;
    uint64_t bytes;
  };
  const int64_t new_rows = appends_keys(a) ? a.seqlen_new : 0;
  const Extent extents[] = {
      {"q", a.q.data, span_bytes(a.q.strides, q_entries, q_rows, a.num_heads, a.head_dim, dtype_size(a.q.dtype))},
      {"k", a.k.data, span_bytes(a.k.strides, k_entries, k_rows, a.num_kv_heads, a.head_dim, dtype_size(a.k.dtype))},
      {"v", a.v.data, span_bytes(a.v.strides, k_entries, k_rows, a.num_kv_heads, a.head_dim, dtype_size(a.v.dtype))},
      {"out", a.out.data,
       span_bytes(a.out.strides, q_entries, q_rows, a.num_heads, a.head_dim, dtype_size(a.out.dtype))},
      {"lse", a.lse, lse_floats * sizeof(float)},
      {"alibi_slopes", a.alibi_slopes,
       a.alibi_slopes ? (static_cast<uint64_t>(a.alibi_batch_stride) * (a.batch - 1) + a.num_heads) * sizeof(float)
                      : 0},
      {"k_new", a.k_new.data,
       span_bytes(a.k_new.strides, a.batch, new_rows, a.num_kv_heads, a.head_dim, dtype_size(a.k.dtype))},
      {"v_new", a.v_new.data,
       span_bytes(a.v_new.strides, a.batch, new_rows, a.num_kv_heads, a.head_dim, dtype_size(a.v.dtype))},
  };
  for (const Extent& e : extents)
    if (Status s = check_within_allocation(*api, e.name, e.pointer, e.bytes); !s.ok()) return s;
  return Status::success();
}

}  // namespace flashjit::cuda
