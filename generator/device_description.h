// What the generator and the selector need to know about a GPU. The CUDA layer fills it from the
// driver; tests and cross-compilation (emit/warm --arch) use the nominal limits of an architecture,
// which is what makes the selector testable for every family on a machine without a GPU.
#pragma once

#include <string>

namespace flashjit::gen {

enum class ArchFamily { pre_maxwell, maxwell, pascal, volta, turing, ampere, ada, hopper, blackwell, newer };
enum class TensorCoreGen { none, volta_hmma, turing_mma, ampere_mma, ada_mma, hopper_wgmma, blackwell_tcgen05, blackwell_mma };

const char* arch_family_name(ArchFamily family);
// e.g. "2nd generation (Turing, mma.sync m16n8k8)"
const char* tensor_core_description(TensorCoreGen gen);

// Facts that follow from the compute capability alone.
struct ArchTraits {
  ArchFamily family = ArchFamily::pre_maxwell;
  TensorCoreGen tensor_cores = TensorCoreGen::none;
  int smem_per_block_optin = 0;  // bytes a block may opt in to
  int smem_per_sm = 0;           // bytes
  bool f16_tensor_cores = false;
  bool bf16_tensor_cores = false;
};

// compute capability as major*10 + minor (e.g. 90 for 9.0)
ArchTraits arch_traits(int compute_capability);

struct DeviceDescription {
  std::string name;
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  int max_threads_per_block = 1024;
  int smem_per_block = 48 * 1024;      // without opt-in
  int smem_per_block_optin = 48 * 1024;
  int smem_per_sm = 64 * 1024;
  int regs_per_block = 65536;
  int regs_per_sm = 65536;
  int l2_bytes = 0;
  long long total_memory_bytes = 0;
  int memory_clock_khz = 0;  // peak memory clock; 0 where unknown (nominal)
  int memory_bus_bits = 0;   // global memory bus width
  int driver_version = 0;              // as cuDriverGetVersion: 13000 = CUDA 13.0; 0 = none
  bool nominal = false;                // true when made from an arch name, not a real device

  int compute_capability() const { return cc_major * 10 + cc_minor; }
  // Peak DRAM bandwidth in bytes per second, as nvidia-smi counts it (two transfers per clock on the
  // bus); 0 when the clock or bus is unknown.
  double peak_memory_bandwidth() const { return 2.0 * memory_clock_khz * 1e3 * (memory_bus_bits / 8.0); }
  ArchTraits traits() const { return arch_traits(compute_capability()); }

  // Nominal limits of an architecture, for compile-only targets and tests.
  static DeviceDescription for_arch(int compute_capability);
};

}  // namespace flashjit::gen
