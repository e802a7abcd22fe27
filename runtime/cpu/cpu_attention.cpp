// The CPU backend: FlashAttention's blocked online softmax, in fp32, on host memory.
//
// Work is split into units of (batch, query head, block of kQueryBlock query rows). A unit converts
// its query rows to fp32 once, then walks the key blocks: it converts each K/V block to fp32 once,
// computes the block of scores, folds them into a running max and sum per row and rescales the
// accumulator. The seqlen_q x seqlen_k score matrix never exists, so memory stays O(block) and
// the working set stays in L1/L2.
#include "runtime/cpu/cpu_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <future>
#include <limits>
#include <utility>
#include <vector>

#include <llvm/ADT/ScopeExit.h>
#include <llvm/Support/ThreadPool.h>
#include <llvm/Support/Threading.h>

#include "flashjit/numeric.h"
#include "problem/kv_cache_args.h"

namespace flashjit::cpu {
namespace {

// 64 x 64 score tiles: the K^T, V and accumulator tiles of a 256-wide head stay within 256 KiB,
// and a 64-element inner loop is long enough to vectorize well.
constexpr int kQueryBlock = 64;
constexpr int kKeyBlock = 64;
// validate_args guarantees head_dim % 8 == 0. Loops over head_dim go in steps of 8 with a constant
// inner trip count, which even -O2's cheap vectorizer turns into SIMD code without an epilogue.
constexpr int kHeadDimStep = 8;

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

float bf16_to_float_inline(uint16_t bits) {
  // Kept local (not flashjit::bf16_bits_to_float) so the conversion loop inlines and vectorizes.
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof value);
  return value;
}

// Converts `count` contiguous elements of a `dtype` tensor, starting at element `offset`, to fp32.
void load_row(const void* data, DType dtype, int64_t offset, int count, float* dst) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, static_cast<const float*>(data) + offset, sizeof(float) * count);
      return;
    case DType::f16: {
      const uint16_t* src = static_cast<const uint16_t*>(data) + offset;
      for (int i = 0; i < count; ++i) dst[i] = half_bits_to_float(src[i]);
      return;
    }
    case DType::bf16: {
      const uint16_t* src = static_cast<const uint16_t*>(data) + offset;
      for (int i = 0; i < count; ++i) dst[i] = bf16_to_float_inline(src[i]);
      return;
    }
  }
}

// Rounds `count` fp32 values to `dtype` and stores them contiguously from element `offset`.
void store_row(void* data, DType dtype, int64_t offset, int count, const float* src) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(static_cast<float*>(data) + offset, src, sizeof(float) * count);
      return;
    case DType::f16: {
      uint16_t* dst = static_cast<uint16_t*>(data) + offset;
      for (int i = 0; i < count; ++i) dst[i] = float_to_half_bits(src[i]);
      return;
    }
    case DType::bf16: {
      uint16_t* dst = static_cast<uint16_t*>(data) + offset;
      for (int i = 0; i < count; ++i) dst[i] = float_to_bf16_bits(src[i]);
      return;
    }
  }
}

// values[d] *= factor for d < head_dim.
void scale_row(float* __restrict values, float factor, int head_dim) {
  for (int d0 = 0; d0 < head_dim; d0 += kHeadDimStep)
    for (int d = d0; d < d0 + kHeadDimStep; ++d) values[d] *= factor;
}

// acc[d] += weight * v[d] for d < head_dim.
void add_scaled_row(float* __restrict acc, const float* __restrict v, float weight, int head_dim) {
  for (int d0 = 0; d0 < head_dim; d0 += kHeadDimStep)
    for (int d = d0; d < d0 + kHeadDimStep; ++d) acc[d] += weight * v[d];
}

// 64-bit throughout: an offset is a product of sizes, which passes 2^31 long before memory runs out.
int64_t element_offset(const Strides& strides, int64_t b, int64_t s, int64_t h) {
  return b * strides.batch + s * strides.seq + h * strides.head;
}

// fp32 tiles of one query block, allocated once per worker and reused for every unit it runs.
struct BlockScratch {
  explicit BlockScratch(int head_dim)
      : q(static_cast<size_t>(kQueryBlock) * head_dim),
        k_transposed(static_cast<size_t>(head_dim) * kKeyBlock),
        v(static_cast<size_t>(kKeyBlock) * head_dim),
        scores(static_cast<size_t>(kQueryBlock) * kKeyBlock),
        acc(static_cast<size_t>(kQueryBlock) * head_dim),
        row_max(kQueryBlock),
        row_sum(kQueryBlock),
        key_row(head_dim) {}

