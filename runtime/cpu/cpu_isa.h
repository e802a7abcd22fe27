// Which SIMD instruction set the CPU backend's block kernels use. One binary carries a kernel set
// per instruction set (runtime/cpu/block_kernels.h); the best one the CPU runs is picked at run
// time, and a lower one can be forced (RuntimeOptions::cpu_isa, FLASHJIT_CPU_ISA) to test it or to
// compare.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flashjit/status.h"

namespace flashjit::cpu {

enum class CpuIsa {
  portable,  // plain C++ for the build's baseline target (SSE2 on x86-64, NEON on AArch64)
  avx2,      // AVX2 + FMA + F16C (x86-64-v3: Haswell, Zen 1 and later)
  avx512,    // AVX-512 F/BW/DQ/VL + FMA + F16C (Skylake-SP, Ice Lake, Zen 4 and later)
  // avx512 and AVX512-BF16 (Cooper Lake, Sapphire Rapids, Zen 4 and later): bf16 storage multiplies
  // in bf16 pairs (VDPBF16PS) and rounds the probabilities to bf16 for P.V, as the GPU kernels do.
  avx512_bf16,
};

// "portable", "avx2", "avx512", "avx512_bf16".
const char* cpu_isa_name(CpuIsa isa);
std::optional<CpuIsa> parse_cpu_isa(std::string_view name);
// Every instruction set this build has kernels for, lowest first.
std::vector<CpuIsa> built_cpu_isas();
// What the CPU running this process lacks for `isa` ("AVX-512BW, AVX-512VL"); empty when it runs it.
std::string missing_cpu_features(CpuIsa isa);
bool cpu_runs(CpuIsa isa);
// The highest instruction set this build has and the CPU runs.
CpuIsa best_cpu_isa();
// The highest whose products are all fp32 (avx512_bf16 rounds bf16 problems' probabilities): the
// one a check of another implementation against the CPU backend uses.
CpuIsa best_fp32_cpu_isa();
// The instruction sets the CPU runs, lowest first: the ones a test can force.
std::vector<CpuIsa> runnable_cpu_isas();

// `requested` ("" for the best) as an instruction set the CPU runs: invalid_argument for a name that
// is not one, unsupported (naming the missing features) for one this CPU or build lacks.
Result<CpuIsa> resolve_cpu_isa(std::string_view requested);

}  // namespace flashjit::cpu
