// flashjit bench: FlashJIT's kernels over a sweep of shapes on this GPU (total tokens 16k, hidden
// 2048 by default, as in the PyTorch comparison of bench/compare_sdpa.py), with a JSON output.
// Each shape's first call tunes (or loads from the cache); only later calls are timed. --variant
// forces one kernel variant for every shape (its heuristic default tiles, not tuned), so variants
// can be compared on the same card. --window, --softcap and --alibi apply to every row; a ragged
// batch (--varlen, --varlen-random, or --varlen-fill: the dense row's tokens and longest sequence)
// replaces each row's dense batch. Every row prints and records its modifiers (and lengths).
// --decode runs issue 15's decode sweep instead (tools/decode_bench.h).
#include <algorithm>
#include <fstream>
#include <optional>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>
#include <nlohmann/json.hpp>

#include "flashjit/flashjit.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "generator/variant_rules.h"
#include "problem/modifier_data.h"
#include "runtime/device_modifier_data.h"
#include "support/names.h"
#include "support/quote.h"
#include "cuda/device.h"
#include "cuda/nvrtc_choice.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/cpu_bench.h"
#include "tools/decode_bench.h"
#include "tools/forward_timing.h"
#include "tools/modifier_text.h"
#include "tools/subcommands.h"
#include "tuner/tuner.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;
using nlohmann::json;