  std::vector<float> q;             // [kQueryBlock, head_dim], pre-multiplied by the softmax scale
  std::vector<float> k_transposed;  // [head_dim, kKeyBlock]: the score loop then runs over keys
  std::vector<float> v;             // [kKeyBlock, head_dim]
  std::vector<float> scores;        // [kQueryBlock, kKeyBlock], then the probabilities
  std::vector<float> acc;           // [kQueryBlock, head_dim], unnormalized output
  std::vector<float> row_max;       // running max of the scaled scores seen so far
  std::vector<float> row_sum;       // running sum of exp(score - row_max)
  std::vector<float> key_row;       // one K row before it is transposed into k_transposed
};

// One sequence of the batch: its lengths, and its first query and key tokens within batch entry b
// (0 in a dense batch; the offsets' entries in a ragged one, whose batch stride is 0). A KV cache's
// keys are its seqused_k (and the appended ones), from row 0 of its entry or of its pages.
struct Sequence {
  int b;
  int seqlen_q;
  int seqlen_k;
  int64_t q_row0;
  int64_t k_row0;
};

Sequence sequence_of(const AttentionArgs& a, int b) {
  Sequence s{b, a.seqlen_q, a.seqlen_k, 0, 0};
  if (a.cu_seqlens_q != nullptr) {
    s.seqlen_q = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    s.q_row0 = a.cu_seqlens_q[b];
  }
  if (has_kv_cache(a)) {
    s.seqlen_k = static_cast<int>(keys_after_append(a, a.seqused_k, b));
  } else if (a.cu_seqlens_k != nullptr) {
    s.seqlen_k = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    s.k_row0 = a.cu_seqlens_k[b];
  }
  return s;
}

// Element offset of key `key` (the sequence's own index) of tensor t (k or v, or a paged cache's).
int64_t key_offset(const AttentionArgs& a, const Strides& strides, const Sequence& seq, int64_t key, int kv_head) {
  if (!is_paged(a)) return element_offset(strides, seq.b, seq.k_row0 + key, kv_head);
  const int64_t page = block_table_row(a, a.block_table, seq.b)[key / a.page_size];
  return element_offset(strides, page, key % a.page_size, kv_head);
}

// Writes the call's new keys and values into the cache (through the block table when paged): row i
// of sequence b goes to its key seqused_k[b] + i. The cache is the caller's writable k and v.
void append_keys(const AttentionArgs& a) {
  const size_t row_bytes = static_cast<size_t>(a.head_dim) * dtype_size(a.k.dtype);
  for (int b = 0; b < a.batch; ++b) {
    const Sequence seq = sequence_of(a, b);
    for (int i = 0; i < a.seqlen_new; ++i)
      for (int h = 0; h < a.num_kv_heads; ++h)
        for (auto [cache, fresh] : {std::pair{&a.k, &a.k_new}, std::pair{&a.v, &a.v_new}}) {
          const int64_t to = key_offset(a, cache->strides, seq, int64_t{a.seqused_k[b]} + i, h);
          const int64_t from = element_offset(fresh->strides, b, i, h);
          std::memcpy(static_cast<char*>(const_cast<void*>(cache->data)) + to * dtype_size(cache->dtype),
                      static_cast<const char*>(fresh->data) + from * dtype_size(fresh->dtype), row_bytes);
        }
  }
}

// Which keys a row of one (sequence, head) sees and its scores' modifiers (FlashAttention-2's
// semantics; include/flashjit/types.h): the reference the kernels are checked against.
struct ScoreRule {
  int64_t offset = 0;       // seqlen_k - seqlen_q: the bottom-right alignment
  int seqlen_k = 0;
  int64_t window_left = -1;   // -1: unbounded
  int64_t window_right = -1;  // -1: unbounded; 0 under the causal mask
  float softcap = 0.0f;       // 0: off
  float slope = 0.0f;         // ALiBi slope of the head, 0: off
  bool modifies_scores = false;

  int64_t first_key(int64_t row) const { return window_left < 0 ? 0 : std::max<int64_t>(0, row + offset - window_left); }
  // Inclusive; below first_key when the row sees no key.
  int64_t last_key(int64_t row) const {
    const int64_t last = seqlen_k - 1;
    return window_right < 0 ? last : std::min(last, row + offset + window_right);
  }
  // A score already multiplied by the softmax scale, capped and biased.
  float modify(float scaled, int64_t row, int64_t col) const {
    float x = softcap > 0.0f ? softcap * std::tanh(scaled / softcap) : scaled;
    if (slope != 0.0f) x -= slope * static_cast<float>(std::llabs(row + offset - col));
    return x;
  }
};

