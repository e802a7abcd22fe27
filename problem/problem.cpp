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

auto fields(const ProblemKey& k) {
  return std::tie(k.features, k.gqa_ratio, k.seqlen_bucket, k.tma_addressable, k.page_size, k.splits);
}

bool known_dtype(DType dtype) { return dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16; }

// The largest page a key or a shape may name (check_kv_cache_layout's bound on a call's).
constexpr int kMaxKeyPageSize = 1 << 20;

// A KV problem's page size and appended keys, defaulted where the features want them and none is
// given, and refused where the features do not have them (a page size without pages would be
// silently ignored otherwise).
llvm::Expected<ProblemShape> kv_cache_shape(const ProblemFeatures& f, ProblemShape s) {
  if (!f.paged && s.page_size != 0)
    return make_error(ErrorCode::invalid_argument,
                      "page_size " + std::to_string(s.page_size) + " is set but the problem has no paged KV cache");
  if (!f.append && s.seqlen_new != 0)
    return make_error(ErrorCode::invalid_argument,
                      "seqlen_new " + std::to_string(s.seqlen_new) + " is set but the problem appends no keys");
  if (f.paged && s.page_size == 0) s.page_size = kDefaultPageSize;
  if (f.append && s.seqlen_new == 0) s.seqlen_new = 1;
  if (s.page_size < 0 || s.page_size > kMaxKeyPageSize || (s.page_size & (s.page_size - 1)) != 0)
    return make_error(ErrorCode::invalid_argument, "page_size " + std::to_string(s.page_size) +
                                                       " is not a power of two from 1 to " +
                                                       std::to_string(kMaxKeyPageSize));
  if (s.seqlen_new < 0 || s.seqlen_new > s.seqlen_k)
    return make_error(ErrorCode::invalid_argument,
                      "seqlen_new " + std::to_string(s.seqlen_new) + " must be from 1 to seqlen_k " +
                          std::to_string(s.seqlen_k) + " (the keys a sequence has with them appended)");
  return s;
}

}  // namespace

bool ProblemKey::operator==(const ProblemKey& other) const { return fields(*this) == fields(other); }

bool ProblemKey::operator<(const ProblemKey& other) const { return fields(*this) < fields(other); }

std::string ProblemKey::str() const {
  std::string key = shape_key(features) + "_" + modifier_key(features);
  if (page_size > 0) key += "_page" + std::to_string(page_size);
  key += "_gqa" + std::to_string(gqa_ratio) + "_len" + std::to_string(seqlen_bucket);
  if (splits > 0) key += "_split" + std::to_string(splits);
  return tma_addressable ? key : key + "_unaligned";
}

