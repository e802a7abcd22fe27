// The deployment manifest: the problems `flashjit warm` pre-tunes (or, cross-compiling, pre-builds)
// before traffic arrives. JSON; every error names the field and its position.
//
//   { "version": 1,
//     "problems": [ { "dtype": "bf16", "head_dim": 128, "causal": true,
//                     "num_heads": 32, "num_kv_heads": 8, "batch": 4, "seqlen": [1024, 4096] } ] }
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "flashjit/types.h"

namespace flashjit::tuner {

struct ManifestProblem {
  DType dtype = DType::bf16;
  int head_dim = 128;
  MaskKind mask = MaskKind::none;
  int num_heads = 1;
  int num_kv_heads = 1;
  int batch = 1;
  std::vector<int> seqlens;  // each is tuned as seqlen_q = seqlen_k
};

inline constexpr int kManifestVersion = 1;

llvm::Expected<std::vector<ManifestProblem>> parse_manifest(const std::string& json_text);

}  // namespace flashjit::tuner
