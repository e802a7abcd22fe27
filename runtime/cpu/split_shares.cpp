#include "runtime/cpu/split_shares.h"

#include <algorithm>
#include <cmath>

namespace flashjit::cpu {

// How many shares each unit's keys are split into (1: none). Depends on the problem alone.
int64_t split_count(const AttentionArgs& a, int64_t units) {
  if (units >= kSplitTargetItems) return 1;
  const int64_t by_keys = std::max<int64_t>(1, a.seqlen_k / kMinSplitKeys);
  return std::min((kSplitTargetItems + units - 1) / units, by_keys);
}

// Share `split` of `splits` of the keys, in whole key blocks; empty when the keys run out first.
KeyRange share_of(KeyRange keys, int64_t split, int64_t splits) {
  const int64_t blocks = (keys.end - keys.begin + kKeyBlock - 1) / kKeyBlock;
  const int64_t keys_per_share = (blocks + splits - 1) / splits * kKeyBlock;
  const int64_t begin = std::min(keys.begin + split * keys_per_share, keys.end);
  return {begin, std::min(begin + keys_per_share, keys.end)};
}

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

}  // namespace flashjit::cpu
