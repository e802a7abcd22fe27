// The CPU backend: attention forward on host memory, for machines without a usable GPU and as a
// second, independent implementation to check the kernels against. Same semantics as the kernels
// (types.h): fp32 softmax statistics and accumulation whatever the storage dtype.
#pragma once

#include <cstdint>
#include <memory>

#include <llvm/ADT/STLFunctionalExtras.h>

#include "flashjit/types.h"
#include "runtime/cpu/cpu_isa.h"

namespace llvm {
class ThreadPool;
}

namespace flashjit::cpu {

struct BlockKernels;

class CpuAttention {
 public:
  // `threads` workers in total, the calling thread included; 0 (or less) means one per hardware
  // thread. `isa` picks the block kernels; the caller makes sure the CPU runs it (resolve_cpu_isa).
  explicit CpuAttention(int threads, CpuIsa isa = best_cpu_isa());
  ~CpuAttention();
  CpuAttention(const CpuAttention&) = delete;
  CpuAttention& operator=(const CpuAttention&) = delete;

  int threads() const;
  CpuIsa isa() const;

  // `args` is already validated and normalized by flashjit::validate_args (strides and
  // softmax_scale filled in); pointers are host pointers. Computes out (and lse when
  // args.lse != nullptr). Safe to call from several threads at once.
  void forward(const AttentionArgs& args) const;

 private:
  // Blocks of 64 query rows, several per unit of work; and decode steps (8 rows or fewer per
  // sequence), one unit per sequence over all of its heads.
  void forward_prefill(const AttentionArgs& args) const;
  void forward_decode(const AttentionArgs& args) const;
  // Runs `work` on the caller and on up to min(threads - 1, items - 1) helpers, and waits for them.
  void run_items(int64_t items, llvm::function_ref<void()> work) const;

  int threads_;
  const BlockKernels* kernels_;
  // threads_ - 1 helpers: the caller works too. Null when threads_ == 1.
  std::unique_ptr<llvm::ThreadPool> helpers_;
};

}  // namespace flashjit::cpu
