#include "tools/problem_memory.h"

#include <unistd.h>

#include <llvm/Support/FormatVariadic.h>

#include "support/error.h"

namespace flashjit::tools {
namespace {

std::optional<uint64_t> product(std::initializer_list<uint64_t> factors) {
  uint64_t result = 1;
  for (uint64_t factor : factors)
    if (__builtin_mul_overflow(result, factor, &result)) return std::nullopt;
  return result;
}

}  // namespace

std::optional<TensorBytes> tensor_bytes(const Problem& problem) {
  const ProblemShape& s = problem.shape();
  auto q_rows = product({uint64_t(s.batch), uint64_t(s.seqlen_q)});
  auto k_rows = product({uint64_t(s.batch), uint64_t(s.seqlen_k)});
  if (!q_rows || !k_rows) return std::nullopt;
  return tensor_bytes(problem, int64_t(*q_rows), int64_t(*k_rows));
}

std::optional<TensorBytes> tensor_bytes(const Problem& problem, int64_t q_rows, int64_t k_rows) {
  const ProblemShape& s = problem.shape();
  const uint64_t element = static_cast<uint64_t>(dtype_size(problem.dtype()));
  const uint64_t head_dim = static_cast<uint64_t>(problem.head_dim());
  auto q = product({uint64_t(q_rows), uint64_t(s.num_heads), head_dim, element});
  auto k = product({uint64_t(k_rows), uint64_t(s.num_kv_heads), head_dim, element});
  if (!q || !k) return std::nullopt;
  return TensorBytes{*q, *k, *q};
}

std::optional<uint64_t> bytes_needed(const TensorBytes& bytes, uint64_t out_copies) {
  auto outs = product({bytes.out, out_copies});
  if (!outs) return std::nullopt;
  uint64_t total = bytes.q;
  for (uint64_t part : {bytes.k, bytes.k, *outs})
    if (__builtin_add_overflow(total, part, &total)) return std::nullopt;
  return total;
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return product({uint64_t(pages), uint64_t(page_size)}).value_or(0);
}

llvm::Error check_fits(const std::optional<uint64_t>& needed, uint64_t available, const char* where) {
  if (!needed)
    return make_error(ErrorCode::invalid_argument,
                      llvm::formatv("the problem's tensors need more than {0} bytes of {1}: too large to run",
                                    UINT64_MAX, where));
  if (available == 0 || *needed <= available) return llvm::Error::success();
  return make_error(ErrorCode::invalid_argument,
                    llvm::formatv("the problem's tensors need {0} bytes of {1}, more than the {2} bytes here",
                                  *needed, where, available));
}

}  // namespace flashjit::tools