cl::opt<std::string> json_path("json", cl::desc("Write the results as JSON to this file"), cl::sub(bench_command), cl::cat(flashjit_options));
cl::opt<std::string> dtypes("dtypes", cl::desc("Comma-separated dtypes"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init("bf16,f16"));
cl::opt<std::string> head_dims("head-dims", cl::desc("Comma-separated head dims"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init("64,128,256"));
cl::opt<std::string> seqlens("seqlens", cl::desc("Comma-separated sequence lengths"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init("1024,4096,16384"));
cl::opt<std::string> masks("masks", cl::desc("Comma-separated masks: none, causal"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init("none,causal"));
cl::opt<int> tokens("tokens", cl::desc("Total tokens (batch = tokens / seqlen)"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init(16384));
cl::opt<int> hidden("hidden", cl::desc("Hidden size (heads = hidden / head_dim)"), cl::sub(bench_command), cl::cat(flashjit_options), cl::init(2048));
const std::string variant_help = "Force a variant for every shape (" + gen::variant_names_text() +
                                 "), with its default tiles, untuned; default: the selector's choice, tuned";
cl::opt<std::string> variant("variant", cl::desc(variant_help), cl::sub(bench_command), cl::cat(flashjit_options));
cl::opt<std::string> varlen_fill("varlen-fill",
                                 cl::desc("Each row a ragged batch of the dense row's tokens and longest sequence: "
                                          "lengths drawn from SEED in 1..seqlen, the first seqlen, until they total "
                                          "batch x seqlen"),
                                 cl::sub(bench_command), cl::cat(flashjit_options));

cl::opt<bool> cpu_sweep("cpu", cl::desc("Benchmark the CPU backend over issue 16's shapes instead (tools/cpu_bench.h)"),
                        cl::sub(bench_command), cl::cat(flashjit_options));
cl::opt<std::string> cpu_threads("threads", cl::desc("With --cpu: comma-separated worker counts (default 1,2)"),
                                 cl::sub(bench_command), cl::cat(flashjit_options), cl::init("1,2"));

// The JSON's and the table's name for the selector's own choice (no --variant).
constexpr const char* kSelectedVariant = "auto";

int fail(const std::string& message, int code = 1) {
  llvm::errs() << "flashjit bench: error: " << message << "\n";
  return code;
}

llvm::Expected<std::vector<int>> int_list(const std::string& text, const char* what) {
  llvm::SmallVector<llvm::StringRef, 8> parts;
  llvm::StringRef(text).split(parts, ',', -1, false);
  std::vector<int> out;
  for (llvm::StringRef p : parts) {
    int v = 0;
    if (p.trim().getAsInteger(10, v) || v <= 0)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "--%s: '%s' is not a positive integer", what,
                                     p.str().c_str());
    out.push_back(v);
  }
  if (out.empty()) return llvm::createStringError(llvm::inconvertibleErrorCode(), "--%s is empty", what);
  return out;
}

// The ragged batch and score modifiers every row has.
struct RowModifiers {
  ScoreModOptions mods;
  RaggedOptions ragged;
  std::optional<uint32_t> fill_seed;  // --varlen-fill

  bool is_ragged() const { return ragged.ragged() || fill_seed.has_value(); }

  // The features of a row of this dtype, head dim and mask (the window's follows the mask).
  ProblemFeatures features(DType t, int d, MaskKind m) const {
    ProblemFeatures f{t, d, m};
    f.alibi = mods.alibi;
    f.ragged = is_ragged();
    return with_score_mod_values(f, mods.values);
  }
};

llvm::Expected<RowModifiers> row_modifiers() {
  RowModifiers r;
  auto mods = score_mods_from_options();
  if (!mods) return mods.takeError();
  r.mods = *mods;
  auto ragged = ragged_options();
  if (!ragged) return ragged.takeError();
  r.ragged = *ragged;
  if (varlen_fill.getNumOccurrences() > 0) {
    if (r.ragged.ragged())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "--varlen-fill and --varlen or --varlen-random all give the sequence lengths: "
                                     "choose one");
    unsigned long long seed = 0;
    if (llvm::StringRef(varlen_fill).trim().getAsInteger(10, seed) || seed > UINT32_MAX)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "--varlen-fill must be a SEED in 0..%u, got '%s'", UINT32_MAX,
                                     quote_prefix(varlen_fill).c_str());
    r.fill_seed = static_cast<uint32_t>(seed);
  }
  if (!r.ragged.lengths.empty() && seqlens.getNumOccurrences() > 0)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "--seqlens: --varlen gives each sequence's length; leave --seqlens out");
  return r;
}

// One row's problem: its dense batch of tokens / seqlen sequences, or the ragged batch the options
// make of it, with its lengths.
struct Row {
  Problem problem;
  RaggedLengths lengths;  // empty when dense

  int64_t q_rows() const {
    return lengths.empty() ? int64_t(problem.shape().batch) * problem.shape().seqlen_q : lengths.q_tokens();
  }
  int64_t k_rows() const {
    return lengths.empty() ? int64_t(problem.shape().batch) * problem.shape().seqlen_k : lengths.k_tokens();
  }
  double flops() const {
    return lengths.empty() ? attention_flops(problem) : attention_flops(problem, lengths.q, lengths.k);
  }
};

llvm::Expected<Row> make_row(const RowModifiers& r, DType t, int d, MaskKind m, int s) {
  const int heads = std::max(1, hidden / d);
  ProblemShape shape{std::max(1, tokens / s), heads, heads, s, s};
  RaggedLengths lengths;
  if (!r.ragged.lengths.empty()) {
    lengths = r.ragged.lengths;
    shape.seqlen_q = lengths.longest_q();
    shape.seqlen_k = lengths.longest_k();
  } else if (r.ragged.random) {
    lengths.q = lengths.k = draw_lengths(r.ragged.random->count, s, r.ragged.random->seed);
  } else if (r.fill_seed) {
    lengths.q = lengths.k = fill_lengths(int64_t(shape.batch) * s, s, *r.fill_seed);
  }
  if (!lengths.empty()) shape.batch = static_cast<int>(lengths.q.size());
  auto problem = Problem::of_shape(r.features(t, d, m), shape, r.mods.values);
  if (!problem) return problem.takeError();
  return Row{std::move(*problem), std::move(lengths)};
}

// Before anything is timed: every shape of the sweep can run the forced variant on this device,
// else the first one that cannot, and why.
llvm::Error check_forced_variant(Variant forced, const std::vector<DType>& types, const std::vector<int>& dims,
                                 const std::vector<MaskKind>& mask_kinds, const RowModifiers& modifiers) {
  auto device = cuda::describe_device(0);
  if (!device) return device.takeError();
  const gen::CompilerTargets& nvrtc = cuda::nvrtc_targets_for_arch(device->compute_capability(), device->driver_version);
  for (DType t : types)
    for (int d : dims)
      for (MaskKind m : mask_kinds)
        if (auto selection = gen::select_for_features(*device, modifiers.features(t, d, m), nvrtc, forced); !selection)
          return llvm::createStringError(llvm::inconvertibleErrorCode(), "--variant %s cannot run %s head_dim %d %s: %s",
                                         variant_name(forced), dtype_name(t), d, mask_name(m),
                                         llvm::toString(selection.takeError()).c_str());
  return llvm::Error::success();
}

struct Buffers {
  cuda::DeviceBuffer q, k, v, out;
  DeviceModifierData modifiers;
};

llvm::Expected<Buffers> allocate(const Row& row) {
  const Problem& p = row.problem;
  const size_t q_bytes = size_t(row.q_rows()) * p.shape().num_heads * p.head_dim() * dtype_size(p.dtype());
  const size_t k_bytes = size_t(row.k_rows()) * p.shape().num_kv_heads * p.head_dim() * dtype_size(p.dtype());
  Buffers b;
  for (auto [buffer, bytes] : {std::pair{&b.q, q_bytes}, {&b.k, k_bytes}, {&b.v, k_bytes}, {&b.out, q_bytes}}) {
    auto allocated = cuda::DeviceBuffer::allocate(bytes);
    if (!allocated) return allocated.takeError();
    // 0x3c bytes are 1.0-ish values in f16/bf16 (no NaN or inf), enough for timing.
    if (llvm::Error err = allocated->fill_bytes(0x3c)) return err;
    *buffer = std::move(*allocated);
  }
  auto modifiers = upload_modifier_data(modifier_data(p, row.lengths.q, row.lengths.k));
  if (!modifiers) return modifiers.takeError();
  b.modifiers = std::move(*modifiers);
  return b;
}

// The row's modifiers in the JSON: "window" [L, R] and "softcap" X (null without), "alibi" and
// "varlen" flags, a ragged batch's lengths; what compare_sdpa.py builds PyTorch's call from.
void add_modifiers(const Row& row, json& out) {
  const ProblemFeatures& f = row.problem.features();
  const ScoreModValues& v = row.problem.score_mod_values();
  out["window"] = f.window ? json::array({v.window_left, v.window_right}) : json(nullptr);
  out["softcap"] = f.softcap ? json(v.softcap) : json(nullptr);
  out["alibi"] = f.alibi;
  out["varlen"] = f.ragged;
  if (f.ragged) {
    out["q_lengths"] = row.lengths.q;
    out["k_lengths"] = row.lengths.k;
  }
  out["gflop"] = row.flops() / 1e9;
}

// --json's file, when given; the exit code.
int write_json(const json& rows, const std::unique_ptr<Runtime>& runtime, const std::string& variant_label) {
  if (json_path.empty()) return 0;
  std::ofstream out(json_path);
  // "variant": the forced variant, or "auto" for the selector's choice (each row says what ran).
  out << json{{"flashjit_version", FLASHJIT_VERSION_STRING},
              {"device", runtime->device_name()},
              {"variant", variant_label},
              {"rows", rows}}
             .dump(2)
      << "\n";
  if (!out) return fail("cannot write " + json_path);
  return 0;
}

// bench --cpu runs its own sweep: the options that shape the GPU sweep would be ignored, so they are
// refused by name.
int run_cpu_bench() {
  const std::pair<const char*, const cl::Option*> gpu_only[] = {
      {"--dtypes", &dtypes},  {"--head-dims", &head_dims}, {"--seqlens", &seqlens},
      {"--masks", &masks},    {"--tokens", &tokens},       {"--hidden", &hidden},
      {"--variant", &variant}, {"--varlen-fill", &varlen_fill}};
  for (const auto& [name, option] : gpu_only)
    if (option->getNumOccurrences() > 0)
      return fail(std::string(name) + " shapes the GPU sweep; --cpu runs issue 16's shapes (leave it out)", 2);
  if (decode_requested()) return fail("--decode and --cpu are two different sweeps: choose one", 2);
  auto modifiers = row_modifiers();
  if (!modifiers) return fail(llvm::toString(modifiers.takeError()), 2);
  if (modifiers->is_ragged() || modifiers->mods.alibi || modifiers->features(DType::f16, 64, MaskKind::none).any_modifier())
    return fail("--cpu times dense attention; leave the ragged batch and score modifiers out", 2);
  auto threads = int_list(cpu_threads, "threads");
  if (!threads) return fail(llvm::toString(threads.takeError()), 2);
  auto iterations = iterations_from_options(3);
  if (!iterations) return fail(llvm::toString(iterations.takeError()), 2);
  json rows = json::array();
  if (int rc = run_cpu_sweep(*threads, *iterations, rows); rc != 0) return rc;
  if (json_path.empty()) return 0;
  std::ofstream out(json_path);
  out << json{{"flashjit_version", FLASHJIT_VERSION_STRING}, {"device", "cpu"}, {"rows", rows}}.dump(2) << "\n";
  if (!out) return fail("cannot write " + json_path);
  return 0;
}

}  // namespace

