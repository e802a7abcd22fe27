// flashjit run, the main job. On a GPU: generate, compile and run attention for a problem, print
// the kernel chosen, its time, TFLOP/s and the error against the CPU backend. Without a GPU: say
// why, compile the same kernels for sm_90 to show the JIT path works, run the CPU backend and check
// it against a double-precision reference on sampled rows. A ragged batch (--varlen ...) and the
// score modifiers (--window, --softcap, --alibi) go into the same arguments on every path.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>

#include "flashjit/flashjit.h"
#include "problem/modifier_data.h"
#include "problem/validate.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "runtime/cpu/cpu_attention.h"
#include "cuda/device.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "runtime/device_modifier_data.h"
#include "runtime/output_check.h"
#include "tuner/tuner.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/forward_timing.h"
#include "tools/logical_keys.h"
#include "tools/modifier_text.h"
#include "tools/problem_memory.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

cl::opt<bool> cpu_only("cpu", cl::desc("Use the CPU backend even when a GPU is usable"), cl::sub(run_command), cl::cat(flashjit_options));
cl::opt<std::string> jit_arch("jit-arch", cl::desc("Architecture to compile for when there is no GPU"),
                              cl::sub(run_command), cl::cat(flashjit_options), cl::init("sm_90"));

// The problem the options describe and the data of its ragged batch and ALiBi (host copies).
struct RunProblem {
  Problem problem;
  RaggedLengths lengths;  // empty when dense
  ModifierData data;

  // Rows of the q/out and k/v tensors: all batch entries' (the packed tokens when ragged).
  int64_t q_rows() const {
    return problem.features().ragged ? data.q_tokens() : int64_t(problem.shape().batch) * problem.shape().seqlen_q;
  }
  // A KV cache's k and v hold its pages (Problem::key_rows); its appended rows are tensors of their own.
  int64_t k_rows() const {
    if (problem.features().kv_cache) return problem.key_rows();
    return problem.features().ragged ? data.k_tokens() : int64_t(problem.shape().batch) * problem.shape().seqlen_k;
  }
  int64_t new_k_rows() const { return problem.new_key_rows(); }
  // The keys each sequence attends to: a KV cache's counted ones with the appended, else its lengths.
  std::vector<int> keys_seen() const {
    std::vector<int> keys;
    for (int32_t used : data.seqused_k) keys.push_back(used + problem.shape().seqlen_new);
    return keys;
  }
  double flops() const {
    if (problem.features().kv_cache) {
      const std::vector<int> q = problem.features().ragged ? lengths.q
                                                          : std::vector<int>(size_t(problem.shape().batch),
                                                                             problem.shape().seqlen_q);
      return attention_flops(problem, q, keys_seen());
    }
    return problem.features().ragged ? attention_flops(problem, lengths.q, lengths.k) : attention_flops(problem);
  }
  // What a call moves at least: every key and value row a query head group reads once, q and out.
  double bytes_moved() const {
    const ProblemShape& s = problem.shape();
    const int64_t row_bytes = int64_t{s.num_kv_heads} * problem.head_dim() * dtype_size(problem.dtype());
    int64_t keys = 0;
    for (int k : problem.features().kv_cache ? keys_seen() : std::vector<int>(size_t(s.batch), s.seqlen_k)) keys += k;
    if (problem.features().ragged && !problem.features().kv_cache) keys = data.k_tokens();
    const int64_t q_bytes = q_rows() * s.num_heads * problem.head_dim() * dtype_size(problem.dtype());
    return double(2 * keys * row_bytes + 2 * q_bytes);
  }
};

// Host copies of the problem's tensors, contiguous [batch, seq, heads, head_dim] (packed [tokens,
// heads, head_dim] when ragged).
struct HostTensors {
  std::vector<uint8_t> q, k, v, out;
  std::vector<uint8_t> k_new, v_new;  // a KV cache's appended rows [batch, seqlen_new, kv heads, head_dim]
};

int fail(const std::string& message) {
  llvm::errs() << "flashjit run: error: " << message << "\n";
  return 1;
}

HostTensors random_tensors(const RunProblem& run) {
  const Problem& p = run.problem;
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto fill = [&](std::vector<uint8_t>& buf, int64_t n) {
    buf.resize(size_t(n) * dtype_size(p.dtype()));
    for (int64_t i = 0; i < n; ++i) store_from_float(buf.data(), p.dtype(), i, dist(rng));
  };
  const ProblemShape& s = p.shape();
  HostTensors t;
  const int64_t q_elems = run.q_rows() * s.num_heads * p.head_dim();
  const int64_t kv_elems = run.k_rows() * s.num_kv_heads * p.head_dim();
  const int64_t new_elems = run.new_k_rows() * s.num_kv_heads * p.head_dim();
  fill(t.q, q_elems);
  fill(t.k, kv_elems);
  fill(t.v, kv_elems);
  fill(t.k_new, new_elems);
  fill(t.v_new, new_elems);
  t.out.assign(size_t(q_elems) * dtype_size(p.dtype()), 0xff);  // NaN poison in every dtype
  return t;
}

