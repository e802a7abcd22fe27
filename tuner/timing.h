// Private helpers around Timing: the "never timed" value and the sanity check of raw samples.
#pragma once

#include <string>
#include <vector>

#include "tuner/tuner.h"

namespace flashjit::tuner {

// A timing for a candidate that was never timed: +inf median so it sorts after every real one.
Timing untimed();

// Why `samples` cannot be summarized (none, or a negative or non-finite value); empty when fine.
// Checked before sorting because a NaN breaks the ordering that the quantiles rely on.
std::string samples_problem(const std::vector<double>& samples);

}  // namespace flashjit::tuner
