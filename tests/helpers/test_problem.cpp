#include "helpers/test_problem.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "flashjit/numeric.h"

namespace flashjit::test {

std::string ProblemShape::name() const {
  std::string n = "b" + std::to_string(batch) + "_h" + std::to_string(num_heads) + "_kv" +
                  std::to_string(num_kv_heads) + "_q" + std::to_string(seqlen_q) + "_k" +
                  std::to_string(seqlen_k) + "_d" + std::to_string(head_dim) + "_" + dtype_name(dtype);
  if (mask == MaskKind::causal) n += "_causal";
  if (head_padding) n += "_hpad" + std::to_string(head_padding);
  if (seq_padding) n += "_spad" + std::to_string(seq_padding);
  if (softmax_scale != 0.0f) {
    // GoogleTest names take letters, digits and '_' only: 0.3 -> "0p3".
    std::string scale = std::to_string(softmax_scale);
    scale.erase(scale.find_last_not_of('0') + 1);
    if (scale.back() == '.') scale.pop_back();
    for (char& c : scale) c = c == '.' ? 'p' : c == '-' ? 'm' : c;
    n += "_scale" + scale;
  }
  if (!with_lse) n += "_nolse";
  auto lengths = [](const std::vector<int>& v) {
    std::string t;
    for (size_t i = 0; i < v.size(); ++i) t += (i ? "x" : "") + std::to_string(v[i]);
    return t;
  };
  if (ragged()) n += "_varlen_q" + lengths(q_lengths) + "_k" + lengths(k_lengths) + (with_totals ? "" : "_nototals");
  if (window_left >= 0 || window_right >= 0)
    n += "_win" + (window_left < 0 ? std::string("inf") : std::to_string(window_left)) + "_" +
         (window_right < 0 ? std::string("inf") : std::to_string(window_right));
  if (softcap > 0.0f) n += "_cap" + std::to_string(static_cast<int>(softcap * 10));
  if (alibi) n += alibi_per_batch ? "_alibib" : "_alibi";
  return n;
}

ProblemShape ragged_shape(std::vector<int> q_lengths, std::vector<int> k_lengths, int heads, int kv_heads,
                          int head_dim, DType dtype, MaskKind mask) {
  auto longest = [](const std::vector<int>& v) {
    int m = 1;
    for (int x : v) m = std::max(m, x);
    return m;
  };
  ProblemShape s = shape(static_cast<int>(q_lengths.size()), heads, kv_heads, longest(q_lengths),
                         longest(k_lengths), head_dim, dtype, mask);
  s.q_lengths = std::move(q_lengths);
  s.k_lengths = std::move(k_lengths);
  return s;
}

ProblemShape shape(int batch, int heads, int kv_heads, int seqlen_q, int seqlen_k, int head_dim, DType dtype,
                   MaskKind mask) {
  ProblemShape s;
  s.batch = batch;
  s.num_heads = heads;
  s.num_kv_heads = kv_heads;
  s.seqlen_q = seqlen_q;
  s.seqlen_k = seqlen_k;
  s.head_dim = head_dim;
  s.dtype = dtype;
  s.mask = mask;
  return s;
}

ProblemShape windowed(ProblemShape s, int left, int right) {
  s.window_left = left;
  s.window_right = right;
  return s;
}

ProblemShape capped(ProblemShape s, float softcap) {
  s.softcap = softcap;
  return s;
}

ProblemShape with_alibi(ProblemShape s, bool per_batch) {
  s.alibi = true;
  s.alibi_per_batch = per_batch;
  return s;
}

namespace {

Strides padded_strides(const ProblemShape& s, int seqlen, int heads) {
  Strides st;
  st.head = s.head_dim + s.head_padding;
  st.seq = st.head * heads + s.seq_padding;
  st.batch = st.seq * seqlen;
  return st;
}

void fill_random(std::vector<uint8_t>& buffer, DType dtype, int64_t elements, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  buffer.assign(static_cast<size_t>(elements) * dtype_size(dtype), 0);
  for (int64_t i = 0; i < elements; ++i) store_from_float(buffer.data(), dtype, i, dist(rng));
}

}  // namespace

void HostProblem::bind() {
  args.q.data = q.data();
  args.k.data = k.data();
  args.v.data = v.data();
  args.out.data = out.data();
  args.lse = shape.with_lse ? lse.data() : nullptr;
  args.cu_seqlens_q = shape.ragged() ? cu_seqlens_q.data() : nullptr;
  args.cu_seqlens_k = shape.ragged() ? cu_seqlens_k.data() : nullptr;
  args.alibi_slopes = shape.alibi ? alibi_slopes.data() : nullptr;
}

int HostProblem::seqlen_q_of(int b) const { return shape.ragged() ? shape.q_lengths[b] : shape.seqlen_q; }
int HostProblem::seqlen_k_of(int b) const { return shape.ragged() ? shape.k_lengths[b] : shape.seqlen_k; }
int64_t HostProblem::q_row0(int b) const { return shape.ragged() ? cu_seqlens_q[b] : 0; }
int64_t HostProblem::k_row0(int b) const { return shape.ragged() ? cu_seqlens_k[b] : 0; }

size_t HostProblem::lse_index(int b, int h, int i) const {
  if (shape.ragged()) return static_cast<size_t>(h) * cu_seqlens_q.back() + cu_seqlens_q[b] + i;
  return (static_cast<size_t>(b) * shape.num_heads + h) * shape.seqlen_q + i;
}

HostProblem make_problem(const ProblemShape& s, uint32_t seed) {
  HostProblem p;
  p.shape = s;
  AttentionArgs& a = p.args;
  a.batch = s.batch;
  a.num_heads = s.num_heads;
  a.num_kv_heads = s.num_kv_heads;
  a.seqlen_q = s.seqlen_q;
  a.seqlen_k = s.seqlen_k;
  a.head_dim = s.head_dim;
  a.mask = s.mask;
  a.softmax_scale = s.softmax_scale;
  a.q.dtype = a.k.dtype = a.v.dtype = a.out.dtype = s.dtype;
  a.window_left = s.window_left;
  a.window_right = s.window_right;
  a.softcap = s.softcap;

  // A ragged batch packs its sequences: one entry of total tokens, batch stride 0.
  int64_t q_entries = s.seqlen_q, k_entries = s.seqlen_k, entries = s.batch;
  if (s.ragged()) {
    p.cu_seqlens_q.assign(1, 0);
    p.cu_seqlens_k.assign(1, 0);
    for (size_t b = 0; b < s.q_lengths.size(); ++b) {
      p.cu_seqlens_q.push_back(p.cu_seqlens_q.back() + s.q_lengths[b]);
      p.cu_seqlens_k.push_back(p.cu_seqlens_k.back() + s.k_lengths[b]);
    }
    // At least one token, so that the buffers exist when every sequence is empty.
    q_entries = std::max(1, p.cu_seqlens_q.back());
    k_entries = std::max(1, p.cu_seqlens_k.back());
    entries = 1;
    if (s.with_totals) {
      a.total_q = p.cu_seqlens_q.back();
      a.total_k = p.cu_seqlens_k.back();
    }
  }
  a.q.strides = padded_strides(s, static_cast<int>(q_entries), s.num_heads);
  a.k.strides = padded_strides(s, static_cast<int>(k_entries), s.num_kv_heads);
  a.v.strides = padded_strides(s, static_cast<int>(k_entries), s.num_kv_heads);
  a.out.strides = padded_strides(s, static_cast<int>(q_entries), s.num_heads);

  std::mt19937 rng(seed);
  fill_random(p.q, s.dtype, a.q.strides.batch * entries, rng);
  fill_random(p.k, s.dtype, a.k.strides.batch * entries, rng);
  fill_random(p.v, s.dtype, a.v.strides.batch * entries, rng);
  const int64_t out_elements = a.out.strides.batch * entries;
  p.out.assign(static_cast<size_t>(out_elements) * dtype_size(s.dtype), 0);
  for (int64_t i = 0; i < out_elements; ++i)
    store_from_float(p.out.data(), s.dtype, i, std::numeric_limits<float>::quiet_NaN());
  p.lse.assign(static_cast<size_t>(entries) * s.num_heads * q_entries, kLsePoison);
  if (s.ragged()) {
    for (Strides* st : {&a.q.strides, &a.k.strides, &a.v.strides, &a.out.strides}) st->batch = 0;
  }
  if (s.alibi) {
    const int rows = s.alibi_per_batch ? s.batch : 1;
    for (int b = 0; b < rows; ++b)
      for (int h = 0; h < s.num_heads; ++h)
        p.alibi_slopes.push_back(std::exp2(-8.0f * (h + 1) / s.num_heads) * (1.0f + 0.5f * b));
    a.alibi_batch_stride = s.alibi_per_batch ? s.num_heads : 0;
  }
  p.bind();
  return p;
}

float output_at(const HostProblem& p, int b, int s, int h, int d) {
  const Strides& st = p.args.out.strides;
  return load_as_float(p.out.data(), p.shape.dtype, b * st.batch + s * st.seq + h * st.head + d);
}

}  // namespace flashjit::test
