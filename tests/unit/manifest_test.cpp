// The deployment manifest: what it accepts, and errors that name the field and its position.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "helpers/errors.h"
#include "tuner/manifest.h"

namespace flashjit::tuner {
namespace {

std::string error_of(const std::string& text) {
  auto parsed = parse_manifest(text);
  EXPECT_FALSE(static_cast<bool>(parsed));
  return parsed ? "" : flashjit::testing::message_of(parsed.takeError(), ErrorCode::invalid_argument);
}

std::string with_problem(const std::string& problem) {
  return R"({"version": 1, "problems": [{"dtype": "bf16", "head_dim": 64, "seqlen": 128}, )" + problem + "]}";
}

TEST(Manifest, TheShippedExampleParses) {
  std::ifstream in(FLASHJIT_SOURCE_DIR "/examples/deploy-manifest.json");
  std::stringstream text;
  text << in.rdbuf();
  auto problems = parse_manifest(text.str());
  ASSERT_TRUE(static_cast<bool>(problems)) << llvm::toString(problems.takeError());
  // One problem per length: the first entry lists two.
  ASSERT_EQ(problems->size(), 4u);
  const Problem& first = (*problems)[0];
  EXPECT_EQ(first.dtype(), DType::bf16);
  EXPECT_EQ(first.head_dim(), 128);
  EXPECT_EQ(first.mask(), MaskKind::causal);
  EXPECT_EQ(first.shape().num_heads, 32);
  EXPECT_EQ(first.shape().num_kv_heads, 8);
  EXPECT_EQ(first.shape().batch, 4);
  EXPECT_EQ(first.shape().seqlen_q, 1024);
  EXPECT_EQ(first.shape().seqlen_k, 1024);
  EXPECT_EQ((*problems)[1].shape().seqlen_k, 4096);
  EXPECT_EQ((*problems)[2].shape().seqlen_k, 16384);  // a single length is allowed
  EXPECT_EQ((*problems)[3].shape().num_kv_heads, 16);  // defaults to num_heads
  EXPECT_EQ((*problems)[3].key().str(), "f16_d64_causal_gqa1_len2048");
}

TEST(Manifest, ErrorsNameTheFieldAndPosition) {
  EXPECT_EQ(error_of("{"), "manifest: not valid JSON");
  EXPECT_EQ(error_of(R"({"problems": []})"), "manifest: version: missing");
  EXPECT_EQ(error_of(R"({"version": 2, "problems": []})"), "manifest: version: this FlashJIT reads version 1, got 2");
  EXPECT_EQ(error_of(R"({"version": 1, "problems": []})"), "manifest: problems: empty list");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "fp8", "head_dim": 64, "seqlen": 1})")),
            "manifest: problems[1].dtype: unknown dtype 'fp8' (expected f32, f16 or bf16)");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 100, "seqlen": 1})")),
            "manifest: problems[1].head_dim: 100 is not a multiple of 8 in 8..256");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": "64", "seqlen": 1})")),
            "manifest: problems[1].head_dim: expected an integer, got string");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64, "seqlen": [128, -4]})")),
            "manifest: problems[1].seqlen[1]: expected a positive integer up to 16777216");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64, "num_heads": 6, "num_kv_heads": 4, "seqlen": 8})")),
            "manifest: problems[1].num_kv_heads: num_heads 6 is not a multiple of 4");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64, "seqlen": 8, "casual": true})")),
            "manifest: problems[1].casual: unknown field");
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64})")), "manifest: problems[1].seqlen: missing");
  // What every problem must satisfy beyond the manifest's own fields: the launch grid's limits.
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64, "batch": 70000, "seqlen": [8]})")),
            "manifest: problems[1]: batch 70000 exceeds the maximum of 65535");
}

// Untrusted text: a deep document is refused before anything recurses through it, and what a
// message quotes of a bad value is short and escaped.
TEST(Manifest, DeepNestingIsRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(error_of(R"({"version": )" + deep + R"(, "problems": []})"), "manifest: JSON nesting deeper than 64 levels");
  EXPECT_EQ(error_of(R"({"version": [[1]], "problems": []})"),
            "manifest: version: this FlashJIT reads version 1, got array");
}

TEST(Manifest, BadValuesAreQuotedShortAndEscaped) {
  EXPECT_EQ(error_of(with_problem(R"({"dtype": "f16", "head_dim": 64, "seqlen": 8, "ca\u0000sual": true})")),
            "manifest: problems[1].ca\\x00sual: unknown field");
  const std::string huge(1 << 20, 'x');
  EXPECT_EQ(error_of(with_problem(R"({"dtype": ")" + huge + R"(", "head_dim": 64, "seqlen": 1})")),
            "manifest: problems[1].dtype: unknown dtype '" + std::string(40, 'x') +
                "... (1048576 bytes)' (expected f32, f16 or bf16)");
  EXPECT_EQ(error_of(R"({"version": ")" + huge + R"(", "problems": []})"),
            "manifest: version: this FlashJIT reads version 1, got string");
}

}  // namespace
}  // namespace flashjit::tuner
