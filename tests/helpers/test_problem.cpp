#include "helpers/test_problem.h"

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
  return n;
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
  a.q.strides = padded_strides(s, s.seqlen_q, s.num_heads);
  a.k.strides = padded_strides(s, s.seqlen_k, s.num_kv_heads);
  a.v.strides = padded_strides(s, s.seqlen_k, s.num_kv_heads);
  a.out.strides = padded_strides(s, s.seqlen_q, s.num_heads);

  std::mt19937 rng(seed);
  fill_random(p.q, s.dtype, a.q.strides.batch * s.batch, rng);
  fill_random(p.k, s.dtype, a.k.strides.batch * s.batch, rng);
  fill_random(p.v, s.dtype, a.v.strides.batch * s.batch, rng);
  const int64_t out_elements = a.out.strides.batch * s.batch;
  p.out.assign(static_cast<size_t>(out_elements) * dtype_size(s.dtype), 0);
  for (int64_t i = 0; i < out_elements; ++i)
    store_from_float(p.out.data(), s.dtype, i, std::numeric_limits<float>::quiet_NaN());
  p.lse.assign(static_cast<size_t>(s.batch) * s.num_heads * s.seqlen_q, kLsePoison);
  p.bind();
  return p;
}

float output_at(const HostProblem& p, int b, int s, int h, int d) {
  const Strides& st = p.args.out.strides;
  return load_as_float(p.out.data(), p.shape.dtype, b * st.batch + s * st.seq + h * st.head + d);
}

}  // namespace flashjit::test
