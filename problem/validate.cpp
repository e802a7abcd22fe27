#include "problem/validate.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <llvm/Support/FormatVariadic.h>

#include "problem/kv_cache_args.h"

namespace flashjit {
namespace {

Status invalid(std::string message) { return Status(ErrorCode::invalid_argument, std::move(message)); }

struct TensorView {
  const char* name;
  const void* data;
  DType dtype;
  Strides strides;
  int seqlen;
  int heads;
};

// One past the last element a tensor touches, or nullopt when the arithmetic overflows int64.
std::optional<int64_t> element_extent(const TensorView& t, int batch, int head_dim) {
  int64_t extent = head_dim;
  const std::array<std::pair<int64_t, int64_t>, 3> dims = {
      {{t.strides.batch, batch}, {t.strides.seq, t.seqlen}, {t.strides.head, t.heads}}};
  for (auto [stride, count] : dims) {
    int64_t span = 0;
    if (__builtin_mul_overflow(stride, count - 1, &span)) return std::nullopt;
    if (__builtin_add_overflow(extent, span, &extent)) return std::nullopt;
  }
  int64_t bytes = 0;
  if (__builtin_mul_overflow(extent, static_cast<int64_t>(dtype_size(t.dtype)), &bytes)) return std::nullopt;
  return extent;
}

// True when no two (batch, seq, head, d) indices of the output map to one element.
bool layout_is_one_to_one(const TensorView& t, int batch, int head_dim) {
  struct Dim {
    int64_t stride;
    int64_t count;
  };
  std::array<Dim, 4> dims = {{{1, head_dim}, {t.strides.head, t.heads}, {t.strides.seq, t.seqlen},
                              {t.strides.batch, batch}}};
  std::sort(dims.begin(), dims.end(), [](const Dim& a, const Dim& b) { return a.stride < b.stride; });
  int64_t span = 0;  // elements covered by the inner dims so far, minus one
  for (const Dim& d : dims) {
    if (d.count == 1) continue;
    if (d.stride <= span) return false;
    span += d.stride * (d.count - 1);
  }
  return true;
}

std::string pointer_text(const void* p) { return llvm::formatv("{0}", p).str(); }

// The byte range [begin, begin + bytes), or nullopt when it runs past the end of the address space
// (a wrapped end would make the overlap checks below pass for ranges that overlap).
std::optional<std::pair<uintptr_t, uintptr_t>> byte_range(const void* data, uint64_t bytes) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  uintptr_t end = 0;
  if (__builtin_add_overflow(begin, bytes, &end)) return std::nullopt;
  return std::make_pair(begin, end);
}

}  // namespace

Strides contiguous_strides(int seqlen, int heads, int head_dim) {
  Strides s;
  s.head = head_dim;
  s.seq = static_cast<int64_t>(heads) * head_dim;
  s.batch = s.seq * seqlen;
  return s;
}

Status validate_sizes(const ProblemFeatures& f, const ProblemShape& shape) {
  const std::pair<const char*, int> sizes[] = {{"batch", shape.batch},       {"num_heads", shape.num_heads},
                                               {"num_kv_heads", shape.num_kv_heads},
                                               {"seqlen_q", shape.seqlen_q}, {"seqlen_k", shape.seqlen_k},
                                               {"head_dim", f.head_dim}};
  for (auto [name, value] : sizes)
    if (value <= 0) return invalid(llvm::formatv("{0} must be positive, got {1}", name, value));

  if (f.head_dim % 8 != 0)
    return invalid(llvm::formatv("head_dim {0} is not a multiple of 8", f.head_dim));
  if (f.head_dim > 256)
    return invalid(llvm::formatv("head_dim {0} is larger than the supported maximum of 256", f.head_dim));
  if (shape.num_heads % shape.num_kv_heads != 0)
    return invalid(llvm::formatv("num_heads {0} is not a multiple of num_kv_heads {1}", shape.num_heads,
                                 shape.num_kv_heads));
  if (shape.num_heads > kMaxGridYZ)
    return invalid(llvm::formatv("num_heads {0} exceeds the maximum of {1}", shape.num_heads, kMaxGridYZ));
  if (shape.batch > kMaxGridYZ)
    return invalid(llvm::formatv("batch {0} exceeds the maximum of {1}", shape.batch, kMaxGridYZ));
  if (f.paged && !f.kv_cache) return invalid("a paged KV cache needs each sequence's key count (seqused_k)");
  if (f.append && !f.kv_cache) return invalid("appending keys needs a KV cache (seqused_k)");
  // An enum value outside its enumerators has no name: the message gives its number.
  if (f.mask != MaskKind::none && f.mask != MaskKind::causal)
    return invalid(
        llvm::formatv("mask {0} is not a known MaskKind (expected none or causal)", static_cast<int>(f.mask)));
  return Status::success();
}

