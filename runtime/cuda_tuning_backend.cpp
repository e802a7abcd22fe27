#include "runtime/cuda_tuning_backend.h"

#include <algorithm>
#include <random>

#include <llvm/Support/FormatVariadic.h>

#include "flashjit/numeric.h"
#include "generator/emit.h"
#include "runtime/cpu/cpu_attention.h"
#include "runtime/cuda/loaded_kernel.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/cuda/tensor_map_encoder.h"
#include "runtime/kernel_dump.h"
#include "support/log.h"
#include "runtime/launch_params.h"
#include "runtime/output_check.h"
#include "runtime/validate.h"
#include "support/error.h"

namespace flashjit {
namespace {

// One input set at most this large; the timing of a kernel does not change past it.
constexpr int64_t kMaxBytesPerSet = int64_t{512} << 20;
constexpr int kMaxSets = 8;

int64_t tensor_elements(int batch, int seqlen, int heads, int head_dim) {
  return int64_t{batch} * seqlen * heads * head_dim;
}

int64_t set_bytes(const AttentionArgs& a) {
  const int64_t q = tensor_elements(a.batch, a.seqlen_q, a.num_heads, a.head_dim);
  const int64_t kv = tensor_elements(a.batch, a.seqlen_k, a.num_kv_heads, a.head_dim);
  return (2 * q + 2 * kv) * dtype_size(a.q.dtype);
}

std::vector<uint8_t> random_bytes(int64_t elements, DType dtype, uint32_t seed) {
  std::vector<uint8_t> bytes(static_cast<size_t>(elements) * dtype_size(dtype));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < elements; ++i) store_from_float(bytes.data(), dtype, i, dist(rng));
  return bytes;
}

llvm::Expected<cuda::DeviceBuffer> upload(const std::vector<uint8_t>& bytes) {
  auto buffer = cuda::DeviceBuffer::allocate(bytes.size());
  if (!buffer) return buffer.takeError();
  if (llvm::Error err = buffer->copy_from_host(bytes.data(), bytes.size())) return err;
  return buffer;
}

const cuda::LoadedKernel& loaded_kernel(const tuner::CompiledCandidate& c) {
  return *static_cast<const cuda::LoadedKernel*>(c.loaded.get());
}

// A candidate's launch on one input set, with its parameter block built (tensor maps encoded) ahead
// of the timed region, so host work never sits between the events.
struct PreparedLaunch {
  KernelParameters params;
  cuda::LaunchShape shape;
};

llvm::Expected<PreparedLaunch> prepare_launch(const tuner::CompiledCandidate& c, const AttentionArgs& args,
                                              int sm_count) {
  auto params = make_kernel_parameters(c.spec, args, cuda::encode_tensor_map);
  if (!params) return params.takeError();
  return PreparedLaunch{std::move(*params), launch_shape(c.spec, args, sm_count)};
}

llvm::Error launch(const tuner::CompiledCandidate& c, PreparedLaunch& prepared) {
  return loaded_kernel(c).launch(prepared.shape, nullptr, prepared.params.data());
}

llvm::Error launch(const tuner::CompiledCandidate& c, const AttentionArgs& args, int sm_count) {
  auto prepared = prepare_launch(c, args, sm_count);
  if (!prepared) return prepared.takeError();
  return launch(c, *prepared);
}

}  // namespace

struct CudaTuningBackend::InputSet {
  cuda::DeviceBuffer q, k, v, out;
  AttentionArgs args;  // normalized, pointing at the buffers
};

AttentionArgs capped_tuning_shape(AttentionArgs shape, int64_t max_bytes) {
  while (shape.batch > 1 && set_bytes(shape) > max_bytes) shape.batch = (shape.batch + 1) / 2;
  return shape;
}

int rotation_sets(int64_t bytes_per_set, int l2_bytes) {
  if (bytes_per_set <= 0) return 1;
  const int64_t wanted = (int64_t{4} * l2_bytes + bytes_per_set - 1) / bytes_per_set;
  return static_cast<int>(std::clamp<int64_t>(wanted, 2, kMaxSets));
}