// Sequence b of a call: its lengths and the token of its row 0 in each tensor (0 when dense, where
// the batch stride steps to it).
struct SequenceRows {
  int seqlen_q, seqlen_k;
  int64_t q_row0, k_row0;
};

SequenceRows sequence_of(const AttentionArgs& a, int b) {
  SequenceRows rows{a.seqlen_q, a.seqlen_k, 0, 0};
  // Queries and keys are packed independently (a KV cache's logical keys are packed, its queries
  // may not be).
  if (a.cu_seqlens_q != nullptr) {
    rows.seqlen_q = a.cu_seqlens_q[b + 1] - a.cu_seqlens_q[b];
    rows.q_row0 = a.cu_seqlens_q[b];
  }
  if (a.cu_seqlens_k != nullptr) {
    rows.seqlen_k = a.cu_seqlens_k[b + 1] - a.cu_seqlens_k[b];
    rows.k_row0 = a.cu_seqlens_k[b];
  }
  return rows;
}

// Double-precision attention for one query row, straight from the definition (FlashAttention-2's
// semantics of the window, softcap and ALiBi, each sequence its own problem): an independent check
// of the CPU backend when there is no GPU to compare with.
void reference_row(const AttentionArgs& a, int b, int h, int i, std::vector<double>& out) {
  const int kvh = h / (a.num_heads / a.num_kv_heads);
  const SequenceRows seq = sequence_of(a, b);
  auto at = [&](const InputTensor& t, int64_t row0, int s, int hh, int d) {
    return double(load_as_float(t.data, t.dtype,
                                b * t.strides.batch + (row0 + s) * t.strides.seq + hh * t.strides.head + d));
  };
  const int diagonal = i + seq.seqlen_k - seq.seqlen_q;  // the key aligned with row i
  std::vector<double> p(seq.seqlen_k, -INFINITY);
  double max_score = -INFINITY;
  for (int j = 0; j < seq.seqlen_k; ++j) {
    const bool before_window = a.window_left >= 0 && j < diagonal - a.window_left;
    const bool after_window = a.mask == MaskKind::causal ? j > diagonal : a.window_right >= 0 && j > diagonal + a.window_right;
    if (before_window || after_window) continue;
    double dot = 0.0;
    for (int d = 0; d < a.head_dim; ++d) dot += at(a.q, seq.q_row0, i, h, d) * at(a.k, seq.k_row0, j, kvh, d);
    double score = dot * a.softmax_scale;
    if (a.softcap > 0.0f) score = a.softcap * std::tanh(score / a.softcap);
    if (a.alibi_slopes != nullptr) score -= a.alibi_slopes[b * a.alibi_batch_stride + h] * std::abs(diagonal - j);
    p[j] = score;
    max_score = std::max(max_score, p[j]);
  }
  out.assign(a.head_dim, 0.0);
  if (max_score == -INFINITY) return;  // a row that sees no key: zeros
  double sum = 0.0;
  for (double& x : p) sum += (x = std::exp(x - max_score));
  for (int j = 0; j < seq.seqlen_k; ++j)
    for (int d = 0; d < a.head_dim; ++d) out[d] += p[j] / sum * at(a.v, seq.k_row0, j, kvh, d);
}

// The tensors' bytes: a ragged batch's packed tokens, else every batch entry's rows.
std::optional<TensorBytes> run_tensor_bytes(const RunProblem& run) {
  return tensor_bytes(run.problem, run.q_rows(), run.k_rows());
}

// Refuses, before anything is allocated, a problem whose tensors do not fit: on the GPU the four
// tensors, on the host their copies (the output three times: poisoned input, result, reference).
llvm::Error check_gpu_memory(const RunProblem& run) {
  auto device = cuda::describe_device(0);
  if (!device) return device.takeError();
  const std::optional<TensorBytes> bytes = run_tensor_bytes(run);
  const uint64_t gpu_memory = static_cast<uint64_t>(std::max<long long>(device->total_memory_bytes, 0));
  if (llvm::Error error = check_fits(bytes ? bytes_needed(*bytes, 1) : std::nullopt, gpu_memory, "GPU memory"))
    return error;
  return check_fits(bytes ? bytes_needed(*bytes, 3) : std::nullopt, physical_memory_bytes(), "host memory");
}

