#include "tools/common_options.h"

#include <cmath>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>

#include "problem/validate.h"
#include "runtime/open_cache.h"
#include "support/error.h"
#include "support/names.h"
#include "support/quote.h"
#include "support/untrusted_input.h"
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
cl::opt<int> batch("batch", cl::desc("Batch size, up to 65535 (run: default 2; tune: 1)"), cl::sub(run_command),
                   cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<int> heads("heads", cl::desc("Query heads, up to 65535 (default 16)"), cl::sub(run_command), cl::sub(tune_command),
                   cl::cat(flashjit_options));
cl::opt<int> kv_heads("kv-heads", cl::desc("Key/value heads (default or 0: heads)"), cl::sub(run_command),
                      cl::sub(tune_command), cl::cat(flashjit_options));
cl::list<int> seqlens("seqlen", cl::desc("Sequence length, up to 16777216 (run: one, default 1024; tune: repeat for "
                                          "several, default 4096)"),
                      cl::sub(run_command), cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<int> seqlen_k("seqlen-k", cl::desc("Key sequence length (default or 0: seqlen)"), cl::sub(run_command),
                      cl::cat(flashjit_options));
// ---- ragged batches and score modifiers (issue 14): run, bench, emit, tune ----
cl::opt<std::string> varlen("varlen", cl::desc("A ragged batch: each sequence's query length, LEN,LEN,... (0 allowed; "
                                               "keys the same unless --varlen-k)"),
                            cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command), cl::sub(tune_command),
                            cl::cat(flashjit_options));
cl::opt<std::string> varlen_k("varlen-k", cl::desc("Each --varlen sequence's key length, LEN,LEN,..."),
                              cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command),
                              cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<std::string> varlen_random("varlen-random",
                                   cl::desc("A ragged batch of N sequences whose lengths (keys as queries) are drawn "
                                            "reproducibly from SEED in 1..seqlen: N,SEED"),
                                   cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command),
                                   cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<std::string> window("window", cl::desc("Sliding window L,R: query i sees keys i+sk-sq-L .. i+sk-sq+R (-1: "
                                               "unbounded on that side)"),
                            cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command), cl::sub(tune_command),
                            cl::cat(flashjit_options));
cl::opt<std::string> softcap("softcap", cl::desc("Logit softcap X > 0: a score becomes X * tanh(score * scale / X)"),
                             cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command),
                             cl::sub(tune_command), cl::cat(flashjit_options));
cl::opt<bool> alibi("alibi", cl::desc("ALiBi: -slope * |i + sk - sq - j| added to each score, with ALiBi's geometric "
                                      "slopes per head"),
                    cl::sub(run_command), cl::sub(bench_command), cl::sub(emit_command), cl::sub(tune_command),
                    cl::cat(flashjit_options));
// ---- KV caches (issue 15): run, emit, tune (bench --decode sweeps its own page sizes) ----
cl::opt<bool> kv_cache("kv-cache", cl::desc("Keys from a KV cache: each sequence's seqlen-k keys (less --append's) "
                                            "counted by seqused_k, dense unless --page-size"),
                       cl::sub(run_command), cl::sub(emit_command), cl::sub(tune_command),
                       cl::cat(flashjit_options));
cl::opt<int> page_size("page-size", cl::desc("A paged KV cache of pages of N keys, a power of two from 1 to 1048576, "
                                             "in a shuffled block table (implies --kv-cache)"),
                       cl::sub(run_command), cl::sub(emit_command), cl::sub(tune_command),
                       cl::cat(flashjit_options));
cl::opt<int> append("append", cl::desc("N keys appended to each sequence's cache before attention (implies "
                                       "--kv-cache)"),
                    cl::sub(run_command), cl::sub(emit_command), cl::sub(tune_command),
                    cl::cat(flashjit_options));
cl::opt<bool> decode("decode", cl::desc("A decode step: batch 32, 32 query and 8 KV heads, head_dim 128, one query "
                                        "row against an 8192-key cache in pages of 16 (each option given overrides "
                                        "its part); bench: the decode sweep, batch 1-128 x 1k-32k keys x pages of "
                                        "1, 16, 256"),
                     cl::sub(run_command), cl::sub(bench_command), cl::cat(flashjit_options));
