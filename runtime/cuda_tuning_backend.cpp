#include "runtime/cuda_tuning_backend.h"

#include <algorithm>
#include <random>

#include <llvm/Support/FormatVariadic.h>

#include "flashjit/numeric.h"
#include "generator/decode_splits.h"
#include "problem/modifier_data.h"
#include "runtime/cpu/cpu_attention.h"
#include "cuda/loaded_kernel.h"
#include "cuda/tensor_map_encoder.h"
#include "runtime/kernel_compile.h"
#include "runtime/launch_params.h"
#include "runtime/output_check.h"

namespace flashjit {
namespace {

// One input set at most this large; the timing of a kernel does not change past it.
constexpr int64_t kMaxBytesPerSet = int64_t{512} << 20;
constexpr int kMaxSets = 8;

// A timed problem's tensors hold `batch` sequences of its lengths: dense, or a ragged batch of
// sequences of the longest lengths packed into the same memory; a KV cache's pages hold its keys
// (Problem::key_rows), and its appended keys are their own tensors.
int64_t q_elements(const Problem& p) {
  return int64_t{p.shape().batch} * p.shape().seqlen_q * p.shape().num_heads * p.head_dim();
}

int64_t kv_elements(const Problem& p) { return p.key_rows() * p.shape().num_kv_heads * p.head_dim(); }

int64_t new_kv_elements(const Problem& p) { return p.new_key_rows() * p.shape().num_kv_heads * p.head_dim(); }

// q, k, v, out, k_new and v_new of one input set.
int64_t set_bytes(const Problem& p) {
  return (2 * q_elements(p) + 2 * kv_elements(p) + 2 * new_kv_elements(p)) * dtype_size(p.dtype());
}

// The device pointers of a problem's data beyond q, k, v and out: `data`'s, and the appended keys.
ModifierPointers with_new_keys(ModifierPointers pointers, const cuda::DeviceBuffer& k_new,
                               const cuda::DeviceBuffer& v_new) {
  pointers.k_new = k_new.pointer();
  pointers.v_new = v_new.pointer();
  return pointers;
}

std::vector<uint8_t> random_bytes(int64_t elements, DType dtype, uint32_t seed) {
  std::vector<uint8_t> bytes(static_cast<size_t>(elements) * dtype_size(dtype));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < elements; ++i) store_from_float(bytes.data(), dtype, i, dist(rng));
  return bytes;
}

// Nothing to upload (a problem without appended keys) leaves the buffer unallocated: a null pointer.
llvm::Expected<cuda::DeviceBuffer> upload(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return cuda::DeviceBuffer();
  auto buffer = cuda::DeviceBuffer::allocate(bytes.size());
  if (!buffer) return buffer.takeError();
  if (llvm::Error err = buffer->copy_from_host(bytes.data(), bytes.size())) return err;
  return buffer;
}

const cuda::LoadedKernel& loaded_kernel(const tuner::CompiledCandidate& c) {
  return *static_cast<const cuda::LoadedKernel*>(c.loaded.get());
}

// A candidate's launch on one input set, with its parameter block built (tensor maps encoded) ahead
// of the timed region, so host work never sits between the events. A split-KV call's combine step
// is part of it, as it is of every forward().
struct PreparedLaunch {
  KernelParameters params;
  cuda::LaunchShape shape;
  SplitKv split;
  AttentionParams attention{};
  SplitPartials partials{};
  cuda::LaunchShape combine_shape;
};

// `workspace`: grown to what a split call needs (the tuner's launches run one after another on the
// null stream, so one buffer serves them all).
llvm::Expected<PreparedLaunch> prepare_launch(const tuner::CompiledCandidate& c, const AttentionArgs& args,
                                              int sm_count, cuda::DeviceBuffer& workspace) {
  auto params = make_kernel_parameters(c.spec, args, cuda::encode_tensor_map);
  if (!params) return params.takeError();
  // A tuned count runs as given: the correctness check's small problem would not split at all by
  // its own heuristic, and the timing runs' heuristic is the key's (the tuner checks).
  const SplitKv split = c.spec.kv_cache && c.spec.splits > 0 ? split_kv_exact(args, c.spec.splits)
                                                              : kernel_split(c.spec, args, sm_count);
  if (workspace.size() < split.workspace_bytes) {
    workspace = cuda::DeviceBuffer();
    auto grown = cuda::DeviceBuffer::allocate(split.workspace_bytes);
    if (!grown) return grown.takeError();
    workspace = std::move(*grown);
  }
  if (c.spec.kv_cache) params->set_split(split, workspace.pointer());
  PreparedLaunch prepared{std::move(*params), launch_shape(c.spec, args, sm_count, split.splits), split};
  if (split.splits > 1) {
    prepared.attention = make_params(args);
    prepared.partials = split_partials(split, workspace.pointer(), args);
    prepared.combine_shape = combine_launch_shape(c.spec, split);
  }
  return prepared;
}

llvm::Error launch(const tuner::CompiledCandidate& c, PreparedLaunch& prepared) {
  if (llvm::Error err = loaded_kernel(c).launch(prepared.shape, nullptr, prepared.params.arguments())) return err;
  if (prepared.split.splits <= 1) return llvm::Error::success();
  void* combine_arguments[] = {&prepared.attention, &prepared.partials};
  return loaded_kernel(c).launch_combine(prepared.combine_shape, nullptr, combine_arguments);
}

llvm::Error launch(const tuner::CompiledCandidate& c, const AttentionArgs& args, int sm_count,
                   cuda::DeviceBuffer& workspace) {
  auto prepared = prepare_launch(c, args, sm_count, workspace);
  if (!prepared) return prepared.takeError();
  return launch(c, *prepared);
}

}  // namespace

