#include "tuner/winner_choice.h"

#include <algorithm>
#include <tuple>

#include <llvm/Support/FormatVariadic.h>

namespace flashjit::tuner {

std::vector<size_t> rank_by_median(const std::vector<CandidateReport>& reports, std::vector<size_t> indices) {
  std::sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
    return std::tie(reports[a].timing.median_ms, reports[a].key) <
           std::tie(reports[b].timing.median_ms, reports[b].key);
  });
  return indices;
}

TieBreak pick_among_near_ties(const std::vector<CandidateReport>& reports, const std::vector<size_t>& correct,
                              double tolerance) {
  const size_t fastest = rank_by_median(reports, correct).front();
  const double limit = reports[fastest].timing.median_ms * (1.0 + tolerance);

  std::vector<size_t> tied;
  for (size_t i : correct)
    if (reports[i].timing.median_ms <= limit) tied.push_back(i);
  if (tied.size() == 1) return {fastest, "fastest correct candidate"};

  const size_t chosen = *std::min_element(tied.begin(), tied.end(), [&](size_t a, size_t b) {
    return std::tie(reports[a].registers, reports[a].key) < std::tie(reports[b].registers, reports[b].key);
  });
  const auto same_registers = std::count_if(tied.begin(), tied.end(), [&](size_t i) {
    return reports[i].registers == reports[chosen].registers;
  });
  const char* rule = same_registers > 1 ? "the smallest key among the fewest registers" : "the fewest registers";
  return {chosen, llvm::formatv("{0} candidates within {1:F1}% of the fastest ({2}); chosen by {3} ({4})",
                                tied.size(), tolerance * 100.0, reports[fastest].key, rule,
                                reports[chosen].registers)
                      .str()};
}

}  // namespace flashjit::tuner
