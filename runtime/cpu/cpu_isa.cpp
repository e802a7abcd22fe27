#include "runtime/cpu/cpu_isa.h"

#include <iterator>
#include <utility>

#include <llvm/Support/FormatVariadic.h>

#include "support/quote.h"

namespace flashjit::cpu {
namespace {

#if defined(__x86_64__) || defined(__i386__)
constexpr bool kX86 = true;
#else
constexpr bool kX86 = false;
#endif

constexpr CpuIsa kAllIsas[] = {CpuIsa::portable, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512_bf16};

struct Feature {
  const char* name;  // as Intel's manuals spell it, for the error message
  bool present;
};

// GCC's and Clang's __builtin_cpu_supports also check that the OS saves the vector registers
// (XGETBV), so a feature it reports is one a process may use.
std::vector<Feature> features_of(CpuIsa isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::portable:
      return {};
    case CpuIsa::avx2:
      return {{"AVX2", __builtin_cpu_supports("avx2") != 0},
              {"FMA", __builtin_cpu_supports("fma") != 0},
              {"F16C", __builtin_cpu_supports("f16c") != 0}};
    case CpuIsa::avx512:
      return {{"AVX-512F", __builtin_cpu_supports("avx512f") != 0},
              {"AVX-512BW", __builtin_cpu_supports("avx512bw") != 0},
              {"AVX-512DQ", __builtin_cpu_supports("avx512dq") != 0},
              {"AVX-512VL", __builtin_cpu_supports("avx512vl") != 0},
              {"FMA", __builtin_cpu_supports("fma") != 0},
              {"F16C", __builtin_cpu_supports("f16c") != 0}};
    case CpuIsa::avx512_bf16: {
      std::vector<Feature> features = features_of(CpuIsa::avx512);
      features.push_back({"AVX512-BF16", __builtin_cpu_supports("avx512bf16") != 0});
      return features;
    }
  }
  return {};
#else
  (void)isa;
  return {};
#endif
}

std::string known_names() {
  std::string text;
  for (CpuIsa isa : kAllIsas) {
    if (!text.empty()) text += ", ";
    text += cpu_isa_name(isa);
  }
  return text;
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::portable: return "portable";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::avx512_bf16: return "avx512_bf16";
  }
  return "unknown";
}

std::optional<CpuIsa> parse_cpu_isa(std::string_view name) {
  for (CpuIsa isa : kAllIsas)
    if (name == cpu_isa_name(isa)) return isa;
  return std::nullopt;
}

std::vector<CpuIsa> built_cpu_isas() {
  if (kX86) return {std::begin(kAllIsas), std::end(kAllIsas)};
  return {CpuIsa::portable};
}

std::string missing_cpu_features(CpuIsa isa) {
  if (isa != CpuIsa::portable && !kX86) return "an x86-64 CPU (this build's target has no x86 kernels)";
  std::string missing;
  for (const Feature& f : features_of(isa)) {
    if (f.present) continue;
    if (!missing.empty()) missing += ", ";
    missing += f.name;
  }
  return missing;
}

bool cpu_runs(CpuIsa isa) { return missing_cpu_features(isa).empty(); }

std::vector<CpuIsa> runnable_cpu_isas() {
  std::vector<CpuIsa> runnable;
  for (CpuIsa isa : built_cpu_isas())
    if (cpu_runs(isa)) runnable.push_back(isa);
  return runnable;
}

CpuIsa best_cpu_isa() {
  // The portable set always runs, so the list is never empty.
  return runnable_cpu_isas().back();
}

CpuIsa best_fp32_cpu_isa() {
  const CpuIsa best = best_cpu_isa();
  return best == CpuIsa::avx512_bf16 ? CpuIsa::avx512 : best;
}

Result<CpuIsa> resolve_cpu_isa(std::string_view requested) {
  if (requested.empty()) return best_cpu_isa();
  const std::optional<CpuIsa> isa = parse_cpu_isa(requested);
  if (!isa)
    return Status(ErrorCode::invalid_argument,
                  llvm::formatv("cpu_isa '{0}' is not an instruction set of the CPU backend (expected {1}, or empty "
                                "for the best this CPU runs)",
                                quote_prefix(requested), known_names()));
  if (std::string missing = missing_cpu_features(*isa); !missing.empty())
    return Status(ErrorCode::unsupported, llvm::formatv("cpu_isa {0} needs {1}, which this CPU lacks (it runs {2})",
                                                        requested, missing, cpu_isa_name(best_cpu_isa())));
  return *isa;
}

}  // namespace flashjit::cpu
