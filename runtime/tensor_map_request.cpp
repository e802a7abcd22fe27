#include "runtime/tensor_map_request.h"

#include <algorithm>
#include <cstdint>

#include <llvm/Support/FormatVariadic.h>

#include "runtime/validate.h"

namespace flashjit {
namespace {

constexpr uint64_t kStrideLimit = 1ull << 40;  // TMA: strides below 2^40 bytes

enum class Role { sequence, head, batch };

// One dimension of a tensor beyond the head dimension, in elements.
struct Dim {
  Role role;
  const char* name;
  int64_t stride;
  int64_t extent;
};

// One tensor as TMA sees it: the base, and the sequence, head and batch dimensions.
struct TensorLayout {
  const char* name;
  const void* data;
  std::array<Dim, 3> dims;
};

// Strides all zero mean the contiguous layout (as validate_args makes them): shapes that never
// went through validation (a warm manifest) ask the same question.
TensorLayout layout(const char* name, const void* data, const Strides& given, int seqlen, int heads, int batch,
                    int head_dim) {
  const Strides s = given.is_default() ? contiguous_strides(seqlen, heads, head_dim) : given;
  return {name,
          data,
          {{{Role::sequence, "seq", s.seq, seqlen},
            {Role::head, "head", s.head, heads},
            {Role::batch, "batch", s.batch, batch}}}};
}

TensorLayout layout_of(const AttentionArgs& a, TmaOperand operand) {
  switch (operand) {
    case TmaOperand::k: return layout("k", a.k.data, a.k.strides, a.seqlen_k, a.num_kv_heads, a.batch, a.head_dim);
    case TmaOperand::v: return layout("v", a.v.data, a.v.strides, a.seqlen_k, a.num_kv_heads, a.batch, a.head_dim);
    case TmaOperand::q: break;
  }
  return layout("q", a.q.data, a.q.strides, a.seqlen_q, a.num_heads, a.batch, a.head_dim);
}

// The elements the tensor spans from its base: the largest offset reached, plus a row.
int64_t span_elements(const TensorLayout& t, int head_dim) {
  int64_t span = head_dim;
  for (const Dim& d : t.dims)
    if (d.extent > 1) span = std::max(span, d.stride * d.extent);
  return span;
}

std::string layout_problem(const TensorLayout& t, int head_dim, int64_t element_bytes) {
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
    return llvm::formatv("{0}: the base address {1} is not 16-byte aligned", t.name, t.data).str();
  for (const Dim& d : t.dims) {
    if (d.extent <= 1) continue;  // never stepped over: any stride will do
    const int64_t bytes = d.stride * element_bytes;
    if (d.stride <= 0 || bytes % 16 != 0)
      return llvm::formatv("{0}: the {1} stride of {2} elements ({3} bytes) is not a positive multiple of 16 bytes",
                           t.name, d.name, d.stride, bytes)
          .str();
    if (static_cast<uint64_t>(bytes) >= kStrideLimit)
      return llvm::formatv("{0}: the {1} stride of {2} bytes is not below TMA's 2^40", t.name, d.name, bytes).str();
  }
  // A dimension of extent 1 takes the tensor's span as its stride (tensor_map_request): that too
  // must stay below the limit.
  if (static_cast<uint64_t>(span_elements(t, head_dim) * element_bytes) >= kStrideLimit)
    return llvm::formatv("{0}: the tensor spans 2^40 bytes or more, beyond what TMA addresses", t.name).str();
  return {};
}

}  // namespace

TensorMapRequest tensor_map_request(const AttentionArgs& args, TmaOperand operand, int box_rows) {
  const TensorLayout t = layout_of(args, operand);
  const int64_t element_bytes = dtype_size(args.q.dtype);
  TensorMapRequest r;
  r.address = t.data;
  r.dtype = args.q.dtype;
  r.dims[0] = static_cast<unsigned long long>(args.head_dim);
  r.box = {kTmaBoxColumns, 1u, 1u, 1u};

  // A dimension of extent 1 is never stepped over, so its stride is free: give it the tensor's
  // whole span (rounded to 16 bytes), which sorts it last and keeps strides increasing.
  std::array<Dim, 3> outer = t.dims;
  const int64_t span = (span_elements(t, args.head_dim) * element_bytes + 15) / 16 * 16 / element_bytes;
  for (Dim& d : outer)
    if (d.extent <= 1) d.stride = span;
  // TMA describes each dimension as wrapping the previous ones: order them by stride.
  std::stable_sort(outer.begin(), outer.end(), [](const Dim& x, const Dim& y) { return x.stride < y.stride; });
  for (int i = 0; i < 3; ++i) {
    const int slot = i + 1;
    r.dims[slot] = static_cast<unsigned long long>(outer[i].extent);
    r.strides_bytes[i] = static_cast<unsigned long long>(outer[i].stride * element_bytes);
    switch (outer[i].role) {
      case Role::sequence:
        r.seq_slot = slot;
        r.box[slot] = static_cast<unsigned>(box_rows);  // a box is `box_rows` positions of one (head, batch)
        break;
      case Role::head: r.head_slot = slot; break;
      case Role::batch: r.batch_slot = slot; break;
    }
  }
  return r;
}

std::string tma_layout_problem(const AttentionArgs& args) {
  const int64_t element_bytes = dtype_size(args.q.dtype);
  const TensorLayout out = layout("out", args.out.data, args.out.strides, args.seqlen_q, args.num_heads, args.batch,
                                  args.head_dim);
  for (const TensorLayout& t : {layout_of(args, TmaOperand::q), layout_of(args, TmaOperand::k),
                                layout_of(args, TmaOperand::v), out})
    if (std::string why = layout_problem(t, args.head_dim, element_bytes); !why.empty()) return why;
  return {};
}

}  // namespace flashjit
