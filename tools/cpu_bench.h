// flashjit bench --cpu (issue 16): the CPU backend over the shapes (batch, heads, seqlen,
// head dim, dtype: the rows its table measures OpenBLAS sgemm and llama.cpp on) and a few more (head
// dims 72 and 256, f16 and bf16 storage), each without and with the causal mask, at every requested
// thread count; each row's median time and GFLOP/s (4 s^2 d per head, half under the causal mask),
// as a table and as JSON rows (`"cpu": true`) that bench/compare_cpu.py sets beside numpy's
// OpenBLAS sgemm on the same products and PyTorch's CPU scaled_dot_product_attention.
#pragma once

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "flashjit/types.h"

namespace flashjit::tools {

struct CpuBenchShape {
  int batch;
  int heads;
  int seqlen;
  int head_dim;
  DType dtype;
};

// The five rows first, then the extra head dims.
std::vector<CpuBenchShape> cpu_bench_shapes();

// Runs every shape, both masks, at each of `threads` (worker counts of the CPU backend), timing
// `iterations` calls after one untimed call; appends a JSON object per row to `rows`. The exit code.
int run_cpu_sweep(const std::vector<int>& threads, int iterations, nlohmann::json& rows);

}  // namespace flashjit::tools
