// How many thread blocks share one (sequence, KV head)'s keys in a split-KV decode (flash-decoding,
// issue 15): a decode has few query rows per KV head, so batch x KV heads tiles alone can leave most
// SMs idle while one block per tile walks thousands of keys. Splitting each tile's keys over s blocks
// multiplies the blocks by s, at the price of a combine step (templates/split_combine.cuh) that
// reads s partial rows per query row. A pure function of the work and the device, so that the
// selector, plan(), doctor and the tuner (which may try others) agree.
#pragma once

#include <cstdint>

namespace flashjit::gen {

// The most splits a tile takes; beyond this the combine's reads outgrow what a split saves.
inline constexpr int kMaxDecodeSplits = 128;

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