CudaTuningBackend::CudaTuningBackend(const cuda::PrimaryContext& context, const AttentionArgs& shape, int l2_bytes,
                                     int sm_count)
    : context_(context), shape_(capped_tuning_shape(shape, kMaxBytesPerSet)), l2_bytes_(l2_bytes), sm_count_(sm_count) {}

CudaTuningBackend::~CudaTuningBackend() {
  // Buffers are freed in our context, whatever the caller's thread has current.
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) llvm::consumeError(scoped.takeError());
  sets_.clear();
}

llvm::Expected<tuner::CompiledCandidate> CudaTuningBackend::compile(const gen::KernelSpec& spec) {
  return compile_candidate(spec);
}

llvm::Expected<tuner::CompiledCandidate> compile_candidate(const gen::KernelSpec& spec) {
  auto emitted = gen::emit(spec);
  if (!emitted) return emitted.takeError();
  auto compiled = cuda::compile_kernel(*emitted, spec);
  const std::string dump_dir = dump_directory();
  if (!compiled) {
    Status failed = to_status(compiled.takeError());
    if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, nullptr, failed.message());
    return to_error(failed);
  }
  if (!dump_dir.empty()) dump_kernel(dump_dir, spec, *emitted, &*compiled, "");
  log::debug(llvm::formatv("compiled {0} in {1:F1} ms ({2} registers, {3} spill bytes)", compiled->key,
                           compiled->compile_ms, compiled->resources.registers, compiled->resources.spill_store_bytes));
  // A performance advisory (a serialized wgmma, say) means the kernel runs far below its speed: the
  // kernel still works, but someone should know.
  for (const std::string& advisory : compiled->resources.advisories)
    log::warning(llvm::formatv("ptxas on {0}: {1}", compiled->key, advisory).str());
  tuner::CompiledCandidate c;
  c.spec = spec;
  c.key = compiled->key;
  c.symbol = compiled->lowered_name;
  c.cubin = std::move(compiled->cubin);
  c.registers = compiled->resources.registers;
  c.spill_bytes = compiled->resources.spill_store_bytes;
  c.compile_ms = compiled->compile_ms;
  return c;
}

llvm::Error CudaTuningBackend::load(tuner::CompiledCandidate& c) {
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) return scoped.takeError();
  auto kernel = cuda::LoadedKernel::load(c.cubin, c.symbol, gen::shared_memory_bytes(c.spec));
  if (!kernel) return kernel.takeError();
  c.loaded = std::shared_ptr<cuda::LoadedKernel>(std::move(*kernel));
  return llvm::Error::success();
}

llvm::Error CudaTuningBackend::prepare_inputs() {
  if (!sets_.empty()) return llvm::Error::success();
  const DType t = shape_.q.dtype;
  const auto q_host = random_bytes(tensor_elements(shape_.batch, shape_.seqlen_q, shape_.num_heads, shape_.head_dim), t, 1);
  const auto kv_host = random_bytes(tensor_elements(shape_.batch, shape_.seqlen_k, shape_.num_kv_heads, shape_.head_dim), t, 2);
  const int count = rotation_sets(set_bytes(shape_), l2_bytes_);
  for (int i = 0; i < count; ++i) {
    auto set = std::make_unique<InputSet>();
    auto q = upload(q_host), k = upload(kv_host), v = upload(kv_host), out = upload(q_host);
    for (auto* b : {&q, &k, &v, &out})
      if (!*b) return b->takeError();
    set->q = std::move(*q);
    set->k = std::move(*k);
    set->v = std::move(*v);
    set->out = std::move(*out);
    AttentionArgs a = shape_;
    a.q.data = set->q.pointer();
    a.k.data = set->k.pointer();
    a.v.data = set->v.pointer();
    a.out.data = set->out.pointer();
    a.lse = nullptr;
    a.q.strides = a.k.strides = a.v.strides = a.out.strides = Strides{};
    Result<AttentionArgs> normalized = validate_args(a);
    if (!normalized) return to_error(normalized.status());
    set->args = *normalized;
    sets_.push_back(std::move(set));
  }
  return llvm::Error::success();
}