ScoreRule score_rule(const AttentionArgs& a, const Sequence& seq, int h) {
  ScoreRule rule;
  rule.offset = static_cast<int64_t>(seq.seqlen_k) - seq.seqlen_q;
  rule.seqlen_k = seq.seqlen_k;
  rule.window_left = a.window_left;
  rule.window_right = a.mask == MaskKind::causal ? 0 : a.window_right;
  rule.softcap = a.softcap;
  if (a.alibi_slopes != nullptr) rule.slope = a.alibi_slopes[seq.b * a.alibi_batch_stride + h];
  rule.modifies_scores = rule.softcap > 0.0f || a.alibi_slopes != nullptr;
  return rule;
}

// One query block of one (sequence, head): rows [q_begin, q_begin + q_rows) of the sequence.
struct QueryBlock {
  Sequence seq;
  int h;
  int q_begin;
  int q_rows;
};

// Converts keys [k_begin, k_begin + k_cols) of the block's kv head: K transposed, V as is.
void load_key_block(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                    BlockScratch& s) {
  const int head_dim = a.head_dim;
  for (int c = 0; c < k_cols; ++c) {
    const int64_t key = k_begin + c;
    load_row(a.k.data, a.k.dtype, key_offset(a, a.k.strides, seq, key, kv_head), head_dim, s.key_row.data());
    for (int d = 0; d < head_dim; ++d) s.k_transposed[static_cast<size_t>(d) * kKeyBlock + c] = s.key_row[d];
    load_row(a.v.data, a.v.dtype, key_offset(a, a.v.strides, seq, key, kv_head), head_dim,
             &s.v[static_cast<size_t>(c) * head_dim]);
  }
}

// Index into lse of one query row: [batch, num_heads, seqlen_q], or [num_heads, total_q] when ragged.
int64_t lse_index(const AttentionArgs& a, const QueryBlock& blk, int row) {
  if (a.cu_seqlens_q != nullptr)
    return static_cast<int64_t>(blk.h) * a.cu_seqlens_q[a.batch] + blk.seq.q_row0 + row;
  return (static_cast<int64_t>(blk.seq.b) * a.num_heads + blk.h) * a.seqlen_q + row;
}

// scores[r, c] = q[r] . k[c] for the loaded tiles. The innermost loop runs over keys, contiguous in
// k_transposed, so it vectorizes without reassociating a dot-product reduction. It always spans the
// whole tile (a constant trip count vectorizes best); columns past the block's last key hold zeros
// or keys of an earlier block, and their scores are never read.
void compute_scores(int q_rows, int head_dim, BlockScratch& s) {
  for (int r = 0; r < q_rows; ++r) {
    float* __restrict score_row = &s.scores[static_cast<size_t>(r) * kKeyBlock];
    const float* q_row = &s.q[static_cast<size_t>(r) * head_dim];
    std::fill(score_row, score_row + kKeyBlock, 0.0f);
    for (int d = 0; d < head_dim; ++d) {
      const float q_value = q_row[d];
      const float* __restrict k_values = &s.k_transposed[static_cast<size_t>(d) * kKeyBlock];
      for (int c = 0; c < kKeyBlock; ++c) score_row[c] += q_value * k_values[c];
    }
  }
}

// Folds the first `visible` scores of row r into its running max, sum and accumulator.
void accumulate_row(int r, int visible, int head_dim, BlockScratch& s) {
  float* __restrict p = &s.scores[static_cast<size_t>(r) * kKeyBlock];
  float block_max = kMinusInfinity;
  for (int c = 0; c < visible; ++c) block_max = std::max(block_max, p[c]);
  const float new_max = std::max(s.row_max[r], block_max);
  // Until a row meets a finite score its max stays -inf; exponentiate against 0 then (as the
  // kernels do), so that -inf - -inf never makes a NaN: -inf scores weigh 0, a NaN score stays NaN.
  // Once the max is finite, exp(-inf) = 0 replaces the empty accumulator.
  const float base = new_max == kMinusInfinity ? 0.0f : new_max;
  const float correction = std::exp(s.row_max[r] - base);

  float block_sum = 0.0f;
  for (int c = 0; c < visible; ++c) {
    p[c] = std::exp(p[c] - base);
    block_sum += p[c];
  }
  s.row_sum[r] = s.row_sum[r] * correction + block_sum;
  s.row_max[r] = new_max;

  float* acc_row = &s.acc[static_cast<size_t>(r) * head_dim];
  scale_row(acc_row, correction, head_dim);
  for (int c = 0; c < visible; ++c) add_scaled_row(acc_row, &s.v[static_cast<size_t>(c) * head_dim], p[c], head_dim);
}

