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

// Issue 14: "window", "softcap", "alibi" and "varlen" make problems of their own keys, carrying the
// window bounds and softcap the tuner times them with.
TEST(Manifest, ScoreModifiersAndRaggedBatchesMakeProblemsOfTheirOwn) {
  auto problems = parse_manifest(R"({"version": 1, "problems": [
      {"dtype": "bf16", "head_dim": 128, "causal": true, "seqlen": 4096},
      {"dtype": "bf16", "head_dim": 128, "causal": true, "seqlen": 4096, "window": [256, 0]},
      {"dtype": "bf16", "head_dim": 128, "seqlen": 4096, "window": [-1, 64], "softcap": 30.5, "alibi": true},
      {"dtype": "bf16", "head_dim": 128, "causal": true, "batch": 16, "seqlen": [3000], "varlen": true}]})");
  ASSERT_TRUE(static_cast<bool>(problems)) << llvm::toString(problems.takeError());
  ASSERT_EQ(problems->size(), 4u);
  const Problem& dense = (*problems)[0];
  const Problem& windowed = (*problems)[1];
  const Problem& capped = (*problems)[2];
  const Problem& ragged = (*problems)[3];
  EXPECT_EQ(dense.key().str(), "bf16_d128_causal_gqa1_len4096");
  EXPECT_EQ(windowed.key().str(), "bf16_d128_causal_window_gqa1_len4096");
  EXPECT_EQ(windowed.score_mod_values(), (ScoreModValues{256, 0, 0.0f}));
  EXPECT_EQ(capped.key().str(), "bf16_d128_none_window_softcap_alibi_gqa1_len4096");
  EXPECT_EQ(capped.score_mod_values(), (ScoreModValues{-1, 64, 30.5f}));
  // A ragged batch: `batch` sequences, keyed by the longest one's bucket; its packed tensors are
  // TMA-addressable as the calls' that give their token counts.
  EXPECT_EQ(ragged.key().str(), "bf16_d128_causal_varlen_gqa1_len4096");
  EXPECT_EQ(ragged.shape().batch, 16);
  EXPECT_EQ(ragged.shape().seqlen_k, 3000);
  EXPECT_NE(dense.key(), windowed.key());
  EXPECT_NE(dense.key(), ragged.key());
}

// Issue 15: a paged decode step (one query row against each length's keys), a dense cache with
// appends (four query rows: not packed), each keyed apart; a bad page size or append is refused by its field.
TEST(Manifest, KvCacheProblems) {
  auto problems = parse_manifest(R"({"version": 1, "problems": [
      {"dtype": "bf16", "head_dim": 128, "num_heads": 32, "num_kv_heads": 8, "batch": 32, "seqlen": [8192, 32768],
       "seqlen_q": 1, "page_size": 16},
      {"dtype": "f16", "head_dim": 64, "seqlen": 1000, "seqlen_q": 4, "kv_cache": true, "append": 4}]})");
  ASSERT_TRUE(static_cast<bool>(problems)) << llvm::toString(problems.takeError());
  ASSERT_EQ(problems->size(), 3u);
  // A decode step is keyed as its calls run: GQA-packed, a KV head's 4 query heads as 4 rows.
  const Problem& decode = (*problems)[0];
  EXPECT_EQ(decode.key().str(), "bf16_d128_none_kvcache_paged_page16_gqa1_len8192");
  EXPECT_EQ(decode.shape().seqlen_q, 4);
  EXPECT_EQ(decode.shape().num_heads, 8);
  EXPECT_EQ(decode.shape().seqlen_k, 8192);
  EXPECT_EQ((*problems)[1].key().str(), "bf16_d128_none_kvcache_paged_page16_gqa1_len32768");
  const Problem& appending = (*problems)[2];
  EXPECT_EQ(appending.key().str(), "f16_d64_none_kvcache_append_gqa1_len1024");
  EXPECT_EQ(appending.shape().seqlen_new, 4);
  EXPECT_EQ(appending.shape().seqlen_q, 4);
  auto entry = [](const std::string& fields) {
    return with_problem(R"({"dtype": "f16", "head_dim": 64, "seqlen": 128, )" + fields + "}");
  };
  EXPECT_EQ(error_of(entry(R"("page_size": 12)")), "manifest: problems[1].page_size: 12 is not a power of two from 1 to 1048576");
  EXPECT_EQ(error_of(entry(R"("page_size": 0)")), "manifest: problems[1].page_size: expected a positive integer, got 0");
  EXPECT_EQ(error_of(entry(R"("append": "2")")), "manifest: problems[1].append: expected an integer, got string");
  EXPECT_EQ(error_of(entry(R"("append": 200)")),
            "manifest: problems[1]: seqlen_new 200 must be from 1 to seqlen_k 128 (the keys a sequence has with them "
            "appended)");
  EXPECT_EQ(error_of(entry(R"("kv_cache": 1)")), "manifest: problems[1].kv_cache: expected true or false");
}

