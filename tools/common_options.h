// The options several commands take, each defined once (as llama.cpp's common/arg.cpp defines its
// arguments once for all its programs): the problem (--dtype --head-dim --causal --batch --heads
// --kv-heads --seqlen --seqlen-k), the tuning options (--budget-ms --max-candidates), the number of
// timed calls (--iterations), the tuning cache (--cache) and the size limit of input files
// (--max-input-bytes). A command that takes an option is named
// in its definition; where commands differ it is in the defaults they pass here (emit shows f16).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/tuning_cache.h"
#include "problem/problem.h"
#include "tuner/tuner.h"

namespace flashjit::tools {

// What a command assumes for the problem options not given.
struct ProblemDefaults {
  DType dtype = DType::bf16;
  int head_dim = 128;
  int batch = 1;
  int heads = 16;
  int seqlen = 1024;
};

// --dtype --head-dim --causal, checked as a problem's features are ("head_dim 264 is larger than
// the supported maximum of 256").
llvm::Expected<ProblemFeatures> features_from_options(const ProblemDefaults& defaults);
// The problems the options describe: one per --seqlen (the only length, or each of several), with
// seqlen_k from --seqlen-k when given. Each size option is checked by its name against its limit
// ("--seqlen must be between 1 and 16777216, got -5"), then as a call's sizes are (Problem::of_shape).
llvm::Expected<std::vector<Problem>> problems_from_options(const ProblemDefaults& defaults);

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

}  // namespace flashjit::tools