int run_bench() {
  if (cpu_sweep) return run_cpu_bench();
  if (cpu_threads.getNumOccurrences() > 0) return fail("--threads counts the CPU backend's workers: give --cpu", 2);
  auto dims = int_list(head_dims, "head-dims");
  if (!dims) return fail(llvm::toString(dims.takeError()), 2);
  auto lengths = int_list(seqlens, "seqlens");
  if (!lengths) return fail(llvm::toString(lengths.takeError()), 2);
  std::vector<DType> types;
  for (llvm::StringRef t : llvm::split(dtypes, ',')) {
    auto parsed = parse_dtype(t.trim().str());
    if (!parsed) return fail(llvm::toString(parsed.takeError()), 2);
    types.push_back(*parsed);
  }
  std::vector<MaskKind> mask_kinds;
  for (llvm::StringRef m : llvm::split(masks, ',')) {
    auto parsed = parse_mask(m.trim());
    if (!parsed) return fail("--masks: " + llvm::toString(parsed.takeError()), 2);
    mask_kinds.push_back(*parsed);
  }
  auto iterations = iterations_from_options(30);
  if (!iterations) return fail(llvm::toString(iterations.takeError()), 2);
  auto tune_options = tune_options_from_options();
  if (!tune_options) return fail(llvm::toString(tune_options.takeError()), 2);
  std::optional<Variant> forced;
  if (!variant.empty()) {
    auto parsed = gen::parse_variant(variant);
    if (!parsed) return fail("--variant: " + llvm::toString(parsed.takeError()), 2);
    forced = *parsed;
  }
  const std::string variant_label = forced ? variant_name(*forced) : kSelectedVariant;
  auto modifiers = row_modifiers();
  if (!modifiers) return fail(llvm::toString(modifiers.takeError()), 2);
  // With --varlen the lengths are the rows' own: one row per dtype, head dim and mask.
  if (!modifiers->ragged.lengths.empty()) *lengths = {modifiers->ragged.lengths.longest_q()};

  RuntimeOptions options;
  options.backend = Backend::cuda;
  options.tune_max_candidates = tune_options->max_candidates;
  options.force_variant = forced;
  auto runtime = Runtime::create(options);
  if (!runtime) return fail("flashjit bench needs a GPU: " + runtime.status().message());
  if (forced)
    if (llvm::Error err = check_forced_variant(*forced, types, *dims, mask_kinds, *modifiers))
      return fail(llvm::toString(std::move(err)));
  // The buffers and events below are the application's: in the primary context.
  auto context = cuda::PrimaryContext::retain(0);
  if (!context) return fail(llvm::toString(context.takeError()));
  if (llvm::Error err = (*context)->make_current()) return fail(llvm::toString(std::move(err)));

  json rows = json::array();
  if (decode_requested()) {
    if (int rc = run_decode_sweep(**runtime, *iterations, rows); rc != 0) return rc;
    return write_json(rows, *runtime, variant_label);
  }
  llvm::outs() << "variant: "
               << (forced ? variant_label + " (forced for every shape, default tiles, untuned)"
                          : std::string(kSelectedVariant) + " (the selector's choice per shape, tuned)")
               << "\n";
  llvm::outs() << llvm::formatv("{0,-5} {1,4} {2,6} {3,-6} {4,-14} {5,5} {6,5} {7,-10} {8,10} {9,8}  {10}\n", "dtype",
                                "d", "seqlen", "mask", "modifiers", "batch", "heads", "variant", "median ms", "TFLOP/s",
                                "kernel (origin)");
  for (DType t : types)
    for (int d : *dims)
      for (MaskKind m : mask_kinds)
        for (int s : *lengths) {
          auto row = make_row(*modifiers, t, d, m, s);
          if (!row) return fail(llvm::toString(row.takeError()));
          auto buffers = allocate(*row);
          if (!buffers) return fail(llvm::toString(buffers.takeError()));
          const AttentionArgs a =
              row->problem.contiguous_args(buffers->q.pointer(), buffers->k.pointer(), buffers->v.pointer(),
                                           buffers->out.pointer(), buffers->modifiers.pointers());
          if (Status st = (*runtime)->forward(a); !st.ok()) return fail(st.to_string());  // tunes or loads
          auto timed = tools::time_forward_calls(**runtime, a, *iterations);
          if (!timed) return fail(llvm::toString(timed.takeError()));
          const tuner::Timing timing = tuner::summarize(*timed);
          const double tflops = row->flops() / (timing.median_ms * 1e-3) / 1e12;
          Result<KernelChoice> choice = (*runtime)->plan(a);
          const std::string kernel = choice ? choice->kernel_key : "?";
          const std::string origin = choice ? kernel_origin_name(choice->origin) : "?";
          const std::string ran = choice && choice->variant ? variant_name(*choice->variant) : "?";
          llvm::outs() << llvm::formatv(
              "{0,-5} {1,4} {2,6} {3,-6} {4,-14} {5,5} {6,5} {7,-10} {8,10:F4} {9,8:F1}  {10} ({11})\n", dtype_name(t), d,
              a.seqlen_q, mask_name(m), modifiers_label(row->problem), a.batch, a.num_heads, ran, timing.median_ms,
              tflops, kernel, origin);
          json entry = {{"dtype", dtype_name(t)}, {"head_dim", d}, {"seqlen", a.seqlen_q}, {"causal", m == MaskKind::causal},
                        {"batch", a.batch}, {"heads", a.num_heads}, {"kv_heads", a.num_kv_heads},
                        {"variant", ran}, {"kernel", kernel}, {"origin", origin}, {"median_ms", timing.median_ms},
                        {"p20_ms", timing.p20_ms}, {"p80_ms", timing.p80_ms}, {"tflops", tflops}};
          add_modifiers(*row, entry);
          rows.push_back(std::move(entry));
        }
  return write_json(rows, *runtime, variant_label);
}

}  // namespace flashjit::tools
