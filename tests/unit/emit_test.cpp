// Source emission: a self-contained shell of traits around the inlined templates.
#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "generator/embedded_templates.h"
#include "generator/emit.h"
#include "generator/kernel_spec.h"

namespace flashjit::gen {
namespace {

KernelSpec spec_of(DType dtype, int head_dim, MaskKind mask = MaskKind::none) {
  KernelSpec s;
  s.variant = Variant::generic;
  s.arch = 90;
  s.dtype = dtype;
  s.head_dim = head_dim;
  s.block_m = 16;
  s.block_n = 64;
  s.warps = 2;
  s.stages = 1;
  s.mask = mask;
  return s;
}

EmittedKernel emitted(const KernelSpec& spec) {
  auto k = emit(spec);
  if (!k) {
    ADD_FAILURE() << llvm::toString(k.takeError());
    return {};
  }
  return *k;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Emit, SourceHasNoIncludesAndNoPragmaOnce) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 128));
  ASSERT_FALSE(k.source.empty());
  for (const std::string& line : lines_of(k.source)) {
    const llvm::StringRef trimmed = llvm::StringRef(line).trim();
    EXPECT_FALSE(trimmed.startswith("#include")) << line;
    EXPECT_FALSE(trimmed.startswith("#pragma once")) << line;
  }
  EXPECT_FALSE(contains(k.source, "#include"));
}

TEST(Emit, ContainsEachTemplateOnce) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 128));
  for (const char* name : {"attention_params.cuh", "numeric.cuh", "generic_forward.cuh"}) {
    const std::string banner = std::string("// ---- templates/") + name + " ----\n";
    EXPECT_EQ(count_of(k.source, banner), 1u) << name;
  }
  // Each template's definitions appear once, so the source has no redefinitions.
  EXPECT_EQ(count_of(k.source, "struct AttentionParams {"), 1u);
  EXPECT_EQ(count_of(k.source, "struct half_bits {"), 1u);
  // Three kernel entries: the dense one, the `_modified` one with the modifiers' parameters and the
  // `_kvcache` one with a KV cache's too.
  EXPECT_EQ(count_of(k.source, "__global__ void __launch_bounds__"), 3u);
  EXPECT_EQ(count_of(k.source, " generic_forward(const AttentionParams p)"), 1u);
  EXPECT_EQ(count_of(k.source, " generic_forward_modified(const AttentionParams p, const ScoreModParams mods)"), 1u);
  EXPECT_EQ(count_of(k.source, " generic_forward_kvcache(const AttentionParams p, const ScoreModParams mods, "
                               "const KvCacheParams kv)"),
            1u);
  EXPECT_EQ(count_of(k.source, "// ---- generated shell ----\n"), 1u);
}

TEST(Emit, TemplatesComeBeforeTheShellThatUsesThem) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 128));
  const size_t params = k.source.find("struct AttentionParams {");
  const size_t kernel = k.source.find("generic_forward(const AttentionParams p)");
  const size_t shell = k.source.find("struct KernelTraits {");
  ASSERT_NE(params, std::string::npos);
  ASSERT_NE(kernel, std::string::npos);
  ASSERT_NE(shell, std::string::npos);
  EXPECT_LT(params, kernel);
  EXPECT_LT(kernel, shell);
}

TEST(Emit, TraitsMatchTheSpec) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 96, MaskKind::causal));
  EXPECT_TRUE(contains(k.source, "  using Element = ::flashjit::dev::half_bits;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kHeadDim = 96;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kBlockM = 16;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kBlockN = 64;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kWarps = 2;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kStages = 1;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr bool kCausal = true;\n"));
  EXPECT_TRUE(contains(k.source, "Spec: generic_sm90_f16_d96_m16n64w2s1_causal\n"));
  EXPECT_EQ(k.key, "generic_sm90_f16_d96_m16n64w2s1_causal");

  const EmittedKernel none = emitted(spec_of(DType::f16, 96, MaskKind::none));
  EXPECT_TRUE(contains(none.source, "  static constexpr bool kCausal = false;\n"));
}

TEST(Emit, ElementTypeFollowsTheDtype) {
  EXPECT_TRUE(contains(emitted(spec_of(DType::f32, 64)).source, "  using Element = float;\n"));
  EXPECT_TRUE(contains(emitted(spec_of(DType::f16, 64)).source, "  using Element = ::flashjit::dev::half_bits;\n"));
  EXPECT_TRUE(contains(emitted(spec_of(DType::bf16, 64)).source, "  using Element = ::flashjit::dev::bf16_bits;\n"));
}

