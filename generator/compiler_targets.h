// What the NVRTC at hand can compile for, and the choice of a target for a device.
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

namespace flashjit::gen {

struct CompilerTargets {
  int nvrtc_major = 0;
  int nvrtc_minor = 0;
  std::vector<int> archs;  // as nvrtcGetSupportedArchs: 75, 80, ...
  // Which NVRTC these are the targets of, and why it compiles for the GPU at hand rather than the
  // others found: "NVRTC 12.9 (PATH); passed over: NVRTC 13.0 targets sm_75..sm_121 only, not
  // sm_61 (PATH)". The selector's Selection::compiled_by; empty for targets not chosen by the loader.
  std::string choice;

  bool supports(int arch) const;
  std::string version() const;  // "13.0"
  std::string range() const;    // "sm_75..sm_121"
};

// The device's own sm_XY when NVRTC can target it; otherwise an error naming the device arch, the
// NVRTC version and its range, and what would work.
llvm::Expected<int> choose_target(int compute_capability, const CompilerTargets& targets);

}  // namespace flashjit::gen
