#include "problem/problem.h"

#include <cmath>
#include <tuple>

#include "problem/tma_addressability.h"
#include "problem/validate.h"
#include "support/error.h"

namespace flashjit {
namespace {

auto fields(const ProblemKey& k) { return std::tie(k.features, k.gqa_ratio, k.seqlen_bucket, k.tma_addressable); }

bool known_dtype(DType dtype) { return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16; }

}  // namespace

bool ProblemKey::operator==(const ProblemKey& other) const { return fields(*this) == fields(other); }

bool ProblemKey::operator<(const ProblemKey& other) const { return fields(*this) < fields(other); }

std::string ProblemKey::str() const {
  std::string key = shape_key(features) + "_" + modifier_key(features) + "_gqa" + std::to_string(gqa_ratio) +
                    "_len" + std::to_string(seqlen_bucket);
  return tma_addressable ? key : key + "_unaligned";
}

int64_t sequence_length_bucket(int64_t seqlen) {
  constexpr int64_t kSmallest = 128;
  // Beyond 2^62 the next power of two does not fit; no attention is that long.
  constexpr int64_t kLargest = int64_t{1} << 62;
  if (seqlen >= kLargest) return kLargest;
  int64_t bucket = kSmallest;
  while (bucket < seqlen) bucket *= 2;
  return bucket;
}

double attention_flops(const Problem& p) {
  const ProblemShape& s = p.shape();
  const double full = 4.0 * s.batch * s.num_heads * double(s.seqlen_q) * s.seqlen_k * p.head_dim();
  return p.mask() == MaskKind::causal ? full / 2 : full;
}

Problem Problem::of_call(const AttentionArgs& a) {
  return Problem(features_of(a), shape_of(a), tma_layout_problem(a));
}

llvm::Expected<Problem> Problem::of_shape(const ProblemFeatures& features, const ProblemShape& shape) {
  if (!known_dtype(features.dtype)) return make_error(ErrorCode::invalid_argument, "dtype is not a known DType");
  if (Status sizes = validate_sizes(features, shape); !sizes.ok()) return to_error(sizes);
  std::string why;
  for (Operand operand : {Operand::q, Operand::k, Operand::v, Operand::out}) {
    why = tma_layout_problem(contiguous_geometry(shape, features.head_dim, operand), dtype_size(features.dtype));
    if (!why.empty()) break;
  }
  return Problem(features, shape, std::move(why));
}

llvm::Expected<Problem> Problem::of_features(const ProblemFeatures& features) {
  return of_shape(features, ProblemShape{});
}

ProblemKey Problem::key() const { return {features_, gqa_ratio(), seqlen_bucket(), tma_addressable()}; }

Problem Problem::with_batch(int batch) const {
  Problem copy = *this;
  copy.shape_.batch = batch;
  return copy;
}

AttentionArgs Problem::contiguous_args(const void* q, const void* k, const void* v, void* out) const {
  AttentionArgs a;
  a.batch = shape_.batch;
  a.num_heads = shape_.num_heads;
  a.num_kv_heads = shape_.num_kv_heads;
  a.seqlen_q = shape_.seqlen_q;
  a.seqlen_k = shape_.seqlen_k;
  set_features(features_, a);
  a.softmax_scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
  a.q.data = q;
  a.k.data = k;
  a.v.data = v;
  a.out.data = out;
  a.q.strides = contiguous_strides(a.seqlen_q, a.num_heads, a.head_dim);
  a.k.strides = a.v.strides = contiguous_strides(a.seqlen_k, a.num_kv_heads, a.head_dim);
  a.out.strides = contiguous_strides(a.seqlen_q, a.num_heads, a.head_dim);
  return a;
}

}  // namespace flashjit
