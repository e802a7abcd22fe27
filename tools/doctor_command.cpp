// flashjit doctor: is this GPU compatible, and what will run on it. The variant lines come from
// the same selector the runtime dispatches with (for dense problems and for each ragged batch and
// score modifier); what each variant's template computes of those, from the variant table; the
// NVRTC lines from the same loader and choice (every NVRTC found, and which one compiles for each GPU). Exit code 0 when a GPU path is usable,
// 1 when not.
#include <nlohmann/json.hpp>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/FormatVariadic.h>
#include <llvm/Support/Threading.h>
#include <llvm/Support/raw_ostream.h>

#include "flashjit/flashjit.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "generator/variant_rules.h"
#include "cuda/device.h"
#include "cuda/nvrtc_choice.h"
#include "cuda/nvrtc_compiler.h"
#include "cuda/nvrtc_discovery.h"
#include "problem/gqa_packing.h"
#include "generator/decode_splits.h"
#include "runtime/cpu/cpu_isa.h"
#include "tools/commands.h"
#include "tools/common_options.h"
#include "tools/subcommands.h"

namespace flashjit::tools {
namespace {

namespace cl = llvm::cl;
using nlohmann::json;

cl::opt<bool> as_json("json", cl::desc("Print the report as JSON"), cl::sub(doctor_command), cl::cat(flashjit_options));
cl::opt<std::string> what_if_arch("arch",
                                  cl::desc("Also answer for a GPU of this architecture that is not here (e.g. sm_61)"),
                                  cl::sub(doctor_command), cl::cat(flashjit_options));

constexpr int kHeadDims[] = {64, 128, 256};
constexpr DType kDtypes[] = {DType::f16, DType::bf16, DType::f32};

std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

// What would run for common problems on `device`, from the one selector.
json variant_table(const gen::DeviceDescription& device, const gen::CompilerTargets& nvrtc) {
  json rows = json::array();
  for (int d : kHeadDims) {
    for (DType t : kDtypes) {
      auto selection = gen::select_for_features(device, {t, d, MaskKind::none}, nvrtc);
      json row = {{"head_dim", d}, {"dtype", dtype_name(t)}};
      if (selection) {
        row["variant"] = variant_name(selection->spec.variant);
        row["kernel"] = gen::canonical_key(selection->spec);
        row["reason"] = selection->reason;
        row["compiled_by"] = selection->compiled_by;
      } else {
        row["variant"] = nullptr;
        row["reason"] = llvm::toString(selection.takeError());
      }
      rows.push_back(row);
    }
  }
  return rows;
}

// The ragged batch, score modifiers and KV cache as the doctor asks about them: each alone (the
// name, then the features it sets: pages and appends need a cache), then issue 14's four together.
struct ModifierCase {
  const char* name;
  void (*set)(ProblemFeatures& features);
};
constexpr ModifierCase kEachModifier[] = {
    {"ragged", [](ProblemFeatures& f) { f.ragged = true; }},
    {"window", [](ProblemFeatures& f) { f.window = true; }},
    {"softcap", [](ProblemFeatures& f) { f.softcap = true; }},
    {"ALiBi", [](ProblemFeatures& f) { f.alibi = true; }},
    {"KV cache", [](ProblemFeatures& f) { f.kv_cache = true; }},
    {"paged", [](ProblemFeatures& f) { f.kv_cache = f.paged = true; }},
    {"append", [](ProblemFeatures& f) { f.kv_cache = f.append = true; }},
};
constexpr ModifierCase kAllModifiers = {"all four",
                                        [](ProblemFeatures& f) { f.ragged = f.window = f.softcap = f.alibi = true; }};
// The problem they are asked for: the head dim and dtype every tensor-core generation computes.
constexpr int kModifierHeadDim = 128;
constexpr DType kModifierDtype = DType::f16;

// What each variant's template computes of them (VariantRules::modifiers), and why not the rest
// (modifier_problem), least capable variant first; the same for every device.
json modifiers_by_variant() {
  json rows = json::array();
  const std::vector<Variant>& variants = gen::variants_by_preference();
  // Every feature at once: what the variant does not compute of any of them.
  ProblemFeatures all;
  for (const ModifierCase& c : kEachModifier) c.set(all);
  for (auto it = variants.rbegin(); it != variants.rend(); ++it) {
    const gen::VariantRules& rules = gen::rules_for(*it);
    json serves = json::array();
    for (const ModifierCase& c : kEachModifier) {
      ProblemFeatures one;
      c.set(one);
      if (gen::modifier_problem(rules, one).empty()) serves.push_back(c.name);
    }
    const std::string why = gen::modifier_problem(rules, all);
    const std::string condition = rules.modifiers.ragged_condition;
    const std::string kv_condition = rules.modifiers.kv_condition;
    rows.push_back({{"variant", rules.name},
                    {"serves", serves},
                    {"ragged_condition", condition.empty() ? json(nullptr) : json(condition)},
                    {"kv_condition", kv_condition.empty() ? json(nullptr) : json(kv_condition)},
                    {"why_not", why.empty() ? json(nullptr) : json(why)}});
  }
  return rows;
}

// What would run on `device` for a problem with each modifier (and all of them), from the selector.
json modifier_table(const gen::DeviceDescription& device, const gen::CompilerTargets& nvrtc) {
  json rows = json::array();
  std::vector<ModifierCase> cases(std::begin(kEachModifier), std::end(kEachModifier));
  cases.push_back(kAllModifiers);
  for (const ModifierCase& c : cases) {
    ProblemFeatures features{kModifierDtype, kModifierHeadDim, MaskKind::none};
    c.set(features);
    auto selection = gen::select_for_features(device, features, nvrtc);
    json row = {{"modifiers", c.name}, {"head_dim", kModifierHeadDim}, {"dtype", dtype_name(kModifierDtype)}};
    if (selection) {
      row["variant"] = variant_name(selection->spec.variant);
      row["kernel"] = gen::canonical_key(selection->spec);
      row["reason"] = selection->reason;
    } else {
      row["variant"] = nullptr;
      row["reason"] = llvm::toString(selection.takeError());
    }
    rows.push_back(row);
  }
  return rows;
}

// Issue 15's decode step as the doctor asks about it: what runs it and how (the selector on the
// GQA-packed problem, and the split count on this device's SMs; none on a nominal device).
constexpr int kDecodeBatch = 32, kDecodeHeads = 32, kDecodeKvHeads = 8, kDecodeKeys = 8192;

json decode_row(const gen::DeviceDescription& device, const gen::CompilerTargets& nvrtc) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::causal};
  f.kv_cache = f.paged = true;
  json row = {{"problem", llvm::formatv("batch {0}, {1} query / {2} KV heads, d 128, bf16, {3} keys in pages of {4}",
                                        kDecodeBatch, kDecodeHeads, kDecodeKvHeads, kDecodeKeys, kDefaultPageSize)
                              .str()}};
  auto problem = Problem::of_shape(f, ProblemShape{kDecodeBatch, kDecodeHeads, kDecodeKvHeads, 1, kDecodeKeys});
  if (!problem) {
    row["reason"] = llvm::toString(problem.takeError());
    return row;
  }
  auto packed = gqa_packed(*problem);
  if (!packed) {
    row["reason"] = llvm::toString(packed.takeError());
    return row;
  }
  row["gqa_packed"] = packed->shape().num_heads != problem->shape().num_heads;
  row["splits"] = device.sm_count > 0 ? json(gen::problem_split_count(packed->shape(), device.sm_count)) : json(nullptr);
  auto selection = gen::select_for_features(device, packed->features(), nvrtc);
  if (!selection) {
    row["variant"] = nullptr;
    row["reason"] = llvm::toString(selection.takeError());
    return row;
  }
  row["variant"] = variant_name(selection->spec.variant);
  row["kernel"] = gen::canonical_key(selection->spec);
  row["reason"] = selection->reason;
  return row;
}