namespace {

// The score modifiers' own values (issue 14), each with its message.
Status check_score_modifiers(const AttentionArgs& a) {
  if (a.window_left < -1)
    return invalid(llvm::formatv("window_left {0} is below -1 (-1 means unbounded)", a.window_left));
  if (a.window_right < -1)
    return invalid(llvm::formatv("window_right {0} is below -1 (-1 means unbounded)", a.window_right));
  if (!std::isfinite(a.softcap) || a.softcap < 0.0f)
    return invalid(llvm::formatv("softcap {0} must be a finite number above 0 (0 turns it off)", a.softcap));
  if (a.alibi_slopes == nullptr && a.alibi_batch_stride != 0)
    return invalid(llvm::formatv("alibi_batch_stride {0} is set but alibi_slopes is null", a.alibi_batch_stride));
  if (a.alibi_slopes != nullptr) {
    if (reinterpret_cast<uintptr_t>(a.alibi_slopes) % 4 != 0)
      return invalid(llvm::formatv("alibi_slopes pointer {0} is not aligned to 4 bytes (fp32)",
                                   pointer_text(a.alibi_slopes)));
    if (a.alibi_batch_stride < 0 || (a.alibi_batch_stride > 0 && a.alibi_batch_stride < a.num_heads))
      return invalid(llvm::formatv("alibi_batch_stride {0} must be 0 (one slope per head for every batch entry) "
                                   "or at least num_heads {1} ([batch, num_heads] slopes)",
                                   a.alibi_batch_stride, a.num_heads));
  }
  return Status::success();
}

// The caller's split-KV workspace: a size goes with a pointer, and the partials are read as float4.
Status check_workspace_fields(const AttentionArgs& a) {
  if (a.workspace == nullptr && a.workspace_bytes != 0)
    return invalid(llvm::formatv("workspace_bytes = {0} is set but workspace is null", a.workspace_bytes));
  if (reinterpret_cast<uintptr_t>(a.workspace) % 16 != 0)
    return invalid(llvm::formatv("workspace pointer {0} is not aligned to 16 bytes", pointer_text(a.workspace)));
  return Status::success();
}

// A ragged batch: both offsets arrays, aligned, and packed tensors without a batch stride.
Status check_ragged_layout(const AttentionArgs& a) {
  // With a KV cache only the queries are packed: each sequence's keys are its seqused_k.
  const bool keys_from_cache = has_kv_cache(a);
  if (!keys_from_cache && (a.cu_seqlens_q == nullptr) != (a.cu_seqlens_k == nullptr))
    return invalid(llvm::formatv("{0} is set but {1} is null: a ragged batch needs both offsets arrays",
                                 a.cu_seqlens_q ? "cu_seqlens_q" : "cu_seqlens_k",
                                 a.cu_seqlens_q ? "cu_seqlens_k" : "cu_seqlens_q"));
  if (a.cu_seqlens_q == nullptr) {
    if (a.total_q != 0 || a.total_k != 0)
      return invalid(llvm::formatv("{0} = {1} is set but the batch is not ragged (cu_seqlens_q is null): token "
                                   "counts describe packed tensors",
                                   a.total_q != 0 ? "total_q" : "total_k", a.total_q != 0 ? a.total_q : a.total_k));
    return Status::success();
  }
  for (auto [name, total] : {std::pair<const char*, int64_t>{"total_q", a.total_q}, {"total_k", a.total_k}}) {
    if (total < 0)
      return invalid(llvm::formatv("{0} = {1} is negative: a token count is 0 (not given) or more", name, total));
    if (total > INT32_MAX)
      return invalid(llvm::formatv("{0} = {1} is beyond the int32 offsets of cu_seqlens (at most 2147483647)", name,
                                   total));
  }
  if (keys_from_cache && a.total_k != 0)
    return invalid(llvm::formatv("total_k = {0} is set but the keys come from a KV cache (seqused_k): token counts "
                                 "describe packed tensors",
                                 a.total_k));
  for (auto [name, pointer] : {std::pair<const char*, const void*>{"cu_seqlens_q", a.cu_seqlens_q},
                               std::pair<const char*, const void*>{"cu_seqlens_k", a.cu_seqlens_k}})
    if (reinterpret_cast<uintptr_t>(pointer) % 4 != 0)
      return invalid(llvm::formatv("{0} pointer {1} is not aligned to 4 bytes (int32)", name, pointer_text(pointer)));
  for (auto [name, strides] : {std::pair<const char*, Strides>{"q", a.q.strides}, {"k", a.k.strides},
                               {"v", a.v.strides}, {"out", a.out.strides}})
    if (!strides.is_default() && strides.batch != 0 && !(keys_from_cache && (name[0] == 'k' || name[0] == 'v')))
      return invalid(llvm::formatv("{0} has batch stride {1} in a ragged batch: packed tensors step from sequence "
                                   "to sequence by their offsets, so the batch stride must be 0",
                                   name, strides.batch));
  return Status::success();
}

// Strides of a tensor left at the default: contiguous [batch, seqlen, heads, head_dim], or packed
// [tokens, heads, head_dim] in a ragged batch.
Strides default_strides(bool ragged, int seqlen, int heads, int head_dim) {
  Strides s = contiguous_strides(seqlen, heads, head_dim);
  if (ragged) s.batch = 0;
  return s;
}

// How far a tensor reaches: `entries` of `rows` rows (a dense batch's [batch, seqlen], a packed
// tensor's one entry of its tokens, a paged cache's pages of page_size rows).
struct Span {
  int64_t entries;
  int64_t rows;
};

// The keys' span when it needs no offsets: a KV cache's pages or [batch, seqlen_k], a dense batch's
// [batch, seqlen_k]; nullopt for packed keys (cu_seqlens_k) without total_k.
std::optional<Span> key_span(const AttentionArgs& a) {
  if (is_paged(a)) return Span{a.num_pages, a.page_size};
  if (has_kv_cache(a) || a.cu_seqlens_k == nullptr) return Span{a.batch, a.seqlen_k};
  if (!has_token_counts(a)) return std::nullopt;
  return Span{1, std::max<int64_t>(a.total_k, 1)};
}

// The extent and overlap checks of the four tensors, the appended keys and values, and lse
// (`lse_rows` floats): the queries and outputs span `queries`, the keys and values `keys`.
Status check_extents(const AttentionArgs& a, Span queries, Span keys, uint64_t lse_rows);

}  // namespace

