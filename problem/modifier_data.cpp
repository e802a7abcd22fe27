#include "problem/modifier_data.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace flashjit {

ModifierPointers ModifierData::pointers() const {
  ModifierPointers p;
  if (!cu_seqlens_q.empty()) p.cu_seqlens_q = cu_seqlens_q.data();
  if (!cu_seqlens_k.empty()) p.cu_seqlens_k = cu_seqlens_k.data();
  p.total_q = q_tokens();
  p.total_k = k_tokens();
  if (!alibi_slopes.empty()) p.alibi_slopes = alibi_slopes.data();
  if (!seqused_k.empty()) p.seqused_k = seqused_k.data();
  if (!block_table.empty()) p.block_table = block_table.data();
  return p;
}

std::vector<float> alibi_geometric_slopes(int heads) {
  // Press et al.'s get_slopes: a power of two n starts at 2^(-8/n) and keeps multiplying by it.
  auto power_of_two_slopes = [](int n) {
    std::vector<float> slopes;
    for (int h = 1; h <= n; ++h) slopes.push_back(static_cast<float>(std::exp2(-8.0 * h / n)));
    return slopes;
  };
  if (heads <= 0) return {};
  int closest = 1;
  while (closest * 2 <= heads) closest *= 2;
  std::vector<float> slopes = power_of_two_slopes(closest);
  const std::vector<float> doubled = power_of_two_slopes(2 * closest);
  for (size_t i = 0; static_cast<int>(slopes.size()) < heads; i += 2) slopes.push_back(doubled[i]);
  return slopes;
}

std::vector<int32_t> sequence_offsets(const std::vector<int>& lengths) {
  std::vector<int32_t> offsets{0};
  for (int length : lengths) offsets.push_back(offsets.back() + length);
  return offsets;
}

ModifierData modifier_data(const Problem& problem, const std::vector<int>& q_lengths,
                           const std::vector<int>& k_lengths) {
  ModifierData data;
  const ProblemShape& s = problem.shape();
  const ProblemFeatures& f = problem.features();
  if (f.ragged) data.cu_seqlens_q = sequence_offsets(q_lengths.empty() ? std::vector<int>(s.batch, s.seqlen_q) : q_lengths);
  if (f.ragged && !f.kv_cache)
    data.cu_seqlens_k = sequence_offsets(k_lengths.empty() ? std::vector<int>(s.batch, s.seqlen_k) : k_lengths);
  if (f.alibi) data.alibi_slopes = alibi_geometric_slopes(s.num_heads);
  if (f.kv_cache) {
    data.seqused_k.assign(k_lengths.begin(), k_lengths.end());
    if (k_lengths.empty()) data.seqused_k.assign(static_cast<size_t>(s.batch), s.seqlen_k - s.seqlen_new);
  }
  if (f.paged) {
    data.block_table.resize(static_cast<size_t>(problem.num_pages()));
    std::iota(data.block_table.begin(), data.block_table.end(), 0);
    std::shuffle(data.block_table.begin(), data.block_table.end(), std::mt19937(1234));
  }
  return data;
}

}  // namespace flashjit
