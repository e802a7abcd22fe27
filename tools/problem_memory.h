// The memory `flashjit run` needs for a problem's tensors, counted before anything is allocated:
// a size the options allow (a batch of 65535 at 16M tokens) can need more bytes than any machine
// has, or than 64 bits can count, and allocating it would abort the process.
#pragma once

#include <cstdint>
#include <optional>

#include <llvm/Support/Error.h>

#include "problem/problem.h"

namespace flashjit::tools {

// Bytes of one contiguous tensor of each kind; nullopt when a product overflows 64 bits.
struct TensorBytes {
  uint64_t q = 0;
  uint64_t k = 0;  // v is the same size
  uint64_t out = 0;
};
std::optional<TensorBytes> tensor_bytes(const Problem& problem);
// The same for tensors of these many rows over all batch entries (a ragged batch's packed tokens).
std::optional<TensorBytes> tensor_bytes(const Problem& problem, int64_t q_rows, int64_t k_rows);

// q + k + v + `out_copies` outputs; nullopt on overflow.
std::optional<uint64_t> bytes_needed(const TensorBytes& bytes, uint64_t out_copies);

// This machine's physical memory; 0 when it cannot be told (then nothing is refused for it).
uint64_t physical_memory_bytes();

// An invalid_argument error unless `needed` bytes (nullopt: more than 64 bits count) fit in
// `available` bytes of `where` ("host memory", "GPU memory"); available 0 means unknown.
llvm::Error check_fits(const std::optional<uint64_t>& needed, uint64_t available, const char* where);

}  // namespace flashjit::tools