// The CPU backend works on the host copies of the four tensors.
llvm::Error check_cpu_memory(const RunProblem& run) {
  const std::optional<TensorBytes> bytes = run_tensor_bytes(run);
  return check_fits(bytes ? bytes_needed(*bytes, 1) : std::nullopt, physical_memory_bytes(), "host memory");
}

llvm::Expected<cuda::DeviceBuffer> upload(const std::vector<uint8_t>& data) {
  auto buffer = cuda::DeviceBuffer::allocate(data.size());
  if (!buffer) return buffer.takeError();
  if (llvm::Error err = buffer->copy_from_host(data.data(), data.size())) return err;
  return buffer;
}

// The DRAM peak of GPU 0 (bytes per second); 0 when the driver does not say.
double device_peak_bandwidth() {
  auto device = cuda::describe_device(0);
  if (!device) {
    llvm::consumeError(device.takeError());
    return 0.0;
  }
  return device->peak_memory_bandwidth();
}

int run_on_gpu(Runtime& runtime, const RunProblem& run, int iterations) {
  const Problem& problem = run.problem;
  const DType t = problem.dtype();
  if (llvm::Error error = check_gpu_memory(run)) return fail(llvm::toString(std::move(error)));
  // The buffers and events below are the application's: in the primary context, as a CUDA runtime
  // application's would be.
  auto context = cuda::PrimaryContext::retain(0);
  if (!context) return fail(llvm::toString(context.takeError()));
  if (llvm::Error err = (*context)->make_current()) return fail(llvm::toString(std::move(err)));

  HostTensors host = random_tensors(run);
  auto q = upload(host.q), k = upload(host.k), v = upload(host.v), out = upload(host.out);
  auto k_new = upload(host.k_new), v_new = upload(host.v_new);
  for (auto* b : {&q, &k, &v, &out, &k_new, &v_new})
    if (!*b) return fail(llvm::toString(b->takeError()));
  auto mods = upload_modifier_data(run.data);
  if (!mods) return fail(llvm::toString(mods.takeError()));
  ModifierPointers pointers = mods->pointers();
  pointers.k_new = k_new->pointer();
  pointers.v_new = v_new->pointer();
  const AttentionArgs args =
      problem.contiguous_args(q->pointer(), k->pointer(), v->pointer(), out->pointer(), pointers);

  Result<KernelChoice> choice = runtime.plan(args);
  if (!choice) return fail(choice.status().to_string());
  llvm::outs() << "device: " << choice->device << "\n"
               << "kernel: " << choice->kernel_key << "\n  why: " << choice->reason << "\n";

  const auto start = std::chrono::steady_clock::now();
  if (Status s = runtime.forward(args); !s.ok()) return fail(s.to_string());
  if (llvm::Error err = cuda::synchronize_stream(nullptr)) return fail(llvm::toString(std::move(err)));
  const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  llvm::outs() << llvm::formatv("first call (generate, compile, load, run): {0:F1} ms\n", first_ms);

  auto timed = tools::time_forward_calls(runtime, args, iterations);
  if (!timed) return fail(llvm::toString(timed.takeError()));
  const tuner::Timing timing = tuner::summarize(*timed);
  llvm::outs() << llvm::formatv("time: {0:F3} ms per call (median of {1}), {2:F1} TFLOP/s\n", timing.median_ms,
                                timing.samples, run.flops() / (timing.median_ms * 1e-3) / 1e12);
  if (problem.features().kv_cache) {
    // Decode is bound by memory: what matters is how close the K/V reads come to the DRAM's peak.
    const double achieved = run.bytes_moved() / (timing.median_ms * 1e-3);
    const double peak = device_peak_bandwidth();
    llvm::outs() << llvm::formatv("memory: {0:F1} GB/s ({1:F1} MB of K, V, q and out per call)", achieved / 1e9,
                                  run.bytes_moved() / 1e6);
    if (peak > 0) llvm::outs() << llvm::formatv(", {0:F0}% of the device's {1:F0} GB/s peak", 100 * achieved / peak, peak / 1e9);
    llvm::outs() << "\n";
  }

  // Host overhead of a forward() on a loaded kernel: validation, lookup and launch, no waiting.
  constexpr int kOverheadCalls = 1000;
  const auto overhead_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kOverheadCalls; ++i)
    if (Status s = runtime.forward(args); !s.ok()) return fail(s.to_string());
  const double overhead_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - overhead_start).count() / kOverheadCalls;
  if (llvm::Error err = cuda::synchronize_stream(nullptr)) return fail(llvm::toString(std::move(err)));
  llvm::outs() << llvm::formatv("host overhead: {0:F1} us per forward() call (enqueue only, {1} calls)\n",
                                overhead_us, kOverheadCalls);

  std::vector<uint8_t> result(host.out.size());
  if (llvm::Error err = out->copy_to_host(result.data(), result.size())) return fail(llvm::toString(std::move(err)));

  // The same call on the CPU backend: the same values, with the host copies of the offsets and slopes.
  std::vector<uint8_t> reference(host.out.size());
  ModifierPointers host_pointers = run.data.pointers();
  host_pointers.k_new = host.k_new.data();
  host_pointers.v_new = host.v_new.data();
  // fp32 products (not avx512_bf16's rounded probabilities): the error measured is the GPU's own.
  cpu::CpuAttention(0, cpu::best_fp32_cpu_isa())
      .forward(problem.contiguous_args(host.q.data(), host.k.data(), host.v.data(), reference.data(), host_pointers));
  const double error = max_output_error(result, reference, t);
  const bool ok = error <= output_tolerance(t);
  llvm::outs() << llvm::formatv("max error vs the CPU backend: {0:e} (tolerance {1:e}) {2}\n", error,
                                output_tolerance(t), ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

// Without a GPU: the JIT path still works; show it for the kernels this problem would use.
int compile_for_default_arch(const Problem& problem) {
  auto arch = gen::parse_arch(jit_arch);
  if (!arch) return fail(llvm::toString(arch.takeError()));
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(arch->first);
  const gen::CompilerTargets& nvrtc = cuda::nvrtc_targets_for_arch(arch->first);
  llvm::outs() << llvm::formatv("JIT check: generating and compiling for {0} with NVRTC {1} (no GPU needed)\n",
                                jit_arch, nvrtc.version());
  for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
    ProblemFeatures features = problem.features();
    features.mask = mask;
    // A right window bound is a specialization without the causal mask only: decided again.
    features.window = false;
    features = with_score_mod_values(features, problem.score_mod_values());
    auto selection = gen::select_for_features(device, features, nvrtc);
    if (!selection) return fail(llvm::toString(selection.takeError()));
    auto emitted = gen::emit(selection->spec);
    if (!emitted) return fail(llvm::toString(emitted.takeError()));
    auto compiled = cuda::compile_kernel(*emitted, selection->spec);
    if (!compiled) return fail(llvm::toString(compiled.takeError()));
    llvm::outs() << llvm::formatv("  {0}: {1:F0} ms, {2} registers, {3} spill bytes, {4} bytes shared, {5} bytes cubin\n",
                                  compiled->key, compiled->compile_ms, compiled->resources.registers,
                                  compiled->resources.spill_store_bytes, gen::shared_memory_bytes(selection->spec),
                                  compiled->cubin.size());
  }
  return 0;
}

