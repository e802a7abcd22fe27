// How the tuner ranks timed candidates and picks among near-ties. Pure functions of the reports,
// so the same timings always give the same ranking and the same winner.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tuner/tuner.h"

namespace flashjit::tuner {

// `indices` (into `reports`) sorted by median, fastest first; equal medians by canonical key.
std::vector<size_t> rank_by_median(const std::vector<CandidateReport>& reports, std::vector<size_t> indices);

struct TieBreak {
  size_t chosen = 0;   // index into reports
  std::string reason;  // why this one, for the winner's detail
};

// Among `correct` (non-empty indices into `reports`): every candidate whose median is within
// `tolerance` of the fastest is a tie, and the tie goes to the fewest registers, then the smallest
// key. Noise that reorders candidates inside the tolerance therefore does not change the choice.
TieBreak pick_among_near_ties(const std::vector<CandidateReport>& reports, const std::vector<size_t>& correct,
                              double tolerance);

}  // namespace flashjit::tuner