Status check_ragged_offsets(const AttentionArgs& a, const int32_t* q_offsets, const int32_t* k_offsets) {
  struct Side {
    const char* name;
    const int32_t* offsets;
    int max_length;
    const char* max_name;
  };
  for (const Side& side : {Side{"cu_seqlens_q", q_offsets, a.seqlen_q, "seqlen_q"},
                           Side{"cu_seqlens_k", k_offsets, a.seqlen_k, "seqlen_k"}}) {
    if (side.offsets == nullptr) continue;  // a KV cache's keys: check_kv_cache_contents
    if (side.offsets[0] < 0)
      return invalid(llvm::formatv("{0}[0] = {1} is negative: offsets count tokens from 0", side.name,
                                   side.offsets[0]));
    for (int i = 0; i < a.batch; ++i) {
      const int32_t from = side.offsets[i];
      const int32_t to = side.offsets[i + 1];
      if (to < from)
        return invalid(llvm::formatv("{0}[{1}] = {2} is smaller than {0}[{3}] = {4}: offsets must not decrease",
                                     side.name, i + 1, to, i, from));
      if (to - from > side.max_length)
        return invalid(llvm::formatv("{0}[{1}] - {0}[{2}] = {3}: sequence {2} is longer than {4} = {5}, the "
                                     "longest sequence the call declares",
                                     side.name, i + 1, i, to - from, side.max_name, side.max_length));
    }
  }
  const int64_t q_tokens = q_offsets[a.batch];
  const int64_t k_tokens = k_offsets ? k_offsets[a.batch] : 0;
  // Given token counts bound the offsets: validate_args checked the tensors' extent by them. (A KV
  // cache's keys have no offsets.)
  struct Counted {
    const char* name;
    const int32_t* offsets;
    int64_t tokens;
    int64_t total;
    const char* total_name;
  };
  for (const Counted& c : {Counted{"cu_seqlens_q", q_offsets, q_tokens, a.total_q, "total_q"},
                           Counted{"cu_seqlens_k", k_offsets, k_tokens, a.total_k, "total_k"}})
    if (c.offsets != nullptr && has_token_counts(a) && c.tokens > c.total)
      return invalid(llvm::formatv("{0}[{1}] = {2} is past {3} = {4}, the packed tensor's token count", c.name,
                                   a.batch, c.tokens, c.total_name, c.total));
  const Span keys = k_offsets ? Span{1, std::max<int64_t>(k_tokens, 1)} : *key_span(a);
  return check_extents(a, Span{1, std::max<int64_t>(q_tokens, 1)}, keys, static_cast<uint64_t>(a.num_heads) * q_tokens);
}

