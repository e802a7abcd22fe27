// The CPU backend: FlashAttention's blocked online softmax, in fp32, on host memory.
//
// Work is split into items of (batch, query head, a few blocks of query rows, share of the keys).
// An item converts its query rows to fp32 once (transposed, pre-scaled), then walks its key blocks:
// it copies each K/V block to fp32 once, and for each of its query blocks the block kernels of the
// chosen instruction set (block_kernels.h) compute the scores, fold them into a running max and sum
// per row and rescale the accumulator while adding P.V. The seqlen_q x seqlen_k score matrix never
// exists, so memory stays O(block) and the working set stays in L1/L2; a K/V block is read from
// memory once per unit of up to kMaxBlocksPerUnit query blocks.
//
// A problem with few (batch, head, query block) units, decode above all, splits each unit's keys
// into shares computed in parallel and merged at the end (split-KV, as on the GPU). The split count
// depends on the problem alone, so the result is the same bits whatever the thread count.
#include "runtime/cpu/cpu_attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <future>
#include <limits>
#include <utility>
#include <vector>

#include <llvm/ADT/ScopeExit.h>
#include <llvm/Support/ThreadPool.h>
#include <llvm/Support/Threading.h>

#include "problem/kv_cache_args.h"
#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/block_state.h"
#include "runtime/cpu/call_view.h"
#include "runtime/cpu/decode_walk.h"
#include "runtime/cpu/split_shares.h"
#include "runtime/cpu/unit_walk.h"

namespace flashjit::cpu {
namespace {

// Writes the call's new keys and values into the cache (through the block table when paged): row i
// of sequence b goes to its key seqused_k[b] + i. The cache is the caller's writable k and v.
void append_keys(const AttentionArgs& a) {
  const size_t row_bytes = static_cast<size_t>(a.head_dim) * dtype_size(a.k.dtype);
  for (int b = 0; b < a.batch; ++b) {
    const Sequence seq = sequence_of(a, b);
    for (int i = 0; i < a.seqlen_new; ++i)
      for (int h = 0; h < a.num_kv_heads; ++h)
        for (auto [cache, fresh] : {std::pair{&a.k, &a.k_new}, std::pair{&a.v, &a.v_new}}) {
          const int64_t to = key_offset(a, cache->strides, seq, int64_t{a.seqused_k[b]} + i, h);
          const int64_t from = element_offset(fresh->strides, b, i, h);
          std::memcpy(static_cast<char*>(const_cast<void*>(cache->data)) + to * dtype_size(cache->dtype),
                      static_cast<const char*>(fresh->data) + from * dtype_size(fresh->dtype), row_bytes);
        }
  }
}

int resolve_thread_count(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, llvm::hardware_concurrency().compute_thread_count()));
}

}  // namespace

CpuAttention::CpuAttention(int threads, CpuIsa isa)
    : threads_(resolve_thread_count(threads)), kernels_(&block_kernels(isa)) {
  if (threads_ > 1) helpers_ = std::make_unique<llvm::ThreadPool>(llvm::hardware_concurrency(threads_ - 1));
}

CpuAttention::~CpuAttention() = default;

int CpuAttention::threads() const { return threads_; }

CpuIsa CpuAttention::isa() const { return kernels_->isa; }

void CpuAttention::forward(const AttentionArgs& args) const {
  // The new keys go in before any query reads the cache.
  if (appends_keys(args)) append_keys(args);
  if (args.seqlen_q <= kNarrowLanes) return forward_decode(args);
  forward_prefill(args);
}

void CpuAttention::run_items(int64_t items, llvm::function_ref<void()> work) const {
  // The caller works too; helpers beyond the number of items would find nothing to do. Only this
  // call's futures are waited on (not ThreadPool::wait), so concurrent forward() calls sharing the
  // pool do not wait for each other's work. The wait runs even if the caller's share throws, since
  // the helpers reference the caller's stack frame.
  const int64_t helper_count = helpers_ ? std::min<int64_t>(threads_ - 1, items - 1) : 0;
  std::vector<std::shared_future<void>> helpers_done;
  helpers_done.reserve(static_cast<size_t>(std::max<int64_t>(helper_count, 0)));
  auto wait_for_helpers = llvm::make_scope_exit([&] {
    for (const std::shared_future<void>& done : helpers_done) done.wait();
  });
  for (int64_t i = 0; i < helper_count; ++i) helpers_done.push_back(helpers_->async([work] { work(); }));
  work();
}

