#include "problem/score_mod_values.h"

#include <cmath>

#include <llvm/Support/FormatVariadic.h>

#include "support/error.h"

namespace flashjit {

ScoreModValues score_mod_values_of(const AttentionArgs& a) { return {a.window_left, a.window_right, a.softcap}; }

llvm::Error check_score_mod_values(const ScoreModValues& v) {
  if (v.window_left < -1)
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("window_left {0} is below -1 (-1 means unbounded)", v.window_left));
  if (v.window_right < -1)
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("window_right {0} is below -1 (-1 means unbounded)", v.window_right));
  if (!std::isfinite(v.softcap) || v.softcap < 0.0f)
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("softcap {0} must be a finite number above 0 (0 turns it off)", v.softcap));
  return llvm::Error::success();
}

ProblemFeatures with_score_mod_values(ProblemFeatures features, const ScoreModValues& values) {
  // The rule is features_of's: a call with these values and this mask decides it.
  AttentionArgs call;
  set_features(features, call);
  set_score_mod_values(values, call);
  const ProblemFeatures of_call = features_of(call);
  features.window = features.window || of_call.window;
  features.softcap = features.softcap || of_call.softcap;
  return features;
}

void set_score_mod_values(const ScoreModValues& v, AttentionArgs& a) {
  a.window_left = v.window_left;
  a.window_right = v.window_right;
  a.softcap = v.softcap;
}

}  // namespace flashjit
