// The options several commands take, each defined once (as llama.cpp's common/arg.cpp defines its
// arguments once for all its programs): the problem (--dtype --head-dim --causal --batch --heads
// --kv-heads --seqlen --seqlen-k), the tuning options (--budget-ms --max-candidates), the number of
// timed calls (--iterations) and the tuning cache (--cache). A command that takes an option is named
// in its definition; where commands differ it is in the defaults they pass here (emit shows f16).
#pragma once

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

// --dtype --head-dim --causal, checked as a problem's features are.
llvm::Expected<ProblemFeatures> features_from_options(const ProblemDefaults& defaults);
// The problems the options describe: one per --seqlen (the only length, or each of several), with
// seqlen_k from --seqlen-k when given; checked as a call's sizes are (Problem::of_shape).
llvm::Expected<std::vector<Problem>> problems_from_options(const ProblemDefaults& defaults);

// --budget-ms and --max-candidates, as tuning options.
tuner::TuneOptions tune_options_from_options();
// --iterations, or `fallback`; an error unless at least 1.
llvm::Expected<int> iterations_from_options(int fallback);

// The cache --cache names, else the one at the default location; an error when neither opens.
llvm::Expected<std::unique_ptr<cache::TuningCache>> cache_from_options();

}  // namespace flashjit::tools
