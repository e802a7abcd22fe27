// Split-KV on the CPU: how many shares a unit's keys are split into, which keys each share walks,
// the shares' partial results and their merge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "flashjit/types.h"
#include "runtime/cpu/block_state.h"
#include "runtime/cpu/call_view.h"

namespace flashjit::cpu {

// Split-KV: a problem with fewer units than this splits their keys until it has about this many
// items, so up to this many threads have work at batch 1. Each share keeps at least kMinSplitKeys
// keys, so the merge (one pass over the partial outputs) stays small beside the shares' work.
inline constexpr int64_t kSplitTargetItems = 32;
inline constexpr int64_t kMinSplitKeys = 512;

// How many shares each unit's keys are split into (1: none). Depends on the problem alone.
int64_t split_count(const AttentionArgs& a, int64_t units);

// Share `split` of `splits` of the keys, in whole key blocks; empty when the keys run out first.
KeyRange share_of(KeyRange keys, int64_t split, int64_t splits);

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
                  BlockState& state);

}  // namespace flashjit::cpu