namespace {

// A key's characters a message quotes: the longest keys str() writes (a paged KV cache's with every
// modifier) fit whole.
constexpr size_t kKeyQuoteChars = 128;

llvm::Error bad_key(llvm::StringRef text, const std::string& why) {
  return make_error(ErrorCode::invalid_argument, "problem key '" + quote_prefix(text, kKeyQuoteChars) + "' " + why);
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

  // A KV cache's split count on its device, after the bucket.
  const size_t split_at = rest.rfind("_split");
  int64_t splits = 0;
  if (split_at != llvm::StringRef::npos && read_positive(rest.substr(split_at + 6), splits)) {
    if (splits > kMaxKvSplits)
      return bad_key(text, "has a split count above " + std::to_string(kMaxKvSplits));
    key.splits = static_cast<int>(splits);
    rest = rest.take_front(split_at);
  }

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

  // A paged cache's page size ("_paged" itself is a modifier, without digits after it).
  const size_t page_at = rest.rfind("_page");
  int64_t page_size = 0;
  if (page_at != llvm::StringRef::npos && read_positive(rest.substr(page_at + 5), page_size)) {
    if (page_size > kMaxKeyPageSize || (page_size & (page_size - 1)) != 0)
      return bad_key(text, "has a page size that is not a power of two from 1 to " + std::to_string(kMaxKeyPageSize));
    key.page_size = static_cast<int>(page_size);
    rest = rest.take_front(page_at);
  }

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
    // Every combination of the seven specializations (issues 14 and 15), each one bit.
    for (int flags = 0; flags < 128 && !known_modifiers; ++flags) {
      key.features.mask = mask;
      key.features.window = flags & 1;
      key.features.softcap = flags & 2;
      key.features.alibi = flags & 4;
      key.features.ragged = flags & 8;
      key.features.kv_cache = flags & 16;
      key.features.paged = flags & 32;
      key.features.append = flags & 64;
      known_modifiers = modifier_key(key.features) == modifiers;
    }
    if (known_modifiers) break;
  }
  if (!known_modifiers) return bad_key(text, "has unknown score modifiers '" + quote_prefix(modifiers) + "'");
  if (auto valid = Problem::of_features(key.features); !valid)
    return bad_key(text, "has invalid features: " + llvm::toString(valid.takeError()));
  if (key.splits > 0 && !key.features.kv_cache)
    return bad_key(text, "has a split count but no KV cache");
  if (key.features.paged != (key.page_size > 0))
    return bad_key(text, key.features.paged ? "is paged but has no _page<page size>" : "has a page size but is not paged");
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

namespace {

// Query-key pairs a sequence of these lengths computes under a sliding window: each row's keys
// from its first to its last visible one (templates/score_modifiers.cuh's ScoreRule).
double windowed_pairs(int64_t seqlen_q, int64_t seqlen_k, bool causal, const ScoreModValues& v) {
  const int64_t offset = seqlen_k - seqlen_q;
  double pairs = 0.0;
  for (int64_t row = 0; row < seqlen_q; ++row) {
    const int64_t first = v.window_left >= 0 ? std::max<int64_t>(0, row + offset - v.window_left) : 0;
    int64_t last = seqlen_k - 1;
    if (causal)
      last = std::min(last, row + offset);
    else if (v.window_right >= 0)
      last = std::min(last, row + offset + v.window_right);
    if (last >= first) pairs += double(last - first + 1);
  }
  return pairs;
}

// One sequence's operations, per head.
double sequence_flops(const Problem& p, int64_t seqlen_q, int64_t seqlen_k) {
  const bool causal = p.mask() == MaskKind::causal;
  if (p.features().window)
    return 4.0 * windowed_pairs(seqlen_q, seqlen_k, causal, p.score_mod_values()) * p.head_dim();
  const double full = 4.0 * double(seqlen_q) * double(seqlen_k) * p.head_dim();
  return causal ? full / 2 : full;
}

}  // namespace

double attention_flops(const Problem& p) {
  const ProblemShape& s = p.shape();
  return double(s.batch) * s.num_heads * sequence_flops(p, s.seqlen_q, s.seqlen_k);
}

double attention_flops(const Problem& p, const std::vector<int>& q_lengths, const std::vector<int>& k_lengths) {
  double total = 0.0;
  for (size_t i = 0; i < q_lengths.size() && i < k_lengths.size(); ++i)
    total += sequence_flops(p, q_lengths[i], k_lengths[i]);
  return total * p.shape().num_heads;
}

Problem Problem::of_call(const AttentionArgs& a) {
  return Problem(features_of(a), shape_of(a), tma_layout_problem(a), score_mod_values_of(a));
}

llvm::Expected<Problem> Problem::of_shape(const ProblemFeatures& features, const ProblemShape& given) {
  if (!known_dtype(features.dtype))
    return make_error(ErrorCode::invalid_argument, "dtype " + std::to_string(static_cast<int>(features.dtype)) +
                                                       " is not a known DType (expected f32, f16 or bf16)");
  if (Status sizes = validate_sizes(features, given); !sizes.ok()) return to_error(sizes);
  auto kv_shape = kv_cache_shape(features, given);
  if (!kv_shape) return kv_shape.takeError();
  const ProblemShape& shape = *kv_shape;
  std::string why;
  for (Operand operand : {Operand::q, Operand::k, Operand::v, Operand::out}) {
    // A ragged batch's tensors are packed, as its calls' are (contiguous_args, with their token counts).
    const TensorGeometry geometry =
        contiguous_geometry(shape, features.head_dim, operand, features.ragged, features.kv_cache);
    why = tma_layout_problem(geometry, dtype_size(features.dtype));
    if (!why.empty()) break;
  }
  // Without values a softcap kernel would compute softcap 0 (every score 0): it runs at a nominal cap.
  ScoreModValues values;
  if (features.softcap) values.softcap = kNominalSoftcap;
  return Problem(features, shape, std::move(why), values);
}

llvm::Expected<Problem> Problem::of_shape(const ProblemFeatures& features, const ProblemShape& shape,
                                          const ScoreModValues& values) {
  if (llvm::Error error = check_score_mod_values(values)) return error;
  auto problem = of_shape(with_score_mod_values(features, values), shape);
  if (!problem) return problem.takeError();
  const float nominal_softcap = problem->values_.softcap;
  problem->values_ = values;
  if (values.softcap == 0.0f) problem->values_.softcap = nominal_softcap;
  return problem;
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
  shape.page_size = key.page_size;
  shape.seqlen_new = key.features.append ? 1 : 0;
  ScoreModValues values;
  if (key.features.softcap) values.softcap = kNominalSoftcap;
  return Problem(key.features, shape,
                 key.tma_addressable ? std::string() : "the problem key marks its tensors as not TMA-addressable",
                 values);
}

ProblemKey Problem::key() const {
  return {features_, gqa_ratio(), seqlen_bucket(), tma_addressable(), features_.paged ? shape_.page_size : 0};
}

int Problem::pages_per_sequence() const {
  if (!features_.paged || shape_.page_size <= 0) return 1;
  return static_cast<int>((int64_t{shape_.seqlen_k} + shape_.page_size - 1) / shape_.page_size);
}

int64_t Problem::key_rows() const {
  if (features_.paged) return num_pages() * shape_.page_size;
  return int64_t{shape_.batch} * shape_.seqlen_k;
}

Problem Problem::with_batch(int batch) const {
  Problem copy = *this;
  copy.shape_.batch = batch;
  return copy;
}

void Problem::set_kv_cache_args(const ModifierPointers& mods, AttentionArgs& a) const {
  a.seqused_k = mods.seqused_k;
  if (features_.paged) {
    a.block_table = mods.block_table;
    a.page_size = shape_.page_size;
    a.max_pages_per_sequence = pages_per_sequence();
    a.num_pages = static_cast<int>(num_pages());
    a.k.strides = a.v.strides = contiguous_strides(shape_.page_size, shape_.num_kv_heads, features_.head_dim);
  }
  if (features_.append) {
    a.seqlen_new = shape_.seqlen_new;
    a.k_new.data = mods.k_new;
    a.v_new.data = mods.v_new;
    a.k_new.dtype = a.v_new.dtype = features_.dtype;
    a.k_new.strides = a.v_new.strides = contiguous_strides(shape_.seqlen_new, shape_.num_kv_heads, features_.head_dim);
  }
}

AttentionArgs Problem::contiguous_args(const void* q, const void* k, const void* v, void* out,
                                       const ModifierPointers& mods) const {
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
  set_score_mod_values(values_, a);
  if (features_.ragged) {
    // Packed [tokens, heads, head_dim]: a sequence starts at its offset, not at a batch stride. A KV
    // cache's keys are its own (seqused_k): only the queries are packed.
    for (Strides* strides : {&a.q.strides, &a.out.strides}) strides->batch = 0;
    a.cu_seqlens_q = mods.cu_seqlens_q;
    a.total_q = mods.total_q;
    if (!features_.kv_cache) {
      for (Strides* strides : {&a.k.strides, &a.v.strides}) strides->batch = 0;
      a.cu_seqlens_k = mods.cu_seqlens_k;
      a.total_k = mods.total_k;
    }
  }
  if (features_.alibi) a.alibi_slopes = mods.alibi_slopes;
  if (features_.kv_cache) set_kv_cache_args(mods, a);
  return a;
}

}  // namespace flashjit
