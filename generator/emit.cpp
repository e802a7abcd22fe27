#include "generator/emit.h"

#include <set>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/FormatVariadic.h>

#include "generator/embedded_templates.h"
#include "generator/variant_rules.h"
#include "support/error.h"

namespace flashjit::gen {
namespace {

const EmbeddedTemplate* find_template(llvm::StringRef name) {
  for (const EmbeddedTemplate& t : embedded_templates())
    if (name == t.name) return &t;
  return nullptr;
}

// A tiny preprocessor for our own templates only: `#include "x.cuh"` is replaced by x.cuh (once),
// `#pragma once` is dropped. Angle-bracket includes are not allowed in templates.
llvm::Error inline_template(llvm::StringRef name, std::set<std::string>& seen, std::string& out) {
  if (!seen.insert(name.str()).second) return llvm::Error::success();
  const EmbeddedTemplate* t = find_template(name);
  if (!t)
    return make_error(ErrorCode::internal, "template " + name + " is not embedded in this build");
  out += "// ---- templates/" + name.str() + " ----\n";
  llvm::StringRef rest(t->text);
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    llvm::StringRef trimmed = line.trim();
    if (trimmed == "#pragma once") continue;
    if (trimmed.consume_front("#include")) {
      trimmed = trimmed.trim();
      if (!trimmed.consume_front("\"") || !trimmed.consume_back("\""))
        return make_error(ErrorCode::internal,
                          "template " + name + " includes " + trimmed + ": only quoted templates may be included");
      if (llvm::Error err = inline_template(trimmed, seen, out)) return err;
      continue;
    }
    out += line.str();
    out += '\n';
  }
  return llvm::Error::success();
}

// For a variant whose kernels must have a register count (VariantRules::entry_registers): the host
// refuses a kernel compiled or loaded with another, so the template's setmaxnreg counts must assume
// the generator's. Empty for the others.
std::string entry_registers_check(const VariantRules& rules, const KernelSpec& spec, const std::string& traits) {
  if (!rules.entry_registers) return {};
  return llvm::formatv(
             "// The host refuses a kernel with other registers than the generator counted (0: ptxas picks):\n"
             "// the template's setmaxnreg counts must assume the same.\n"
             "static_assert({0}<{1}>::kEntryRegisters == {2},\n"
             "              \"templates/{3} and the generator's rules disagree on the kernel's registers\");\n",
             rules.entry_registers_of, traits, rules.entry_registers(spec), rules.template_file)
      .str();
}

}  // namespace

const char* element_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return "float";
    case DType::f16: return "::flashjit::dev::half_bits";
    case DType::bf16: return "::flashjit::dev::bf16_bits";
  }
  return "float";
}

llvm::Expected<std::string> expand_template(const std::string& name) {
  std::set<std::string> seen;
  std::string out;
  if (llvm::Error err = inline_template(name, seen, out)) return err;
  return out;
}

namespace {

// A KV-cache kernel's module also holds split-KV's combine step (templates/split_combine.cuh) under
// a fixed C name, so the host finds both in one cubin; other kernels' sources stay as they were.
llvm::Expected<std::string> kernel_body(const VariantRules& rules, const KernelSpec& spec) {
  std::set<std::string> seen;
  std::string out;
  if (llvm::Error err = inline_template(rules.template_file, seen, out)) return err;
  if (!spec.features().kv_cache) return out;
  if (llvm::Error err = inline_template("split_combine.cuh", seen, out)) return err;
  return out;
}

std::string combine_entry(const KernelSpec& spec, const std::string& traits) {
  if (!spec.features().kv_cache) return {};
  return llvm::formatv("\n// Split-KV's combine step: one warp per partial row.\n"
                       "extern \"C\" __global__ void __launch_bounds__({0}::kWarps * 32)\n"
                       "    flashjit_split_combine(const ::flashjit::AttentionParams p, "
                       "const ::flashjit::SplitPartials parts) {{\n"
                       "  ::flashjit::dev::combine_rows<{0}>(p, parts);\n"
                       "}\n",
                       traits)
      .str();
}

}  // namespace

std::string generator_hash() { return std::string(kGeneratorVersion) + "-" + templates_sha256(); }

llvm::Expected<EmittedKernel> emit(const KernelSpec& spec) {
  const VariantRules& rules = rules_for(spec.variant);
  auto body = kernel_body(rules, spec);
  if (!body) return body.takeError();

  EmittedKernel kernel;
  kernel.key = canonical_key(spec);
  const std::string traits = "::flashjit_generated::KernelTraits";
  // A kernel specialized on a ragged batch or a score modifier is the template's `_modified` entry,
  // which takes ScoreModParams too, one reading a KV cache its `_kvcache` entry, which also takes
  // KvCacheParams; the dense entry keeps its one parameter and its PTX.
  const std::string kernel_template = kernel_entry(rules, spec.features());
  kernel.name_expression = llvm::formatv("&{0}<{1}>", kernel_template, traits).str();
  std::string modifiers;
  // A dense kernel's shell declares kCausal alone (NVRTC emits every static member a kernel
  // references into its PTX; the modifiers' traits would change a dense kernel's).
  std::vector<KernelTrait> traits_of_modifiers = modifier_traits(spec.features());
  if (!spec.features().any_modifier()) traits_of_modifiers.resize(1);
  for (const KernelTrait& t : traits_of_modifiers)
    modifiers += "  static constexpr " + t.type + " " + t.name + " = " + t.value + ";\n";
  kernel.source = llvm::formatv(
      "// Generated by FlashJIT (generator {0}, templates {1}). Do not edit: regenerate with\n"
      "// `flashjit emit`. Spec: {2}\n"
      "{3}\n"
      "// ---- generated shell ----\n"
      "namespace flashjit_generated {{\n"
      "struct KernelTraits {{\n"
      "  using Element = {4};\n"
      "  static constexpr int kHeadDim = {5};\n"
      "  static constexpr int kBlockM = {6};\n"
      "  static constexpr int kBlockN = {7};\n"
      "  static constexpr int kWarps = {8};\n"
      "  static constexpr int kStages = {9};\n"
      "{10}"
      "};\n"
      "}  // namespace flashjit_generated\n"
      "\n"
      "// The host launches with the shared memory the generator counted: the template must agree.\n"
      "static_assert({11}<{12}>::kSharedBytes == {13},\n"
      "              \"templates/{14} and the generator's rules disagree on shared memory\");\n"
      "{17}"
      "template __global__ void {15}<{12}>({16});\n"
      "{18}",
      kGeneratorVersion, templates_sha256(), kernel.key, *body, element_type(spec.dtype), spec.head_dim,
      spec.block_m, spec.block_n, spec.warps, spec.stages, modifiers, rules.shared_bytes_of, traits,
      shared_memory_bytes(spec), rules.template_file, kernel_template,
      kernel_parameter_declaration(rules.parameters, spec.features()), entry_registers_check(rules, spec, traits),
      combine_entry(spec, traits));
  return kernel;
}

}  // namespace flashjit::gen