Result<AttentionArgs> validate_args(const AttentionArgs& in) {
  AttentionArgs a = in;
  // Which KV-cache fields go together, before the features they make are judged (with messages
  // naming the fields).
  if (Status cache = check_kv_cache_layout(a); !cache.ok()) return cache;
  // The dtypes are checked below, tensor by tensor, so that the message names the tensor.
  if (Status sizes = validate_sizes(features_of(a), shape_of(a)); !sizes.ok())
    return sizes;

  if (a.softmax_scale == 0.0f) a.softmax_scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  if (!std::isfinite(a.softmax_scale))
    return invalid(llvm::formatv("softmax_scale {0} is not finite", a.softmax_scale));
  if (Status modifiers = check_score_modifiers(a); !modifiers.ok()) return modifiers;
  if (Status workspace = check_workspace_fields(a); !workspace.ok()) return workspace;
  if (Status ragged = check_ragged_layout(a); !ragged.ok()) return ragged;
  const bool ragged = a.cu_seqlens_q != nullptr;
  const bool packed_keys = a.cu_seqlens_k != nullptr;
  const bool appending = appends_keys(a);

  if (a.q.strides.is_default()) a.q.strides = default_strides(ragged, a.seqlen_q, a.num_heads, a.head_dim);
  if (a.out.strides.is_default()) a.out.strides = default_strides(ragged, a.seqlen_q, a.num_heads, a.head_dim);
  for (InputTensor* t : {&a.k, &a.v})
    if (t->strides.is_default())
      t->strides = is_paged(a) ? contiguous_page_strides(a)
                               : default_strides(packed_keys, a.seqlen_k, a.num_kv_heads, a.head_dim);
  if (appending)
    for (InputTensor* t : {&a.k_new, &a.v_new})
      if (t->strides.is_default()) t->strides = contiguous_strides(a.seqlen_new, a.num_kv_heads, a.head_dim);

  struct Checked {
    TensorView view;
    bool packed;  // batch stride 0 allowed
  };
  std::vector<Checked> tensors = {
      {{"q", a.q.data, a.q.dtype, a.q.strides, a.seqlen_q, a.num_heads}, ragged},
      {{"k", a.k.data, a.k.dtype, a.k.strides, a.seqlen_k, a.num_kv_heads}, packed_keys},
      {{"v", a.v.data, a.v.dtype, a.v.strides, a.seqlen_k, a.num_kv_heads}, packed_keys},
      {{"out", a.out.data, a.out.dtype, a.out.strides, a.seqlen_q, a.num_heads}, ragged},
  };
  if (appending) {
    tensors.push_back({{"k_new", a.k_new.data, a.k_new.dtype, a.k_new.strides, a.seqlen_new, a.num_kv_heads}, false});
    tensors.push_back({{"v_new", a.v_new.data, a.v_new.dtype, a.v_new.strides, a.seqlen_new, a.num_kv_heads}, false});
  }

  for (const Checked& c : tensors)
    if (c.view.data == nullptr) return invalid(llvm::formatv("{0} is null", c.view.name));

  for (const Checked& c : tensors) {
    const TensorView& t = c.view;
    if (t.dtype != DType::f32 && t.dtype != DType::f16 && t.dtype != DType::bf16)
      return invalid(llvm::formatv("{0} has dtype {1}, which is not a known DType (expected f32, f16 or bf16)",
                                   t.name, static_cast<int>(t.dtype)));
    if (t.dtype != a.q.dtype)
      return invalid(llvm::formatv("{0} has dtype {1} but q has dtype {2}; all tensors must share one dtype",
                                   t.name, dtype_name(t.dtype), dtype_name(a.q.dtype)));
  }

  for (const Checked& c : tensors) {
    const TensorView& t = c.view;
    const int size = dtype_size(t.dtype);
    if (reinterpret_cast<uintptr_t>(t.data) % size != 0)
      return invalid(llvm::formatv("{0} pointer {1} is not aligned to {2} bytes ({3})", t.name,
                                   pointer_text(t.data), size, dtype_name(t.dtype)));
  }
  if (a.lse != nullptr && reinterpret_cast<uintptr_t>(a.lse) % 4 != 0)
    return invalid(llvm::formatv("lse pointer {0} is not aligned to 4 bytes", pointer_text(a.lse)));

  for (const Checked& c : tensors) {
    const TensorView& t = c.view;
    if ((!c.packed && t.strides.batch <= 0) || t.strides.seq <= 0 || t.strides.head <= 0)
      return invalid(llvm::formatv("{0} strides ({1}, {2}, {3}) must all be positive{4}", t.name, t.strides.batch,
                                   t.strides.seq, t.strides.head, c.packed ? " (but the batch stride 0)" : ""));
  }
  // A packed tensor without its token count spans what its offsets say: check_ragged_offsets.
  const std::optional<Span> keys = key_span(a);
  if (ragged && (!has_token_counts(a) || !keys)) return a;
  if (!keys) return a;
  const Span queries = ragged ? Span{1, std::max<int64_t>(a.total_q, 1)} : Span{a.batch, a.seqlen_q};
  const uint64_t lse_rows = ragged ? static_cast<uint64_t>(a.num_heads) * a.total_q
                                   : static_cast<uint64_t>(a.batch) * a.num_heads * a.seqlen_q;
  if (Status extents = check_extents(a, queries, *keys, lse_rows); !extents.ok()) return extents;
  return a;
}