// A right bound under the causal mask is what the mask gives already: the dense causal problem.
TEST(Manifest, ACausalRightBoundIsNoWindow) {
  auto problems = parse_manifest(with_problem(R"({"dtype": "f16", "head_dim": 64, "causal": true, "seqlen": 128,
                                                  "window": [-1, 16]})"));
  ASSERT_TRUE(static_cast<bool>(problems)) << llvm::toString(problems.takeError());
  EXPECT_EQ((*problems)[1].key().str(), "f16_d64_causal_gqa1_len128");
}

TEST(Manifest, ScoreModifierErrorsNameTheField) {
  auto entry = [](const std::string& fields) {
    return with_problem(R"({"dtype": "f16", "head_dim": 64, "seqlen": 128, )" + fields + "}");
  };
  const std::string pair = "expected [left, right]: the keys a query sees before and after its diagonal, -1 for unbounded";
  EXPECT_EQ(error_of(entry(R"("window": 16)")), "manifest: problems[1].window: " + pair);
  EXPECT_EQ(error_of(entry(R"("window": [16])")), "manifest: problems[1].window: " + pair);
  EXPECT_EQ(error_of(entry(R"("window": [1, 2, 3])")), "manifest: problems[1].window: " + pair);
  EXPECT_EQ(error_of(entry(R"("window": [16, "0"])")), "manifest: problems[1].window[1]: expected an integer, got string");
  EXPECT_EQ(error_of(entry(R"("window": [-2, 0])")),
            "manifest: problems[1].window[0]: expected -1 (unbounded) or a key count up to 1073741824, got -2");
  EXPECT_EQ(error_of(entry(R"("window": [0, 99999999999])")),
            "manifest: problems[1].window[1]: expected -1 (unbounded) or a key count up to 1073741824, got 99999999999");
  EXPECT_EQ(error_of(entry(R"("window": [-1, -1])")),
            "manifest: problems[1].window: [-1, -1] bounds nothing: leave the field out for no window");
  EXPECT_EQ(error_of(entry(R"("softcap": "50")")), "manifest: problems[1].softcap: expected a number above 0, got string");
  EXPECT_EQ(error_of(entry(R"("softcap": 0)")),
            "manifest: problems[1].softcap: expected a number above 0 (leave the field out for none), got 0");
  EXPECT_EQ(error_of(entry(R"("softcap": -3.5)")),
            "manifest: problems[1].softcap: expected a number above 0 (leave the field out for none), got -3.5");
  EXPECT_EQ(error_of(entry(R"("softcap": 1e300)")),
            "manifest: problems[1].softcap: expected a number above 0 (leave the field out for none), got 1e+300");
  EXPECT_EQ(error_of(entry(R"("alibi": 1)")), "manifest: problems[1].alibi: expected true or false");
  EXPECT_EQ(error_of(entry(R"("varlen": "yes")")), "manifest: problems[1].varlen: expected true or false");
}

}  // namespace
}  // namespace flashjit::tuner
