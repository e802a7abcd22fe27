// ProblemFeatures: what a generated kernel is specialized on from the problem it serves. A
// Problem has them, a KernelSpec carries them, and everything that depends on them (the kernel
// and problem keys, a stored spec's JSON, the generated shell's traits) reads them from here, so
// a new feature (a score modifier, a layout) is one field and its lines in problem_features.cpp.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>
#include <nlohmann/json_fwd.hpp>

#include "flashjit/types.h"

namespace flashjit {

struct ProblemFeatures {
  DType dtype = DType::f16;
  int head_dim = 128;
  MaskKind mask = MaskKind::none;
  // Issue 14's specializations: a kernel compiled with one reads its ScoreModParams; without any it
  // takes none and is the dense kernel of before.
  bool ragged = false;   // cu_seqlens_q/k
  bool window = false;   // a window bound beyond what the mask gives (window_left, or window_right without causal)
  bool softcap = false;  // softcap > 0
  bool alibi = false;    // alibi_slopes
  // Issue 15's KV cache: each sequence's keys by seqused_k, in pages (block_table), with new keys
  // appended first (k_new, v_new).
  bool kv_cache = false;
  bool paged = false;
  bool append = false;

  bool any_modifier() const { return ragged || window || softcap || alibi || kv_cache || paged || append; }

  bool operator==(const ProblemFeatures& other) const;
  bool operator!=(const ProblemFeatures& other) const { return !(*this == other); }
  bool operator<(const ProblemFeatures& other) const;
};

// The features of a call (q's dtype stands for all tensors'; validate_args checks they agree), and
// the reverse: the fields of `args` that carry them.
ProblemFeatures features_of(const AttentionArgs& args);
void set_features(const ProblemFeatures& features, AttentionArgs& args);

// "bf16_d128": the element type and head dim, which size every tile.
std::string shape_key(const ProblemFeatures& features);
// "causal", or "none" when nothing modifies the scores, then "_window", "_softcap", "_alibi",
// "_varlen", "_kvcache", "_paged" and "_append" for the specializations a kernel has: what changes the kernel's arithmetic. A dense
// kernel's key is what it was before those existed.
std::string modifier_key(const ProblemFeatures& features);

// One static constexpr member of the generated shell's traits: {"bool", "kCausal", "true"}.
struct KernelTrait {
  std::string type;
  std::string name;
  std::string value;
};
// The traits for the score modifiers, which the templates read. (The element type and head dim are
// emitted by the generator, which names the device types.)
std::vector<KernelTrait> modifier_traits(const ProblemFeatures& features);

// The features as fields of a stored spec's JSON object ("dtype", "head_dim", "mask", and "ragged",
// "window", "softcap", "alibi" only when true, so a dense spec reads as before), and read back with
// every field checked; an error names the field: "field 'mask': expected none or causal".
void write_features(const ProblemFeatures& features, nlohmann::json& object);
llvm::Expected<ProblemFeatures> read_features(const nlohmann::json& object);

}  // namespace flashjit
