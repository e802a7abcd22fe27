#include "helpers/compare.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "flashjit/numeric.h"

namespace flashjit::test {

Tolerance output_tolerance(DType dtype) {
  switch (dtype) {
    case DType::f32: return {1e-5, 1e-5};
    case DType::f16: return {1e-6, 2e-3};
    case DType::bf16: return {1e-6, 1e-2};
  }
  return {0.0, 0.0};
}

testing::AssertionResult matches_reference(const HostProblem& p, const ReferenceOutput& ref, bool check_lse,
                                           double lse_tolerance) {
  const AttentionArgs& a = p.args;
  const Tolerance tol = output_tolerance(p.shape.dtype);
  const double inf = std::numeric_limits<double>::infinity();
  int64_t mismatches = 0;
  std::ostringstream first;
  auto report = [&](const std::string& what) {
    if (mismatches++ < 5) first << "\n  " << what;
  };
  // A row the reference computes as NaN (a NaN among its visible scores) must be NaN throughout,
  // lse included: neither a number nor lse = -inf, which would claim the row saw no key.
  int64_t nan_rows = 0;
  auto check_nan_row = [&](int b, int i, int h, bool with_lse) {
    for (int d = 0; d < a.head_dim; ++d) {
      const double got = output_at(p, b, static_cast<int>(p.q_row0(b)) + i, h, d);
      if (std::isnan(got)) continue;
      std::ostringstream m;
      m << "out[b=" << b << ", s=" << i << ", h=" << h << ", d=" << d << "] = " << got << ", reference NaN";
      report(m.str());
    }
    const double got_lse = p.lse[p.lse_index(b, h, i)];
    if (with_lse && !std::isnan(got_lse)) {
      std::ostringstream m;
      m << "lse[b=" << b << ", h=" << h << ", s=" << i << "] = " << got_lse << ", reference NaN";
      report(m.str());
    }
  };

  int64_t rows = 0;
  for (int b = 0; b < a.batch; ++b) {
    const int seqlen_q = p.seqlen_q_of(b);
    const int row0 = static_cast<int>(p.q_row0(b));
    rows += static_cast<int64_t>(seqlen_q) * a.num_heads;
    for (int i = 0; i < seqlen_q; ++i) {
      for (int h = 0; h < a.num_heads; ++h) {
        const double* ref_row = &ref.out[((static_cast<size_t>(b) * a.seqlen_q + i) * a.num_heads + h) * a.head_dim];
        const size_t lse_index = (static_cast<size_t>(b) * a.num_heads + h) * a.seqlen_q + i;
        if (std::isnan(ref.lse[lse_index])) {
          nan_rows += 1;
          check_nan_row(b, i, h, check_lse);
          continue;
        }
        const bool masked_row = ref.lse[lse_index] == -inf;
        double row_scale = 0.0;
        for (int d = 0; d < a.head_dim; ++d) row_scale = std::max(row_scale, std::abs(ref_row[d]));
        const double allowed = masked_row ? 0.0 : tol.abs + tol.rel * row_scale;
        for (int d = 0; d < a.head_dim; ++d) {
          const double got = output_at(p, b, row0 + i, h, d);
          if (!(std::abs(got - ref_row[d]) <= allowed)) {
            std::ostringstream m;
            m << "out[b=" << b << ", s=" << i << ", h=" << h << ", d=" << d << "] = " << got << ", reference "
              << ref_row[d] << ", allowed error " << allowed;
            report(m.str());
          }
        }
        if (!check_lse) continue;
        const double got_lse = p.lse[p.lse_index(b, h, i)];
        const double want_lse = ref.lse[lse_index];
        const bool lse_ok = masked_row ? got_lse == -inf
                                       : std::abs(got_lse - want_lse) <= lse_tolerance * (1.0 + std::abs(want_lse));
        if (!lse_ok) {
          std::ostringstream m;
          m << "lse[b=" << b << ", h=" << h << ", s=" << i << "] = " << got_lse << ", reference " << want_lse;
          report(m.str());
        }
      }
    }
  }

  // NaN rows are NaN like the poison: the count leaves them out (the lse shows they were written).
  const int64_t out_elements = (rows - nan_rows) * a.head_dim;
  const int64_t buffer_elements = static_cast<int64_t>(p.out.size()) / dtype_size(p.shape.dtype);
  int64_t written = 0;
  for (int64_t e = 0; e < buffer_elements; ++e) written += !std::isnan(load_as_float(p.out.data(), p.shape.dtype, e));
  if (written != out_elements) {
    std::ostringstream m;
    m << written << " non-NaN values in the output buffer, expected exactly " << out_elements;
    report(m.str());
  }

  if (mismatches == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << mismatches << " mismatches in " << p.shape.name() << ", first:" << first.str();
}

testing::AssertionResult output_is_poisoned(const HostProblem& p) {
  const int64_t elements = static_cast<int64_t>(p.out.size()) / dtype_size(p.shape.dtype);
  int64_t written = 0;
  int64_t first = -1;
  for (int64_t e = 0; e < elements; ++e) {
    if (std::isnan(load_as_float(p.out.data(), p.shape.dtype, e))) continue;
    if (written++ == 0) first = e;
  }
  if (written == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << written << " of " << elements << " output values of " << p.shape.name()
                                     << " were written, first at element " << first << " ("
                                     << load_as_float(p.out.data(), p.shape.dtype, first) << ")";
}

testing::AssertionResult lse_is_poisoned(const HostProblem& p) {
  for (size_t i = 0; i < p.lse.size(); ++i)
    if (p.lse[i] != kLsePoison)
      return testing::AssertionFailure() << "lse[" << i << "] of " << p.shape.name() << " was written: " << p.lse[i];
  return testing::AssertionSuccess();
}

ReferenceOutput reference_from(const HostProblem& p) {
  const AttentionArgs& a = p.args;
  ReferenceOutput r;
  r.out.assign(static_cast<size_t>(a.batch) * a.seqlen_q * a.num_heads * a.head_dim, 0.0);
  r.lse.assign(static_cast<size_t>(a.batch) * a.num_heads * a.seqlen_q, 0.0);
  for (int b = 0; b < a.batch; ++b)
    for (int i = 0; i < p.seqlen_q_of(b); ++i)
      for (int h = 0; h < a.num_heads; ++h) {
        for (int d = 0; d < a.head_dim; ++d)
          r.out[((static_cast<size_t>(b) * a.seqlen_q + i) * a.num_heads + h) * a.head_dim + d] =
              output_at(p, b, static_cast<int>(p.q_row0(b)) + i, h, d);
        r.lse[(static_cast<size_t>(b) * a.num_heads + h) * a.seqlen_q + i] = p.lse[p.lse_index(b, h, i)];
      }
  return r;
}

}  // namespace flashjit::test