// ---- tuning: tune, warm, bench ----
cl::opt<double> budget_ms("budget-ms", cl::desc("Timed-sample budget per candidate (ms, 0 to 3600000, default 60)"),
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
// ---- the fleet's remote tuning cache: warm, tune, cache (push, pull, stats), doctor ----
cl::opt<std::string> remote_url("remote", cl::desc("The fleet's remote tuning cache: redis://[user:password@]host[:port][/db] "
                                                   "or unix:///path/to/redis.sock (default: $FLASHJIT_REMOTE_CACHE; "
                                                   "the password and fleet key come from the files "
                                                   "$FLASHJIT_REMOTE_CACHE_PASSWORD_FILE and "
                                                   "$FLASHJIT_REMOTE_CACHE_KEY_FILE)"),
                                cl::sub(warm_command), cl::sub(cache_command), cl::sub(doctor_command),
                                cl::sub(tune_command), cl::cat(flashjit_options));
// ---- input files: warm (the manifest), cache import (the export file) ----
cl::opt<uint64_t> max_input_bytes("max-input-bytes",
                                  cl::desc("Refuse an input file larger than this (warm: default 64 MiB; cache "
                                           "import: 1 GiB)"),
                                  cl::sub(warm_command), cl::sub(cache_command), cl::cat(flashjit_options));

// The limits of the size options: the launch grid's for batch and heads (validate.h), the
// manifest's for lengths. Checked here, by the option's name, before any problem is made.
constexpr int kMaxSeqlen = 1 << 24;
constexpr int kMaxIterations = 1000000;
constexpr int kMaxBudgetMs = 3600000;  // an hour per candidate

// `option`'s value when given, else `fallback`; an error naming the option unless it is in
// [lowest, highest] (or is `zero_means_default`'s 0, which the help says keeps the default).
llvm::Expected<int> checked(const cl::opt<int>& option, int fallback, int lowest, int highest,
                            bool zero_means_default = false) {
  if (option.getNumOccurrences() == 0) return fallback;
  const int value = option;
  if (zero_means_default && value == 0) return fallback;
  if (value >= lowest && value <= highest) return value;
  return make_error(ErrorCode::invalid_argument,
                    llvm::formatv("--{0} must be {1}between {2} and {3}, got {4}", option.ArgStr,
                                  zero_means_default ? "0 (the default) or " : "", lowest, highest, value));
}

llvm::Error invalid(const llvm::Twine& message) { return make_error(ErrorCode::invalid_argument, message); }

// "L,R": two integers of at least -1, not both -1 (that bounds nothing).
llvm::Expected<std::pair<int, int>> parse_window(const std::string& text) {
  auto [left_text, right_text] = llvm::StringRef(text).split(',');
  int left = 0, right = 0;
  if (left_text.trim().getAsInteger(10, left) || right_text.trim().getAsInteger(10, right))
    return invalid(llvm::formatv("--window must be L,R (keys before and after the diagonal, -1 for unbounded), got "
                                 "'{0}'",
                                 quote_prefix(text)));
  for (auto [side, value] : {std::pair<const char*, int>{"L", left}, {"R", right}})
    if (value < -1) return invalid(llvm::formatv("--window: {0} {1} is below -1 (-1 means unbounded)", side, value));
  if (left == -1 && right == -1)
    return invalid("--window -1,-1 bounds nothing: leave --window out for no window");
  return std::pair{left, right};
}

// X > 0 and finite.
llvm::Expected<float> parse_softcap(const std::string& text) {
  double value = 0.0;
  if (llvm::StringRef(text).trim().getAsDouble(value))
    return invalid(llvm::formatv("--softcap: '{0}' is not a number", quote_prefix(text)));
  if (!std::isfinite(value) || value <= 0.0 || value > 1e30)
    return invalid(llvm::formatv("--softcap must be a finite number above 0 (leave it out for none), got {0}",
                                 quote_prefix(text)));
  return static_cast<float>(value);
}

// The KV-cache options: --page-size a power of two, --append positive.
llvm::Error check_kv_cache_options() {
  if (page_size.getNumOccurrences() > 0 &&
      (page_size < 1 || page_size > (1 << 20) || (page_size & (page_size - 1)) != 0))
    return invalid(llvm::formatv("--page-size must be a power of two from 1 to 1048576, got {0}", int(page_size)));
  if (append.getNumOccurrences() > 0 && (append < 1 || append > kMaxSeqlen))
    return invalid(llvm::formatv("--append must be between 1 and {0}, got {1}", kMaxSeqlen, int(append)));
  return llvm::Error::success();
}

}  // namespace

bool decode_requested() { return decode; }

llvm::Expected<ScoreModOptions> score_mods_from_options() {
  ScoreModOptions options;
  if (window.getNumOccurrences() > 0) {
    auto bounds = parse_window(window);
    if (!bounds) return bounds.takeError();
    options.values.window_left = bounds->first;
    options.values.window_right = bounds->second;
  }
  if (softcap.getNumOccurrences() > 0) {
    auto cap = parse_softcap(softcap);
    if (!cap) return cap.takeError();
    options.values.softcap = *cap;
  }
  options.alibi = alibi;
  return options;
}