// Normalizes the accumulator and writes out (and lse). A row with nothing to weigh (it saw no key,
// or only -inf scores: its sum is exactly 0) stays all zeros with lse = -inf, as FlashAttention
// defines it. A NaN score makes the sum NaN, and with it the row's output and lse (never -inf).
void write_block(const AttentionArgs& a, const QueryBlock& blk, BlockScratch& s) {
  const int head_dim = a.head_dim;
  for (int r = 0; r < blk.q_rows; ++r) {
    const int row = blk.q_begin + r;
    float* acc_row = &s.acc[static_cast<size_t>(r) * head_dim];
    const bool nothing_weighed = s.row_sum[r] == 0.0f;
    const float inverse_sum = nothing_weighed ? 0.0f : 1.0f / s.row_sum[r];
    scale_row(acc_row, inverse_sum, head_dim);
    store_row(a.out.data, a.out.dtype, element_offset(a.out.strides, blk.seq.b, blk.seq.q_row0 + row, blk.h),
              head_dim, acc_row);
    if (a.lse != nullptr)
      a.lse[lse_index(a, blk, row)] = nothing_weighed ? kMinusInfinity : s.row_max[r] + std::log(s.row_sum[r]);
  }
}

// A block whose rows all see no key: zeros (all-zero bits in every dtype) and lse = -inf, with
// nothing loaded or computed (causal problems with many more queries than keys are mostly this).
void write_block_that_sees_no_key(const AttentionArgs& a, const QueryBlock& blk) {
  const int element_bytes = dtype_size(a.out.dtype);
  for (int r = 0; r < blk.q_rows; ++r) {
    const int row = blk.q_begin + r;
    const int64_t offset = element_offset(a.out.strides, blk.seq.b, blk.seq.q_row0 + row, blk.h);
    std::memset(static_cast<char*>(a.out.data) + offset * element_bytes, 0,
                static_cast<size_t>(a.head_dim) * element_bytes);
    if (a.lse != nullptr) a.lse[lse_index(a, blk, row)] = kMinusInfinity;
  }
}

// Scores of row r outside [first, last] (sequence key indices) become -inf, the others are capped
// and biased: a modified problem's row, before it is folded in.
void modify_scores(const ScoreRule& rule, int64_t row, int64_t k_begin, int k_cols, float* scores) {
  const int64_t first = rule.first_key(row);
  const int64_t last = rule.last_key(row);
  for (int c = 0; c < k_cols; ++c) {
    const int64_t col = k_begin + c;
    scores[c] = col < first || col > last ? kMinusInfinity : rule.modify(scores[c], row, col);
  }
}

