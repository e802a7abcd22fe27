// The public Runtime: validation first, then the CUDA backend or the CPU backend.
#include "flashjit/runtime.h"

#include <cstdlib>

#include <llvm/Support/FormatVariadic.h>

#include "runtime/cpu/cpu_attention.h"
#include "runtime/cuda_backend.h"
#include "runtime/split_kv.h"
#include "runtime/runtime_options_check.h"
#include "support/log.h"
#include "problem/gqa_packing.h"
#include "problem/kv_cache_args.h"
#include "problem/validate.h"
#include "support/error.h"

namespace flashjit {

class Runtime::Impl {
 public:
  Backend backend = Backend::cpu;
  std::string fallback_reason;
  std::unique_ptr<CudaBackend> cuda;
  std::unique_ptr<cpu::CpuAttention> cpu;
};

namespace {

// "cpu_blocked_online_softmax_f32_avx512": the instruction set is part of what ran.
std::string cpu_kernel_key(cpu::CpuIsa isa) {
  return std::string("cpu_blocked_online_softmax_f32_") + cpu::cpu_isa_name(isa);
}

}  // namespace

bool RuntimeOptions::default_tune() {
  const char* value = std::getenv("FLASHJIT_TUNE");
  return value == nullptr || std::string(value) != "0";
}

std::string RuntimeOptions::default_cpu_isa() {
  const char* value = std::getenv("FLASHJIT_CPU_ISA");
  return value == nullptr ? "" : value;
}

bool RuntimeOptions::default_check_args() {
  const char* value = std::getenv("FLASHJIT_CHECK_ARGS");
  return value != nullptr && std::string(value) == "1";
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::create(const RuntimeOptions& options) {
  if (Status checked = check_runtime_options(options); !checked.ok()) return checked;
  if (options.backend == Backend::cpu)
    if (Status refused = refuse_forced_choices_on_cpu(options, ""); !refused.ok()) return refused;
  auto impl = std::make_unique<Impl>();
  if (options.backend != Backend::cpu) {
    auto cuda = CudaBackend::create(options);
    if (cuda) {
      impl->backend = Backend::cuda;
      impl->cuda = std::move(*cuda);
      return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
    }
    // The code says whether there is no GPU (no_device) or one this build cannot drive (unsupported).
    Status why = to_status(cuda.takeError());
    if (options.backend == Backend::cuda) return Status(why.code(), "no usable GPU: " + why.message());
    // A forced variant or tile is not dropped silently on the way to the CPU.
    if (Status refused = refuse_forced_choices_on_cpu(options, why.message()); !refused.ok()) return refused;
    log::info("no usable GPU (" + why.message() + "); using the CPU backend");
    impl->fallback_reason = why.message();
  }
  Result<cpu::CpuIsa> isa = cpu::resolve_cpu_isa(options.cpu_isa);
  if (!isa) return isa.status();
  impl->backend = Backend::cpu;
  impl->cpu = std::make_unique<cpu::CpuAttention>(options.cpu_threads, *isa);
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

Status Runtime::forward(const AttentionArgs& args, Stream stream) {
  Result<AttentionArgs> normalized = validate_args(args);
  if (!normalized) return normalized.status();
  // A decode step's query heads of one KV head become the rows of one tile (problem/gqa_packing.h).
  if (impl_->cuda) return impl_->cuda->forward(gqa_packed(*normalized), static_cast<CUstream>(stream));
  // The CPU backend reads a ragged batch's offsets and a KV cache's counts and block table from host
  // memory anyway: always checked.
  if (normalized->cu_seqlens_q != nullptr)
    if (Status offsets = check_ragged_offsets(*normalized, normalized->cu_seqlens_q, normalized->cu_seqlens_k);
        !offsets.ok())
      return offsets;
  if (has_kv_cache(*normalized))
    if (Status cache = check_kv_cache_contents(*normalized, normalized->seqused_k, normalized->block_table);
        !cache.ok())
      return cache;
  impl_->cpu->forward(*normalized);
  return Status::success();
}

Result<KernelChoice> Runtime::plan(const AttentionArgs& args) const {
  Result<AttentionArgs> normalized = validate_args(args);
  if (!normalized) return normalized.status();
  KernelChoice choice;
  choice.backend = impl_->backend;
  choice.device = device_name();
  if (!impl_->cuda) {
    const cpu::CpuIsa isa = impl_->cpu->isa();
    choice.kernel_key = cpu_kernel_key(isa);
    choice.origin = KernelOrigin::cpu;
    choice.reason = llvm::formatv("CPU backend: blocked online softmax in fp32 on {0} threads, {1} kernels ({2}){3}",
                                  impl_->cpu->threads(), cpu::cpu_isa_name(isa),
                                  isa == cpu::best_cpu_isa() ? "the best this CPU runs" : "forced by cpu_isa",
                                  impl_->fallback_reason.empty() ? "" : " (no usable GPU; fallback_reason() says why)");
    const AttentionArgs& a = *normalized;
    if (isa == cpu::CpuIsa::avx512_bf16 && a.q.dtype == DType::bf16 && a.k.dtype == DType::bf16 &&
        a.v.dtype == DType::bf16)
      choice.reason += "; bf16 products (VDPBF16PS) for blocks of more than 8 rows, the probabilities rounded to bf16 "
                       "for P.V as on the GPU";
    return choice;
  }
  const AttentionArgs packed = gqa_packed(*normalized);
  auto planned = impl_->cuda->plan(packed);
  if (!planned) return to_status(planned.takeError());
  choice.kernel_key = gen::canonical_key(planned->spec);
  choice.variant = planned->spec.variant;
  choice.reason = planned->reason;
  choice.origin = planned->origin;
  if (packs_gqa(*normalized))
    choice.reason += llvm::formatv("; GQA packing: the {0} query heads of each KV head are the rows of one tile, "
                                   "so each key is read once per group",
                                   normalized->num_heads / normalized->num_kv_heads)
                         .str();
  if (planned->spec.kv_cache) {
    const SplitKv split = kernel_split(planned->spec, packed, impl_->cuda->device().sm_count);
    if (split.splits > 1)
      choice.reason += llvm::formatv("; split-KV: {0} blocks share each query block's keys ({1} SMs; {2}), a "
                                     "combine step merges them ({3} bytes of workspace)",
                                     split.splits, impl_->cuda->device().sm_count,
                                     planned->spec.splits > 0 ? "the tuned count" : "the heuristic's count",
                                     split.workspace_bytes)
                           .str();
  }
  return choice;
}

Result<size_t> Runtime::workspace_size(const AttentionArgs& args) const {
  Result<AttentionArgs> normalized = validate_args(args);
  if (!normalized) return normalized.status();
  if (!impl_->cuda) return size_t{0};
  return workspace_bound(gqa_packed(*normalized), impl_->cuda->device().sm_count);
}

Backend Runtime::backend() const { return impl_->backend; }

std::string Runtime::device_name() const { return impl_->cuda ? impl_->cuda->device().name : "cpu"; }

const std::string& Runtime::fallback_reason() const { return impl_->fallback_reason; }

}  // namespace flashjit
