// The CPU backend: FlashAttention's blocked online softmax, in fp32, on host memory.
//
// Work is split into items of (batch, query head, a few blocks of query rows, share of the keys).
// An item converts its query rows to fp32 once (transposed, pre-scaled), then walks its key blocks:
// it copies each K/V block to fp32 once, and for each of its query blocks the block kernels of the
// chosen instruction set (block_kernels.h) compute the scores, fold them into a running max and sum
// per row and rescale the accumulator while adding P.V. The seqlen_q x seqlen_k score matrix never
// exists, so memory stays O(block) and the working set stays in L1/L2; a K/V block is read from
// memory once per unit of up to kMaxBlocksPerUnit query blocks.
//
// A problem with few (batch, head, query block) units, decode above all, splits each unit's keys
// into shares computed in parallel and merged at the end (split-KV, as on the GPU). The split count
// depends on the problem alone, so the result is the same bits whatever the thread count.
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
#include "runtime/cpu/block_kernels.h"

namespace flashjit::cpu {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Split-KV: a problem with fewer units than this splits their keys until it has about this many
// items, so up to this many threads have work at batch 1. Each share keeps at least kMinSplitKeys
// keys, so the merge (one pass over the partial outputs) stays small beside the shares' work.
constexpr int64_t kSplitTargetItems = 32;
constexpr int64_t kMinSplitKeys = 512;

// Converts `count` contiguous elements of a `dtype` tensor, starting at element `offset`, to fp32.
void load_row(const BlockKernels& kernels, const void* data, DType dtype, int64_t offset, int count, float* dst) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(dst, static_cast<const float*>(data) + offset, sizeof(float) * count);
      return;
    case DType::f16:
      kernels.widen_f16(static_cast<const uint16_t*>(data) + offset, count, dst);
      return;
    case DType::bf16:
      kernels.widen_bf16(static_cast<const uint16_t*>(data) + offset, count, dst);
      return;
  }
}

// Rounds `count` fp32 values to `dtype` and stores them contiguously from element `offset`.
void store_row(const BlockKernels& kernels, void* data, DType dtype, int64_t offset, int count, const float* src) {
  switch (dtype) {
    case DType::f32:
      std::memcpy(static_cast<float*>(data) + offset, src, sizeof(float) * count);
      return;
    case DType::f16:
      kernels.narrow_f16(src, count, static_cast<uint16_t*>(data) + offset);
      return;
    case DType::bf16:
      kernels.narrow_bf16(src, count, static_cast<uint16_t*>(data) + offset);
      return;
  }
}

// values[d] *= factor for d < head_dim.
void scale_row(float* __restrict values, float factor, int head_dim) {
  for (int d = 0; d < head_dim; ++d) values[d] *= factor;
}

// 64-bit throughout: an offset is a product of sizes, which passes 2^31 long before memory runs out.
int64_t element_offset(const Strides& strides, int64_t b, int64_t s, int64_t h) {
  return b * strides.batch + s * strides.seq + h * strides.head;
}

// Query blocks per unit of work: each K/V block loaded serves that many query blocks. A head's K and
// V (2 MiB in fp32 at 2048 keys of d 128) outgrow L2, so each pass over them comes from L3 or
// memory, a row per 4 KiB page where the prefetchers give up; more blocks per pass, less of that
// traffic. Their state (Q^T and accumulator, 512 * head_dim bytes a block) is kept within about
// half of a 1 MiB L2: 8 blocks at d 128, 4 at d 256.
constexpr int kMaxBlocksPerUnit = 8;
constexpr int kUnitStateBudgetBytes = 512 * 1024;

int blocks_per_unit(int head_dim) {
  const int state_bytes = 2 * kWideLanes * head_dim * static_cast<int>(sizeof(float));
  return std::clamp(kUnitStateBudgetBytes / state_bytes, 1, kMaxBlocksPerUnit);
}

// The state of one query block's rows through the key walk, for blocks of up to `lanes` rows.
struct BlockState {
  explicit BlockState(int head_dim, int lanes = kWideLanes)
      : q(static_cast<size_t>(lanes) * head_dim),
        acc(static_cast<size_t>(lanes) * head_dim),
        row_max(lanes),
        row_sum(lanes),
        q_pairs(lanes == kWideLanes ? static_cast<size_t>(kWideLanes) * head_dim / 2 : 0) {}

  std::vector<float> q;        // Q^T [head_dim][64] (wide) or Q [rows][head_dim] (narrow), pre-scaled
  std::vector<float> acc;      // [rows][head_dim], unnormalized output
  std::vector<float> row_max;  // running max of the scaled scores seen so far, per lane
  std::vector<float> row_sum;  // running sum of exp(score - row_max), per lane
  std::vector<uint32_t> q_pairs;  // bf16 products: Q^T as [head_dim / 2][64] pairs, unscaled
};