void CpuAttention::forward_prefill(const AttentionArgs& args) const {
  // 64-bit: seqlen_q + kWideLanes - 1 passes INT32_MAX for the longest sequences (in int it wrapped
  // negative, and nothing was computed).
  const int64_t query_blocks = (static_cast<int64_t>(args.seqlen_q) + kWideLanes - 1) / kWideLanes;
  const int unit_blocks = blocks_per_unit(args.head_dim);
  const int64_t units_per_head = (query_blocks + unit_blocks - 1) / unit_blocks;
  const int64_t units = static_cast<int64_t>(args.batch) * args.num_heads * units_per_head;
  const int64_t splits = split_count(args, units);
  const int64_t items = units * splits;
  PartialResults partials(splits > 1 ? items : 0, unit_blocks, kWideLanes, args.head_dim);
  const BlockKernels& kernels = *kernels_;

  // A unit's query blocks. The last query blocks of a causal problem are the most expensive, so
  // their units are handed out first. A ragged batch's units cover its longest sequence: the
  // shorter ones' last blocks have no rows, and are left out.
  auto unit_of = [&](int64_t index) {
    const int64_t head_index = index / units_per_head;
    const int64_t group = units_per_head - 1 - index % units_per_head;
    Unit unit;
    const Sequence seq = sequence_of(args, static_cast<int>(head_index / args.num_heads));
    for (int j = 0; j < unit_blocks; ++j) {
      QueryBlock blk;
      blk.seq = seq;
      blk.h = static_cast<int>(head_index % args.num_heads);
      blk.q_begin = static_cast<int>((group * unit_blocks + j) * kWideLanes);  // below seqlen_q: within int
      blk.q_rows = std::min(kWideLanes, seq.seqlen_q - blk.q_begin);
      if (blk.q_rows <= 0) break;
      unit.blocks[unit.count++] = blk;
    }
    return unit;
  };

  // Workers pull items from a shared counter, so an uneven causal workload balances itself.
  std::atomic<int64_t> next_item{0};
  run_items(items, [&] {
    // A unit has at most as many blocks as the problem has query blocks.
    BlockScratch& scratch =
        reusable_block_scratch(args.head_dim, static_cast<int>(std::min<int64_t>(unit_blocks, query_blocks)));
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const Unit unit = unit_of(item / splits);
      if (unit.count == 0) continue;
      const KeyRange keys = keys_seen(args, unit);
      if (splits == 1) {
        if (keys.empty()) {
          for (int j = 0; j < unit.count; ++j) write_block_that_sees_no_key(args, unit.blocks[j]);
          continue;
        }
        attend(args, unit, keys, kernels, scratch);
        for (int j = 0; j < unit.count; ++j) write_block(args, unit.blocks[j], kernels, scratch.blocks[j]);
        continue;
      }
      const KeyRange share = share_of(keys, item % splits, splits);
      if (share.empty()) {
        for (int j = 0; j < unit.count; ++j) partials.store_empty(item, j, unit.blocks[j].q_rows);
        continue;
      }
      attend(args, unit, share, kernels, scratch);
      for (int j = 0; j < unit.count; ++j) partials.store(item, j, unit.blocks[j].q_rows, scratch.blocks[j]);
    }
  });
  if (splits == 1) return;

  // The merge reads every share of a unit: it runs once all of them are in (the helpers are done).
  BlockState merged(args.head_dim);
  for (int64_t index = 0; index < units; ++index) {
    const Unit unit = unit_of(index);
    for (int j = 0; j < unit.count; ++j) {
      merge_shares(partials, index * splits, splits, j, unit.blocks[j].q_rows, args.head_dim, merged);
      write_block(args, unit.blocks[j], kernels, merged);
    }
  }
}

void CpuAttention::forward_decode(const AttentionArgs& args) const {
  // Units are sequences here: split-KV gives a batch of one its threads' work.
  const int64_t splits = split_count(args, args.batch);
  const int64_t items = static_cast<int64_t>(args.batch) * splits;
  PartialResults partials(splits > 1 ? items : 0, args.num_heads, kNarrowLanes, args.head_dim);
  const BlockKernels& kernels = *kernels_;
  // The keys a sequence's rows see (the same for every head: only ALiBi's slope differs by head).
  auto keys_of = [&](const Sequence& seq) { return keys_seen(score_rule(args, seq, 0), decode_block(seq, 0)); };

  std::atomic<int64_t> next_item{0};
  run_items(items, [&] {
    DecodeScratch& scratch = reusable_decode_scratch(args);
    for (int64_t item = next_item.fetch_add(1, std::memory_order_relaxed); item < items;
         item = next_item.fetch_add(1, std::memory_order_relaxed)) {
      const Sequence seq = sequence_of(args, static_cast<int>(item / splits));
      if (seq.seqlen_q <= 0) continue;
      const KeyRange keys = splits == 1 ? keys_of(seq) : share_of(keys_of(seq), item % splits, splits);
      if (keys.empty()) {
        for (int h = 0; h < args.num_heads; ++h) {
          if (splits == 1) write_block_that_sees_no_key(args, decode_block(seq, h));
          else partials.store_empty(item, h, seq.seqlen_q);
        }
        continue;
      }
      attend_decode(args, seq, keys, kernels, scratch);
      for (int h = 0; h < args.num_heads; ++h) {
        if (splits == 1) write_block(args, decode_block(seq, h), kernels, scratch.heads[h]);
        else partials.store(item, h, seq.seqlen_q, scratch.heads[h]);
      }
    }
  });
  if (splits == 1) return;

  BlockState merged(args.head_dim, kNarrowLanes);
  for (int b = 0; b < args.batch; ++b) {
    const Sequence seq = sequence_of(args, b);
    for (int h = 0; h < args.num_heads && seq.seqlen_q > 0; ++h) {
      merge_shares(partials, int64_t{b} * splits, splits, h, seq.seqlen_q, args.head_dim, merged);
      write_block(args, decode_block(seq, h), kernels, merged);
    }
  }
}

}  // namespace flashjit::cpu
