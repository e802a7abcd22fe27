#include "generator/decode_splits.h"

#include <algorithm>

namespace flashjit::gen {

double wave_efficiency(int64_t blocks, int sm_count) {
  if (blocks <= 0 || sm_count <= 0) return 0.0;
  const int64_t waves = (blocks + sm_count - 1) / sm_count;
  return static_cast<double>(blocks) / static_cast<double>(waves * sm_count);
}

int decode_split_count(int64_t tiles, int64_t key_blocks, int sm_count) {
  if (tiles <= 0 || sm_count <= 0) return 1;
  // Two key blocks per split at least: a split of one block is mostly its prologue and epilogue.
  const int64_t most = std::clamp<int64_t>(key_blocks / 2, 1, kMaxDecodeSplits);
  double best = 0.0;
  for (int64_t s = 1; s <= most; ++s) best = std::max(best, wave_efficiency(tiles * s, sm_count));
  // The fewest splits near the best: each one more adds combine traffic for nothing.
  for (int64_t s = 1; s <= most; ++s)
    if (wave_efficiency(tiles * s, sm_count) >= 0.95 * best) return static_cast<int>(s);
  return 1;
}

int problem_split_count(const ProblemShape& s, int sm_count) {
  if (s.num_kv_heads <= 0) return 1;
  const int64_t group = s.num_heads / s.num_kv_heads;
  const int64_t query_tiles = (int64_t{s.seqlen_q} * group + kSplitNominalRows - 1) / kSplitNominalRows;
  const int64_t tiles = int64_t{s.batch} * s.num_kv_heads * query_tiles;
  const int64_t key_blocks = (int64_t{s.seqlen_k} + kSplitNominalKeys - 1) / kSplitNominalKeys;
  return std::max(1, decode_split_count(tiles, key_blocks, sm_count));
}

std::vector<int> tuned_split_candidates(int heuristic) {
  if (heuristic <= 1) return {};
  std::vector<int> counts = {(heuristic + 1) / 2, heuristic, std::min(2 * heuristic, kMaxDecodeSplits)};
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

int split_ceiling(int heuristic) {
  if (heuristic <= 1) return 1;
  return std::max(heuristic, tuned_split_candidates(heuristic).back());
}

}  // namespace flashjit::gen
