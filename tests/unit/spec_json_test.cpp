// KernelSpec <-> JSON and the parsers of architecture and variant names.
#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>
#include <nlohmann/json.hpp>

#include "helpers/errors.h"
#include "generator/kernel_spec.h"
#include "generator/spec_json.h"

namespace flashjit::gen {
namespace {

KernelSpec sample_spec() {
  KernelSpec s;
  s.variant = Variant::generic;
  s.arch = 86;
  s.dtype = DType::bf16;
  s.head_dim = 96;
  s.block_m = 16;
  s.block_n = 64;
  s.warps = 2;
  s.stages = 1;
  s.mask = MaskKind::causal;
  return s;
}

std::string json_error(const nlohmann::json& j) {
  auto s = spec_from_json(j);
  if (s) {
    ADD_FAILURE() << "parsed " << j.dump() << " as " << canonical_key(*s);
    return "";
  }
  return flashjit::testing::message_of(s.takeError(), ErrorCode::invalid_argument);
}

template <class T>
std::string error_of(llvm::Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  return flashjit::testing::message_of(value.takeError(), ErrorCode::invalid_argument);
}

TEST(SpecJson, WritesEveryField) {
  const nlohmann::json j = spec_to_json(sample_spec());
  EXPECT_EQ(j.at("key"), "generic_sm86_bf16_d96_m16n64w2s1_causal");
  EXPECT_EQ(j.at("variant"), "generic");
  EXPECT_EQ(j.at("target"), "sm_86");
  EXPECT_EQ(j.at("dtype"), "bf16");
  EXPECT_EQ(j.at("head_dim"), 96);
  EXPECT_EQ(j.at("block_m"), 16);
  EXPECT_EQ(j.at("block_n"), 64);
  EXPECT_EQ(j.at("warps"), 2);
  EXPECT_EQ(j.at("stages"), 1);
  EXPECT_EQ(j.at("mask"), "causal");
}

TEST(SpecJson, RoundTrips) {
  KernelSpec hopper;
  hopper.variant = Variant::wgmma_sm90;
  hopper.arch = 90;
  hopper.arch_specific = true;
  hopper.dtype = DType::f16;
  hopper.head_dim = 128;
  hopper.block_m = 128;
  hopper.block_n = 128;
  hopper.warps = 12;
  hopper.stages = 2;
  hopper.mask = MaskKind::none;

  KernelSpec f32 = sample_spec();
  f32.dtype = DType::f32;
  f32.mask = MaskKind::none;
  f32.arch = 52;

  for (const KernelSpec& s : {sample_spec(), hopper, f32}) {
    const nlohmann::json j = spec_to_json(s);
    auto back = spec_from_json(j);
    ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(*back, s) << canonical_key(*back) << " vs " << canonical_key(s);
    // Through text, as dump files and exports store it.
    auto reparsed = spec_from_json(nlohmann::json::parse(j.dump()));
    ASSERT_TRUE(static_cast<bool>(reparsed)) << llvm::toString(reparsed.takeError());
    EXPECT_EQ(*reparsed, s);
  }
}

TEST(SpecJson, RejectsANonObject) {
  EXPECT_EQ(json_error(nlohmann::json::array({1, 2})), "spec: not a JSON object");
  EXPECT_EQ(json_error(nlohmann::json("generic")), "spec: not a JSON object");
}

TEST(SpecJson, EachMissingFieldIsNamed) {
  for (const char* field : {"variant", "target", "dtype", "mask", "head_dim", "block_m", "block_n",
                            "warps", "stages"}) {
    nlohmann::json j = spec_to_json(sample_spec());
    j.erase(field);
    EXPECT_EQ(json_error(j), std::string("spec field '") + field + "': missing");
  }
}

TEST(SpecJson, EachWrongTypedFieldIsNamed) {
  for (const char* field : {"variant", "target", "dtype", "mask"}) {
    nlohmann::json j = spec_to_json(sample_spec());
    j[field] = 7;
    EXPECT_EQ(json_error(j), std::string("spec field '") + field + "': not a string");
  }
  for (const char* field : {"head_dim", "block_m", "block_n", "warps", "stages"}) {
    nlohmann::json j = spec_to_json(sample_spec());
    j[field] = "64";
    EXPECT_EQ(json_error(j), std::string("spec field '") + field + "': not an integer");
    j[field] = 64.5;
    EXPECT_EQ(json_error(j), std::string("spec field '") + field + "': not an integer");
    j[field] = nullptr;
    EXPECT_EQ(json_error(j), std::string("spec field '") + field + "': not an integer");
  }
}

TEST(SpecJson, IntegersOutsideIntAreRejectedNotTruncated) {
  for (const char* field : {"head_dim", "block_m"}) {
    nlohmann::json j = spec_to_json(sample_spec());
    j[field] = 4294967296LL + 64;  // would wrap to 64 in an int
    const std::string message = json_error(j);
    EXPECT_EQ(message.rfind(std::string("spec field '") + field + "': ", 0), 0u) << message;
    EXPECT_NE(message.find("out of range"), std::string::npos) << message;
  }
}

// A tuned split count is written only when set, read back, and refused below 1 (0 is no field).
TEST(SpecJson, ATunedSplitCountRoundTripsAndIsOtherwiseAbsent) {
  KernelSpec kv = sample_spec();
  kv.kv_cache = true;
  EXPECT_FALSE(spec_to_json(kv).contains("splits"));
  kv.splits = 12;
  nlohmann::json j = spec_to_json(kv);
  EXPECT_EQ(j.at("splits"), 12);
  auto back = spec_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, kv);
  j["splits"] = 0;
  EXPECT_EQ(json_error(j), "spec field 'splits': must be at least 1 (a tuned split count), not 0");
  j["splits"] = "many";
  EXPECT_NE(json_error(j).find("spec field 'splits'"), std::string::npos) << json_error(j);
}

TEST(SpecJson, BadValuesAreNamedWithTheReason) {
  nlohmann::json j = spec_to_json(sample_spec());
  j["variant"] = "mma_sm60";
  EXPECT_EQ(json_error(j),
            "spec field 'variant': unknown variant 'mma_sm60' (expected generic, mma_sm70, mma_sm75, mma_sm80 "
            "or wgmma_sm90)");

  j = spec_to_json(sample_spec());
  j["target"] = "compute_90";
  EXPECT_EQ(json_error(j),
            "spec field 'target': unknown architecture 'compute_90' (expected e.g. sm_90 or sm_90a)");

  j = spec_to_json(sample_spec());
  j["dtype"] = "fp16";
  EXPECT_EQ(json_error(j), "spec field 'dtype': unknown dtype 'fp16' (expected f32, f16 or bf16)");

  j = spec_to_json(sample_spec());
  j["mask"] = "sliding_window";
  EXPECT_EQ(json_error(j), "spec field 'mask': expected none or causal");
}

TEST(ParseArch, AcceptsTheSpellings) {
  auto sm90 = parse_arch("sm_90");
  ASSERT_TRUE(static_cast<bool>(sm90)) << llvm::toString(sm90.takeError());
  EXPECT_EQ(*sm90, std::make_pair(90, false));

  auto sm90a = parse_arch("sm_90a");
  ASSERT_TRUE(static_cast<bool>(sm90a)) << llvm::toString(sm90a.takeError());
  EXPECT_EQ(*sm90a, std::make_pair(90, true));

  auto bare = parse_arch("90");
  ASSERT_TRUE(static_cast<bool>(bare)) << llvm::toString(bare.takeError());
  EXPECT_EQ(*bare, std::make_pair(90, false));

  auto sm120 = parse_arch("sm_120");
  ASSERT_TRUE(static_cast<bool>(sm120)) << llvm::toString(sm120.takeError());
  EXPECT_EQ(*sm120, std::make_pair(120, false));

  auto sm61 = parse_arch("61");
  ASSERT_TRUE(static_cast<bool>(sm61)) << llvm::toString(sm61.takeError());
  EXPECT_EQ(*sm61, std::make_pair(61, false));
}

TEST(ParseArch, RejectsOtherText) {
  for (const char* bad : {"", "sm_", "sm90", "sm_x", "ampere", "sm_9", "sm_90ab", "compute_90", "a",
                          "sm_-90", "1000"}) {
    EXPECT_EQ(error_of(parse_arch(bad)),
              std::string("unknown architecture '") + bad + "' (expected e.g. sm_90 or sm_90a)")
        << bad;
  }
}

TEST(ParseVariant, AcceptsTheNamesAndRejectsOthers) {
  for (Variant v : {Variant::generic, Variant::mma_sm70, Variant::mma_sm75, Variant::mma_sm80, Variant::wgmma_sm90}) {
    auto parsed = parse_variant(variant_name(v));
    ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, v);
  }
  EXPECT_EQ(error_of(parse_variant("wgmma")),
            "unknown variant 'wgmma' (expected generic, mma_sm70, mma_sm75, mma_sm80 or wgmma_sm90)");
}

}  // namespace
}  // namespace flashjit::gen