json describe(const gen::DeviceDescription& d) {
  const gen::ArchTraits traits = d.traits();
  json j = {{"name", d.name},
            {"compute_capability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor)},
            {"family", gen::arch_family_name(traits.family)},
            {"tensor_cores", gen::tensor_core_description(traits.tensor_cores)},
            {"smem_per_block_optin", d.smem_per_block_optin},
            {"smem_per_sm", d.smem_per_sm},
            {"nominal", d.nominal}};
  if (!d.nominal) {
    j["sm_count"] = d.sm_count;
    j["memory_bytes"] = d.total_memory_bytes;
    j["l2_bytes"] = d.l2_bytes;
    j["registers_per_block"] = d.regs_per_block;
  }
  // The NVRTC that compiles for it: the newest that targets it and whose cubins its driver loads
  // (a nominal device has no driver to satisfy).
  const int cc = d.compute_capability();
  const int driver_version = d.nominal ? 0 : d.driver_version;
  auto nvrtc = cuda::nvrtc_for_arch(cc, driver_version);
  const bool has_target = static_cast<bool>(nvrtc);
  if (has_target) {
    j["nvrtc_target"] = "sm_" + std::to_string(cc);
    j["nvrtc"] = {{"version", nvrtc->targets.version()}, {"path", nvrtc->path}};
    j["nvrtc_passed_over"] = cuda::choose_nvrtc(cuda::nvrtc_libraries(), cc, driver_version).passed_over;
  } else {
    j["nvrtc_target_error"] = llvm::toString(nvrtc.takeError());
  }
  const gen::CompilerTargets& targets = cuda::nvrtc_targets_for_arch(cc, driver_version);
  json dtypes = json::array();
  for (DType t : kDtypes) {
    auto selection = gen::select_for_features(d, {t, 128, MaskKind::none}, targets);
    if (selection) dtypes.push_back({{"dtype", dtype_name(t)}, {"variant", variant_name(selection->spec.variant)}});
  }
  j["dtypes"] = dtypes;
  j["variants"] = variant_table(d, targets);
  j["modifier_variants"] = modifier_table(d, targets);
  j["decode"] = decode_row(d, targets);
  j["usable"] = has_target && !dtypes.empty();
  return j;
}

// Every NVRTC the loader found, in the order found: path, version and targets, or why not used.
json nvrtc_inventory() {
  json found = json::array();
  for (const cuda::NvrtcLibrary& library : cuda::nvrtc_libraries()) {
    json entry = {{"path", library.path}, {"usable", library.usable()}};
    if (library.targets.nvrtc_major > 0) entry["version"] = library.targets.version();
    if (library.usable()) {
      entry["targets"] = library.targets.archs;
      entry["range"] = library.targets.range();
    } else {
      entry["reason"] = library.rejected;
    }
    found.push_back(entry);
  }
  return found;
}

// "sm_50..sm_121": every architecture some NVRTC found targets.
std::string range_of_all() {
  gen::CompilerTargets all;
  for (const cuda::NvrtcLibrary& library : cuda::nvrtc_libraries())
    if (library.usable()) all.archs.insert(all.archs.end(), library.targets.archs.begin(), library.targets.archs.end());
  return all.range();
}

// The CPU backend's instruction set: the one FLASHJIT_CPU_ISA forces, or the best this CPU runs;
// and the build's other sets with what this CPU lacks for each.
json describe_cpu_backend() {
  json cpu_backend = {{"threads", llvm::hardware_concurrency().compute_thread_count()},
                      {"best", cpu::cpu_isa_name(cpu::best_cpu_isa())}};
  json sets = json::array();
  for (cpu::CpuIsa isa : cpu::built_cpu_isas()) {
    json set = {{"name", cpu::cpu_isa_name(isa)}, {"runs", cpu::cpu_runs(isa)}};
    if (!cpu::cpu_runs(isa)) set["missing"] = cpu::missing_cpu_features(isa);
    sets.push_back(set);
  }
  cpu_backend["instruction_sets"] = sets;
  const std::string forced = RuntimeOptions::default_cpu_isa();
  Result<cpu::CpuIsa> isa = cpu::resolve_cpu_isa(forced);
  if (isa) cpu_backend["isa"] = cpu::cpu_isa_name(*isa);
  else cpu_backend["error"] = "FLASHJIT_CPU_ISA: " + isa.status().message();
  cpu_backend["forced_by_environment"] = !forced.empty();
  return cpu_backend;
}

// The fleet's remote tuning cache: off, misconfigured (why), or where it is, how entries are signed
// and whether it answers. Never the password: every text here is the endpoint's describe().
json describe_remote_cache() {
  const RemoteCacheOptions options = remote_options_from_options();
  if (options.url.empty()) return {{"configured", false}};
  json remote = {{"configured", true}, {"timeout_ms", options.timeout_ms}, {"backoff_ms", options.backoff_ms},
                 {"single_flight_wait_ms", options.single_flight_wait_ms},
                 {"password_file", options.password_file}, {"key_file", options.key_file}};
  auto opened = remote_from_options(/*required=*/true);
  if (!opened) {
    remote["error"] = llvm::toString(opened.takeError());
    return remote;
  }
  cache::RemoteCache& fleet = **opened;
  remote["endpoint"] = fleet.settings().endpoint.describe();
  remote["signing"] = fleet.settings().signing();
  remote["reads"] = fleet.settings().reads_allowed();
  auto pinged = fleet.ping();
  if (!pinged) {
    remote["reachable"] = false;
    remote["error"] = llvm::toString(pinged.takeError());
    return remote;
  }
  remote["reachable"] = true;
  remote["ping_ms"] = pinged->first;
  remote["server_version"] = pinged->second;
  return remote;
}

json build_report() {
  const gen::CompilerTargets& nvrtc = cuda::nvrtc_targets();  // the newest
  json report = {{"flashjit_version", FLASHJIT_VERSION_STRING},
                 {"nvrtc", {{"version", nvrtc.version()}, {"targets", nvrtc.archs}, {"range", nvrtc.range()}}},
                 {"nvrtc_found", nvrtc_inventory()},
                 {"modifiers_by_variant", modifiers_by_variant()},
                 {"cpu_backend", describe_cpu_backend()},
                 {"remote_cache", describe_remote_cache()}};
  json devices = json::array();
  std::string driver_problem;
  auto api = cuda::driver_api();
  if (!api) {
    driver_problem = llvm::toString(api.takeError());
    report["driver"] = {{"usable", false}, {"error", driver_problem}};
  } else {
    report["driver"] = {{"usable", true}, {"cuda_version", cuda_version(api->driver_version)}};
    // Whether this driver loads an NVRTC's cubins is asked per GPU, of the NVRTC chosen for it.
    auto count = cuda::device_count();
    if (!count) driver_problem = llvm::toString(count.takeError());
    for (int i = 0; count && i < *count; ++i) {
      auto d = cuda::describe_device(i);
      if (!d) {
        devices.push_back({{"index", i}, {"error", llvm::toString(d.takeError())}});
        continue;
      }
      json entry = describe(*d);
      entry["index"] = i;
      devices.push_back(entry);
    }
  }
  report["devices"] = devices;

  const json* usable = nullptr;
  for (const json& d : devices)
    if (d.value("usable", false)) usable = &d;
  bool gpu_usable = driver_problem.empty() && usable != nullptr;
  std::string verdict;
  if (gpu_usable) {
    verdict = llvm::formatv("GPU path usable: {0} (sm {1}) runs FlashJIT kernels", (*usable)["name"].get<std::string>(),
                            (*usable)["compute_capability"].get<std::string>());
  } else {
    std::string why = driver_problem;
    if (why.empty())
      for (const json& d : devices)
        why = d.contains("nvrtc_target_error") ? d["nvrtc_target_error"].get<std::string>() : d.value("error", why);
    verdict = "no usable GPU: " + why;
  }
  report["gpu_usable"] = gpu_usable;
  report["verdict"] = verdict;
  report["still_works"] = {
      "flashjit emit --arch sm_XY: generate and compile kernels for " + range_of_all() + " without a GPU",
      "the CPU backend (Backend::cpu, or Backend::automatic falls back to it) computes the same function",
      "flashjit run: the main job on the CPU backend"};
  if (!what_if_arch.empty()) {
    auto arch = gen::parse_arch(what_if_arch);
    if (arch) report["what_if"] = describe(gen::DeviceDescription::for_arch(arch->first));
    else report["what_if"] = {{"error", llvm::toString(arch.takeError())}};
  }
  return report;
}

void print_device(llvm::raw_ostream& os, const json& d) {
  if (d.contains("error")) {
    os << "  error: " << d["error"].get<std::string>() << "\n";
    return;
  }
  os << llvm::formatv("  compute capability: {0} ({1})\n", d["compute_capability"].get<std::string>(),
                      d["family"].get<std::string>());
  if (d.contains("sm_count"))
    os << llvm::formatv("  SMs: {0}, memory: {1} MiB, L2: {2} KiB\n", d["sm_count"].get<int>(),
                        d["memory_bytes"].get<long long>() >> 20, d["l2_bytes"].get<int>() >> 10);
  os << llvm::formatv("  shared memory: {0} KiB per block (opt-in), {1} KiB per SM\n",
                      d["smem_per_block_optin"].get<int>() / 1024, d["smem_per_sm"].get<int>() / 1024);
  os << "  tensor cores: " << d["tensor_cores"].get<std::string>() << "\n";
  if (d.contains("nvrtc_target")) {
    os << llvm::formatv("  NVRTC target: {0}, compiled by NVRTC {1} ({2})", d["nvrtc_target"].get<std::string>(),
                        d["nvrtc"]["version"].get<std::string>(), d["nvrtc"]["path"].get<std::string>());
    std::vector<std::string> passed_over = d["nvrtc_passed_over"].get<std::vector<std::string>>();
    if (!passed_over.empty()) os << "; passed over: " << llvm::join(passed_over, "; ");
    os << "\n";
  } else
    os << "  NVRTC target: none: " << d["nvrtc_target_error"].get<std::string>() << "\n";
  std::vector<std::string> dtypes;
  for (const json& t : d["dtypes"])
    dtypes.push_back(t["dtype"].get<std::string>() + " (" + t["variant"].get<std::string>() + ")");
  os << "  dtypes: " << (dtypes.empty() ? std::string("none") : llvm::join(dtypes, ", ")) << "\n";
  if (!d.contains("nvrtc_target")) {
    os << "  what runs: nothing, since this NVRTC cannot compile for it (see NVRTC target)\n";
    return;
  }
  os << "  what runs (head_dim, dtype -> variant: why):\n";
  for (const json& row : d["variants"]) {
    const std::string v = row["variant"].is_null() ? "none" : row["variant"].get<std::string>();
    os << llvm::formatv("    d={0,-3} {1,-4} -> {2}: {3}\n", row["head_dim"].get<int>(),
                        row["dtype"].get<std::string>(), v, row["reason"].get<std::string>());
  }
  os << llvm::formatv("  with ragged batches, score modifiers and KV caches (d={0} {1}, modifiers -> variant: why):\n",
                      kModifierHeadDim, dtype_name(kModifierDtype));
  for (const json& row : d["modifier_variants"]) {
    const std::string v = row["variant"].is_null() ? "none" : row["variant"].get<std::string>();
    os << llvm::formatv("    {0,-8} -> {1}: {2}\n", row["modifiers"].get<std::string>(), v,
                        row["reason"].get<std::string>());
  }
  const json& decode = d["decode"];
  const std::string v = decode.value("variant", json()).is_null() ? "none" : decode["variant"].get<std::string>();
  std::string how;
  if (decode.value("gqa_packed", false)) how = llvm::formatv("GQA-packed: {0} query heads per tile", kDecodeHeads / kDecodeKvHeads);
  if (decode.contains("splits"))
    how += (how.empty() ? "" : "; ") + (decode["splits"].is_null()
                                            ? std::string("split-KV by the SM count")
                                            : llvm::formatv("{0} split{1}", decode["splits"].get<int>(),
                                                            decode["splits"].get<int>() == 1 ? "" : "s")
                                                  .str());
  os << llvm::formatv("  decode ({0}) -> {1}{2}: {3}\n", decode["problem"].get<std::string>(), v,
                      how.empty() ? "" : " (" + how + ")", decode["reason"].get<std::string>());
}

// What each variant computes of the ragged batches and score modifiers, and why not the rest.
void print_modifiers_by_variant(llvm::raw_ostream& os, const json& rows) {
  os << "Ragged batches, score modifiers and KV caches each variant computes:\n";
  for (const json& row : rows) {
    std::vector<std::string> serves = row["serves"].get<std::vector<std::string>>();
    if (!row["ragged_condition"].is_null())
      for (std::string& name : serves)
        if (name == "ragged") name += " (" + row["ragged_condition"].get<std::string>() + ")";
    if (!row["kv_condition"].is_null())
      for (std::string& name : serves)
        if (name == "KV cache") name += " (" + row["kv_condition"].get<std::string>() + ")";
    std::string text = serves.empty() ? std::string("none") : llvm::join(serves, ", ");
    if (!row["why_not"].is_null()) text += " (" + row["why_not"].get<std::string>() + ")";
    os << llvm::formatv("  {0,-10} {1}\n", row["variant"].get<std::string>(), text);
  }
}

// Every NVRTC found: the usable ones with their targets, then the refused ones with their reasons.
void print_nvrtc_inventory(llvm::raw_ostream& os, const json& found) {
  os << "NVRTC libraries found (each GPU compiles with the newest that targets it):\n";
  if (found.empty())
    os << "  none: set FLASHJIT_NVRTC to a libnvrtc.so, or install a CUDA toolkit's NVRTC (README: NVRTC)\n";
  for (const json& library : found)
    if (library["usable"].get<bool>())
      os << llvm::formatv("  NVRTC {0}, {1}: {2}\n", library["version"].get<std::string>(),
                          library["range"].get<std::string>(), library["path"].get<std::string>());
  for (const json& library : found)
    if (!library["usable"].get<bool>())
      os << llvm::formatv("  not used: {0}: {1}\n", library["path"].get<std::string>(),
                          library["reason"].get<std::string>());
}

// "CPU backend: avx512 kernels (the best this CPU runs: portable, avx2, avx512), 2 threads", with
// each set it lacks and why.
void print_cpu_backend(llvm::raw_ostream& os, const json& c) {
  std::vector<std::string> runs, lacks;
  for (const json& set : c["instruction_sets"]) {
    const std::string name = set["name"].get<std::string>();
    if (set["runs"].get<bool>()) runs.push_back(name);
    else lacks.push_back(name + " (needs " + set["missing"].get<std::string>() + ")");
  }
  if (c.contains("error")) {
    os << "CPU backend: " << c["error"].get<std::string>() << "\n";
    return;
  }
  const std::string isa = c["isa"].get<std::string>();
  os << llvm::formatv("CPU backend: {0} kernels ({1}; this CPU runs {2}{3}), {4} threads\n", isa,
                      c["forced_by_environment"].get<bool>() ? "forced by FLASHJIT_CPU_ISA" : "the best it runs",
                      llvm::join(runs, ", "), lacks.empty() ? std::string() : ", not " + llvm::join(lacks, ", "),
                      c["threads"].get<unsigned>());
}

void print_remote_cache(llvm::raw_ostream& os, const json& r) {
  if (!r["configured"].get<bool>()) {
    os << "Remote tuning cache: off (set FLASHJIT_REMOTE_CACHE or give --remote to share tuning across a fleet)\n";
    return;
  }
  if (!r.contains("endpoint")) {
    os << "Remote tuning cache: misconfigured: " << r["error"].get<std::string>() << "\n";
    return;
  }
  os << llvm::formatv("Remote tuning cache: {0}, timeout {1} ms\n  {2}\n", r["endpoint"].get<std::string>(),
                      r["timeout_ms"].get<int>(), r["signing"].get<std::string>());
  if (r["reachable"].get<bool>())
    os << llvm::formatv("  reachable: Redis {0}, ping {1:F2} ms\n", r["server_version"].get<std::string>(),
                        r["ping_ms"].get<double>());
  else
    os << "  not reachable: " << r["error"].get<std::string>() << "\n";
}

void print_report(llvm::raw_ostream& os, const json& r) {
  os << "FlashJIT " << r["flashjit_version"].get<std::string>() << " doctor\n";
  size_t usable = 0;
  for (const json& library : r["nvrtc_found"]) usable += library["usable"].get<bool>() ? 1 : 0;
  if (usable == 0)
    os << "NVRTC: none found\n";
  else
    os << llvm::formatv("NVRTC: {0}, targets {1}{2}\n", r["nvrtc"]["version"].get<std::string>(),
                        r["nvrtc"]["range"].get<std::string>(),
                        usable > 1 ? " (the newest of " + std::to_string(usable) + ")" : std::string());
  const json& driver = r["driver"];
  if (driver["usable"].get<bool>())
    os << "CUDA driver: loaded, supports CUDA " << driver["cuda_version"].get<std::string>() << "\n";
  else
    os << "CUDA driver: not usable: " << driver["error"].get<std::string>() << "\n";
  print_nvrtc_inventory(os, r["nvrtc_found"]);
  print_modifiers_by_variant(os, r["modifiers_by_variant"]);
  for (const json& d : r["devices"]) {
    os << llvm::formatv("GPU {0}: {1}\n", d["index"].get<int>(), d.value("name", std::string("?")));
    print_device(os, d);
  }
  print_cpu_backend(os, r["cpu_backend"]);
  print_remote_cache(os, r["remote_cache"]);
  if (r.contains("what_if")) {
    const json& w = r["what_if"];
    if (w.contains("error")) {
      os << "what if: " << w["error"].get<std::string>() << "\n";
    } else {
      os << "If the GPU were " << w["name"].get<std::string>() << " (nominal limits):\n";
      print_device(os, w);
    }
  }
  os << "Verdict: " << r["verdict"].get<std::string>() << "\n";
  if (!r["gpu_usable"].get<bool>()) {
    os << "Still works here:\n";
    for (const json& s : r["still_works"]) os << "  - " << s.get<std::string>() << "\n";
  }
}

}  // namespace

int run_doctor() {
  if (!what_if_arch.empty()) {
    if (auto arch = gen::parse_arch(what_if_arch); !arch) {
      llvm::errs() << "flashjit doctor: error: " << llvm::toString(arch.takeError()) << "\n";
      return 2;
    }
  }
  json report = build_report();
  if (as_json)
    llvm::outs() << report.dump(2) << "\n";
  else
    print_report(llvm::outs(), report);
  return report["gpu_usable"].get<bool>() ? 0 : 1;
}

}  // namespace flashjit::tools
