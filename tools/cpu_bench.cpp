#include "tools/cpu_bench.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "flashjit/flashjit.h"
#include "problem/problem.h"
#include "runtime/cpu/cpu_isa.h"
#include "support/error.h"
#include "support/names.h"
#include "tuner/tuner.h"

namespace flashjit::tools {
namespace {

using nlohmann::json;

// Random values of one dtype in [-1, 1): the same bits every run.
std::vector<uint8_t> random_tensor(int64_t elements, DType dtype, uint32_t seed) {
  std::vector<uint8_t> bytes(static_cast<size_t>(elements) * dtype_size(dtype));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < elements; ++i) {
    const float x = dist(rng);
    uint32_t bits = 0;
    std::memcpy(&bits, &x, sizeof bits);
    switch (dtype) {
      case DType::f32: std::memcpy(bytes.data() + 4 * i, &x, 4); break;
      case DType::bf16: {
        const uint16_t b = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
        std::memcpy(bytes.data() + 2 * i, &b, 2);
        break;
      }
      case DType::f16: {
        // |x| < 1: a normal half or a flushed tiny value is enough for timing.
        const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
        const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + 15;
        const uint16_t h = exponent <= 0 ? sign
                                         : static_cast<uint16_t>(sign | (exponent << 10) | ((bits >> 13) & 0x3ffu));
        std::memcpy(bytes.data() + 2 * i, &h, 2);
        break;
      }
    }
  }
  return bytes;
}

struct Timed {
  double median_ms;
  double p20_ms;
  double p80_ms;
};

llvm::Expected<Timed> time_calls(Runtime& runtime, const AttentionArgs& args, int iterations) {
  if (Status s = runtime.forward(args); !s.ok()) return make_error(s.code(), s.message());
  std::vector<double> samples;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (Status s = runtime.forward(args); !s.ok()) return make_error(s.code(), s.message());
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  const tuner::Timing t = tuner::summarize(std::move(samples));
  return Timed{t.median_ms, t.p20_ms, t.p80_ms};
}

}  // namespace

std::vector<CpuBenchShape> cpu_bench_shapes() {
  return {{1, 8, 2048, 64, DType::f32},  {1, 8, 2048, 128, DType::f32}, {2, 16, 1024, 128, DType::bf16},
          {1, 4, 4096, 128, DType::bf16}, {1, 4, 2048, 256, DType::f16}, {1, 8, 2048, 72, DType::f32},
          {1, 8, 2048, 64, DType::f16},  {1, 8, 2048, 64, DType::bf16}};
}

int run_cpu_sweep(const std::vector<int>& threads, int iterations, json& rows) {
  llvm::outs() << llvm::formatv("{0,7} {1,-5} {2,5} {3,5} {4,6} {5,4} {6,-6} {7,10} {8,9} {9}\n", "threads", "dtype",
                                "batch", "heads", "seqlen", "d", "mask", "median ms", "GFLOP/s", "isa");
  for (int t : threads) {
    RuntimeOptions options;
    options.backend = Backend::cpu;
    options.cpu_threads = t;
    auto runtime = Runtime::create(options);
    if (!runtime) {
      llvm::errs() << "flashjit bench: error: " << runtime.status().to_string() << "\n";
      return 1;
    }
    // Created, so the name resolves: FLASHJIT_CPU_ISA's set, or the best this CPU runs.
    const char* isa = cpu::cpu_isa_name(cpu::resolve_cpu_isa(options.cpu_isa).value());
    for (const CpuBenchShape& shape : cpu_bench_shapes())
      for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
        auto problem = Problem::of_shape(ProblemFeatures{shape.dtype, shape.head_dim, mask},
                                         ProblemShape{shape.batch, shape.heads, shape.heads, shape.seqlen, shape.seqlen});
        if (!problem) {
          llvm::errs() << "flashjit bench: error: " << llvm::toString(problem.takeError()) << "\n";
          return 1;
        }
        const int64_t elements = int64_t{shape.batch} * shape.seqlen * shape.heads * shape.head_dim;
        std::vector<uint8_t> q = random_tensor(elements, shape.dtype, 1), k = random_tensor(elements, shape.dtype, 2),
                             v = random_tensor(elements, shape.dtype, 3), out(q.size());
        const AttentionArgs args = problem->contiguous_args(q.data(), k.data(), v.data(), out.data());
        auto timed = time_calls(**runtime, args, iterations);
        if (!timed) {
          llvm::errs() << "flashjit bench: error: " << llvm::toString(timed.takeError()) << "\n";
          return 1;
        }
        const double gflops = attention_flops(*problem) / (timed->median_ms * 1e-3) / 1e9;
        llvm::outs() << llvm::formatv("{0,7} {1,-5} {2,5} {3,5} {4,6} {5,4} {6,-6} {7,10:F2} {8,9:F1} {9}\n", t,
                                      dtype_name(shape.dtype), shape.batch, shape.heads, shape.seqlen, shape.head_dim,
                                      mask_name(mask), timed->median_ms, gflops, isa);
        rows.push_back({{"cpu", true},
                        {"isa", isa},
                        {"threads", t},
                        {"dtype", dtype_name(shape.dtype)},
                        {"batch", shape.batch},
                        {"heads", shape.heads},
                        {"seqlen", shape.seqlen},
                        {"head_dim", shape.head_dim},
                        {"causal", mask == MaskKind::causal},
                        {"median_ms", timed->median_ms},
                        {"p20_ms", timed->p20_ms},
                        {"p80_ms", timed->p80_ms},
                        {"gflops", gflops}});
      }
  }
  return 0;
}

}  // namespace flashjit::tools
