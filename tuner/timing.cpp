// Median and quantiles of timing samples. Quantiles rather than the mean: a stray slow run (a
// clock change, another process) moves the mean but barely moves the median.
#include "tuner/timing.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::tuner {
namespace {

// Quantile `q` of sorted, non-empty samples, interpolating linearly between neighbours.
double quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

}  // namespace

Timing summarize(std::vector<double> samples) {
  Timing timing;
  if (samples.empty()) return timing;
  std::sort(samples.begin(), samples.end());
  timing.median_ms = quantile(samples, 0.5);
  timing.p20_ms = quantile(samples, 0.2);
  timing.p80_ms = quantile(samples, 0.8);
  timing.samples = static_cast<int>(samples.size());
  return timing;
}

Timing untimed() {
  Timing timing;
  timing.median_ms = std::numeric_limits<double>::infinity();
  timing.p20_ms = timing.median_ms;
  timing.p80_ms = timing.median_ms;
  return timing;
}

std::string samples_problem(const std::vector<double>& samples) {
  if (samples.empty()) return "timing returned no samples";
  for (double sample : samples)
    if (!std::isfinite(sample) || sample < 0.0)
      return llvm::formatv("timing returned an invalid sample {0} ms", sample).str();
  return {};
}

}  // namespace flashjit::tuner