// fp32 buffers of one worker, allocated once per forward() and reused for every item it runs.
struct BlockScratch {
  explicit BlockScratch(int head_dim)
      : blocks(blocks_per_unit(head_dim), BlockState(head_dim)),
        scores(static_cast<size_t>(kKeyBlock) * kWideLanes),
        correction(kWideLanes),
        row_stride(head_dim + kRowPadding),
        k_block(kKeyBlock * row_stride),
        v_block(kKeyBlock * row_stride),
        zero_row(head_dim, 0.0f),
        q_row(head_dim),
        pair_row_stride(head_dim / 2 + kRowPadding),
        k_pairs(kKeyBlock * pair_row_stride),
        zero_pairs(head_dim / 2, 0u),
        v_pairs(static_cast<size_t>(kKeyBlock / 2) * head_dim),
        p_pairs(static_cast<size_t>(kKeyBlock / 2) * kWideLanes) {}

  std::vector<BlockState> blocks;  // one per query block of the unit
  std::vector<float> scores;       // S^T [kKeyBlock][lanes], then P^T
  std::vector<float> correction;   // the block's rescaling of each lane's earlier accumulator
  // A cache line between rows, so that rows of a power-of-two length do not all start in one L1 set.
  static constexpr size_t kRowPadding = 16;
  size_t row_stride;              // floats from one K (or V) row of the block to the next
  std::vector<float> k_block;     // the key block's K rows widened to fp32 (fp16, bf16 storage)
  std::vector<float> v_block;     // its V rows in fp32
  std::vector<float> zero_row;    // pads a block's K rows to a multiple of kKeyGroup
  std::vector<float> q_row;       // one Q row before it is transposed
  const float* k_rows[kKeyBlock];
  const float* v_rows[kKeyBlock];