llvm::Expected<std::vector<double>> CudaTuningBackend::time(const tuner::CompiledCandidate& c, int warmup,
                                                            double budget_ms, int max_samples) {
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) return scoped.takeError();
  if (llvm::Error err = prepare_inputs()) return err;
  std::vector<PreparedLaunch> launches;
  for (const auto& set : sets_) {
    auto prepared = prepare_launch(c, set->args, sm_count_);
    if (!prepared) return prepared.takeError();
    launches.push_back(std::move(*prepared));
  }
  for (int i = 0; i < warmup; ++i)
    if (llvm::Error err = launch(c, launches[i % launches.size()])) return err;
  auto start = cuda::Event::create();
  auto end = cuda::Event::create();
  if (!start) return start.takeError();
  if (!end) return end.takeError();
  std::vector<double> samples;
  double spent = 0.0;
  for (int i = 0; i < max_samples && (spent < budget_ms || samples.size() < 3); ++i) {
    if (llvm::Error err = start->record(nullptr)) return err;
    if (llvm::Error err = launch(c, launches[i % launches.size()])) return err;
    if (llvm::Error err = end->record(nullptr)) return err;
    if (llvm::Error err = end->synchronize()) return err;
    auto ms = cuda::Event::elapsed_ms(*start, *end);
    if (!ms) return ms.takeError();
    samples.push_back(*ms);
    spent += *ms;
  }
  return samples;
}

std::string CudaTuningBackend::device_lost() {
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) return llvm::toString(scoped.takeError());
  return cuda::context_fault();
}

llvm::Expected<std::string> CudaTuningBackend::check(const tuner::CompiledCandidate& c) {
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) return scoped.takeError();
  // Odd lengths with tails in both sequences, and the problem's GQA ratio.
  AttentionArgs a = shape_;
  const int group = shape_.num_heads / shape_.num_kv_heads;
  a.batch = 1;
  a.num_kv_heads = 2;
  a.num_heads = 2 * group;
  a.seqlen_q = 77;
  a.seqlen_k = 133;
  a.q.strides = a.k.strides = a.v.strides = a.out.strides = Strides{};
  // shape_ is the caller's arguments: its lse is the caller's device buffer, which the CPU
  // reference below would write through (a host segfault) and the kernel would overrun.
  a.lse = nullptr;
  const DType t = a.q.dtype;
  auto q_host = random_bytes(tensor_elements(1, a.seqlen_q, a.num_heads, a.head_dim), t, 3);
  auto k_host = random_bytes(tensor_elements(1, a.seqlen_k, a.num_kv_heads, a.head_dim), t, 4);
  auto v_host = random_bytes(tensor_elements(1, a.seqlen_k, a.num_kv_heads, a.head_dim), t, 5);
  std::vector<uint8_t> poison(q_host.size(), 0xff);  // NaN in every dtype
  auto q = upload(q_host), k = upload(k_host), v = upload(v_host), out = upload(poison);
  for (auto* b : {&q, &k, &v, &out})
    if (!*b) return b->takeError();

  AttentionArgs device_args = a;
  device_args.q.data = q->pointer();
  device_args.k.data = k->pointer();
  device_args.v.data = v->pointer();
  device_args.out.data = out->pointer();
  Result<AttentionArgs> normalized = validate_args(device_args);
  if (!normalized) return to_error(normalized.status());
  if (llvm::Error err = launch(c, *normalized, sm_count_)) return err;
  if (llvm::Error err = cuda::synchronize_stream(nullptr)) return err;
  std::vector<uint8_t> result(poison.size());
  if (llvm::Error err = out->copy_to_host(result.data(), result.size())) return err;

  std::vector<uint8_t> reference(poison.size());
  AttentionArgs host_args = a;
  host_args.q.data = q_host.data();
  host_args.k.data = k_host.data();
  host_args.v.data = v_host.data();
  host_args.out.data = reference.data();
  Result<AttentionArgs> host_normalized = validate_args(host_args);
  if (!host_normalized) return to_error(host_normalized.status());
  cpu::CpuAttention(0).forward(*host_normalized);

  const double error = max_output_error(result, reference, t);
  if (error <= output_tolerance(t)) return std::string();
  return llvm::formatv("max error {0:e} against the CPU backend exceeds {1:e}", error, output_tolerance(t)).str();
}

}  // namespace flashjit
