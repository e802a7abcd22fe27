// The KV cache's arguments (issue 15: seqused_k, a paged cache's block table, appended keys), checked
// as validate_args checks the rest: what needs no data when the call is validated, and what needs
// the per-sequence key counts and the block table (device memory on the CUDA backend) on host
// copies, by the CPU backend always and by the opt-in argument check on a GPU.
#pragma once

#include <cstdint>

#include "flashjit/status.h"
#include "flashjit/types.h"

namespace flashjit {

// Whether the call reads its keys from a KV cache (seqused_k), pages of one (block_table), or
// appends keys to it first (k_new, v_new).
inline bool has_kv_cache(const AttentionArgs& a) { return a.seqused_k != nullptr; }
inline bool is_paged(const AttentionArgs& a) { return a.block_table != nullptr; }
inline bool appends_keys(const AttentionArgs& a) {
  return a.seqlen_new > 0 || a.k_new.data != nullptr || a.v_new.data != nullptr;
}

// The cache's fields without their data, before strides are filled in: which fields go together
// (a block table needs seqused_k, an append needs a cache, pages need a size), pointers aligned,
// sizes in range (a power-of-two page size, seqlen_k within the pages a row holds, a row stride
// holding the row). Each problem has its own message, naming the field.
Status check_kv_cache_layout(const AttentionArgs& args);

// Contiguous pages [num_pages, page_size, num_kv_heads, head_dim]: the default strides of a paged
// cache's k and v.
Strides contiguous_page_strides(const AttentionArgs& args);

// The entries of block_table sequence b reads (row b, from its first entry).
inline const int32_t* block_table_row(const AttentionArgs& a, const int32_t* table, int b) {
  const int64_t stride = a.block_table_stride > 0 ? a.block_table_stride : a.max_pages_per_sequence;
  return table + b * stride;
}

// Sequence b's keys once the call's new ones are in: seqused_k[b] + seqlen_new.
inline int64_t keys_after_append(const AttentionArgs& a, const int32_t* seqused_k, int b) {
  return int64_t{seqused_k[b]} + (appends_keys(a) ? a.seqlen_new : 0);
}

// For a call validate_args accepted, with host copies of seqused_k (batch entries) and, when paged,
// block_table: every count is 0 or more, and with the append fits in the pages a row of the block
// table holds and within seqlen_k; every page a sequence reads or writes is one of the num_pages.
// An error names the sequence and the entry: "seqused_k[3] = 600 with 1 appended needs 38 pages
// of 16 keys, more than the 32 of a block_table row (max_pages_per_sequence)".
Status check_kv_cache_contents(const AttentionArgs& normalized, const int32_t* seqused_k, const int32_t* block_table);

}  // namespace flashjit