llvm::Expected<RaggedOptions> ragged_options() {
  RaggedOptions options;
  const bool listed = varlen.getNumOccurrences() > 0;
  if (varlen_k.getNumOccurrences() > 0 && !listed)
    return invalid("--varlen-k gives the key lengths of --varlen's sequences: give --varlen too");
  if (listed && varlen_random.getNumOccurrences() > 0)
    return invalid("--varlen and --varlen-random both give the sequence lengths: choose one");
  if (varlen_random.getNumOccurrences() > 0) {
    auto random = parse_random_lengths(varlen_random, "varlen-random", kMaxGridYZ);
    if (!random) return random.takeError();
    options.random = *random;
  }
  if (!listed) return options;
  auto q = parse_lengths(varlen, "varlen", kMaxSeqlen, kMaxGridYZ);
  if (!q) return q.takeError();
  options.lengths.q = *q;
  options.lengths.k = *q;
  if (varlen_k.getNumOccurrences() > 0) {
    auto k = parse_lengths(varlen_k, "varlen-k", kMaxSeqlen, kMaxGridYZ);
    if (!k) return k.takeError();
    if (k->size() != q->size())
      return invalid(llvm::formatv("--varlen-k gives {0} length{1} for --varlen's {2} sequences: give one per sequence",
                                   k->size(), k->size() == 1 ? "" : "s", q->size()));
    options.lengths.k = *k;
  }
  return options;
}

llvm::Expected<FeatureOptions> features_from_options(const ProblemDefaults& defaults) {
  ProblemFeatures f;
  f.dtype = defaults.dtype;
  if (dtype.getNumOccurrences() > 0) {
    auto parsed = parse_dtype(dtype);
    if (!parsed) return parsed.takeError();
    f.dtype = *parsed;
  }
  f.head_dim = head_dim.getNumOccurrences() > 0 ? int(head_dim) : defaults.head_dim;
  f.mask = causal ? MaskKind::causal : MaskKind::none;
  auto mods = score_mods_from_options();
  if (!mods) return mods.takeError();
  f.alibi = mods->alibi;
  auto ragged = ragged_options();
  if (!ragged) return ragged.takeError();
  f.ragged = ragged->ragged();
  if (llvm::Error error = check_kv_cache_options()) return error;
  f.paged = page_size.getNumOccurrences() > 0 || decode;
  f.append = append.getNumOccurrences() > 0;
  f.kv_cache = kv_cache || f.paged || f.append;
  // The checks a problem of these features passes, with their messages (head_dim's among them:
  // positive, a multiple of 8, at most 256); the window and softcap features follow the values.
  ProblemShape nominal;
  nominal.page_size = f.paged ? (page_size.getNumOccurrences() > 0 ? int(page_size) : kDefaultPageSize) : 0;
  nominal.seqlen_k = nominal.seqlen_new = f.append ? int(append) : 0;
  if (nominal.seqlen_k == 0) nominal.seqlen_k = 1;
  auto problem = Problem::of_shape(f, nominal, mods->values);
  if (!problem) return problem.takeError();
  return FeatureOptions{problem->features(), mods->values};
}