TEST(Emit, NameExpressionNamesTheTraitsAndIsInstantiated) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 128));
  EXPECT_EQ(k.name_expression, "&flashjit::dev::generic_forward<::flashjit_generated::KernelTraits>");
  EXPECT_TRUE(contains(k.source,
                       "template __global__ void flashjit::dev::generic_forward<::flashjit_generated::"
                       "KernelTraits>(const ::flashjit::AttentionParams);\n"));
}

TEST(Emit, SourceNamesTheGeneratorVersionAndTemplateHash) {
  const EmittedKernel k = emitted(spec_of(DType::f16, 128));
  EXPECT_TRUE(contains(k.source, std::string("generator ") + kGeneratorVersion));
  EXPECT_TRUE(contains(k.source, std::string("templates ") + templates_sha256()));
}

TEST(Emit, IsDeterministicAndDiffersPerSpec) {
  const KernelSpec a = spec_of(DType::f16, 128);
  EXPECT_EQ(emitted(a).source, emitted(a).source);
  EXPECT_NE(emitted(a).source, emitted(spec_of(DType::f16, 64)).source);
}

// wgmma_sm90 takes its tensor maps in a __grid_constant__ parameter block (TMA reads the maps from
// the kernel's parameter space): the shell must instantiate the kernel with that parameter, not the
// plain AttentionParams of the other variants, and inline the Hopper templates once each.
TEST(Emit, WgmmaInstantiatesItsKernelWithGridConstantTensorMaps) {
  KernelSpec s = spec_of(DType::bf16, 128, MaskKind::causal);
  s.variant = Variant::wgmma_sm90;
  s.arch = 90;
  s.arch_specific = true;
  s.block_m = 128;
  s.block_n = 128;
  s.warps = 12;
  s.stages = 3;
  const EmittedKernel k = emitted(s);
  EXPECT_EQ(k.key, "wgmma_sm90_sm90a_bf16_d128_m128n128w12s3_causal");
  EXPECT_EQ(k.name_expression, "&flashjit::dev::wgmma_sm90_forward<::flashjit_generated::KernelTraits>");
  EXPECT_TRUE(contains(k.source,
                       "template __global__ void flashjit::dev::wgmma_sm90_forward<::flashjit_generated::"
                       "KernelTraits>(const __grid_constant__ ::flashjit::WgmmaParams);\n"));
  EXPECT_FALSE(contains(k.source, "KernelTraits>(const ::flashjit::AttentionParams);"));
  for (const char* name : {"wgmma_sm90_forward.cuh", "tma_params.cuh", "wgmma_primitives.cuh",
                           "wgmma_instructions.cuh", "wgmma_tile_scheduler.cuh", "attention_params.cuh", "numeric.cuh"})
    EXPECT_EQ(count_of(k.source, std::string("// ---- templates/") + name + " ----\n"), 1u) << name;
  for (const std::string& line : lines_of(k.source))
    EXPECT_FALSE(llvm::StringRef(line).trim().startswith("#include")) << line;
  EXPECT_EQ(count_of(k.source, "struct WgmmaParams {"), 1u);
  EXPECT_FALSE(contains(k.source, "// ---- templates/generic_forward.cuh ----"));
  EXPECT_FALSE(contains(k.source, "// ---- templates/mma_sm80_forward.cuh ----"));
  EXPECT_TRUE(contains(k.source, "  using Element = ::flashjit::dev::bf16_bits;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kBlockM = 128;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kWarps = 12;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kStages = 3;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr bool kCausal = true;\n"));
}

KernelSpec mma_spec(Variant variant, int arch, DType dtype) {
  KernelSpec s = spec_of(dtype, 128, MaskKind::causal);
  s.variant = variant;
  s.arch = arch;
  s.block_m = 128;
  s.block_n = 64;
  s.warps = 8;
  s.stages = 2;
  return s;
}

