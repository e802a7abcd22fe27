// flashjit emit: the source, PTX or resource usage of one generated kernel, for any architecture
// NVRTC can target, without a GPU; with a ragged batch or score modifiers (--varlen, --window,
// --softcap, --alibi), the variant's `_modified` kernel specialized on them.
#include <nlohmann/json.hpp>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/raw_ostream.h>

#include "generator/selector.h"
#include "generator/spec_json.h"
#include "generator/variant_rules.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "support/quote.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;

cl::opt<std::string> arch("arch", cl::desc("Target architecture, e.g. sm_90"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init("sm_90"));
// The variants' names from their table, so that a new variant is listed here without an edit.
const std::string variant_help = "Force a variant (" + gen::variant_names_text() + "); default: the selector's choice";
cl::opt<std::string> variant("variant", cl::desc(variant_help), cl::sub(emit_command), cl::cat(flashjit_options));
cl::opt<int> block_m("block-m", cl::desc("Query rows per block (default: the variant's heuristic)"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init(0));
cl::opt<int> block_n("block-n", cl::desc("Keys per K/V tile"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init(0));
cl::opt<int> warps("warps", cl::desc("Warps per block"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init(0));
cl::opt<int> stages("stages", cl::desc("K/V pipeline stages"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init(0));
cl::opt<std::string> what("what", cl::desc("source | ptx | resources | spec"), cl::sub(emit_command), cl::cat(flashjit_options), cl::init("source"));
cl::opt<bool> json("json", cl::desc("Resources as JSON"), cl::sub(emit_command), cl::cat(flashjit_options));

int fail(const std::string& message) {
  llvm::errs() << "flashjit emit: error: " << message << "\n";
  return 1;
}

llvm::Expected<gen::KernelSpec> spec_from_options() {
  auto target = gen::parse_arch(arch);
  if (!target) return target.takeError();
  // f16 unless told: the type every tensor-core generation computes.
  // With --window, --softcap, --alibi or a --varlen option: the variant's `_modified` kernel.
  auto features = features_from_options(ProblemDefaults{DType::f16});
  if (!features) return features.takeError();
  const gen::DeviceDescription device = gen::DeviceDescription::for_arch(target->first);
  auto made = Problem::of_shape(features->features, ProblemShape{}, features->values);
  if (!made) return made.takeError();
  const Problem& problem = *made;

  gen::KernelSpec spec;
  if (variant.empty()) {
    auto selection = gen::select_variant(device, problem, cuda::nvrtc_targets_for_arch(target->first));
    if (!selection) return selection.takeError();
    spec = selection->spec;
  } else {
    auto forced = gen::parse_variant(variant);
    if (!forced) return forced.takeError();
    auto defaults = gen::default_spec(*forced, device, problem);
    if (!defaults) return defaults.takeError();
    spec = *defaults;
  }
  if (target->second) spec.arch_specific = true;
  if (block_m) spec.block_m = block_m;
  if (block_n) spec.block_n = block_n;
  if (warps) spec.warps = warps;
  if (stages) spec.stages = stages;
  if (llvm::Error err = gen::validate_spec(spec, device)) return err;
  return spec;
}

void print_resources(const gen::KernelSpec& spec, const cuda::CompiledKernel& k) {
  const cuda::ResourceUsage& r = k.resources;
  if (json) {
    nlohmann::json j = {{"spec", gen::spec_to_json(spec)},
                        {"symbol", k.lowered_name},
                        {"options", k.options},
                        {"registers", r.registers},
                        {"spill_store_bytes", r.spill_store_bytes},
                        {"spill_load_bytes", r.spill_load_bytes},
                        {"stack_bytes", r.stack_bytes},
                        {"static_shared_bytes", r.shared_bytes},
                        {"dynamic_shared_bytes", gen::shared_memory_bytes(spec)},
                        {"threads_per_block", gen::threads_per_block(spec)},
                        {"ptxas_advisories", r.advisories},
                        {"compile_ms", k.compile_ms}};
    llvm::outs() << j.dump(2) << "\n";
    return;
  }
  llvm::outs() << llvm::formatv("kernel: {0}\n", k.key) << llvm::formatv("target: {0}\n", k.target)
               << llvm::formatv("symbol: {0}\n", k.lowered_name)
               << llvm::formatv("registers: {0}\n", r.registers)
               << llvm::formatv("spill stores: {0} bytes\n", r.spill_store_bytes)
               << llvm::formatv("spill loads: {0} bytes\n", r.spill_load_bytes)
               << llvm::formatv("stack frame: {0} bytes\n", r.stack_bytes)
               << llvm::formatv("static shared memory: {0} bytes\n", r.shared_bytes)
               << llvm::formatv("dynamic shared memory: {0} bytes\n", gen::shared_memory_bytes(spec))
               << llvm::formatv("threads per block: {0}\n", gen::threads_per_block(spec))
               << llvm::formatv("ptxas advisories: {0}\n",
                                r.advisories.empty() ? std::string("none") : llvm::join(r.advisories, "; "))
               << llvm::formatv("compile time: {0:F1} ms\n", k.compile_ms)
               << llvm::formatv("compiled by: NVRTC {0} ({1})\n", k.nvrtc_version, k.nvrtc_path);
}

}  // namespace

int run_emit() {
  if (what != "source" && what != "ptx" && what != "resources" && what != "spec")
    return fail("--what must be source, ptx, resources or spec, not '" + quote_prefix(what) + "'");
  auto spec = spec_from_options();
  if (!spec) return fail(llvm::toString(spec.takeError()));
  if (what == "spec") {
    llvm::outs() << gen::spec_to_json(*spec).dump(2) << "\n";
    return 0;
  }
  auto emitted = gen::emit(*spec);
  if (!emitted) return fail(llvm::toString(emitted.takeError()));
  if (what == "source") {
    llvm::outs() << emitted->source;
    return 0;
  }
  auto compiled = cuda::compile_kernel(*emitted, *spec);
  if (!compiled) return fail(llvm::toString(compiled.takeError()));
  if (what == "ptx")
    llvm::outs() << compiled->ptx;
  else
    print_resources(*spec, *compiled);
  return 0;
}

}  // namespace flashjit::tools