// A sampled row: a batch entry (a sequence with rows when ragged), a head and a row of it; the
// first samples take the first and last rows.
struct SampledRow {
  int b, h, i;
};

std::vector<SampledRow> sample_rows(const AttentionArgs& a, int count) {
  std::vector<int> with_rows;
  for (int b = 0; b < a.batch; ++b)
    if (sequence_of(a, b).seqlen_q > 0) with_rows.push_back(b);
  std::mt19937 rng(7);
  std::vector<SampledRow> rows;
  for (int sample = 0; sample < count; ++sample) {
    const int b = with_rows[rng() % with_rows.size()], h = int(rng() % a.num_heads);
    const int length = sequence_of(a, b).seqlen_q;
    rows.push_back({b, h, sample == 0 ? 0 : sample == 1 ? length - 1 : int(rng() % length)});
  }
  return rows;
}

int run_on_cpu(Runtime& runtime, const RunProblem& run) {
  const Problem& problem = run.problem;
  HostTensors host = random_tensors(run);
  ModifierPointers pointers = run.data.pointers();
  pointers.k_new = host.k_new.data();
  pointers.v_new = host.v_new.data();
  const AttentionArgs args =
      problem.contiguous_args(host.q.data(), host.k.data(), host.v.data(), host.out.data(), pointers);
  // A KV cache's keys as the reference sees them, gathered before the call appends to the cache.
  std::optional<LogicalKeys> logical;
  if (problem.features().kv_cache) {
    Result<AttentionArgs> valid = validate_args(args);
    if (!valid) return fail(valid.status().to_string());
    logical.emplace(gather_logical_keys(*valid));
  }
  Result<KernelChoice> choice = runtime.plan(args);
  if (!choice) return fail(choice.status().to_string());
  llvm::outs() << "kernel: " << choice->kernel_key << "\n  why: " << choice->reason << "\n";

  const auto start = std::chrono::steady_clock::now();
  if (Status s = runtime.forward(args); !s.ok()) return fail(s.to_string());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  llvm::outs() << llvm::formatv("CPU backend: {0:F3} s, {1:F1} GFLOP/s\n", seconds,
                                run.flops() / seconds / 1e9);

  const AttentionArgs& a = logical ? logical->args : args;
  constexpr int kSampledRows = 48;
  double worst = 0.0;
  std::vector<double> ref;
  for (const auto& [b, h, i] : sample_rows(a, kSampledRows)) {
    reference_row(a, b, h, i, ref);
    const int64_t row = sequence_of(a, b).q_row0 + i;
    for (int d = 0; d < a.head_dim; ++d) {
      const double o = load_as_float(a.out.data, a.out.dtype,
                                     b * a.out.strides.batch + row * a.out.strides.seq + h * a.out.strides.head + d);
      worst = std::max(worst, std::isfinite(o) ? std::abs(o - ref[d]) / std::max(1.0, std::abs(ref[d])) : INFINITY);
    }
  }
  const DType t = a.q.dtype;
  const bool ok = worst <= output_tolerance(t);
  llvm::outs() << llvm::formatv("max error vs a double-precision reference on {0} sampled rows: {1:e} "
                                "(tolerance {2:e}) {3}\n",
                                kSampledRows, worst, output_tolerance(t), ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

// "5,0,17", or the first 16 and how many more.
std::string lengths_text(const std::vector<int>& lengths) {
  constexpr size_t kShown = 16;
  std::string text;
  for (size_t i = 0; i < lengths.size() && i < kShown; ++i) text += (i ? "," : "") + std::to_string(lengths[i]);
  if (lengths.size() > kShown) text += llvm::formatv(",... ({0} sequences)", lengths.size()).str();
  return text;
}

}  // namespace

int run_main_job() {
  auto problems = problems_from_options(ProblemDefaults{DType::bf16, 128, 2, 16, 1024});
  if (!problems) return fail(llvm::toString(problems.takeError()));
  if (problems->size() != 1) return fail("run takes one --seqlen");
  auto iterations = iterations_from_options(20);
  if (!iterations) return fail(llvm::toString(iterations.takeError()));
  const OptionProblem& chosen = problems->front();
  const RunProblem run{chosen.problem, chosen.lengths,
                       modifier_data(chosen.problem, chosen.lengths.q, chosen.lengths.k)};
  const Problem& problem = run.problem;
  const ProblemShape& s = problem.shape();
  llvm::outs() << llvm::formatv("problem: batch {0}, heads {1} (kv {2}), seqlen {3} x {4}, head_dim {5}, {6}, mask {7}\n",
                                s.batch, s.num_heads, s.num_kv_heads, s.seqlen_q, s.seqlen_k, problem.head_dim(),
                                dtype_name(problem.dtype()), mask_name(problem.mask()));
  // The modifiers on their own line, so the dense problem line reads as it always did.
  if (problem.features().any_modifier()) llvm::outs() << "modifiers: " << modifiers_text(problem) << "\n";
  if (problem.features().ragged && problem.features().kv_cache)
    llvm::outs() << llvm::formatv("sequences: q {0} ({1} tokens); cached keys {2}\n", lengths_text(run.lengths.q),
                                  run.data.q_tokens(), lengths_text(run.lengths.k));
  else if (problem.features().ragged)
    llvm::outs() << llvm::formatv("sequences: q {0}; k {1} ({2} and {3} tokens)\n", lengths_text(run.lengths.q),
                                  lengths_text(run.lengths.k), run.data.q_tokens(), run.data.k_tokens());

  RuntimeOptions options;
  options.backend = cpu_only ? Backend::cpu : Backend::automatic;
  Result<std::unique_ptr<Runtime>> runtime = Runtime::create(options);
  if (!runtime) return fail(runtime.status().to_string());
  if ((*runtime)->backend() == Backend::cuda) return run_on_gpu(**runtime, run, *iterations);

  if (!(*runtime)->fallback_reason().empty())
    llvm::outs() << "no usable GPU: " << (*runtime)->fallback_reason() << "\n";
  if (llvm::Error error = check_cpu_memory(run)) return fail(llvm::toString(std::move(error)));
  if (int rc = compile_for_default_arch(problem); rc != 0) return rc;
  return run_on_cpu(**runtime, run);
}

}  // namespace flashjit::tools
