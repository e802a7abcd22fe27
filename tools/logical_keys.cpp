#include "tools/logical_keys.h"

#include <cstring>

#include "problem/kv_cache_args.h"

namespace flashjit::tools {
namespace {

// Element offset of key row j of sequence b in the cache: through its page, or its batch entry.
int64_t cache_row(const AttentionArgs& a, const Strides& s, int b, int64_t j) {
  if (!is_paged(a)) return b * s.batch + j * s.seq;
  const int32_t page = block_table_row(a, a.block_table, b)[j / a.page_size];
  return page * s.batch + (j % a.page_size) * s.seq;
}

void append_row(std::vector<uint8_t>& to, const InputTensor& from, int64_t row, int heads, int head_dim) {
  const int size = dtype_size(from.dtype);
  const auto* base = static_cast<const uint8_t*>(from.data);
  for (int h = 0; h < heads; ++h) {
    const uint8_t* src = base + (row + h * from.strides.head) * size;
    to.insert(to.end(), src, src + int64_t{head_dim} * size);
  }
}

}  // namespace

LogicalKeys gather_logical_keys(const AttentionArgs& a) {
  LogicalKeys keys;
  keys.cu_seqlens_k.push_back(0);
  for (int b = 0; b < a.batch; ++b) {
    const int64_t used = a.seqused_k[b];
    const int64_t total = keys_after_append(a, a.seqused_k, b);
    for (int64_t j = 0; j < total; ++j) {
      if (j < used) {
        append_row(keys.k, a.k, cache_row(a, a.k.strides, b, j), a.num_kv_heads, a.head_dim);
        append_row(keys.v, a.v, cache_row(a, a.v.strides, b, j), a.num_kv_heads, a.head_dim);
      } else {
        append_row(keys.k, a.k_new, b * a.k_new.strides.batch + (j - used) * a.k_new.strides.seq, a.num_kv_heads,
                   a.head_dim);
        append_row(keys.v, a.v_new, b * a.v_new.strides.batch + (j - used) * a.v_new.strides.seq, a.num_kv_heads,
                   a.head_dim);
      }
    }
    keys.cu_seqlens_k.push_back(static_cast<int32_t>(keys.cu_seqlens_k.back() + total));
  }
  AttentionArgs& p = keys.args;
  p = a;
  p.seqused_k = p.block_table = nullptr;
  p.page_size = p.num_pages = p.max_pages_per_sequence = 0;
  p.block_table_stride = 0;
  p.k_new = p.v_new = InputTensor{};
  p.seqlen_new = 0;
  p.k.data = keys.k.data();
  p.v.data = keys.v.data();
  p.k.strides = p.v.strides = Strides{0, int64_t{a.num_kv_heads} * a.head_dim, a.head_dim};
  p.cu_seqlens_k = keys.cu_seqlens_k.data();
  return keys;
}

}  // namespace flashjit::tools
