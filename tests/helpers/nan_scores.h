// Problems whose scores hold NaNs, for checking that NaN propagates to a row's output and lse
// (never the lse = -inf of a row that sees no key) on every variant, the CPU backend and the
// references.
#pragma once

#include "helpers/test_problem.h"

namespace flashjit::test {

// The query rows of a NaN-score problem, by what they must come out as (in batch 0, head 0).
struct NanScoreRows {
  int masked_nan_query = -1;  // a NaN query row that sees no key: zeros, lse -inf (-1: none)
  int nan_query = -1;         // a NaN query row that sees keys: every score NaN
  int first_nan_key_row = 0;  // this row and every later one see the NaN key: one NaN score each
};

// make_problem(shape) with a NaN in element 0 of two q rows of head 0 and of one key of KV head 0
// (so of every query head of its group), placed as NanScoreRows says. `shape` must be causal with
// seqlen_q > seqlen_k >= 8, so that every kind of row exists: rows that see no key (one of them a
// NaN row), a NaN row that sees half the keys, and rows before and after the NaN key.
HostProblem make_nan_score_problem(const ProblemShape& shape, NanScoreRows* rows);

}  // namespace flashjit::test
