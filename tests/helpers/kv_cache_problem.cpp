#include "helpers/kv_cache_problem.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"

namespace flashjit::test {
namespace {

std::string joined(const std::vector<int>& v) {
  std::string t;
  for (size_t i = 0; i < v.size(); ++i) t += (i ? "x" : "") + std::to_string(v[i]);
  return t;
}

// `elements` elements of `dtype`, every one NaN.
std::vector<uint8_t> poisoned(int64_t elements, DType dtype) {
  std::vector<uint8_t> bytes(static_cast<size_t>(elements) * dtype_size(dtype));
  for (int64_t i = 0; i < elements; ++i) store_from_float(bytes.data(), dtype, i, std::numeric_limits<float>::quiet_NaN());
  return bytes;
}

void copy_element(std::vector<uint8_t>& to, int64_t to_index, const std::vector<uint8_t>& from, int64_t from_index,
                  int bytes) {
  std::memcpy(to.data() + to_index * bytes, from.data() + from_index * bytes, static_cast<size_t>(bytes));
}

}  // namespace

std::string KvCacheCase::name() const {
  std::string n = queries.name() + "_cached" + joined(cached);
  if (seqlen_new > 0) n += "_new" + std::to_string(seqlen_new);
  n += page_size > 0 ? "_page" + std::to_string(page_size) : "_dense";
  if (share_first_page) n += "_shared";
  return n;
}

KvCacheProblem make_kv_cache_problem(const KvCacheCase& c, uint32_t seed) {
  KvCacheProblem p;
  p.c = c;
  p.queries = make_problem(c.queries, seed);
  const ProblemShape& s = c.queries;
  const int batch = s.batch;
  const int kvh = s.num_kv_heads;
  const int d = s.head_dim;
  const int bytes = dtype_size(s.dtype);
  const int64_t row = int64_t{kvh} * d;  // elements of one key row (all kv heads)
  if (static_cast<int>(c.cached.size()) != batch) ADD_FAILURE() << "one cached count per sequence";

  // The logical keys: sequence b's cached ones, then the new ones; random, except that with a shared
  // first page sequence 1's first page holds sequence 0's keys.
  std::vector<int> keys(batch);
  p.logical_cu_k.assign(1, 0);
  for (int b = 0; b < batch; ++b) {
    keys[b] = c.cached[b] + c.seqlen_new;
    p.logical_cu_k.push_back(p.logical_cu_k.back() + keys[b]);
  }
  const int64_t total = std::max(1, p.logical_cu_k.back());
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  p.logical_k.assign(static_cast<size_t>(total * row) * bytes, 0);
  p.logical_v = p.logical_k;
  for (int64_t i = 0; i < total * row; ++i) {
    store_from_float(p.logical_k.data(), s.dtype, i, dist(rng));
    store_from_float(p.logical_v.data(), s.dtype, i, dist(rng));
  }
  const bool share = c.share_first_page && c.page_size > 0 && batch >= 2 && c.cached[0] >= c.page_size &&
                     c.cached[1] >= c.page_size;
  if (c.share_first_page && !share) ADD_FAILURE() << "sharing needs two sequences with a full cached page";
  if (share)
    for (int64_t i = 0; i < int64_t{c.page_size} * row; ++i) {
      copy_element(p.logical_k, p.logical_cu_k[1] * row + i, p.logical_k, i, bytes);
      copy_element(p.logical_v, p.logical_cu_k[1] * row + i, p.logical_v, i, bytes);
    }

  // The new keys, [batch, seqlen_new, kv heads, d]: the logical keys past each sequence's cached ones.
  if (c.seqlen_new > 0) {
    p.k_new.assign(static_cast<size_t>(batch) * c.seqlen_new * row * bytes, 0);
    p.v_new = p.k_new;
    for (int b = 0; b < batch; ++b)
      for (int64_t i = 0; i < int64_t{c.seqlen_new} * row; ++i) {
        const int64_t from = (p.logical_cu_k[b] + c.cached[b]) * row + i;
        copy_element(p.k_new, int64_t{b} * c.seqlen_new * row + i, p.logical_k, from, bytes);
        copy_element(p.v_new, int64_t{b} * c.seqlen_new * row + i, p.logical_v, from, bytes);
      }
  }

  // The cache: NaN everywhere, then each sequence's cached keys where the call reads them.
  const int longest = std::max(1, *std::max_element(keys.begin(), keys.end()));
  AttentionArgs& a = p.args;
  a = p.queries.args;
  a.seqused_k = nullptr;
  p.seqused_k = c.cached;
  // Where sequence b's key j lives: an element index of the cache's row (kv head 0, d 0).
  std::function<int64_t(int, int)> slot;
  if (c.page_size > 0) {
    std::vector<int> pages(batch);
    int max_pages = 1, used = 0;
    for (int b = 0; b < batch; ++b) {
      pages[b] = (keys[b] + c.page_size - 1) / c.page_size;
      max_pages = std::max(max_pages, pages[b]);
      used += pages[b];
    }
    if (share) --used;
    a.page_size = c.page_size;
    a.num_pages = used + c.spare_pages;
    a.max_pages_per_sequence = max_pages + 1;  // a spare column: never read
    // Page ids in shuffled order; the table's unused entries hold an id no page has.
    std::vector<int32_t> ids(static_cast<size_t>(a.num_pages));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    p.block_table.assign(static_cast<size_t>(batch) * a.max_pages_per_sequence, a.num_pages + 1000);
    size_t next = 0;
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < pages[b]; ++i)
        p.block_table[static_cast<size_t>(b) * a.max_pages_per_sequence + i] =
            share && b == 1 && i == 0 ? p.block_table[0] : ids[next++];
    const int page_size = c.page_size;
    const int stride = a.max_pages_per_sequence;
    slot = [&p, page_size, stride, row](int b, int j) {
      return (int64_t{p.block_table[static_cast<size_t>(b) * stride + j / page_size]} * page_size + j % page_size) *
             row;
    };
    a.seqlen_k = longest;
    p.k_cache = poisoned(int64_t{a.num_pages} * page_size * row, s.dtype);
  } else {
    a.seqlen_k = longest + 3;  // capacity beyond the longest sequence: NaN rows never read
    const int capacity = a.seqlen_k;
    slot = [capacity, row](int b, int j) { return (int64_t{b} * capacity + j) * row; };
    p.k_cache = poisoned(int64_t{batch} * capacity * row, s.dtype);
  }
  p.v_cache = p.k_cache;
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < c.cached[b]; ++j)
      for (int64_t e = 0; e < row; ++e) {
        copy_element(p.k_cache, slot(b, j) + e, p.logical_k, (p.logical_cu_k[b] + j) * row + e, bytes);
        copy_element(p.v_cache, slot(b, j) + e, p.logical_v, (p.logical_cu_k[b] + j) * row + e, bytes);
      }
  p.k_cache_before = p.k_cache;
  p.v_cache_before = p.v_cache;
  // Contiguous strides: pages [num_pages, page_size, kv heads, d] or [batch, capacity, kv heads, d].
  a.k.strides = a.v.strides = Strides{};
  a.k_new.dtype = a.v_new.dtype = s.dtype;
  a.seqlen_new = c.seqlen_new;
  p.bind();
  return p;
}

