// Problem: one attention problem as every layer above the public API sees it, built once, either
// from validated arguments or, without any data, from a manifest entry or the CLI's options. It
// owns the features a kernel is specialized on, the sizes, the GQA ratio, the sequence-length
// bucket, whether TMA can address its tensors (and why not), and its key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "problem/problem_features.h"
#include "problem/problem_shape.h"
#include "problem/score_mod_values.h"

namespace flashjit {

// What decides which kernel serves a call: calls with equal keys share one kernel, in the
// in-memory kernel table and in the tuning cache. A plain value, compared without strings, so the
// hot path never formats it.
struct ProblemKey {
  ProblemFeatures features;
  int gqa_ratio = 1;          // query heads per KV head
  int64_t seqlen_bucket = 0;  // sequence_length_bucket(seqlen_k)
  // Rows TMA and 16-byte copies cannot address take other kernels (no wgmma_sm90, element-wise
  // copies), so such calls are tuned and cached apart.
  bool tma_addressable = true;
  // A paged KV cache's page size (0 without pages): pages of 1 and of 256 keys walk the cache
  // differently, so they are tuned apart.
  int page_size = 0;
  // A KV cache's split-KV count on the key's device (runtime/split_kv.h's device_problem_key): calls
  // that split alike share a kernel and its tuned split count. 0 where no device is known (a
  // compile-only warm-up: the count is decided at each launch) or without a KV cache.
  int splits = 0;

  bool operator==(const ProblemKey& other) const;
  bool operator!=(const ProblemKey& other) const { return !(*this == other); }
  bool operator<(const ProblemKey& other) const;
  // "bf16_d128_causal_gqa4_len4096", with "_unaligned" when TMA cannot address the tensors: the
  // string the cache stores (opaque to the cache) and messages show. A paged cache's page size
  // follows the modifiers, a split count the bucket: "bf16_d128_none_kvcache_paged_page16_gqa4_len8192_split3".
  std::string str() const;
};

// The inverse of ProblemKey::str(), for keys read from disk: an invalid_argument error unless
// `text` is exactly what str() writes for a key with valid features, a GQA ratio of at least 1 and
// a sequence-length bucket that sequence_length_bucket() can return, so a stored key cannot carry
// anything str() would not have written.
llvm::Expected<ProblemKey> parse_problem_key(llvm::StringRef text);

// Sequence lengths share a tuned kernel per power-of-two bucket, so that every new length does not
// trigger a new tuning run: the next power of two at or above `seqlen`, at least 128.
int64_t sequence_length_bucket(int64_t seqlen);

class Problem;

// Floating-point operations of the attention: 4 * batch * heads * seqlen_q * seqlen_k * head_dim
// (the two matrix products), half of that under the causal mask, as FlashAttention's benchmarks
// count them, so TFLOP/s figures compare. A sliding window counts the keys each row sees instead
// (work proportional to the window, as the kernels do it), so a windowed TFLOP/s stays honest.
double attention_flops(const Problem& problem);
// The same for a ragged batch of these lengths (one pair per sequence), each its own problem.
double attention_flops(const Problem& problem, const std::vector<int>& q_lengths, const std::vector<int>& k_lengths);

// Where a problem's ragged-batch offsets, ALiBi slopes and KV cache's counts, block table and
// appended keys are, in the memory its backend reads (problem/modifier_data.h makes the first; the
// caller allocates k_new and v_new like the other tensors): what contiguous_args needs beyond them.
struct ModifierPointers {
  const int32_t* cu_seqlens_q = nullptr;
  const int32_t* cu_seqlens_k = nullptr;
  int64_t total_q = 0;  // the packed tensors' token counts (the offsets' last entries)
  int64_t total_k = 0;
  const float* alibi_slopes = nullptr;
  const int32_t* seqused_k = nullptr;
  const int32_t* block_table = nullptr;
  const void* k_new = nullptr;
  const void* v_new = nullptr;
};

// A paged problem's page size when none is given: vLLM's default.
constexpr int kDefaultPageSize = 16;

class Problem {
 public:
  // A call that validate_args accepted (normalized): its tensors' layout decides TMA
  // addressability.
  static Problem of_call(const AttentionArgs& normalized);
  // Sizes without data: contiguous tensors at aligned addresses. Checked as validate_args checks
  // the sizes, with its messages (an invalid_argument error). A paged problem without a page size
  // gets kDefaultPageSize, an appending one without seqlen_new 1.
  static llvm::Expected<Problem> of_shape(const ProblemFeatures& features, const ProblemShape& shape);
  // The same with the score modifiers' values, checked as a call's are: the features gain the window
  // and softcap specializations the values need (with_score_mod_values), so the two agree. A softcap
  // feature without a cap (here or without values) runs at kNominalSoftcap; a window feature
  // without bounds, unbounded.
  static llvm::Expected<Problem> of_shape(const ProblemFeatures& features, const ProblemShape& shape,
                                          const ScoreModValues& values);
  // Only the features matter (doctor, emit): one row of one head.
  static llvm::Expected<Problem> of_features(const ProblemFeatures& features);
  // A problem with this key (one batch, gqa_ratio query heads on one KV head, seqlen_bucket rows),
  // to judge a stored kernel by the rules that chose it. The key's TMA verdict is taken as given.
  static Problem of_key(const ProblemKey& key);

