#include "runtime/tensor_map_request.h"

#include <algorithm>
#include <cstdint>

#include <llvm/Support/FormatVariadic.h>

#include "runtime/validate.h"

namespace flashjit {
namespace {

constexpr int64_t kElementBytes = 2;            // f16 and bf16: the dtypes TMA loads for wgmma_sm90
constexpr uint64_t kStrideLimit = 1ull << 40;   // TMA: strides below 2^40 bytes

// One tensor as TMA sees it: the base, and the sequence, head and batch dimensions.
struct TensorLayout {
  const char* name;
  const void* data;
  Strides strides;
  int seqlen;
  int heads;
  int batch;
};

struct OuterDim {
  int64_t stride;  // elements
  int64_t extent;
  int role;        // 0 sequence, 1 head, 2 batch
};

// Strides all zero mean the contiguous layout (as validate_args makes them): shapes that never
// went through validation (a warm manifest) ask the same question.
Strides explicit_strides(const Strides& s, int seqlen, int heads, int head_dim) {
  return s.is_default() ? contiguous_strides(seqlen, heads, head_dim) : s;
}

TensorLayout layout_of(const AttentionArgs& a, TmaOperand operand) {
  switch (operand) {
    case TmaOperand::q:
      return {"q", a.q.data, explicit_strides(a.q.strides, a.seqlen_q, a.num_heads, a.head_dim), a.seqlen_q,
              a.num_heads, a.batch};
    case TmaOperand::k:
      return {"k", a.k.data, explicit_strides(a.k.strides, a.seqlen_k, a.num_kv_heads, a.head_dim), a.seqlen_k,
              a.num_kv_heads, a.batch};
    case TmaOperand::v:
      return {"v", a.v.data, explicit_strides(a.v.strides, a.seqlen_k, a.num_kv_heads, a.head_dim), a.seqlen_k,
              a.num_kv_heads, a.batch};
  }
  return layout_of(a, TmaOperand::q);
}

int64_t element_bytes(DType dtype) { return dtype == DType::f32 ? 4 : 2; }

std::string layout_problem(const TensorLayout& t, int64_t element_bytes) {
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0)
    return llvm::formatv("{0}: the base address {1} is not 16-byte aligned", t.name, t.data).str();
  const std::pair<const char*, std::pair<int64_t, int>> dims[] = {
      {"seq", {t.strides.seq, t.seqlen}}, {"head", {t.strides.head, t.heads}}, {"batch", {t.strides.batch, t.batch}}};
  for (const auto& [what, dim] : dims) {
    const auto [stride, extent] = dim;
    if (extent <= 1) continue;  // never stepped over: any stride will do
    const int64_t bytes = stride * element_bytes;
    if (stride <= 0 || bytes % 16 != 0)
      return llvm::formatv("{0}: the {1} stride of {2} elements ({3} bytes) is not a positive multiple of 16 bytes",
                           t.name, what, stride, bytes)
          .str();
    if (static_cast<uint64_t>(bytes) >= kStrideLimit)
      return llvm::formatv("{0}: the {1} stride of {2} bytes is not below TMA's 2^40", t.name, what, bytes).str();
  }
  return {};
}

}  // namespace

TensorMapRequest tensor_map_request(const AttentionArgs& args, TmaOperand operand, int box_rows) {
  const TensorLayout t = layout_of(args, operand);
  TensorMapRequest r;
  r.address = t.data;
  r.dtype = args.q.dtype;
  r.dims[0] = static_cast<unsigned long long>(args.head_dim);
  r.box = {kTmaBoxColumns, 1u, 1u, 1u};

  // A dimension of extent 1 is never stepped over, so its stride is free: give it the tensor's
  // whole span (rounded to 16 bytes), which sorts it last and keeps strides increasing.
  std::array<OuterDim, 3> outer = {{{t.strides.seq, t.seqlen, 0}, {t.strides.head, t.heads, 1}, {t.strides.batch, t.batch, 2}}};
  int64_t span = args.head_dim;
  for (const OuterDim& d : outer)
    if (d.extent > 1) span = std::max(span, d.stride * d.extent);
  span = (span * kElementBytes + 15) / 16 * 16 / kElementBytes;
  for (OuterDim& d : outer)
    if (d.extent <= 1) d.stride = span;
  // TMA describes each dimension as wrapping the previous ones: order them by stride.
  std::stable_sort(outer.begin(), outer.end(), [](const OuterDim& x, const OuterDim& y) { return x.stride < y.stride; });
  for (int i = 0; i < 3; ++i) {
    r.dims[i + 1] = static_cast<unsigned long long>(outer[i].extent);
    r.strides_bytes[i] = static_cast<unsigned long long>(outer[i].stride * kElementBytes);
    const int slot = i + 1;
    if (outer[i].role == 0) {
      r.seq_slot = slot;
      r.box[slot] = static_cast<unsigned>(box_rows);  // a box is `box_rows` positions of one (head, batch)
    }
    if (outer[i].role == 1) r.head_slot = slot;
    if (outer[i].role == 2) r.batch_slot = slot;
  }
  return r;
}

std::string tma_layout_problem(const AttentionArgs& args) {
  const TensorLayout out{"out", args.out.data,
                         explicit_strides(args.out.strides, args.seqlen_q, args.num_heads, args.head_dim),
                         args.seqlen_q, args.num_heads, args.batch};
  for (const TensorLayout& t : {layout_of(args, TmaOperand::q), layout_of(args, TmaOperand::k),
                                layout_of(args, TmaOperand::v), out})
    if (std::string why = layout_problem(t, element_bytes(args.q.dtype)); !why.empty()) return why;
  return {};
}

}  // namespace flashjit
