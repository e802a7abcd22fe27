// How many thread blocks share one (sequence, KV head)'s keys in a split-KV decode (flash-decoding,
// issue 15): a decode has few query rows per KV head, so batch x KV heads tiles alone can leave most
// SMs idle while one block per tile walks thousands of keys. Splitting each tile's keys over s blocks
// multiplies the blocks by s, at the price of a combine step (templates/split_combine.cuh) that
// reads s partial rows per query row. A pure function of the work and the device, so that the
// selector, plan(), doctor and the tuner (which may try others) agree.
#pragma once

#include <cstdint>
#include <vector>

#include "problem/problem_shape.h"

namespace flashjit::gen {

// The most splits a tile takes; beyond this the combine's reads outgrow what a split saves.
inline constexpr int kMaxDecodeSplits = kMaxKvSplits;

// The nominal tile problem_split_count asks about: 64 query rows (a KV head's queries packed across
// its GQA group) and 64 keys per block, so that the count depends on the call and the device alone,
// not on the tiles of the kernel that serves it (workspace_size answers before any is built).
inline constexpr int kSplitNominalRows = 64;
inline constexpr int kSplitNominalKeys = 64;

// The split count of a KV-cache call of these sizes on `sm_count` SMs: tiles = batch * KV heads *
// the nominal query tiles of a KV head's rows (seqlen_q * GQA ratio), key blocks = seqlen_k / 64,
// split by decode_split_count. The heuristic every launch uses unless its kernel carries a tuned
// count.
int problem_split_count(const ProblemShape& shape, int sm_count);

// The split counts the tuner times for a key whose heuristic count is `heuristic` (issue 15: the
// split count is a tuning dimension): none at 1, so a call the heuristic leaves unsplit never needs
// a workspace; else half of it, it, and twice it (at most kMaxDecodeSplits), ascending.
std::vector<int> tuned_split_candidates(int heuristic);
// The most splits a launch whose heuristic count is `heuristic` may take: the largest tuned
// candidate (`heuristic` itself at 1). Runtime::workspace_size sizes the workspace for it, and a
// tuned count is clamped to it at launch, so the size given is always enough.
int split_ceiling(int heuristic);

// `tiles`: (sequence, KV head) pairs (times query tiles, if a KV head's rows take several);
// `key_blocks`: key blocks of block_n keys the longest sequence has; `sm_count`: the device's SMs.
// One split when the tiles already fill the SMs in whole waves; else the fewest splits whose blocks
// fill the SMs' waves within 5% of the best that any count up to kMaxDecodeSplits reaches (full waves:
// every SM busy to the end), each split keeping at least two key blocks.
int decode_split_count(int64_t tiles, int64_t key_blocks, int sm_count);

// The waves' efficiency of `blocks` on `sm_count` SMs: waves / ceil(waves), 1 when the last wave is
// full.
double wave_efficiency(int64_t blocks, int sm_count);

}  // namespace flashjit::gen
