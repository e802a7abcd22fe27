#include "runtime/launch_params.h"

#include <cmath>

namespace flashjit {
namespace {

TensorStrides strides_of(const Strides& s) { return TensorStrides{s.batch, s.seq, s.head}; }

}  // namespace

AttentionParams make_params(const AttentionArgs& a) {
  AttentionParams p{};
  p.q = a.q.data;
  p.k = a.k.data;
  p.v = a.v.data;
  p.o = a.out.data;
  p.lse = a.lse;
  p.q_strides = strides_of(a.q.strides);
  p.k_strides = strides_of(a.k.strides);
  p.v_strides = strides_of(a.v.strides);
  p.o_strides = strides_of(a.out.strides);
  p.batch = a.batch;
  p.num_heads = a.num_heads;
  p.num_kv_heads = a.num_kv_heads;
  p.seqlen_q = a.seqlen_q;
  p.seqlen_k = a.seqlen_k;
  p.head_dim = a.head_dim;
  p.softmax_scale = a.softmax_scale;
  p.scale_log2 = a.softmax_scale * static_cast<float>(M_LOG2E);
  return p;
}

cuda::LaunchShape launch_shape(const gen::KernelSpec& spec, const AttentionArgs& a) {
  cuda::LaunchShape s;
  s.grid[0] = static_cast<unsigned>((int64_t{a.seqlen_q} + spec.block_m - 1) / spec.block_m);  // no int overflow
  s.grid[1] = static_cast<unsigned>(a.num_heads);
  s.grid[2] = static_cast<unsigned>(a.batch);
  s.block[0] = static_cast<unsigned>(gen::threads_per_block(spec));
  s.dynamic_shared_bytes = static_cast<unsigned>(gen::shared_memory_bytes(spec));
  return s;
}

}  // namespace flashjit
