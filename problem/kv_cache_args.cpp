#include "problem/kv_cache_args.h"

#include <cstdint>
#include <string>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit {
namespace {

Status invalid(std::string message) { return Status(ErrorCode::invalid_argument, std::move(message)); }

std::string pointer_text(const void* p) { return llvm::formatv("{0}", p).str(); }

bool aligned_to_int32(const void* p) { return reinterpret_cast<uintptr_t>(p) % 4 == 0; }

// The largest page a cache takes: a page's rows must stay addressable by int32 row offsets within it,
// and no paged cache in use (vLLM 16, FlashAttention 256, SGLang 1) comes near.
constexpr int kMaxPageSize = 1 << 20;

// A block table's fields without one: set by mistake, or the table was forgotten.
Status check_unpaged(const AttentionArgs& a) {
  const std::pair<const char*, int64_t> fields[] = {{"page_size", a.page_size},
                                                    {"num_pages", a.num_pages},
                                                    {"max_pages_per_sequence", a.max_pages_per_sequence},
                                                    {"block_table_stride", a.block_table_stride}};
  for (auto [name, value] : fields)
    if (value != 0)
      return invalid(llvm::formatv("{0} = {1} is set but block_table is null: pages need a block table", name,
                                   value));
  return Status::success();
}

Status check_paged(const AttentionArgs& a) {
  if (!aligned_to_int32(a.block_table))
    return invalid(llvm::formatv("block_table pointer {0} is not aligned to 4 bytes (int32)",
                                 pointer_text(a.block_table)));
  if (a.page_size <= 0 || a.page_size > kMaxPageSize || (a.page_size & (a.page_size - 1)) != 0)
    return invalid(llvm::formatv("page_size {0} is not a power of two from 1 to {1}", a.page_size, kMaxPageSize));
  if (a.num_pages <= 0) return invalid(llvm::formatv("num_pages must be positive, got {0}", a.num_pages));
  if (a.max_pages_per_sequence <= 0)
    return invalid(llvm::formatv("max_pages_per_sequence must be positive, got {0}", a.max_pages_per_sequence));
  if (a.block_table_stride != 0 && a.block_table_stride < a.max_pages_per_sequence)
    return invalid(llvm::formatv("block_table_stride {0} is shorter than a row of max_pages_per_sequence {1} "
                                 "entries (0 means exactly a row)",
                                 a.block_table_stride, a.max_pages_per_sequence));
  const int64_t capacity = int64_t{a.max_pages_per_sequence} * a.page_size;
  if (a.seqlen_k > capacity)
    return invalid(llvm::formatv("seqlen_k {0} is more keys than a sequence's {1} pages of {2} hold ({3})",
                                 a.seqlen_k, a.max_pages_per_sequence, a.page_size, capacity));
  return Status::success();
}

Status check_append(const AttentionArgs& a) {
  if (a.k_new.data == nullptr || a.v_new.data == nullptr)
    return invalid(llvm::formatv("{0} is null: appending needs k_new and v_new", a.k_new.data ? "v_new" : "k_new"));
  if (a.seqlen_new <= 0) return invalid(llvm::formatv("seqlen_new must be positive to append, got {0}", a.seqlen_new));
  if (a.seqlen_new > a.seqlen_k)
    return invalid(llvm::formatv("seqlen_new {0} is more keys than seqlen_k {1}, the most a sequence has with "
                                 "them appended",
                                 a.seqlen_new, a.seqlen_k));
  return Status::success();
}

}  // namespace

Status check_kv_cache_layout(const AttentionArgs& a) {
  if (!has_kv_cache(a)) {
    if (is_paged(a)) return invalid("block_table is set but seqused_k is null: a paged cache needs each sequence's key count");
    if (appends_keys(a))
      return invalid(llvm::formatv("{0} is set but seqused_k is null: appending needs a KV cache (seqused_k, and k and "
                                   "v holding it)",
                                   a.k_new.data ? "k_new" : a.v_new.data ? "v_new" : "seqlen_new"));
    return check_unpaged(a);
  }
  if (!aligned_to_int32(a.seqused_k))
    return invalid(llvm::formatv("seqused_k pointer {0} is not aligned to 4 bytes (int32)", pointer_text(a.seqused_k)));
  if (a.cu_seqlens_k != nullptr)
    return invalid("seqused_k and cu_seqlens_k are both set: a KV cache gives each sequence's keys by seqused_k, a "
                   "packed batch by cu_seqlens_k; set one");
  if (Status pages = is_paged(a) ? check_paged(a) : check_unpaged(a); !pages.ok()) return pages;
  if (appends_keys(a)) return check_append(a);
  return Status::success();
}

Strides contiguous_page_strides(const AttentionArgs& a) {
  Strides s;
  s.head = a.head_dim;
  s.seq = int64_t{a.num_kv_heads} * a.head_dim;
  s.batch = s.seq * a.page_size;
  return s;
}

Status check_kv_cache_contents(const AttentionArgs& a, const int32_t* seqused_k, const int32_t* block_table) {
  const int appended = appends_keys(a) ? a.seqlen_new : 0;
  for (int b = 0; b < a.batch; ++b) {
    if (seqused_k[b] < 0)
      return invalid(llvm::formatv("seqused_k[{0}] = {1} is negative: a sequence holds 0 keys or more", b,
                                   seqused_k[b]));
    const int64_t keys = keys_after_append(a, seqused_k, b);
    if (is_paged(a)) {
      const int64_t pages = (keys + a.page_size - 1) / a.page_size;
      if (pages > a.max_pages_per_sequence)
        return invalid(llvm::formatv("seqused_k[{0}] = {1} with {2} appended needs {3} pages of {4} keys, more than "
                                     "the {5} of a block_table row (max_pages_per_sequence)",
                                     b, seqused_k[b], appended, pages, a.page_size, a.max_pages_per_sequence));
      const int32_t* row = block_table_row(a, block_table, b);
      for (int64_t i = 0; i < pages; ++i)
        if (row[i] < 0 || row[i] >= a.num_pages)
          return invalid(llvm::formatv("block_table[{0}][{1}] = {2} is not a page: sequence {0} reads it, and the "
                                       "cache holds pages 0 to {3}",
                                       b, i, row[i], a.num_pages - 1));
    }
    if (keys > a.seqlen_k)
      return invalid(llvm::formatv("seqused_k[{0}] = {1} with {2} appended is {3} keys, more than seqlen_k = {4}, the "
                                   "most the call declares",
                                   b, seqused_k[b], appended, keys, a.seqlen_k));
  }
  return Status::success();
}

}  // namespace flashjit
