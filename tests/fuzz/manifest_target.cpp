// The manifest target (fuzz_targets.h).
#include "fuzz/fuzz_targets.h"

#include <string>

#include "problem/problem.h"
#include "tuner/manifest.h"

namespace flashjit::fuzz {
namespace {

constexpr int kMaxSeqlen = 1 << 24;  // the manifest's limit on a length

// What is wrong with a problem the manifest produced; empty when nothing is.
std::string problem_defect(const Problem& problem) {
  const ProblemFeatures& f = problem.features();
  if (f.dtype != DType::f32 && f.dtype != DType::f16 && f.dtype != DType::bf16)
    return "dtype " + std::to_string(static_cast<int>(f.dtype)) + " is not a DType";
  if (f.mask != MaskKind::none && f.mask != MaskKind::causal)
    return "mask " + std::to_string(static_cast<int>(f.mask)) + " is not a MaskKind";
  if (f.head_dim < 8 || f.head_dim > 256 || f.head_dim % 8 != 0)
    return "head_dim " + std::to_string(f.head_dim) + " is not a multiple of 8 in 8..256";
  const ProblemShape& s = problem.shape();
  if (s.batch < 1 || s.num_heads < 1 || s.num_kv_heads < 1 || s.num_heads % s.num_kv_heads != 0)
    return "shape batch " + std::to_string(s.batch) + ", heads " + std::to_string(s.num_heads) + "/" +
           std::to_string(s.num_kv_heads) + " is not a valid one";
  // The keys are a listed length; the queries too, or an entry's "seqlen_q" (a decode step's, which
  // GQA packing may turn into the group's rows).
  if (s.seqlen_q < 1 || s.seqlen_q > kMaxSeqlen || s.seqlen_k < 1 || s.seqlen_k > kMaxSeqlen)
    return "seqlen " + std::to_string(s.seqlen_q) + "/" + std::to_string(s.seqlen_k) + " is not a listed length";
  // Issue 15's KV cache: a page size exactly when paged (a power of two), appended keys exactly when
  // appending, never more than the keys.
  if (f.paged != (s.page_size > 0) || (s.page_size & (s.page_size - 1)) != 0 || (f.paged && !f.kv_cache))
    return "page size " + std::to_string(s.page_size) + " does not match the paged feature";
  if (f.append != (s.seqlen_new > 0) || s.seqlen_new > s.seqlen_k || (f.append && !f.kv_cache))
    return "seqlen_new " + std::to_string(s.seqlen_new) + " does not match the append feature";
  // The key the cache will store must read back as itself.
  const ProblemKey key = problem.key();
  auto parsed = parse_problem_key(key.str());
  if (!parsed) return "its key " + key.str() + " does not read back: " + llvm::toString(parsed.takeError());
  if (*parsed != key) return "its key " + key.str() + " reads back as " + parsed->str();
  return {};
}

}  // namespace

Verdict manifest_target(llvm::StringRef bytes) {
  auto problems = tuner::parse_manifest(bytes.str());
  if (!problems) return rejection(problems.takeError(), bytes, "manifest: ", ErrorCode::invalid_argument);
  if (problems->empty()) return Verdict::violation("accepted a manifest with no problem");
  for (size_t i = 0; i < problems->size(); ++i)
    if (std::string defect = problem_defect((*problems)[i]); !defect.empty())
      return Verdict::violation("accepted problem " + std::to_string(i) + ": " + defect);
  return Verdict::accepted();
}

}  // namespace flashjit::fuzz