void attend_query_block(const AttentionArgs& a, const QueryBlock& blk, BlockScratch& s) {
  const int head_dim = a.head_dim;
  const int kv_head = blk.h / (a.num_heads / a.num_kv_heads);
  const ScoreRule rule = score_rule(a, blk.seq, blk.h);
  // A dense row sees a prefix of the keys (the causal mask, the sequence end); a windowed one a
  // range, and a capped or biased one needs every score touched.
  const bool prefix_only = rule.window_left < 0 && !rule.modifies_scores;

  // Keys outside [key_begin, key_end) are seen by no row of the block: never loaded.
  const int64_t last_row = blk.q_begin + blk.q_rows - 1;
  const int64_t key_end = std::clamp<int64_t>(rule.last_key(last_row) + 1, 0, blk.seq.seqlen_k);
  const int64_t key_begin = std::min(rule.first_key(blk.q_begin) / kKeyBlock * kKeyBlock, key_end);
  if (key_end <= key_begin) {
    write_block_that_sees_no_key(a, blk);
    return;
  }

  // Scaling q once costs head_dim multiplies per row instead of one per score.
  for (int r = 0; r < blk.q_rows; ++r) {
    float* q_row = &s.q[static_cast<size_t>(r) * head_dim];
    load_row(a.q.data, a.q.dtype, element_offset(a.q.strides, blk.seq.b, blk.seq.q_row0 + blk.q_begin + r, blk.h),
             head_dim, q_row);
    scale_row(q_row, a.softmax_scale, head_dim);
  }
  std::fill(s.acc.begin(), s.acc.begin() + static_cast<size_t>(blk.q_rows) * head_dim, 0.0f);
  std::fill(s.row_max.begin(), s.row_max.end(), kMinusInfinity);
  std::fill(s.row_sum.begin(), s.row_sum.end(), 0.0f);

  // 64-bit: k_begin + kKeyBlock passes INT32_MAX when seqlen_k is within a block of it.
  for (int64_t k_begin = key_begin; k_begin < key_end; k_begin += kKeyBlock) {
    const int k_cols = static_cast<int>(std::min<int64_t>(kKeyBlock, key_end - k_begin));
    load_key_block(a, blk.seq, kv_head, k_begin, k_cols, s);
    compute_scores(blk.q_rows, head_dim, s);
    for (int r = 0; r < blk.q_rows; ++r) {
      const int64_t row = blk.q_begin + r;
      if (prefix_only) {
        // Keys visible to this row form a prefix of the block.
        const int visible = static_cast<int>(std::clamp<int64_t>(rule.last_key(row) + 1 - k_begin, 0, k_cols));
        if (visible > 0) accumulate_row(r, visible, head_dim, s);
        continue;
      }
      modify_scores(rule, row, k_begin, k_cols, &s.scores[static_cast<size_t>(r) * kKeyBlock]);
      accumulate_row(r, k_cols, head_dim, s);
    }
  }
  write_block(a, blk, s);
}

int resolve_thread_count(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, llvm::hardware_concurrency().compute_thread_count()));
}

}  // namespace

CpuAttention::CpuAttention(int threads) : threads_(resolve_thread_count(threads)) {
  if (threads_ > 1) helpers_ = std::make_unique<llvm::ThreadPool>(llvm::hardware_concurrency(threads_ - 1));
}

CpuAttention::~CpuAttention() = default;

int CpuAttention::threads() const { return threads_; }

void CpuAttention::forward(const AttentionArgs& args) const {
  // The new keys go in before any query reads the cache.
  if (appends_keys(args)) append_keys(args);
  // 64-bit: seqlen_q + kQueryBlock - 1 passes INT32_MAX for the longest sequences (in int it wrapped
  // negative, and nothing was computed).
  const int64_t query_blocks = (static_cast<int64_t>(args.seqlen_q) + kQueryBlock - 1) / kQueryBlock;
  const int64_t units = static_cast<int64_t>(args.batch) * args.num_heads * query_blocks;

  // Workers pull units from a shared counter, so an uneven causal workload balances itself. The
  // last query blocks of a causal problem are the most expensive, so they are handed out first.
  std::atomic<int64_t> next_unit{0};
  auto work = [&] {
    BlockScratch scratch(args.head_dim);
    for (int64_t unit = next_unit.fetch_add(1, std::memory_order_relaxed); unit < units;
         unit = next_unit.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t head_index = unit / query_blocks;
      const int64_t block_index = query_blocks - 1 - unit % query_blocks;
      QueryBlock blk;
      blk.seq = sequence_of(args, static_cast<int>(head_index / args.num_heads));
      blk.h = static_cast<int>(head_index % args.num_heads);
      // Below seqlen_q, so within int. A ragged batch's units cover its longest sequence: the
      // shorter ones' last blocks have no rows.
      blk.q_begin = static_cast<int>(block_index * kQueryBlock);
      blk.q_rows = std::min(kQueryBlock, blk.seq.seqlen_q - blk.q_begin);
      if (blk.q_rows > 0) attend_query_block(args, blk, scratch);
    }
  };

  // The caller works too; helpers beyond the number of units would find nothing to do. Only this
  // call's futures are waited on (not ThreadPool::wait), so concurrent forward() calls sharing the
  // pool do not wait for each other's work. The wait runs even if the caller's share throws, since
  // the helpers reference this stack frame.
  const int64_t helper_count = helpers_ ? std::min<int64_t>(threads_ - 1, units - 1) : 0;
  std::vector<std::shared_future<void>> helpers_done;
  helpers_done.reserve(static_cast<size_t>(std::max<int64_t>(helper_count, 0)));
  auto wait_for_helpers = llvm::make_scope_exit([&] {
    for (const std::shared_future<void>& done : helpers_done) done.wait();
  });
  for (int64_t i = 0; i < helper_count; ++i) helpers_done.push_back(helpers_->async(work));
  work();
}

}  // namespace flashjit::cpu