// The tensor-core variants share templates/mma_forward.cuh and differ in their root template: the
// shell must instantiate the variant's own kernel, with the pipeline depth the spec asks for.
TEST(Emit, Mma80InstantiatesItsKernelWithTheSpecsTraits) {
  const KernelSpec s = mma_spec(Variant::mma_sm80, 80, DType::bf16);
  const EmittedKernel k = emitted(s);
  EXPECT_EQ(k.key, "mma_sm80_sm80_bf16_d128_m128n64w8s2_causal");
  EXPECT_EQ(k.name_expression, "&flashjit::dev::mma_sm80_forward<::flashjit_generated::KernelTraits>");
  EXPECT_TRUE(contains(k.source, "// ---- templates/mma_sm80_forward.cuh ----\n")) << k.source.substr(0, 300);
  // Every template the kernel needs, inlined exactly once, and no include directive left over.
  for (const char* name : {"mma_forward.cuh", "mma_primitives.cuh", "mma_tile_layout.cuh", "attention_params.cuh",
                           "numeric.cuh"})
    EXPECT_EQ(count_of(k.source, std::string("// ---- templates/") + name + " ----\n"), 1u) << name;
  for (const std::string& line : lines_of(k.source))
    EXPECT_FALSE(llvm::StringRef(line).trim().startswith("#include")) << line;
  EXPECT_FALSE(contains(k.source, "// ---- templates/mma_sm75_forward.cuh ----"));
  EXPECT_FALSE(contains(k.source, "// ---- templates/generic_forward.cuh ----"));
  EXPECT_TRUE(contains(k.source, "  using Element = ::flashjit::dev::bf16_bits;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kWarps = 8;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr int kStages = 2;\n"));
  EXPECT_TRUE(contains(k.source, "  static constexpr bool kCausal = true;\n"));
  EXPECT_TRUE(contains(k.source,
                       "template __global__ void flashjit::dev::mma_sm80_forward<::flashjit_generated::"
                       "KernelTraits>(const ::flashjit::AttentionParams);\n"));
}

TEST(Emit, Mma75InstantiatesItsKernel) {
  const EmittedKernel k = emitted(mma_spec(Variant::mma_sm75, 75, DType::f16));
  EXPECT_EQ(k.key, "mma_sm75_sm75_f16_d128_m128n64w8s2_causal");
  EXPECT_EQ(k.name_expression, "&flashjit::dev::mma_sm75_forward<::flashjit_generated::KernelTraits>");
  EXPECT_TRUE(contains(k.source, "// ---- templates/mma_sm75_forward.cuh ----\n"));
  EXPECT_FALSE(contains(k.source, "// ---- templates/mma_sm80_forward.cuh ----"));
  EXPECT_TRUE(contains(k.source, "  using Element = ::flashjit::dev::half_bits;\n"));
  EXPECT_TRUE(contains(k.source,
                       "template __global__ void flashjit::dev::mma_sm75_forward<::flashjit_generated::"
                       "KernelTraits>(const ::flashjit::AttentionParams);\n"));
}

TEST(ExpandTemplate, InlinesQuotedIncludesOnce) {
  auto text = expand_template("generic_forward.cuh");
  ASSERT_TRUE(static_cast<bool>(text)) << llvm::toString(text.takeError());
  EXPECT_EQ(text->rfind("// ---- templates/generic_forward.cuh ----\n", 0), 0u);
  EXPECT_EQ(count_of(*text, "// ---- templates/numeric.cuh ----"), 1u);
  EXPECT_EQ(count_of(*text, "// ---- templates/attention_params.cuh ----"), 1u);
  EXPECT_FALSE(contains(*text, "#include"));
  EXPECT_FALSE(contains(*text, "#pragma once"));

  auto leaf = expand_template("numeric.cuh");
  ASSERT_TRUE(static_cast<bool>(leaf)) << llvm::toString(leaf.takeError());
  EXPECT_EQ(count_of(*leaf, "// ---- templates/"), 1u);
}

TEST(ExpandTemplate, UnknownNameIsAnError) {
  auto text = expand_template("no_such_template.cuh");
  ASSERT_FALSE(static_cast<bool>(text));
  EXPECT_EQ(llvm::toString(text.takeError()), "template no_such_template.cuh is not embedded in this build");
}

TEST(EmbeddedTemplates, HoldEveryTemplateWithText) {
  std::vector<std::string> names;
  for (const EmbeddedTemplate& t : embedded_templates()) {
    names.push_back(t.name);
    EXPECT_GT(std::string(t.text).size(), 100u) << t.name;
  }
  // Other variants add their templates; the generic variant's must always be there.
  for (const char* name : {"attention_params.cuh", "numeric.cuh", "generic_forward.cuh"})
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  EXPECT_EQ(std::string(templates_sha256()).size(), 64u);
}

TEST(GeneratorHash, IsStableAndNonEmpty) {
  const std::string h = generator_hash();
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h, generator_hash());
  EXPECT_EQ(h, std::string(kGeneratorVersion) + "-" + templates_sha256());
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef-"), std::string::npos) << h;
}

}  // namespace
}  // namespace flashjit::gen
