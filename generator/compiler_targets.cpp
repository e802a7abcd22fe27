#include "generator/compiler_targets.h"

#include <algorithm>

#include <llvm/Support/FormatVariadic.h>

#include "generator/device_description.h"
#include "support/error.h"

namespace flashjit::gen {

bool CompilerTargets::supports(int arch) const {
  return std::find(archs.begin(), archs.end(), arch) != archs.end();
}

std::string CompilerTargets::version() const {
  return std::to_string(nvrtc_major) + "." + std::to_string(nvrtc_minor);
}

std::string CompilerTargets::range() const {
  if (archs.empty()) return "no targets";
  auto [lo, hi] = std::minmax_element(archs.begin(), archs.end());
  return "sm_" + std::to_string(*lo) + "..sm_" + std::to_string(*hi);
}

llvm::Expected<int> choose_target(int cc, const CompilerTargets& targets) {
  if (targets.supports(cc)) return cc;
  const char* family = arch_family_name(arch_traits(cc).family);
  std::string advice;
  if (!targets.archs.empty() && cc < *std::min_element(targets.archs.begin(), targets.archs.end()))
    advice = cc >= 50 ? "; an NVRTC from CUDA 12.x (which targets sm_50..sm_90) can compile for it"
                      : "; no current CUDA toolkit supports GPUs older than Maxwell";
  else
    advice = "; a newer CUDA toolkit's NVRTC is needed";
  return make_error(ErrorCode::unsupported,
                    llvm::formatv("the GPU is sm_{0} ({1}) but NVRTC {2} targets {3} only{4}", cc, family,
                                  targets.version(), targets.range(), advice)
                        .str());
}

}  // namespace flashjit::gen
