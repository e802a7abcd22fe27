// The values of a problem's score modifiers that a kernel reads at run time: a sliding window's
// bounds and the softcap. ProblemFeatures say only whether a kernel is specialized on them; a
// Problem keeps the values too, so that the runs FlashJIT makes itself (the tuner's timing and
// correctness runs, the CLI's run and bench) compute the call's real band and cap, not a default.
#pragma once

#include <llvm/Support/Error.h>

#include "flashjit/types.h"
#include "problem/problem_features.h"

namespace flashjit {

struct ScoreModValues {
  int window_left = -1;   // -1: unbounded
  int window_right = -1;  // -1: unbounded
  float softcap = 0.0f;   // 0: off

  bool operator==(const ScoreModValues& other) const {
    return window_left == other.window_left && window_right == other.window_right && softcap == other.softcap;
  }
  bool operator!=(const ScoreModValues& other) const { return !(*this == other); }
};

// The softcap a problem made from features alone (a stored key, doctor, emit) times and checks its
// softcap kernel with: Gemma 2's attention cap. A softcap kernel at 0 would compute no softmax at all.
inline constexpr float kNominalSoftcap = 50.0f;

// A call's values (of arguments validate_args accepted).
ScoreModValues score_mod_values_of(const AttentionArgs& args);

// An invalid_argument error unless the values are what validate_args accepts, with its messages:
// "window_left -3 is below -1 (-1 means unbounded)".
llvm::Error check_score_mod_values(const ScoreModValues& values);

// `features` with the window and softcap specializations these values need added, decided as a
// call's are (features_of): a window is a left bound, or a right bound without the causal mask.
// (One the features have already stays: a window kernel computes unbounded values unbounded.)
ProblemFeatures with_score_mod_values(ProblemFeatures features, const ScoreModValues& values);

// Writes the values into `args` (window_left/right, softcap).
void set_score_mod_values(const ScoreModValues& values, AttentionArgs& args);

}  // namespace flashjit
