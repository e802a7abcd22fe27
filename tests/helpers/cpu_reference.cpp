#include "helpers/cpu_reference.h"

#include <gtest/gtest.h>

#include "runtime/cpu/cpu_attention.h"
#include "problem/validate.h"
#include "helpers/compare.h"

namespace flashjit::test {

ReferenceOutput cpu_reference(const HostProblem& p) {
  HostProblem copy = p;
  copy.bind();
  copy.args.lse = copy.lse.data();
  Result<AttentionArgs> normalized = validate_args(copy.args);
  EXPECT_TRUE(normalized.ok()) << normalized.status().to_string();
  if (!normalized) return {};
  // fp32 products: the kernels are checked against the reference's semantics, not avx512_bf16's
  // rounded probabilities.
  static const cpu::CpuAttention cpu(0, cpu::best_fp32_cpu_isa());
  cpu.forward(*normalized);
  return reference_from(copy);
}

}  // namespace flashjit::test