llvm::Expected<std::vector<OptionProblem>> problems_from_options(const ProblemDefaults& given) {
  ProblemDefaults defaults = given;
  if (decode) defaults = decode_defaults(given);
  auto features = features_from_options(defaults);
  if (!features) return features.takeError();
  auto ragged = ragged_options();
  if (!ragged) return ragged.takeError();
  std::vector<int> lengths(seqlens.begin(), seqlens.end());
  if (lengths.empty()) lengths.push_back(defaults.seqlen);
  // A ragged batch's count comes from its lengths, its longest lengths from them or --seqlen.
  if (ragged->ragged() && batch.getNumOccurrences() > 0)
    return invalid("--batch: a ragged batch has one sequence per --varlen length (or --varlen-random's N); "
                   "leave --batch out");
  if (!ragged->lengths.empty() && seqlens.getNumOccurrences() > 0)
    return invalid("--seqlen: --varlen gives each sequence's length; leave --seqlen out");
  if (ragged->ragged() && seqlen_k.getNumOccurrences() > 0)
    return invalid("--seqlen-k: a ragged batch's key lengths are --varlen-k's (else its query lengths); leave "
                   "--seqlen-k out");
  auto batches = checked(batch, defaults.batch, 1, kMaxGridYZ);
  if (!batches) return batches.takeError();
  auto query_heads = checked(heads, defaults.heads, 1, kMaxGridYZ);
  if (!query_heads) return query_heads.takeError();
  // 0 keeps the default, as the help says.
  const int default_kv_heads = defaults.kv_heads > 0 && heads.getNumOccurrences() == 0 ? defaults.kv_heads : *query_heads;
  auto key_heads = checked(kv_heads, default_kv_heads, 1, kMaxGridYZ, /*zero_means_default=*/true);
  if (!key_heads) return key_heads.takeError();
  ProblemShape shape;
  shape.batch = *batches;
  shape.num_heads = *query_heads;
  shape.num_kv_heads = *key_heads;
  if (features->features.paged) shape.page_size = page_size.getNumOccurrences() > 0 ? int(page_size) : kDefaultPageSize;
  if (features->features.append) shape.seqlen_new = append;
  std::vector<OptionProblem> problems;
  auto add = [&](const RaggedLengths& sequences) -> llvm::Error {
    auto problem = Problem::of_shape(features->features, shape, features->values);
    if (!problem) return problem.takeError();
    problems.push_back({std::move(*problem), sequences});
    return llvm::Error::success();
  };
  if (!ragged->lengths.empty()) {
    shape.batch = static_cast<int>(ragged->lengths.q.size());
    shape.seqlen_q = ragged->lengths.longest_q();
    // A KV cache's key lengths are its cached counts; the appended keys come on top.
    shape.seqlen_k = ragged->lengths.longest_k() + shape.seqlen_new;
    if (llvm::Error error = add(ragged->lengths)) return error;
    return problems;
  }
  for (int length : lengths) {
    if (length < 1 || length > kMaxSeqlen)
      return make_error(ErrorCode::invalid_argument,
                        llvm::formatv("--seqlen must be between 1 and {0}, got {1}", kMaxSeqlen, length));
    shape.seqlen_q = length;
    RaggedLengths sequences;
    if (ragged->random) {
      // Lengths up to --seqlen, which stays the declared longest (the kernel's grid and key bucket).
      sequences.q = sequences.k = draw_lengths(ragged->random->count, length, ragged->random->seed);
      shape.batch = ragged->random->count;
      shape.seqlen_k = length;
    } else {
      auto key_length = checked(seqlen_k, defaults.seqlen_k > 0 ? defaults.seqlen_k : length, 1, kMaxSeqlen,
                                /*zero_means_default=*/true);
      if (!key_length) return key_length.takeError();
      shape.seqlen_k = *key_length;
    }
    if (llvm::Error error = add(sequences)) return error;
  }
  return problems;
}

llvm::Expected<tuner::TuneOptions> tune_options_from_options() {
  tuner::TuneOptions options;
  if (budget_ms.getNumOccurrences() > 0) {
    // NaN fails every comparison, so it is refused here too.
    if (!(budget_ms >= 0.0 && budget_ms <= kMaxBudgetMs))
      return make_error(ErrorCode::invalid_argument,
                        llvm::formatv("--budget-ms must be between 0 and {0}, got {1}", kMaxBudgetMs, double(budget_ms)));
    options.budget_ms_per_candidate = budget_ms;
  }
  if (max_candidates < 0)
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("--max-candidates must be 0 (every candidate) or more, got {0}", int(max_candidates)));
  options.max_candidates = max_candidates;
  return options;
}

llvm::Expected<int> iterations_from_options(int fallback) { return checked(iterations, fallback, 1, kMaxIterations); }

llvm::Expected<uint64_t> max_input_bytes_from_options(uint64_t fallback) {
  if (max_input_bytes.getNumOccurrences() == 0) return fallback;
  if (max_input_bytes == 0) return make_error(ErrorCode::invalid_argument, "--max-input-bytes must be at least 1");
  return uint64_t(max_input_bytes);
}

RemoteCacheOptions remote_options_from_options() {
  RemoteCacheOptions options;  // the environment's
  if (remote_url.getNumOccurrences() > 0) options.url = remote_url;
  return options;
}

llvm::Expected<std::unique_ptr<cache::RemoteCache>> remote_from_options(bool required) {
  const RemoteCacheOptions options = remote_options_from_options();
  if (options.url.empty()) {
    if (!required) return nullptr;
    return make_error(ErrorCode::invalid_argument,
                      "give the remote tuning cache: --remote redis://host:port (or set FLASHJIT_REMOTE_CACHE)");
  }
  auto remote = open_remote_cache(options);
  if (!remote) return make_error(ErrorCode::invalid_argument, llvm::toString(remote.takeError()));
  return remote;
}

llvm::Expected<std::unique_ptr<cache::TuningCache>> cache_from_options(CacheUse use) {
  cache::OpenOptions options;
  options.must_exist = use == CacheUse::read_existing;
  // What only reads the cache looks at the file as it is: a damaged one is reported (verify),
  // salvaged (export) or listed as far as it reads, never set aside from under the operator.
  options.inspect = use == CacheUse::read_existing;
  return open_tuning_cache(cache_path, options);
}

}  // namespace flashjit::tools
