#include "tools/common_options.h"

#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>

#include "runtime/open_cache.h"
#include "support/error.h"
#include "support/names.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

// ---- the problem: run, tune, emit ----
cl::opt<std::string> dtype("dtype", cl::desc("f16, bf16 or f32 (emit: default f16; run, tune: bf16)"),
                           cl::sub(run_command), cl::sub(tune_command), cl::sub(emit_command),
                           cl::cat(flashjit_options));
cl::opt<int> head_dim("head-dim", cl::desc("Head dimension, a multiple of 8 up to 256 (default 128)"),
                      cl::sub(run_command), cl::sub(tune_command), cl::sub(emit_command), cl::cat(flashjit_options));
cl::opt<bool> causal("causal", cl::desc("Causal mask (bottom-right aligned)"), cl::sub(run_command),
                     cl::sub(tune_command), cl::sub(emit_command), cl::cat(flashjit_options));
// ---- the sizes: run, tune ----
cl::opt<int> batch("batch", cl::desc("Batch size (run: default 2; tune: 1)"), cl::sub(run_command),
                   cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<int> heads("heads", cl::desc("Query heads (default 16)"), cl::sub(run_command), cl::sub(tune_command),
                   cl::cat(flashjit_options));
cl::opt<int> kv_heads("kv-heads", cl::desc("Key/value heads (default or 0: heads)"), cl::sub(run_command),
                      cl::sub(tune_command), cl::cat(flashjit_options));
cl::list<int> seqlens("seqlen", cl::desc("Sequence length (run: one, default 1024; tune: repeat for several, default 4096)"),
                      cl::sub(run_command), cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<int> seqlen_k("seqlen-k", cl::desc("Key sequence length (default or 0: seqlen)"), cl::sub(run_command),
                      cl::cat(flashjit_options));
// ---- tuning: tune, warm, bench ----
cl::opt<double> budget_ms("budget-ms", cl::desc("Timed-sample budget per candidate (ms, default 60)"),
                          cl::sub(tune_command), cl::sub(warm_command), cl::cat(flashjit_options));
cl::opt<int> max_candidates("max-candidates", cl::desc("Tune at most this many candidates per problem (0: all)"),
                            cl::sub(tune_command), cl::sub(bench_command), cl::cat(flashjit_options), cl::init(0));
// ---- timing: run, bench ----
cl::opt<int> iterations("iterations", cl::desc("Timed calls per problem (run: default 20; bench: 30)"),
                        cl::sub(run_command), cl::sub(bench_command), cl::cat(flashjit_options));
// ---- the cache: tune, warm, cache ----
cl::opt<std::string> cache_path("cache", cl::desc("Tuning cache file (default: $FLASHJIT_CACHE_DIR/flashjit.sqlite, ...)"),
                                cl::sub(tune_command), cl::sub(warm_command), cl::sub(cache_command),
                                cl::cat(flashjit_options));

template <class T, class Option>
T given_or(const Option& option, T fallback) {
  return option.getNumOccurrences() > 0 ? T(option) : fallback;
}

}  // namespace

llvm::Expected<ProblemFeatures> features_from_options(const ProblemDefaults& defaults) {
  ProblemFeatures f;
  f.dtype = defaults.dtype;
  if (dtype.getNumOccurrences() > 0) {
    auto parsed = parse_dtype(dtype);
    if (!parsed) return parsed.takeError();
    f.dtype = *parsed;
  }
  f.head_dim = given_or<int>(head_dim, defaults.head_dim);
  f.mask = causal ? MaskKind::causal : MaskKind::none;
  // The checks a problem of these features passes, with their messages.
  if (auto problem = Problem::of_features(f); !problem) return problem.takeError();
  return f;
}

llvm::Expected<std::vector<Problem>> problems_from_options(const ProblemDefaults& defaults) {
  auto features = features_from_options(defaults);
  if (!features) return features.takeError();
  std::vector<int> lengths(seqlens.begin(), seqlens.end());
  if (lengths.empty()) lengths.push_back(defaults.seqlen);
  ProblemShape shape;
  shape.batch = given_or<int>(batch, defaults.batch);
  shape.num_heads = given_or<int>(heads, defaults.heads);
  // 0 keeps the default, as the help says.
  shape.num_kv_heads = kv_heads != 0 ? int(kv_heads) : shape.num_heads;
  std::vector<Problem> problems;
  for (int length : lengths) {
    shape.seqlen_q = length;
    shape.seqlen_k = seqlen_k != 0 ? int(seqlen_k) : length;
    auto problem = Problem::of_shape(*features, shape);
    if (!problem) return problem.takeError();
    problems.push_back(std::move(*problem));
  }
  return problems;
}

tuner::TuneOptions tune_options_from_options() {
  tuner::TuneOptions options;
  options.budget_ms_per_candidate = given_or<double>(budget_ms, options.budget_ms_per_candidate);
  options.max_candidates = max_candidates;
  return options;
}

llvm::Expected<int> iterations_from_options(int fallback) {
  const int count = given_or<int>(iterations, fallback);
  if (count < 1) return make_error(ErrorCode::invalid_argument, "--iterations must be at least 1");
  return count;
}

llvm::Expected<std::unique_ptr<cache::TuningCache>> cache_from_options() { return open_tuning_cache(cache_path); }

}  // namespace flashjit::tools