struct CudaTuningBackend::InputSet {
  cuda::DeviceBuffer q, k, v, out, k_new, v_new;  // the last two only when the problem appends
  AttentionArgs args;  // normalized, pointing at the buffers
};

int64_t CheckProblem::q_rows() const {
  if (q_lengths.empty()) return int64_t{problem.shape().batch} * problem.shape().seqlen_q;
  return sequence_offsets(q_lengths).back();
}

int64_t CheckProblem::k_rows() const {
  if (k_lengths.empty() || problem.features().kv_cache) return problem.key_rows();
  return sequence_offsets(k_lengths).back();
}

llvm::Expected<CheckProblem> correctness_check_problem(const Problem& tuned) {
  // Odd lengths with tails in both sequences, and the problem's GQA ratio.
  const int group = tuned.gqa_ratio();
  CheckProblem check{tuned, {}, {}};
  ProblemShape shape{1, 2 * group, 2, 77, 133};
  if (tuned.features().ragged) {
    check.q_lengths = {77, 0, 1, 30};
    check.k_lengths = {133, 5, 0, 61};
    shape.batch = static_cast<int>(check.q_lengths.size());
  }
  if (tuned.features().kv_cache) {
    // Cached keys: a full sequence, a few, none, and a page boundary's neighbour; 3 appended keys
    // cross a page of 1 or 2 keys. The cache holds 133 keys per sequence with them.
    check.k_lengths = {133 - 3 * tuned.features().append, 5, 0, 61};
    shape.batch = static_cast<int>(check.k_lengths.size());
    shape.page_size = tuned.shape().page_size;
    shape.seqlen_new = tuned.features().append ? 3 : 0;
    if (!tuned.features().ragged) shape.seqlen_q = std::min(shape.seqlen_q, std::max(1, tuned.shape().seqlen_q));
  }
  // A window wider than the check's 133 keys would check no edge of it: its bounded sides shrink to
  // kCheckWindow keys (a value the kernel reads, so the candidate checked is the same kernel).
  constexpr int kCheckWindow = 32;
  ScoreModValues values = tuned.score_mod_values();
  values.window_left = std::min(values.window_left, kCheckWindow);
  values.window_right = std::min(values.window_right, kCheckWindow);
  auto small = Problem::of_shape(tuned.features(), shape, values);
  if (!small) return small.takeError();
  check.problem = std::move(*small);
  return check;
}

Problem capped_tuning_problem(const Problem& problem, int64_t max_bytes) {
  Problem capped = problem;
  while (capped.shape().batch > 1 && set_bytes(capped) > max_bytes)
    capped = capped.with_batch((capped.shape().batch + 1) / 2);
  return capped;
}

int rotation_sets(int64_t bytes_per_set, int l2_bytes) {
  if (bytes_per_set <= 0) return 1;
  const int64_t wanted = (int64_t{4} * l2_bytes + bytes_per_set - 1) / bytes_per_set;
  return static_cast<int>(std::clamp<int64_t>(wanted, 2, kMaxSets));
}

CudaTuningBackend::CudaTuningBackend(const cuda::PrimaryContext& context, const cuda::NvrtcLibrary& nvrtc,
                                     const Problem& problem, int l2_bytes, int sm_count)
    : context_(context),
      nvrtc_(nvrtc),
      problem_(capped_tuning_problem(problem, kMaxBytesPerSet)),
      l2_bytes_(l2_bytes),
      sm_count_(sm_count) {}

CudaTuningBackend::~CudaTuningBackend() {
  // Buffers are freed in our context, whatever the caller's thread has current.
  auto scoped = cuda::ScopedContext::enter(context_);
  if (!scoped) llvm::consumeError(scoped.takeError());
  sets_.clear();
  modifiers_ = DeviceModifierData{};
  workspace_ = cuda::DeviceBuffer{};
}

int CudaTuningBackend::timed_split_count() const {
  return problem_.features().kv_cache ? gen::problem_split_count(problem_.shape(), sm_count_) : 0;
}