  const ProblemFeatures& features() const { return features_; }
  DType dtype() const { return features_.dtype; }
  int head_dim() const { return features_.head_dim; }
  MaskKind mask() const { return features_.mask; }

  const ProblemShape& shape() const { return shape_; }
  // The window bounds and softcap the problem's kernel reads (defaults where it has none).
  const ScoreModValues& score_mod_values() const { return values_; }
  int gqa_ratio() const { return shape_.num_heads / shape_.num_kv_heads; }
  int64_t seqlen_bucket() const { return sequence_length_bucket(shape_.seqlen_k); }

  // A KV cache's layout as contiguous_args makes it: each sequence owns pages_per_sequence() pages
  // of the page size (seqlen_k keys rounded up; 1 for a dense cache, whose "page" is the sequence),
  // and k and v hold key_rows() rows in all (batch * seqlen_k for a problem without pages).
  int pages_per_sequence() const;
  int64_t num_pages() const { return int64_t{shape_.batch} * pages_per_sequence(); }
  int64_t key_rows() const;
  // Rows of k_new and v_new: batch * seqlen_new.
  int64_t new_key_rows() const { return int64_t{shape_.batch} * shape_.seqlen_new; }

  bool tma_addressable() const { return tma_problem_.empty(); }
  // Why TMA cannot address the tensors ("k: the seq stride of ..."); empty when it can.
  const std::string& tma_problem() const { return tma_problem_; }

  ProblemKey key() const;

  // The same problem with another batch (the tuner caps the memory its timing runs take). The key
  // and TMA verdict stay this problem's, not recomputed: the tuner times the kernels for this key
  // on fewer rows.
  Problem with_batch(int batch) const;
  // Normalized arguments for contiguous tensors of this problem at the given buffers (the tuner's
  // and the CLI's own calls); softmax_scale 1/sqrt(head_dim), no lse, the score modifiers' values.
  // A ragged problem's tensors are packed ([tokens, heads, head_dim], batch stride 0) and it needs
  // `mods`' offsets, as a problem with ALiBi needs its slopes; pointers a problem does not use are
  // left out. A KV cache's k and v are `mods`' pages (or [batch, seqlen_k] when dense), read through
  // its seqused_k and block table, with its k_new and v_new [batch, seqlen_new] appended.
  AttentionArgs contiguous_args(const void* q, const void* k, const void* v, void* out,
                                const ModifierPointers& mods = {}) const;

 private:
  // contiguous_args' KV cache fields.
  void set_kv_cache_args(const ModifierPointers& mods, AttentionArgs& args) const;

  Problem(ProblemFeatures features, ProblemShape shape, std::string tma_problem, ScoreModValues values)
      : features_(features), shape_(shape), tma_problem_(std::move(tma_problem)), values_(values) {}

  ProblemFeatures features_;
  ProblemShape shape_;
  std::string tma_problem_;
  ScoreModValues values_;
};

}  // namespace flashjit