KvCacheCase kv_cache_case(ProblemShape queries, std::vector<int> cached, int page_size, int seqlen_new, bool share) {
  KvCacheCase c;
  c.queries = std::move(queries);
  c.cached = std::move(cached);
  c.page_size = page_size;
  c.seqlen_new = seqlen_new;
  c.share_first_page = share;
  return c;
}

ProblemShape decode_queries(int batch, int heads, int kv_heads, int seqlen_q, int head_dim, DType dtype,
                            MaskKind mask) {
  return shape(batch, heads, kv_heads, seqlen_q, 1, head_dim, dtype, mask);
}

void KvCacheProblem::bind() {
  queries.bind();
  AttentionArgs kept = args;
  args = queries.args;
  // The cache's own fields over the queries' call.
  args.seqlen_k = kept.seqlen_k;
  args.page_size = kept.page_size;
  args.num_pages = kept.num_pages;
  args.max_pages_per_sequence = kept.max_pages_per_sequence;
  args.seqlen_new = kept.seqlen_new;
  args.k = {k_cache.data(), queries.shape.dtype, {}};
  args.v = {v_cache.data(), queries.shape.dtype, {}};
  args.cu_seqlens_k = nullptr;
  args.total_k = 0;
  args.seqused_k = seqused_k.data();
  args.block_table = c.page_size > 0 ? block_table.data() : nullptr;
  args.k_new = {c.seqlen_new > 0 ? k_new.data() : nullptr, queries.shape.dtype, {}};
  args.v_new = {c.seqlen_new > 0 ? v_new.data() : nullptr, queries.shape.dtype, {}};
}

AttentionArgs KvCacheProblem::reference_args() const {
  AttentionArgs r = queries.args;
  const ProblemShape& s = queries.shape;
  const int64_t row = int64_t{s.num_kv_heads} * s.head_dim;
  r.seqlen_k = std::max(1, *std::max_element(logical_cu_k.begin(), logical_cu_k.end()));
  r.k = {logical_k.data(), s.dtype, {0, row, s.head_dim}};
  r.v = {logical_v.data(), s.dtype, {0, row, s.head_dim}};
  r.cu_seqlens_k = logical_cu_k.data();
  if (r.softmax_scale == 0.0f) r.softmax_scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  return r;
}

testing::AssertionResult KvCacheProblem::cache_holds_the_append() const {
  std::vector<uint8_t> k_expected = k_cache_before, v_expected = v_cache_before;
  const ProblemShape& s = queries.shape;
  const int bytes = dtype_size(s.dtype);
  const int64_t row = int64_t{s.num_kv_heads} * s.head_dim;
  for (int b = 0; b < s.batch; ++b)
    for (int i = 0; i < c.seqlen_new; ++i) {
      const int j = c.cached[b] + i;
      int64_t slot = 0;
      if (c.page_size > 0) {
        const int32_t page = block_table[static_cast<size_t>(b) * args.max_pages_per_sequence + j / c.page_size];
        slot = (int64_t{page} * c.page_size + j % c.page_size) * row;
      } else {
        slot = (int64_t{b} * args.seqlen_k + j) * row;
      }
      const int64_t from = (int64_t{b} * c.seqlen_new + i) * row;
      std::memcpy(k_expected.data() + slot * bytes, k_new.data() + from * bytes, static_cast<size_t>(row) * bytes);
      std::memcpy(v_expected.data() + slot * bytes, v_new.data() + from * bytes, static_cast<size_t>(row) * bytes);
    }
  if (k_expected != k_cache) return testing::AssertionFailure() << "k cache differs from the expected append";
  if (v_expected != v_cache) return testing::AssertionFailure() << "v cache differs from the expected append";
  return testing::AssertionSuccess();
}

}  // namespace flashjit::test