namespace {

Status check_extents(const AttentionArgs& a, Span queries, Span keys, uint64_t lse_rows) {
  // Row counts beyond an int are refused as overflowing below; a packed tensor's are token counts.
  const int q_seq = static_cast<int>(std::min<int64_t>(queries.rows, INT32_MAX));
  const int k_seq = static_cast<int>(std::min<int64_t>(keys.rows, INT32_MAX));
  const int q_entries = static_cast<int>(std::min<int64_t>(queries.entries, INT32_MAX));
  const int k_entries = static_cast<int>(std::min<int64_t>(keys.entries, INT32_MAX));
  struct Spanned {
    TensorView view;
    int entries;
  };
  std::vector<Spanned> tensors = {
      {{"q", a.q.data, a.q.dtype, a.q.strides, q_seq, a.num_heads}, q_entries},
      {{"k", a.k.data, a.k.dtype, a.k.strides, k_seq, a.num_kv_heads}, k_entries},
      {{"v", a.v.data, a.v.dtype, a.v.strides, k_seq, a.num_kv_heads}, k_entries},
      {{"out", a.out.data, a.out.dtype, a.out.strides, q_seq, a.num_heads}, q_entries},
  };
  if (appends_keys(a)) {
    tensors.push_back({{"k_new", a.k_new.data, a.k_new.dtype, a.k_new.strides, a.seqlen_new, a.num_kv_heads}, a.batch});
    tensors.push_back({{"v_new", a.v_new.data, a.v_new.dtype, a.v_new.strides, a.seqlen_new, a.num_kv_heads}, a.batch});
  }
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;  // byte ranges [begin, end)
  for (const Spanned& s : tensors) {
    const TensorView& t = s.view;
    auto extent = element_extent(t, s.entries, a.head_dim);
    if (!extent)
      return invalid(llvm::formatv("{0} strides ({1}, {2}, {3}) overflow 64-bit offsets", t.name,
                                   t.strides.batch, t.strides.seq, t.strides.head));
    auto range = byte_range(t.data, static_cast<uint64_t>(*extent) * dtype_size(t.dtype));
    if (!range)
      return invalid(llvm::formatv("{0} at {1} with strides ({2}, {3}, {4}) runs past the end of the address space",
                                   t.name, pointer_text(t.data), t.strides.batch, t.strides.seq, t.strides.head));
    ranges.push_back(*range);
  }
  auto overlaps = [](std::pair<uintptr_t, uintptr_t> x, std::pair<uintptr_t, uintptr_t> y) {
    return x.first < y.second && y.first < x.second;
  };
  // The cache the new keys and values are written into must not hold them, nor the queries.
  for (size_t i = 4; i < tensors.size(); ++i)
    for (size_t j : {size_t{0}, size_t{1}, size_t{2}})
      if (overlaps(ranges[i], ranges[j]))
        return invalid(llvm::formatv("{0} overlaps {1}: the appended keys and values are written into k and v",
                                     tensors[i].view.name, tensors[j].view.name));

  const TensorView& out = tensors[3].view;
  if (!layout_is_one_to_one(out, q_entries, a.head_dim))
    return invalid(llvm::formatv("out strides ({0}, {1}, {2}) make different output elements overlap",
                                 out.strides.batch, out.strides.seq, out.strides.head));
  for (size_t i = 0; i < tensors.size(); ++i)
    if (i != 3 && overlaps(ranges[3], ranges[i]))
      return invalid(llvm::formatv("out overlaps {0}: attention cannot be computed in place", tensors[i].view.name));
  if (a.lse != nullptr) {
    // batch and num_heads are at most 65535 (checked above), so rows fits in 64 bits; its bytes are
    // checked with the end address.
    const uint64_t rows = lse_rows;
    uint64_t bytes = 0;
    std::optional<std::pair<uintptr_t, uintptr_t>> lse_range;
    if (!__builtin_mul_overflow(rows, uint64_t{sizeof(float)}, &bytes)) lse_range = byte_range(a.lse, bytes);
    if (!lse_range)
      return invalid(llvm::formatv("lse at {0} with {1} rows runs past the end of the address space",
                                   pointer_text(a.lse), rows));
    for (size_t i = 0; i < tensors.size(); ++i)
      if (overlaps(*lse_range, ranges[i]))
        return invalid(llvm::formatv("lse overlaps {0}", tensors[i].view.name));
  }
  return Status::success();
}

}  // namespace

}  // namespace flashjit
