#include "runtime/launch_params.h"

#include <algorithm>
#include <cmath>

#include "generator/variant_rules.h"

namespace flashjit {
namespace {

TensorStrides strides_of(const Strides& s) { return TensorStrides{s.batch, s.seq, s.head}; }

// A wgmma_sm90 consumer warpgroup's query rows: Q arrives in boxes of that many rows, one per
// consumer (templates/wgmma_sm90_forward.cuh).
constexpr int kWgmmaConsumerRows = 64;

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

ScoreModParams make_score_mod_params(const AttentionArgs& a) {
  ScoreModParams m{};
  m.cu_seqlens_q = a.cu_seqlens_q;
  m.cu_seqlens_k = a.cu_seqlens_k;
  m.alibi_slopes = a.alibi_slopes;
  m.alibi_batch_stride = a.alibi_batch_stride;
  m.window_left = a.window_left;
  m.window_right = a.window_right;
  m.softcap = a.softcap;
  m.softcap_scale = a.softcap > 0.0f ? a.softmax_scale / a.softcap : 0.0f;
  return m;
}

KvCacheParams make_kv_cache_params(const AttentionArgs& a) {
  KvCacheParams kv{};
  kv.seqused_k = a.seqused_k;
  kv.block_table = a.block_table;
  kv.block_table_stride = a.block_table_stride > 0 ? a.block_table_stride : a.max_pages_per_sequence;
  // validate_args accepted a power of two.
  if (a.block_table)
    while ((1 << kv.page_shift) < a.page_size) ++kv.page_shift;
  if (a.seqlen_new > 0) {
    kv.k_new = a.k_new.data;
    kv.v_new = a.v_new.data;
    kv.k_new_strides = {a.k_new.strides.batch, a.k_new.strides.seq, a.k_new.strides.head};
    kv.v_new_strides = {a.v_new.strides.batch, a.v_new.strides.seq, a.v_new.strides.head};
    kv.seqlen_new = a.seqlen_new;
  }
  kv.num_splits = 1;
  return kv;
}

llvm::Expected<WgmmaParams> make_wgmma_params(const gen::KernelSpec& spec, const AttentionArgs& a,
                                              const TensorMapEncoder& encode) {
  WgmmaParams p{};
  p.attention = make_params(a);
  const std::pair<Operand, TmaTensor*> tensors[] = {
      {Operand::q, &p.q}, {Operand::k, &p.k}, {Operand::v, &p.v}};
  for (auto [operand, tensor] : tensors) {
    int box_rows = spec.block_n;
    if (operand == Operand::q) box_rows = kWgmmaConsumerRows;
    else if (a.block_table != nullptr) box_rows = paged_box_rows(spec.block_n, a.page_size);
    const TensorMapRequest request = tensor_map_request(a, operand, box_rows);
    auto bits = encode(request);
    if (!bits) return bits.takeError();
    tensor->map = *bits;
    tensor->seq_slot = request.seq_slot;
    tensor->head_slot = request.head_slot;
    tensor->batch_slot = request.batch_slot;
  }
  return p;
}

llvm::Expected<KernelParameters> make_kernel_parameters(const gen::KernelSpec& spec, const AttentionArgs& a,
                                                        const TensorMapEncoder& encode) {
  auto with_mods = [&](KernelParameters parameters) {
    if (spec.features().any_modifier()) parameters.set_score_mods(make_score_mod_params(a));
    if (spec.features().kv_cache) parameters.set_kv_cache(make_kv_cache_params(a));
    return parameters;
  };
  if (gen::rules_for(spec.variant).parameters == gen::ParameterBlock::attention)
    return with_mods(KernelParameters(make_params(a)));
  auto params = make_wgmma_params(spec, a, encode);
  if (!params) return params.takeError();
  return with_mods(KernelParameters(*params));
}

cuda::LaunchShape launch_shape(const gen::KernelSpec& spec, const AttentionArgs& a, int persistent_blocks,
                               int splits) {
  cuda::LaunchShape s;
  const int64_t m_blocks = (int64_t{a.seqlen_q} + spec.block_m - 1) / spec.block_m;  // no int overflow
  // Split-KV: each query block's splits are consecutive blocks (templates/kv_cache_params.cuh).
  s.grid[0] = static_cast<unsigned>(m_blocks * splits);
  s.grid[1] = static_cast<unsigned>(a.num_heads);
  s.grid[2] = static_cast<unsigned>(a.batch);
  if (gen::rules_for(spec.variant).grid == gen::GridKind::persistent) {
    // The blocks walk the tiles (templates/wgmma_tile_scheduler.cuh).
    const int64_t tiles = m_blocks * a.num_heads * a.batch;
    s.grid[0] = static_cast<unsigned>(persistent_blocks > 0 ? std::min<int64_t>(tiles, persistent_blocks) : tiles);
    s.grid[1] = 1;
    s.grid[2] = 1;
  }
  s.block[0] = static_cast<unsigned>(gen::threads_per_block(spec));
  s.dynamic_shared_bytes = static_cast<unsigned>(gen::shared_memory_bytes(spec));
  return s;
}

cuda::LaunchShape combine_launch_shape(const gen::KernelSpec& spec, const SplitKv& split) {
  cuda::LaunchShape s;
  const long long rows_per_block = spec.warps;  // one warp per row (templates/split_combine.cuh)
  s.grid[0] = static_cast<unsigned>((split.rows + rows_per_block - 1) / rows_per_block);
  s.block[0] = static_cast<unsigned>(spec.warps * 32);
  return s;
}

}  // namespace flashjit
