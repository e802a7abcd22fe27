#include "generator/device_description.h"

namespace flashjit::gen {

const char* arch_family_name(ArchFamily family) {
  switch (family) {
    case ArchFamily::pre_maxwell: return "pre-Maxwell";
    case ArchFamily::maxwell: return "Maxwell";
    case ArchFamily::pascal: return "Pascal";
    case ArchFamily::volta: return "Volta";
    case ArchFamily::turing: return "Turing";
    case ArchFamily::ampere: return "Ampere";
    case ArchFamily::ada: return "Ada Lovelace";
    case ArchFamily::hopper: return "Hopper";
    case ArchFamily::blackwell: return "Blackwell";
    case ArchFamily::newer: return "newer than Blackwell";
  }
  return "unknown";
}

const char* tensor_core_description(TensorCoreGen gen) {
  switch (gen) {
    case TensorCoreGen::none: return "none";
    case TensorCoreGen::volta_hmma: return "1st generation (Volta, mma.sync m8n8k4, f16)";
    case TensorCoreGen::turing_mma: return "2nd generation (Turing, mma.sync m16n8k8, f16)";
    case TensorCoreGen::ampere_mma: return "3rd generation (Ampere, mma.sync m16n8k16, f16/bf16)";
    case TensorCoreGen::ada_mma: return "4th generation (Ada, mma.sync m16n8k16, f16/bf16/fp8)";
    case TensorCoreGen::hopper_wgmma: return "4th generation (Hopper, wgmma + TMA, f16/bf16/fp8)";
    case TensorCoreGen::blackwell_tcgen05: return "5th generation (Blackwell, tcgen05; mma.sync m16n8k16 available)";
    case TensorCoreGen::blackwell_mma: return "5th generation (consumer Blackwell, mma.sync m16n8k16; no tcgen05)";
  }
  return "unknown";
}

namespace {
constexpr int KiB = 1024;
}

ArchTraits arch_traits(int cc) {
  ArchTraits t;
  // Shared memory limits from the CUDA programming guide's table of compute capabilities: the
  // per-block opt-in maximum is the per-SM capacity less the 1 KB the system reserves.
  if (cc < 50) return t;
  if (cc < 60) {
    t.family = ArchFamily::maxwell;
    t.smem_per_block_optin = 48 * KiB;
    t.smem_per_sm = (cc == 52) ? 96 * KiB : 64 * KiB;
    return t;
  }
  if (cc < 70) {
    t.family = ArchFamily::pascal;
    t.smem_per_block_optin = 48 * KiB;
    t.smem_per_sm = (cc == 61) ? 96 * KiB : 64 * KiB;  // 6.0 and 6.2 (Tegra X2) have 64 KB
    return t;
  }
  if (cc < 75) {
    t.family = ArchFamily::volta;
    t.tensor_cores = TensorCoreGen::volta_hmma;
    t.f16_tensor_cores = true;
    t.smem_per_block_optin = 96 * KiB;
    t.smem_per_sm = 96 * KiB;
    return t;
  }
  if (cc < 80) {
    t.family = ArchFamily::turing;
    t.tensor_cores = TensorCoreGen::turing_mma;
    t.f16_tensor_cores = true;
    t.smem_per_block_optin = 64 * KiB;
    t.smem_per_sm = 64 * KiB;
    return t;
  }
  t.f16_tensor_cores = true;
  t.bf16_tensor_cores = true;
  if (cc < 89) {
    t.family = ArchFamily::ampere;
    t.tensor_cores = TensorCoreGen::ampere_mma;
    const bool big = (cc == 80 || cc == 87);
    t.smem_per_block_optin = big ? 163 * KiB : 99 * KiB;
    t.smem_per_sm = big ? 164 * KiB : 100 * KiB;
    return t;
  }
  if (cc < 90) {
    t.family = ArchFamily::ada;
    t.tensor_cores = TensorCoreGen::ada_mma;
    t.smem_per_block_optin = 99 * KiB;
    t.smem_per_sm = 100 * KiB;
    return t;
  }
  if (cc < 100) {
    t.family = ArchFamily::hopper;
    t.tensor_cores = TensorCoreGen::hopper_wgmma;
    t.smem_per_block_optin = 227 * KiB;
    t.smem_per_sm = 228 * KiB;
    return t;
  }
  if (cc >= 130) {
    // Unknown to this build: assume only what every newer part has kept so far.
    t.family = ArchFamily::newer;
    t.smem_per_block_optin = 99 * KiB;
    t.smem_per_sm = 100 * KiB;
    return t;
  }
  t.family = ArchFamily::blackwell;
  // Data-center Blackwell (10.x, 11.x) has tcgen05 and Hopper-sized shared memory; consumer parts
  // (12.x) have neither.
  const bool datacenter = cc < 120;
  t.tensor_cores = datacenter ? TensorCoreGen::blackwell_tcgen05 : TensorCoreGen::blackwell_mma;
  t.smem_per_block_optin = datacenter ? 227 * KiB : 99 * KiB;
  t.smem_per_sm = datacenter ? 228 * KiB : 100 * KiB;
  return t;
}

DeviceDescription DeviceDescription::for_arch(int cc) {
  DeviceDescription d;
  d.name = "nominal sm_" + std::to_string(cc);
  d.cc_major = cc / 10;
  d.cc_minor = cc % 10;
  const ArchTraits t = arch_traits(cc);
  d.smem_per_block_optin = t.smem_per_block_optin;
  d.smem_per_sm = t.smem_per_sm;
  d.regs_per_block = (cc == 53 || cc == 62) ? 32768 : 65536;  // the Tegra parts have half
  d.nominal = true;
  return d;
}

}  // namespace flashjit::gen
