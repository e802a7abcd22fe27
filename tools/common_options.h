// The options several commands take, each defined once (as llama.cpp's common/arg.cpp defines its
// arguments once for all its programs): the problem (--dtype --head-dim --causal --batch --heads
// --kv-heads --seqlen --seqlen-k), its ragged batch and score modifiers (--varlen --varlen-k
// --varlen-random --window --softcap --alibi), its KV cache (--kv-cache --page-size --append, and
// run's --decode), the tuning options (--budget-ms --max-candidates), the number of
// timed calls (--iterations), the tuning cache (--cache), the fleet's remote one (--remote) and the size limit of input files
// (--max-input-bytes). A command that takes an option is named
// in its definition; where commands differ it is in the defaults they pass here (emit shows f16).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/remote_cache.h"
#include "cache/tuning_cache.h"
#include "flashjit/runtime.h"
#include "problem/problem.h"
#include "tools/ragged_lengths.h"
#include "tuner/tuner.h"

namespace flashjit::tools {

// What a command assumes for the problem options not given.
struct ProblemDefaults {
  DType dtype = DType::bf16;
  int head_dim = 128;
  int batch = 1;
  int heads = 16;
  int seqlen = 1024;
  int kv_heads = 0;  // 0: heads
  int seqlen_k = 0;  // 0: seqlen
};

// run --decode's problem (issue 15): batch 32, 32 query and 8 KV heads, head_dim 128, bf16, one
// query row against 8192 cached keys in pages of 16; what a command's options give overrides it.
inline ProblemDefaults decode_defaults(const ProblemDefaults& base) {
  ProblemDefaults d = base;
  d.dtype = DType::bf16;
  d.head_dim = 128;
  d.batch = 32;
  d.heads = 32;
  d.kv_heads = 8;
  d.seqlen = 1;
  d.seqlen_k = 8192;
  return d;
}
// Whether --decode was given.
bool decode_requested();

// What a kernel is specialized on and the values it reads: --dtype --head-dim --causal, the score
// modifiers --window L,R, --softcap X and --alibi, and a ragged batch when any --varlen option is
// given. Checked as a problem's features are ("head_dim 264 is larger than the supported maximum of
// 256"), each modifier by its option's name ("--window: L -3 is below -1 (-1 means unbounded)").
// --window L,R, --softcap X and --alibi alone (bench applies them to every row of its sweep).
struct ScoreModOptions {
  ScoreModValues values;
  bool alibi = false;
};
llvm::Expected<ScoreModOptions> score_mods_from_options();

struct FeatureOptions {
  ProblemFeatures features;
  ScoreModValues values;
};
llvm::Expected<FeatureOptions> features_from_options(const ProblemDefaults& defaults);

// A problem and, when it is a ragged batch, each sequence's lengths (the problem's batch is their
// count, its seqlen_q and seqlen_k their longest).
struct OptionProblem {
  Problem problem;
  RaggedLengths lengths;
};
// The problems the options describe: one per --seqlen (the only length, or each of several), with
// seqlen_k from --seqlen-k when given; with --varlen LEN,... (keys --varlen-k, else the same), one
// ragged batch of those lengths; with --varlen-random N,SEED, per --seqlen one of N lengths drawn
// in 1..seqlen. Each size option is checked by its name against its limit ("--seqlen must be
// between 1 and 16777216, got -5"), then as a call's sizes are (Problem::of_shape).
llvm::Expected<std::vector<OptionProblem>> problems_from_options(const ProblemDefaults& defaults);

// The ragged-batch options as bench's sweep takes them (it has its own lengths, --seqlens): the
// explicit lengths of --varlen/--varlen-k, or --varlen-random's count and seed; neither: dense.
struct RaggedOptions {
  RaggedLengths lengths;               // --varlen (and --varlen-k)
  std::optional<RandomLengths> random;  // --varlen-random
  bool ragged() const { return !lengths.empty() || random.has_value(); }
};
llvm::Expected<RaggedOptions> ragged_options();

// --budget-ms and --max-candidates, as tuning options; an error naming the option when one is
// negative (or the budget is not a finite number up to an hour).
llvm::Expected<tuner::TuneOptions> tune_options_from_options();
// --iterations, or `fallback`; an error unless in 1..1000000.
llvm::Expected<int> iterations_from_options(int fallback);
// --max-input-bytes, or `fallback` (support/untrusted_input.h: kMaxManifestBytes, kMaxImportBytes).
llvm::Expected<uint64_t> max_input_bytes_from_options(uint64_t fallback);

// What a command does with the cache: a command that only reads it must not create one.
enum class CacheUse { read_existing, read_write };
// The cache --cache names, else the one at the default location; an error when neither opens, or
// for read_existing, when there is no cache there ("no tuning cache at PATH").
llvm::Expected<std::unique_ptr<cache::TuningCache>> cache_from_options(CacheUse use = CacheUse::read_write);

// The fleet's remote tier: --remote URL, else $FLASHJIT_REMOTE_CACHE, with the secrets and the
// rest from the environment (RemoteCacheOptions). Null when neither names one, unless `required`
// (then an error saying how to give it). An error for a malformed URL or an unreadable secret file,
// never holding the password.
RemoteCacheOptions remote_options_from_options();
llvm::Expected<std::unique_ptr<cache::RemoteCache>> remote_from_options(bool required);

}  // namespace flashjit::tools
