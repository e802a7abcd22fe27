// flashjit bench --decode (issue 15): the decode sweep, batch {1, 8, 32, 128} x cached keys {1k, 8k,
// 32k} x page size {1, 16, 256}, 32 query and 8 KV heads of d 128 in bf16, one query row per
// sequence; each row's time, the K/V it reads, the achieved GB/s and the fraction of the GPU's DRAM
// peak, as a table and as JSON rows (`"decode": true`) that bench/compare_sdpa.py can set beside
// PyTorch on the equivalent dense problem.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "flashjit/runtime.h"

namespace flashjit::tools {

// Runs the sweep on `runtime` (a CUDA runtime; the primary context current), `iterations` timed calls
// per row, appending one JSON object per row to `rows`; the exit code.
int run_decode_sweep(Runtime& runtime, int iterations, nlohmann::json& rows);

}  // namespace flashjit::tools
