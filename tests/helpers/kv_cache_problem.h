// KV-cache problems for tests (issue 15): the queries of a HostProblem, and each sequence's keys
// in a cache, dense or in shuffled (and shared) pages, with new keys to append. The same keys also
// exist packed in order (the logical keys), so the double-precision reference computes the call
// as a plain ragged batch, knowing nothing of pages, counts or appends. Every cache element no
// sequence owns is NaN: a read past a sequence's keys, or of another's page, poisons the output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/types.h"
#include "helpers/test_problem.h"

namespace flashjit::test {

struct KvCacheCase {
  // The queries and everything else: dense (seqlen_q) or ragged (q_lengths; k_lengths unused),
  // heads, head dim, dtype, mask, window, softcap, ALiBi, lse.
  ProblemShape queries;
  std::vector<int> cached;        // seqused_k, one per sequence
  int seqlen_new = 0;             // keys appended to every sequence
  int page_size = 0;              // 0: a dense cache [batch, seqlen_k]
  bool share_first_page = false;  // sequences 0 and 1 share their first (full) page: prefix caching
  int spare_pages = 3;            // pages no sequence uses

  // "<queries' name>_cached5x0x17_new2_page16_shared"
  std::string name() const;
};

struct KvCacheProblem {
  KvCacheCase c;
  HostProblem queries;  // q, out (poisoned), lse, cu_seqlens_q, ALiBi slopes
  std::vector<uint8_t> k_cache, v_cache, k_new, v_new;
  std::vector<int32_t> seqused_k, block_table;
  // Sequence b's keys after the append, packed in order: what the call must attend to.
  std::vector<uint8_t> logical_k, logical_v;
  std::vector<int32_t> logical_cu_k;
  // The cache before the call, to check what the append wrote and that nothing else changed.
  std::vector<uint8_t> k_cache_before, v_cache_before;
  AttentionArgs args;  // the call

  // The call as the reference sees it (normalized: strides and scale set): the queries, and the
  // logical keys as a packed batch.
  AttentionArgs reference_args() const;
  // Whether the cache now holds exactly what it held with the new keys and values written at each
  // sequence's positions seqused_k[b] .. + seqlen_new - 1 (through its pages), bit for bit.
  testing::AssertionResult cache_holds_the_append() const;
  // Re-points args at the buffers (after a copy or move).
  void bind();
};

KvCacheProblem make_kv_cache_problem(const KvCacheCase& c, uint32_t seed = 4321);

// A case: these queries against caches holding `cached` keys per sequence (page_size 0: dense),
// `seqlen_new` appended, sequences 0 and 1 sharing their first page when `share`.
KvCacheCase kv_cache_case(ProblemShape queries, std::vector<int> cached, int page_size, int seqlen_new = 0,
                          bool share = false);
// Dense decode queries: `batch` sequences of seqlen_q rows (the keys come from the cache).
ProblemShape decode_queries(int batch, int heads, int kv_heads, int seqlen_q, int head_dim, DType dtype,
                            MaskKind mask = MaskKind::causal);

}  // namespace flashjit::test
