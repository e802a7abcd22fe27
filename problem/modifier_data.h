// The data a ragged batch and ALiBi read, for the runs FlashJIT makes itself (the tuner's timing
// and correctness runs, `flashjit run` and `bench`): a batch's sequence offsets and ALiBi's slopes,
// on the host; a backend that runs on a GPU copies them there.
#pragma once

#include <cstdint>
#include <vector>

#include "problem/problem.h"

namespace flashjit {

struct ModifierData {
  std::vector<int32_t> cu_seqlens_q;  // batch + 1 offsets of a ragged batch; empty when dense
  std::vector<int32_t> cu_seqlens_k;
  std::vector<float> alibi_slopes;    // one per query head (batch stride 0); empty without ALiBi
  std::vector<int32_t> seqused_k;     // a KV cache's keys per sequence before the append; empty without one
  std::vector<int32_t> block_table;   // [batch, pages_per_sequence] of a paged cache; empty without pages

  // Tokens of the packed q/out and k/v tensors (the last offsets).
  int64_t q_tokens() const { return cu_seqlens_q.empty() ? 0 : cu_seqlens_q.back(); }
  int64_t k_tokens() const { return cu_seqlens_k.empty() ? 0 : cu_seqlens_k.back(); }
  // The pointers of these vectors, as contiguous_args takes them (valid while they live).
  ModifierPointers pointers() const;
};

// ALiBi's geometric slopes for `heads` heads as its authors' code computes them: for a power of two
// n, 2^(-8 (h + 1) / n); otherwise the slopes of the largest power of two below, then every other
// slope of twice that many, until there is one per head.
std::vector<float> alibi_geometric_slopes(int heads);

// The prefix offsets of these lengths: [0, l0, l0 + l1, ...].
std::vector<int32_t> sequence_offsets(const std::vector<int>& lengths);

// What `problem` reads: for a ragged problem, the offsets of these lengths (one pair per sequence),
// or with none given, of `batch` sequences of its maximum lengths (what the tuner times: the
// kernel's work for the bucket's longest sequences); ALiBi's geometric slopes for its heads. A KV
// cache's k_lengths are the keys each sequence has cached (seqused_k; default seqlen_k - seqlen_new,
// full sequences once the append is in), and a paged one's block table gives each sequence
// its own pages in a shuffled order (a server's cache is never in order).
ModifierData modifier_data(const Problem& problem, const std::vector<int>& q_lengths = {},
                           const std::vector<int>& k_lengths = {});

}  // namespace flashjit
