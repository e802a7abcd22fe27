#include "problem/problem.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include <llvm/ADT/StringExtras.h>

#include "problem/tma_addressability.h"
#include "problem/validate.h"
#include "support/error.h"
#include "support/names.h"
#include "support/quote.h"

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

namespace {

llvm::Error bad_key(llvm::StringRef text, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, "problem key '" + quote_prefix(text) + "' " + why);
}

// Digits only (no sign, no spaces), as std::to_string writes a positive number.
bool read_positive(llvm::StringRef digits, int64_t& value) {
  if (digits.empty() || digits.size() > 18 || !llvm::all_of(digits, llvm::isDigit) || digits.front() == '0')
    return false;
  return !digits.getAsInteger(10, value);
}

}  // namespace

llvm::Expected<ProblemKey> parse_problem_key(llvm::StringRef text) {
  ProblemKey key;
  llvm::StringRef rest = text;
  key.tma_addressable = !rest.consume_back("_unaligned");

  const size_t len_at = rest.rfind("_len");
  int64_t bucket = 0;
  if (len_at == llvm::StringRef::npos || !read_positive(rest.substr(len_at + 4), bucket))
    return bad_key(text, "does not end in _len<sequence bucket>");
  // Any bucket of an int sequence length is at most 2^31.
  if (sequence_length_bucket(bucket) != bucket || bucket > (int64_t{1} << 31))
    return bad_key(text, "has a sequence bucket that is not a power of two in 128..2^31");
  key.seqlen_bucket = bucket;
  rest = rest.take_front(len_at);

  const size_t gqa_at = rest.rfind("_gqa");
  int64_t ratio = 0;
  if (gqa_at == llvm::StringRef::npos || !read_positive(rest.substr(gqa_at + 4), ratio) ||
      ratio > std::numeric_limits<int>::max())
    return bad_key(text, "has no _gqa<query heads per KV head> before _len");
  key.gqa_ratio = static_cast<int>(ratio);
  rest = rest.take_front(gqa_at);

  // <dtype>_d<head dim>_<modifiers>
  auto [dtype_text, after_dtype] = rest.split('_');
  auto dtype = parse_dtype(dtype_text);
  if (!dtype) return bad_key(text, "starts with no dtype: " + llvm::toString(dtype.takeError()));
  key.features.dtype = *dtype;
  auto [head_dim_text, modifiers] = after_dtype.split('_');
  int64_t head_dim = 0;
  if (!head_dim_text.consume_front("d") || !read_positive(head_dim_text, head_dim) || head_dim > 1 << 20)
    return bad_key(text, "has no _d<head dim> after its dtype");
  key.features.head_dim = static_cast<int>(head_dim);
  bool known_modifiers = false;
  for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
    // Every combination of the four specializations (issue 14), each one bit.
    for (int flags = 0; flags < 16 && !known_modifiers; ++flags) {
      key.features.mask = mask;
      key.features.window = flags & 1;
      key.features.softcap = flags & 2;
      key.features.alibi = flags & 4;
      key.features.ragged = flags & 8;
      known_modifiers = modifier_key(key.features) == modifiers;
    }
    if (known_modifiers) break;
  }
  if (!known_modifiers) return bad_key(text, "has unknown score modifiers '" + quote_prefix(modifiers) + "'");
  if (auto valid = Problem::of_features(key.features); !valid)
    return bad_key(text, "has invalid features: " + llvm::toString(valid.takeError()));
  // Everything above accepts only what str() writes; the round trip proves it.
  if (key.str() != text) return bad_key(text, "is not in the form str() writes ('" + key.str() + "')");
  return key;
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
  if (!known_dtype(features.dtype))
    return make_error(ErrorCode::invalid_argument, "dtype " + std::to_string(static_cast<int>(features.dtype)) +
                                                       " is not a known DType (expected f32, f16 or bf16)");
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

Problem Problem::of_key(const ProblemKey& key) {
  ProblemShape shape;
  shape.batch = 1;
  shape.num_heads = key.gqa_ratio;
  shape.num_kv_heads = 1;
  shape.seqlen_q = shape.seqlen_k = static_cast<int>(std::min<int64_t>(key.seqlen_bucket, std::numeric_limits<int>::max()));
  return Problem(key.features, shape,
                 key.tma_addressable ? std::string() : "the problem key marks its tensors as not TMA-addressable");
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