  // bf16 products (bf16_products.h): the block's K rows as pairs, V and P^T packed in pairs of keys.
  size_t pair_row_stride;
  std::vector<uint32_t> k_pairs;
  std::vector<uint32_t> zero_pairs;
  std::vector<uint32_t> v_pairs;
  std::vector<uint32_t> p_pairs;
  const uint32_t* k_pair_rows[kKeyBlock];
  const uint16_t* v_bf16_rows[kKeyBlock];
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

// Keys [begin, end) of the sequence.
struct KeyRange {
  int64_t begin;
  int64_t end;
  bool empty() const { return end <= begin; }
};

// A block of a few rows (decode) uses narrow lanes: wide ones would be mostly padding.
int lanes_of(const QueryBlock& blk) { return blk.q_rows <= kNarrowLanes ? kNarrowLanes : kWideLanes; }

// The keys some row of the block sees, from a block boundary: the others are never loaded. A causal
// block skips the keys past its last row's diagonal, a windowed one those before its first row's
// window.
KeyRange keys_seen(const ScoreRule& rule, const QueryBlock& blk) {
  const int64_t last_row = blk.q_begin + blk.q_rows - 1;
  const int64_t end = std::clamp<int64_t>(rule.last_key(last_row) + 1, 0, blk.seq.seqlen_k);
  const int64_t begin = std::min(rule.first_key(blk.q_begin) / kKeyBlock * kKeyBlock, end);
  return {begin, end};
}

// Share `split` of `splits` of the keys, in whole key blocks; empty when the keys run out first.
KeyRange share_of(KeyRange keys, int64_t split, int64_t splits) {
  const int64_t blocks = (keys.end - keys.begin + kKeyBlock - 1) / kKeyBlock;
  const int64_t keys_per_share = (blocks + splits - 1) / splits * kKeyBlock;
  const int64_t begin = std::min(keys.begin + split * keys_per_share, keys.end);
  return {begin, std::min(begin + keys_per_share, keys.end)};
}

// The block's query rows in fp32, multiplied by the softmax scale (head_dim multiplies per row
// instead of one per score): transposed for wide blocks, lanes past its rows zero; as rows for
// narrow ones.
// Before the key walk: nothing weighed yet.
void reset_state(const QueryBlock& blk, int head_dim, BlockState& state) {
  std::fill(state.acc.begin(), state.acc.begin() + static_cast<size_t>(blk.q_rows) * head_dim, 0.0f);
  std::fill(state.row_max.begin(), state.row_max.end(), kMinusInfinity);
  std::fill(state.row_sum.begin(), state.row_sum.end(), 0.0f);
}

void load_queries(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, float* q_row,
                  BlockState& state) {
  const int head_dim = a.head_dim;
  const bool wide = lanes_of(blk) == kWideLanes;
  if (wide && blk.q_rows < kWideLanes) std::fill(state.q.begin(), state.q.end(), 0.0f);
  for (int r = 0; r < blk.q_rows; ++r) {
    load_row(kernels, a.q.data, a.q.dtype,
             element_offset(a.q.strides, blk.seq.b, blk.seq.q_row0 + blk.q_begin + r, blk.h), head_dim, q_row);
    for (int d = 0; d < head_dim; ++d) {
      const float scaled = q_row[d] * a.softmax_scale;
      if (wide) state.q[static_cast<size_t>(d) * kWideLanes + r] = scaled;
      else state.q[static_cast<size_t>(r) * head_dim + d] = scaled;
    }
  }
  reset_state(blk, head_dim, state);
}

// bf16 products: the block's query rows as Q^T pairs, unscaled (the scores take the scale), lanes
// past its rows zero.
void load_query_pairs(const AttentionArgs& a, const QueryBlock& blk, BlockState& state) {
  const int pairs = a.head_dim / 2;
  if (blk.q_rows < kWideLanes) std::fill(state.q_pairs.begin(), state.q_pairs.end(), 0u);
  for (int r = 0; r < blk.q_rows; ++r) {
    const uint16_t* row = static_cast<const uint16_t*>(a.q.data) +
                          element_offset(a.q.strides, blk.seq.b, blk.seq.q_row0 + blk.q_begin + r, blk.h);
    for (int t = 0; t < pairs; ++t)
      state.q_pairs[static_cast<size_t>(t) * kWideLanes + r] =
          static_cast<uint32_t>(row[2 * t]) | (static_cast<uint32_t>(row[2 * t + 1]) << 16);
  }
  reset_state(blk, a.head_dim, state);
}

// Points the scratch's row tables at keys [k_begin, k_begin + k_cols) of the block's kv head in fp32,
// the K rows padded with zeros to a multiple of kKeyGroup (their scores are never read). fp16 and
// bf16 rows are widened into the scratch. fp32 K rows are read in place, but fp32 V rows are copied:
// in the tensor, consecutive keys lie a token apart (every head's row in between), often a multiple
// of 4 KiB, so the block's rows would share a few L1 sets and evict each other on every pass of the
// P.V tiles (a pass per 4 rows and 64 columns); the score tiles pass over each K row once.
void load_key_block(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                    const BlockKernels& kernels, BlockScratch& s) {
  for (int c = 0; c < k_cols; ++c) {
    const int64_t k_offset = key_offset(a, a.k.strides, seq, k_begin + c, kv_head);
    if (a.k.dtype == DType::f32) {
      s.k_rows[c] = static_cast<const float*>(a.k.data) + k_offset;
    } else {
      float* k_row = &s.k_block[c * s.row_stride];
      load_row(kernels, a.k.data, a.k.dtype, k_offset, a.head_dim, k_row);
      s.k_rows[c] = k_row;
    }
    float* v_row = &s.v_block[c * s.row_stride];
    load_row(kernels, a.v.data, a.v.dtype, key_offset(a, a.v.strides, seq, k_begin + c, kv_head), a.head_dim, v_row);
    s.v_rows[c] = v_row;
  }
  for (int c = k_cols; c % kKeyGroup != 0; ++c) s.k_rows[c] = s.zero_row.data();
}

// bf16 products: the block's K rows copied as pairs (padded with zeros to kKeyGroup), V packed in
// pairs of keys.
void load_key_block_as_pairs(const AttentionArgs& a, const Sequence& seq, int kv_head, int64_t k_begin, int k_cols,
                             const BlockKernels& kernels, BlockScratch& s) {
  const size_t row_bytes = static_cast<size_t>(a.head_dim) * sizeof(uint16_t);
  for (int c = 0; c < k_cols; ++c) {
    uint32_t* k_row = &s.k_pairs[c * s.pair_row_stride];
    std::memcpy(k_row,
                static_cast<const uint16_t*>(a.k.data) + key_offset(a, a.k.strides, seq, k_begin + c, kv_head),
                row_bytes);
    s.k_pair_rows[c] = k_row;
    s.v_bf16_rows[c] =
        static_cast<const uint16_t*>(a.v.data) + key_offset(a, a.v.strides, seq, k_begin + c, kv_head);
  }
  for (int c = k_cols; c % kKeyGroup != 0; ++c) s.k_pair_rows[c] = s.zero_pairs.data();
  kernels.bf16_pack_values(s.v_bf16_rows, k_cols, a.head_dim, s.v_pairs.data());
}

// Index into lse of one query row: [batch, num_heads, seqlen_q], or [num_heads, total_q] when ragged.
int64_t lse_index(const AttentionArgs& a, const QueryBlock& blk, int row) {
  if (a.cu_seqlens_q != nullptr)
    return static_cast<int64_t>(blk.h) * a.cu_seqlens_q[a.batch] + blk.seq.q_row0 + row;
  return (static_cast<int64_t>(blk.seq.b) * a.num_heads + blk.h) * a.seqlen_q + row;
}

// Normalizes the accumulator and writes out (and lse). A row with nothing to weigh (it saw no key,
// or only -inf scores: its sum is exactly 0) stays all zeros with lse = -inf, as FlashAttention
// defines it. A NaN score makes the sum NaN, and with it the row's output and lse (never -inf).
void write_block(const AttentionArgs& a, const QueryBlock& blk, const BlockKernels& kernels, BlockState& s) {
  const int head_dim = a.head_dim;
  for (int r = 0; r < blk.q_rows; ++r) {
    const int row = blk.q_begin + r;
    float* acc_row = &s.acc[static_cast<size_t>(r) * head_dim];
    const bool nothing_weighed = s.row_sum[r] == 0.0f;
    const float inverse_sum = nothing_weighed ? 0.0f : 1.0f / s.row_sum[r];
    scale_row(acc_row, inverse_sum, head_dim);
    store_row(kernels, a.out.data, a.out.dtype, element_offset(a.out.strides, blk.seq.b, blk.seq.q_row0 + row, blk.h),
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

// Masks the block's scores (S^T, `lanes` wide) outside each row's keys with -inf, and caps and
// biases the others. A block every row sees whole, unmodified, is left alone: in a long causal
// problem that is all but the diagonal blocks.
void mask_scores(const ScoreRule& rule, const QueryBlock& blk, int64_t k_begin, int k_cols, int lanes, float* st) {
  const int64_t k_last = k_begin + k_cols - 1;
  const bool seen_whole = !rule.modifies_scores && rule.first_key(blk.q_begin + blk.q_rows - 1) <= k_begin &&
                          rule.last_key(blk.q_begin) >= k_last;
  if (seen_whole) return;
  for (int r = 0; r < blk.q_rows; ++r) {
    const int64_t row = blk.q_begin + r;
    const int64_t first = rule.first_key(row);
    const int64_t last = rule.last_key(row);
    for (int c = 0; c < k_cols; ++c) {
      const int64_t col = k_begin + c;
      float& score = st[c * lanes + r];
      if (col < first || col > last) score = kMinusInfinity;
      else if (rule.modifies_scores) score = rule.modify(score, row, col);
    }
  }
}

// The query blocks of one (sequence, head) that share each K/V block loaded: consecutive blocks,
// rows [blocks[0].q_begin, blocks[count - 1].q_begin + blocks[count - 1].q_rows).
struct Unit {
  QueryBlock blocks[kMaxBlocksPerUnit];
  int count = 0;
};

// The keys some block of the unit sees (the blocks' ranges are ordered, so their hull is the union
// but for gaps no block of a causal or windowed problem leaves).
KeyRange keys_seen(const AttentionArgs& a, const Unit& unit) {
  const ScoreRule rule = score_rule(a, unit.blocks[0].seq, unit.blocks[0].h);
  KeyRange keys = keys_seen(rule, unit.blocks[0]);
  for (int j = 1; j < unit.count; ++j) {
    const KeyRange block_keys = keys_seen(rule, unit.blocks[j]);
    if (block_keys.empty()) continue;
    if (keys.empty()) keys = block_keys;
    keys = {std::min(keys.begin, block_keys.begin), std::max(keys.end, block_keys.end)};
  }
  return keys;
}

// Whether the unit multiplies in bf16 pairs: a set with bf16 products, bf16 Q, K and V, and only
// wide blocks (a decode step's few rows are read-bound; their fp32 path is as fast).
bool uses_bf16_products(const AttentionArgs& a, const Unit& unit, const BlockKernels& kernels) {
  if (kernels.bf16_scores == nullptr) return false;
  if (a.q.dtype != DType::bf16 || a.k.dtype != DType::bf16 || a.v.dtype != DType::bf16) return false;
  for (int j = 0; j < unit.count; ++j)
    if (lanes_of(unit.blocks[j]) != kWideLanes) return false;
  return true;
}

// Runs the online softmax of the unit's rows over `keys`, leaving the unnormalized output, max and
// sum of each row in the scratch's block states. A key block outside a query block's own keys is
// skipped for it (the diagonal of a causal problem, a window's edges).
void attend(const AttentionArgs& a, const Unit& unit, KeyRange keys, const BlockKernels& kernels, BlockScratch& s) {
  const int head_dim = a.head_dim;
  const QueryBlock& first = unit.blocks[0];
  const int kv_head = first.h / (a.num_heads / a.num_kv_heads);
  const ScoreRule rule = score_rule(a, first.seq, first.h);
  const bool bf16_products = uses_bf16_products(a, unit, kernels);
  KeyRange block_keys[kMaxBlocksPerUnit];
  for (int j = 0; j < unit.count; ++j) {
    if (bf16_products) load_query_pairs(a, unit.blocks[j], s.blocks[j]);
    else load_queries(a, unit.blocks[j], kernels, s.q_row.data(), s.blocks[j]);
    block_keys[j] = keys_seen(rule, unit.blocks[j]);
  }

  // 64-bit: k_begin + kKeyBlock passes INT32_MAX when seqlen_k is within a block of it.
  for (int64_t k_begin = keys.begin; k_begin < keys.end; k_begin += kKeyBlock) {
    const int k_cols = static_cast<int>(std::min<int64_t>(kKeyBlock, keys.end - k_begin));
    if (bf16_products) load_key_block_as_pairs(a, first.seq, kv_head, k_begin, k_cols, kernels, s);
    else load_key_block(a, first.seq, kv_head, k_begin, k_cols, kernels, s);
    for (int j = 0; j < unit.count; ++j) {
      if (k_begin >= block_keys[j].end || k_begin + k_cols <= block_keys[j].begin) continue;
      const QueryBlock& blk = unit.blocks[j];
      BlockState& state = s.blocks[j];
      const int lanes = lanes_of(blk);
      if (bf16_products) {
        kernels.bf16_scores(state.q_pairs.data(), s.k_pair_rows, k_cols, head_dim, a.softmax_scale,
                            s.scores.data());
        mask_scores(rule, blk, k_begin, k_cols, lanes, s.scores.data());
        kernels.softmax(s.scores.data(), k_cols, lanes, state.row_max.data(), state.row_sum.data(),
                        s.correction.data());
        kernels.bf16_pack_probabilities(s.scores.data(), k_cols, s.p_pairs.data());
        kernels.bf16_accumulate(s.p_pairs.data(), k_cols, s.v_pairs.data(), head_dim, s.correction.data(),
                                state.acc.data(), blk.q_rows);
        continue;
      }
      if (lanes == kWideLanes) kernels.wide_scores(state.q.data(), s.k_rows, k_cols, head_dim, s.scores.data());
      else kernels.narrow_scores(state.q.data(), blk.q_rows, s.k_rows, k_cols, head_dim, s.scores.data());
      mask_scores(rule, blk, k_begin, k_cols, lanes, s.scores.data());
      kernels.softmax(s.scores.data(), k_cols, lanes, state.row_max.data(), state.row_sum.data(),
                      s.correction.data());
      kernels.accumulate(s.scores.data(), k_cols, lanes, s.v_rows, head_dim, s.correction.data(), state.acc.data(),
                         blk.q_rows);
    }
  }
}

// A decode step (every sequence has 8 query rows or fewer): an item is one sequence's share of the
// keys over all of its heads. It copies a block of keys' K and V rows of every kv head to fp32 in
// memory order (in the [batch, seq, head, dim] layout a key's rows of all heads are adjacent: a
// walk per head would touch a new page every row or two and wait on page walks and memory), then
// runs each query head on its kv head's rows: GQA reads each K/V row once per group.
struct DecodeScratch {
  DecodeScratch(const AttentionArgs& a)
      : block(a.head_dim),
        heads(a.num_heads, BlockState(a.head_dim, kNarrowLanes)),
        keys_per_block(decode_keys_per_block(a)),
        k_all(static_cast<size_t>(a.num_kv_heads) * keys_per_block * block.row_stride),
        v_all(k_all.size()) {}

  // Keys per block: all kv heads' rows of a block (K and V in fp32) within 256 KiB of L2, 8 to 64.
  static int decode_keys_per_block(const AttentionArgs& a) {
    constexpr int kBudgetBytes = 256 * 1024;
    const int bytes_per_key = 2 * a.num_kv_heads * a.head_dim * static_cast<int>(sizeof(float));
    return std::clamp(kBudgetBytes / bytes_per_key / kKeyGroup * kKeyGroup, kKeyGroup, kKeyBlock);
  }
  float* k_row(int kv_head, int c) { return &k_all[(static_cast<size_t>(kv_head) * keys_per_block + c) * block.row_stride]; }
  float* v_row(int kv_head, int c) { return &v_all[(static_cast<size_t>(kv_head) * keys_per_block + c) * block.row_stride]; }

  BlockScratch block;             // row tables, scores
  std::vector<BlockState> heads;  // one per query head
  int keys_per_block;
  std::vector<float> k_all;       // [kv head][key of the block] rows, row_stride apart
  std::vector<float> v_all;
};

// The block of sequence `seq`'s rows (all of them: 8 or fewer) of head `h`.
QueryBlock decode_block(const Sequence& seq, int h) { return QueryBlock{seq, h, 0, seq.seqlen_q}; }

void attend_decode(const AttentionArgs& a, const Sequence& seq, KeyRange keys, const BlockKernels& kernels,
                   DecodeScratch& s) {
  const int head_dim = a.head_dim;
  const int group = a.num_heads / a.num_kv_heads;
  for (int h = 0; h < a.num_heads; ++h)
    load_queries(a, decode_block(seq, h), kernels, s.block.q_row.data(), s.heads[h]);
  for (int64_t k_begin = keys.begin; k_begin < keys.end; k_begin += s.keys_per_block) {
    const int k_cols = static_cast<int>(std::min<int64_t>(s.keys_per_block, keys.end - k_begin));
    for (int c = 0; c < k_cols; ++c)
      for (int kv_head = 0; kv_head < a.num_kv_heads; ++kv_head) {
        load_row(kernels, a.k.data, a.k.dtype, key_offset(a, a.k.strides, seq, k_begin + c, kv_head), head_dim,
                 s.k_row(kv_head, c));
        load_row(kernels, a.v.data, a.v.dtype, key_offset(a, a.v.strides, seq, k_begin + c, kv_head), head_dim,
                 s.v_row(kv_head, c));
      }
    for (int kv_head = 0; kv_head < a.num_kv_heads; ++kv_head) {
      for (int c = 0; c < k_cols; ++c) {
        s.block.k_rows[c] = s.k_row(kv_head, c);
        s.block.v_rows[c] = s.v_row(kv_head, c);
      }
      for (int c = k_cols; c % kKeyGroup != 0; ++c) s.block.k_rows[c] = s.block.zero_row.data();
      for (int h = kv_head * group; h < (kv_head + 1) * group; ++h) {
        const QueryBlock blk = decode_block(seq, h);
        BlockState& state = s.heads[h];
        float* scores = s.block.scores.data();
        kernels.narrow_scores(state.q.data(), blk.q_rows, s.block.k_rows, k_cols, head_dim, scores);
        mask_scores(score_rule(a, seq, h), blk, k_begin, k_cols, kNarrowLanes, scores);
        kernels.softmax(scores, k_cols, kNarrowLanes, state.row_max.data(), state.row_sum.data(),
                        s.block.correction.data());
        kernels.accumulate(scores, k_cols, kNarrowLanes, s.block.v_rows, head_dim, s.block.correction.data(),
                           state.acc.data(), blk.q_rows);
      }
    }
  }
}

// Each share's result for each query block of its item, kept until the shares are merged: per
// block, a [rows][head_dim] accumulator, then the rows' max and sum. A prefill item's blocks are its
// unit's (up to 64 rows each), a decode item's its sequence's heads (up to 8 rows each).
class PartialResults {
 public:
  PartialResults(int64_t items, int blocks, int lanes, int head_dim)
      : head_dim_(head_dim),
        lanes_(lanes),
        blocks_(blocks),
        stride_(static_cast<size_t>(lanes) * (head_dim + 2)),
        data_(static_cast<size_t>(items) * blocks * stride_) {}

  float* acc(int64_t item, int block) { return &data_[(item * blocks_ + block) * stride_]; }
  float* max(int64_t item, int block) { return acc(item, block) + static_cast<size_t>(lanes_) * head_dim_; }
  float* sum(int64_t item, int block) { return max(item, block) + lanes_; }

  void store(int64_t item, int block, int rows, const BlockState& state) {
    std::copy_n(state.acc.begin(), static_cast<size_t>(rows) * head_dim_, acc(item, block));
    std::copy_n(state.row_max.begin(), rows, max(item, block));
    std::copy_n(state.row_sum.begin(), rows, sum(item, block));
  }
  // A share without keys: it weighs nothing.
  void store_empty(int64_t item, int block, int rows) {
    std::fill_n(acc(item, block), static_cast<size_t>(rows) * head_dim_, 0.0f);
    std::fill_n(max(item, block), rows, kMinusInfinity);
    std::fill_n(sum(item, block), rows, 0.0f);
  }

 private:
  int head_dim_;
  int lanes_;
  int blocks_;
  size_t stride_;
  std::vector<float> data_;
};

// Merges the `splits` shares from `first_item` of query block `block` into `state`, as if one pass
// had seen all the keys: each share's terms are rescaled to the common max. Shares are merged in
// key order, so the bits do not depend on which thread computed which share.
void merge_shares(PartialResults& partials, int64_t first_item, int64_t splits, int block, int rows, int head_dim,
                  BlockState& state) {
  for (int r = 0; r < rows; ++r) {
    float max = kMinusInfinity;
    for (int64_t i = 0; i < splits; ++i) max = std::max(max, partials.max(first_item + i, block)[r]);
    const float base = max == kMinusInfinity ? 0.0f : max;
    float* acc_row = &state.acc[static_cast<size_t>(r) * head_dim];
    std::fill_n(acc_row, head_dim, 0.0f);
    float sum = 0.0f;
    for (int64_t i = 0; i < splits; ++i) {
      const float weight = std::exp(partials.max(first_item + i, block)[r] - base);
      sum += partials.sum(first_item + i, block)[r] * weight;
      const float* share_row = partials.acc(first_item + i, block) + static_cast<size_t>(r) * head_dim;
      for (int d = 0; d < head_dim; ++d) acc_row[d] += share_row[d] * weight;
    }
    state.row_max[r] = max;
    state.row_sum[r] = sum;
  }
}

// How many shares each unit's keys are split into (1: none). Depends on the problem alone.
int64_t split_count(const AttentionArgs& a, int64_t units) {
  if (units >= kSplitTargetItems) return 1;
  const int64_t by_keys = std::max<int64_t>(1, a.seqlen_k / kMinSplitKeys);
  return std::min((kSplitTargetItems + units - 1) / units, by_keys);
}

int resolve_thread_count(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, llvm::hardware_concurrency().compute_thread_count()));
}

}  // namespace

CpuAttention::CpuAttention(int threads, CpuIsa isa)
    : threads_(resolve_thread_count(threads)), kernels_(&block_kernels(isa)) {
  if (threads_ > 1) helpers_ = std::make_unique<llvm::ThreadPool>(llvm::hardware_concurrency(threads_ - 1));
}

CpuAttention::~CpuAttention() = default;

int CpuAttention::threads() const { return threads_; }

CpuIsa CpuAttention::isa() const { return kernels_->isa; }

void CpuAttention::forward(const AttentionArgs& args) const {
  // The new keys go in before any query reads the cache.
  if (appends_keys(args)) append_keys(args);
  if (args.seqlen_q <= kNarrowLanes) return forward_decode(args);
  forward_prefill(args);
}

void CpuAttention::run_items(int64_t items, llvm::function_ref<void()> work) const {
  // The caller works too; helpers beyond the number of items would find nothing to do. Only this
  // call's futures are waited on (not ThreadPool::wait), so concurrent forward() calls sharing the
  // pool do not wait for each other's work. The wait runs even if the caller's share throws, since
  // the helpers reference the caller's stack frame.
  const int64_t helper_count = helpers_ ? std::min<int64_t>(threads_ - 1, items - 1) : 0;
  std::vector<std::shared_future<void>> helpers_done;
  helpers_done.reserve(static_cast<size_t>(std::max<int64_t>(helper_count, 0)));
  auto wait_for_helpers = llvm::make_scope_exit([&] {
    for (const std::shared_future<void>& done : helpers_done) done.wait();
  });
  for (int64_t i = 0; i < helper_count; ++i) helpers_done.push_back(helpers_->async([work] { work(); }));
  work();
}

void CpuAttention::forward_prefill(const AttentionArgs& args) const {
  // 64-bit: seqlen_q + kWideLanes - 1 passes INT32_MAX for the longest sequences (in int it wrapped
  // negative, and nothing was computed).
  const int64_t query_blocks = (static_cast<int64_t>(args.seqlen_q) + kWideLanes - 1) / kWideLanes;
  const int unit_blocks = blocks_per_unit(args.head_dim);
  const int64_t units_per_head = (query_blocks + unit_blocks - 1) / unit_blocks;
  const int64_t units = static_cast<int64_t>(args.batch) * args.num_heads * units_per_head;
  const int64_t splits = split_count(args, units);
  const int64_t items = units * splits;
  PartialResults partials(splits > 1 ? items : 0, unit_blocks, kWideLanes, args.head_dim);
  const BlockKernels& kernels = *kernels_;

  // A unit's query blocks. The last query blocks of a causal problem are the most expensive, so
  // their units are handed out first. A ragged batch's units cover its longest sequence: the
  // shorter ones' last blocks have no rows, and are left out.
  auto unit_of = [&](int64_t index) {
    const int64_t head_index = index / units_per_head;
    const int64_t group = units_per_head - 1 - index % units_per_head;
    Unit unit;
    const Sequence seq = sequence_of(args, static_cast<int>(head_index / args.num_heads));
    for (int j = 0; j < unit_blocks; ++j) {
      QueryBlock blk;
      blk.seq = seq;
      blk.h = static_cast<int>(head_index % args.num_heads);
      blk.q_begin = static_cast<int>((group * unit_blocks + j) * kWideLanes);  // below seqlen_q: within int
      blk.q_rows = std::min(kWideLanes, seq.seqlen_q - blk.q_begin);
      if (blk.q_rows <= 0) break;
      unit.blocks[unit.count++] = blk;
    }
    return unit;
  };

  // Workers pull items from a shared counter, so an uneven causal workload balances itself.
  std::atomic<int64_t> next_item{0};
  run_items(items, [&] {
    BlockScratch scratch(args.head_dim);
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const Unit unit = unit_of(item / splits);
      if (unit.count == 0) continue;
      const KeyRange keys = keys_seen(args, unit);
      if (splits == 1) {
        if (keys.empty()) {
          for (int j = 0; j < unit.count; ++j) write_block_that_sees_no_key(args, unit.blocks[j]);
          continue;
        }
        attend(args, unit, keys, kernels, scratch);
        for (int j = 0; j < unit.count; ++j) write_block(args, unit.blocks[j], kernels, scratch.blocks[j]);
        continue;
      }
      const KeyRange share = share_of(keys, item % splits, splits);
      if (share.empty()) {
        for (int j = 0; j < unit.count; ++j) partials.store_empty(item, j, unit.blocks[j].q_rows);
        continue;
      }
      attend(args, unit, share, kernels, scratch);
      for (int j = 0; j < unit.count; ++j) partials.store(item, j, unit.blocks[j].q_rows, scratch.blocks[j]);
    }
  });
  if (splits == 1) return;

