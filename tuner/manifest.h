// The deployment manifest: the problems `flashjit warm` pre-tunes (or, cross-compiling, pre-builds)
// before traffic arrives. JSON; every error names the field and its position.
//
//   { "version": 1,
//     "problems": [ { "dtype": "bf16", "head_dim": 128, "causal": true,
//                     "num_heads": 32, "num_kv_heads": 8, "batch": 4, "seqlen": [1024, 4096] },
//                   { "dtype": "bf16", "head_dim": 128, "causal": true, "window": [4096, 0],
//                     "softcap": 50, "alibi": true, "varlen": true, "seqlen": 8192 } ] }
//
// Issue 14's optional fields: "window" [left, right] (-1 unbounded), "softcap" (above 0), "alibi"
// and "varlen" (true: a ragged batch of `batch` sequences, `seqlen` the longest; the tuner times
// `batch` sequences of that length). Each problem with any of them is tuned and cached under its
// own key.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "problem/problem.h"

namespace flashjit::tuner {

inline constexpr int kManifestVersion = 1;

// One Problem per listed length (seqlen_q = seqlen_k), in the manifest's order. num_kv_heads
// defaults to num_heads, batch and num_heads to 1, causal, alibi and varlen to false, no window
// and no softcap.
llvm::Expected<std::vector<Problem>> parse_manifest(const std::string& json_text);

}  // namespace flashjit::tuner