llvm::Expected<tuner::CompiledCandidate> CudaTuningBackend::compile(const gen::KernelSpec& spec) {
  return compile_candidate(spec, nvrtc_);
}

llvm::Error CudaTuningBackend::load(tuner::CompiledCandidate& c) {
  auto kernel = cuda::LoadedKernel::load(context_, c.spec, c.cubin, c.symbol);
  if (!kernel) return kernel.takeError();
  c.loaded = std::shared_ptr<cuda::LoadedKernel>(std::move(*kernel));
  return llvm::Error::success();
}

llvm::Error CudaTuningBackend::prepare_inputs() {
  if (!sets_.empty()) return llvm::Error::success();
  auto modifiers = upload_modifier_data(modifier_data(problem_));
  if (!modifiers) return modifiers.takeError();
  modifiers_ = std::move(*modifiers);
  const DType t = problem_.dtype();
  const auto q_host = random_bytes(q_elements(problem_), t, 1);
  const auto kv_host = random_bytes(kv_elements(problem_), t, 2);
  const auto new_kv_host = random_bytes(new_kv_elements(problem_), t, 3);
  const int count = rotation_sets(set_bytes(problem_), l2_bytes_);
  for (int i = 0; i < count; ++i) {
    auto set = std::make_unique<InputSet>();
    auto q = upload(q_host), k = upload(kv_host), v = upload(kv_host), out = upload(q_host);
    auto k_new = upload(new_kv_host), v_new = upload(new_kv_host);
    for (auto* b : {&q, &k, &v, &out, &k_new, &v_new})
      if (!*b) return b->takeError();
    set->q = std::move(*q);
    set->k = std::move(*k);
    set->v = std::move(*v);
    set->out = std::move(*out);
    set->k_new = std::move(*k_new);
    set->v_new = std::move(*v_new);
    set->args = problem_.contiguous_args(set->q.pointer(), set->k.pointer(), set->v.pointer(), set->out.pointer(),
                                         with_new_keys(modifiers_.pointers(), set->k_new, set->v_new));
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
    auto prepared = prepare_launch(c, set->args, sm_count_, workspace_);
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
  auto check_problem = correctness_check_problem(problem_);
  if (!check_problem) return check_problem.takeError();
  const Problem& small = check_problem->problem;
  const int64_t head_dim = small.head_dim();
  const DType t = small.dtype();
  auto q_host = random_bytes(check_problem->q_rows() * small.shape().num_heads * head_dim, t, 3);
  auto k_host = random_bytes(check_problem->k_rows() * small.shape().num_kv_heads * head_dim, t, 4);
  auto v_host = random_bytes(check_problem->k_rows() * small.shape().num_kv_heads * head_dim, t, 5);
  auto k_new_host = random_bytes(new_kv_elements(small), t, 6);
  auto v_new_host = random_bytes(new_kv_elements(small), t, 7);
  std::vector<uint8_t> poison(q_host.size(), 0xff);  // NaN in every dtype
  auto q = upload(q_host), k = upload(k_host), v = upload(v_host), out = upload(poison);
  auto k_new = upload(k_new_host), v_new = upload(v_new_host);
  for (auto* b : {&q, &k, &v, &out, &k_new, &v_new})
    if (!*b) return b->takeError();
  const ModifierData host_modifiers = modifier_data(small, check_problem->q_lengths, check_problem->k_lengths);
  auto device_modifiers = upload_modifier_data(host_modifiers);
  if (!device_modifiers) return device_modifiers.takeError();

  if (llvm::Error err = launch(c, small.contiguous_args(q->pointer(), k->pointer(), v->pointer(), out->pointer(),
                                                        with_new_keys(device_modifiers->pointers(), *k_new, *v_new)),
                               sm_count_, workspace_))
    return err;
  if (llvm::Error err = cuda::synchronize_stream(nullptr)) return err;
  std::vector<uint8_t> result(poison.size());
  if (llvm::Error err = out->copy_to_host(result.data(), result.size())) return err;

  std::vector<uint8_t> reference(poison.size());
  ModifierPointers host_pointers = host_modifiers.pointers();
  host_pointers.k_new = k_new_host.data();
  host_pointers.v_new = v_new_host.data();
  // fp32 products: the check measures the candidate's error, not the CPU's bf16 rounding too.
  cpu::CpuAttention(0, cpu::best_fp32_cpu_isa())
      .forward(small.contiguous_args(q_host.data(), k_host.data(), v_host.data(), reference.data(), host_pointers));

  const double error = max_output_error(result, reference, t);
  if (error <= output_tolerance(t)) return std::string();
  return llvm::formatv("max error {0:e} against the CPU backend exceeds {1:e}", error, output_tolerance(t)).str();
}

}  // namespace flashjit