  // The merge reads every share of a unit: it runs once all of them are in (the helpers are done).
  BlockState merged(args.head_dim);
  for (int64_t index = 0; index < units; ++index) {
    const Unit unit = unit_of(index);
    for (int j = 0; j < unit.count; ++j) {
      merge_shares(partials, index * splits, splits, j, unit.blocks[j].q_rows, args.head_dim, merged);
      write_block(args, unit.blocks[j], kernels, merged);
    }
  }
}

void CpuAttention::forward_decode(const AttentionArgs& args) const {
  // Units are sequences here: split-KV gives a batch of one its threads' work.
  const int64_t splits = split_count(args, args.batch);
  const int64_t items = static_cast<int64_t>(args.batch) * splits;
  PartialResults partials(splits > 1 ? items : 0, args.num_heads, kNarrowLanes, args.head_dim);
  const BlockKernels& kernels = *kernels_;
  // The keys a sequence's rows see (the same for every head: only ALiBi's slope differs by head).
  auto keys_of = [&](const Sequence& seq) { return keys_seen(score_rule(args, seq, 0), decode_block(seq, 0)); };

  std::atomic<int64_t> next_item{0};
  run_items(items, [&] {
    DecodeScratch scratch(args);
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const Sequence seq = sequence_of(args, static_cast<int>(item / splits));
      if (seq.seqlen_q <= 0) continue;
      const KeyRange keys = splits == 1 ? keys_of(seq) : share_of(keys_of(seq), item % splits, splits);
      if (keys.empty()) {
        for (int h = 0; h < args.num_heads; ++h) {
          if (splits == 1) write_block_that_sees_no_key(args, decode_block(seq, h));
          else partials.store_empty(item, h, seq.seqlen_q);
        }
        continue;
      }
      attend_decode(args, seq, keys, kernels, scratch);
      for (int h = 0; h < args.num_heads; ++h) {
        if (splits == 1) write_block(args, decode_block(seq, h), kernels, scratch.heads[h]);
        else partials.store(item, h, seq.seqlen_q, scratch.heads[h]);
      }
    }
  });
  if (splits == 1) return;

  BlockState merged(args.head_dim, kNarrowLanes);
  for (int b = 0; b < args.batch; ++b) {
    const Sequence seq = sequence_of(args, b);
    for (int h = 0; h < args.num_heads && seq.seqlen_q > 0; ++h) {
      merge_shares(partials, int64_t{b} * splits, splits, h, seq.seqlen_q, args.head_dim, merged);
      write_block(args, decode_block(seq, h), kernels, merged);
    }
  }
}

}  // namespace flashjit::cpu
