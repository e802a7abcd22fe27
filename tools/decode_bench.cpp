#include "tools/decode_bench.h"

#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "cuda/device.h"
#include "problem/modifier_data.h"
#include "runtime/device_modifier_data.h"
#include "tools/forward_timing.h"
#include "tuner/tuner.h"

namespace flashjit::tools {
namespace {

constexpr int kHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr DType kDType = DType::bf16;

int fail(const std::string& message) {
  llvm::errs() << "flashjit bench --decode: error: " << message << "\n";
  return 1;
}

// One row's device memory: q, the cache's pages, out, the counts and the table.
struct DecodeBuffers {
  cuda::DeviceBuffer q, k, v, out;
  DeviceModifierData data;
};

llvm::Expected<DecodeBuffers> allocate(const Problem& p) {
  const size_t row_bytes = size_t(kHeadDim) * dtype_size(kDType);
  const size_t q_bytes = size_t(p.shape().batch) * kHeads * row_bytes;
  const size_t k_bytes = size_t(p.key_rows()) * kKvHeads * row_bytes;
  DecodeBuffers b;
  for (auto [buffer, bytes] : {std::pair{&b.q, q_bytes}, {&b.k, k_bytes}, {&b.v, k_bytes}, {&b.out, q_bytes}}) {
    auto allocated = cuda::DeviceBuffer::allocate(bytes);
    if (!allocated) return allocated.takeError();
    if (llvm::Error err = allocated->fill_bytes(0x3c)) return err;  // ~1.0 in bf16: no NaN, enough for timing
    *buffer = std::move(*allocated);
  }
  auto data = upload_modifier_data(modifier_data(p));
  if (!data) return data.takeError();
  b.data = std::move(*data);
  return b;
}

}  // namespace

int run_decode_sweep(Runtime& runtime, int iterations, nlohmann::json& rows) {
  auto device = cuda::describe_device(0);
  if (!device) return fail(llvm::toString(device.takeError()));
  const double peak = device->peak_memory_bandwidth();
  llvm::outs() << llvm::formatv("decode: {0} query / {1} KV heads, d {2}, {3}, one query row per sequence; DRAM "
                                "peak {4:F0} GB/s\n",
                                kHeads, kKvHeads, kHeadDim, dtype_name(kDType), peak / 1e9);
  llvm::outs() << llvm::formatv("{0,5} {1,7} {2,5} {3,10} {4,9} {5,7} {6,6}  {7}\n", "batch", "keys", "page",
                                "median ms", "K/V MB", "GB/s", "% peak", "kernel (origin)");
  for (int batch : {1, 8, 32, 128})
    for (int keys : {1024, 8192, 32768})
      for (int page : {1, 16, 256}) {
        ProblemFeatures f{kDType, kHeadDim, MaskKind::causal};
        f.kv_cache = f.paged = true;
        ProblemShape shape{batch, kHeads, kKvHeads, 1, keys, page, 0};
        auto problem = Problem::of_shape(f, shape);
        if (!problem) return fail(llvm::toString(problem.takeError()));
        auto buffers = allocate(*problem);
        if (!buffers) return fail(llvm::toString(buffers.takeError()));
        const AttentionArgs a = problem->contiguous_args(buffers->q.pointer(), buffers->k.pointer(),
                                                         buffers->v.pointer(), buffers->out.pointer(),
                                                         buffers->data.pointers());
        if (Status s = runtime.forward(a); !s.ok()) return fail(s.to_string());  // tunes or loads
        auto timed = time_forward_calls(runtime, a, iterations);
        if (!timed) return fail(llvm::toString(timed.takeError()));
        const tuner::Timing timing = tuner::summarize(*timed);
        // Every sequence's keys and values once (GQA packing reads a KV head's once per group).
        const double kv_bytes = 2.0 * batch * keys * kKvHeads * kHeadDim * dtype_size(kDType);
        const double bytes = kv_bytes + 2.0 * batch * kHeads * kHeadDim * dtype_size(kDType);
        const double achieved = bytes / (timing.median_ms * 1e-3);
        Result<KernelChoice> choice = runtime.plan(a);
        const std::string kernel = choice ? choice->kernel_key : "?";
        const std::string origin = choice ? kernel_origin_name(choice->origin) : "?";
        llvm::outs() << llvm::formatv("{0,5} {1,7} {2,5} {3,10:F4} {4,9:F1} {5,7:F0} {6,6:F1}  {7} ({8})\n", batch,
                                      keys, page, timing.median_ms, kv_bytes / 1e6, achieved / 1e9,
                                      peak > 0 ? 100 * achieved / peak : 0.0, kernel, origin);
        rows.push_back({{"decode", true},
                        {"dtype", dtype_name(kDType)},
                        {"head_dim", kHeadDim},
                        {"batch", batch},
                        {"heads", kHeads},
                        {"kv_heads", kKvHeads},
                        {"seqlen", 1},
                        {"kv_len", keys},
                        {"page_size", page},
                        {"causal", true},
                        {"kernel", kernel},
                        {"origin", origin},
                        {"median_ms", timing.median_ms},
                        {"p20_ms", timing.p20_ms},
                        {"p80_ms", timing.p80_ms},
                        {"gb_per_s", achieved / 1e9},
                        {"peak_fraction", peak > 0 ? achieved / peak : 0.0}});
      }
  return 0;
}

}  // namespace flashjit::tools
