#include "runtime/output_check.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "flashjit/numeric.h"

namespace flashjit {

double output_tolerance(DType dtype) {
  switch (dtype) {
    case DType::f32: return 1e-4;
    case DType::f16: return 4e-3;
    case DType::bf16: return 2e-2;
  }
  return 0.0;
}

double max_output_error(const std::vector<uint8_t>& out, const std::vector<uint8_t>& reference, DType dtype) {
  double worst = 0.0;
  const int64_t n = static_cast<int64_t>(std::min(out.size(), reference.size())) / dtype_size(dtype);
  for (int64_t i = 0; i < n; ++i) {
    const double o = load_as_float(out.data(), dtype, i);
    const double r = load_as_float(reference.data(), dtype, i);
    const double e = std::isfinite(o) ? std::abs(o - r) / std::max(1.0, std::abs(r))
                                      : std::numeric_limits<double>::infinity();
    worst = std::max(worst, e);
  }
  return worst;
}

}  // namespace flashjit
