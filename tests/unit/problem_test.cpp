// The Problem every layer above the public API works with: built once from validated arguments or
// from sizes alone, with its key (shared by the kernel table and the tuning cache) and what the
// selector judges. Tensors TMA cannot address take other kernels (mma_sm80 on Hopper), so they must
// never share a key, or a cached wgmma_sm90 winner would be launched on rows it cannot load.
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helpers/errors.h"
#include "problem/problem.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

using testing::failure_of;
using testing::message_of;

// Contiguous tensors at 16-byte aligned fake addresses (never dereferenced), with explicit strides
// as validate_args leaves them: bf16, 8 query heads over 2 kv heads, causal.
AttentionArgs contiguous_args() {
  AttentionArgs a;
  a.batch = 2;
  a.num_heads = 8;
  a.num_kv_heads = 2;
  a.seqlen_q = 1000;
  a.seqlen_k = 3000;
  a.head_dim = 128;
  a.mask = MaskKind::causal;
  a.softmax_scale = 0.088f;
  a.q = {reinterpret_cast<const void*>(0x10000000), DType::bf16, contiguous_strides(1000, 8, 128)};
  a.k = {reinterpret_cast<const void*>(0x20000000), DType::bf16, contiguous_strides(3000, 2, 128)};
  a.v = {reinterpret_cast<const void*>(0x30000000), DType::bf16, contiguous_strides(3000, 2, 128)};
  a.out = {reinterpret_cast<void*>(0x40000000), DType::bf16, contiguous_strides(1000, 8, 128)};
  return a;
}

const ProblemFeatures kBf16Causal{DType::bf16, 128, MaskKind::causal};

Problem from_shape(const ProblemFeatures& f, const ProblemShape& s) {
  auto p = Problem::of_shape(f, s);
  if (!p) {
    ADD_FAILURE() << llvm::toString(p.takeError());
    return std::move(*Problem::of_features(f));
  }
  return std::move(*p);
}

TEST(ProblemKey, ContiguousTensorsHaveNoSuffix) {
  EXPECT_EQ(Problem::of_call(contiguous_args()).key().str(), "bf16_d128_causal_gqa4_len4096");
}

TEST(ProblemKey, TensorsTmaCannotAddressAreKeyedApart) {
  AttentionArgs rows = contiguous_args();
  rows.k.strides.seq = 2 * 128 + 4;  // 520-byte rows
  EXPECT_EQ(Problem::of_call(rows).key().str(), "bf16_d128_causal_gqa4_len4096_unaligned");

  AttentionArgs base = contiguous_args();
  base.v.data = reinterpret_cast<const void*>(0x30000008);
  EXPECT_EQ(Problem::of_call(base).key().str(), "bf16_d128_causal_gqa4_len4096_unaligned");

  AttentionArgs out = contiguous_args();
  out.out.strides.head = 132;
  EXPECT_EQ(Problem::of_call(out).key().str(), "bf16_d128_causal_gqa4_len4096_unaligned");
  EXPECT_NE(Problem::of_call(out).key(), Problem::of_call(contiguous_args()).key());
}

TEST(ProblemKey, CallsOfOneBucketShareAKeyAndOthersDoNot) {
  AttentionArgs shorter = contiguous_args();
  shorter.seqlen_k = 2049;  // the same 4096 bucket
  shorter.k.strides = shorter.v.strides = contiguous_strides(2049, 2, 128);
  shorter.batch = 1;
  EXPECT_EQ(Problem::of_call(shorter).key(), Problem::of_call(contiguous_args()).key());

  // Every part of the key separates keys, and the order is a strict one (the kernel table's map).
  const ProblemKey base = Problem::of_call(contiguous_args()).key();
  std::set<ProblemKey> keys = {base, base};
  ProblemKey other_dtype = base, other_dim = base, other_mask = base, other_gqa = base, other_len = base,
             unaligned = base;
  other_dtype.features.dtype = DType::f16;
  other_dim.features.head_dim = 64;
  other_mask.features.mask = MaskKind::none;
  other_gqa.gqa_ratio = 1;
  other_len.seqlen_bucket = 8192;
  unaligned.tma_addressable = false;
  for (const ProblemKey& k : {other_dtype, other_dim, other_mask, other_gqa, other_len, unaligned}) {
    EXPECT_NE(k, base) << k.str();
    keys.insert(k);
  }
  EXPECT_EQ(keys.size(), 7u);
}

TEST(ProblemKey, ParsesBackEveryKeyItWrites) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (int head_dim : {8, 64, 96, 256})
      for (MaskKind mask : {MaskKind::none, MaskKind::causal})
        for (bool aligned : {true, false}) {
          const ProblemKey key{{dtype, head_dim, mask}, 3, 1 << 20, aligned};
          auto parsed = parse_problem_key(key.str());
          ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
          EXPECT_EQ(*parsed, key) << key.str();
        }
  // Every combination of issue 14's specializations, with either mask.
  for (int flags = 0; flags < 16; ++flags)
    for (MaskKind mask : {MaskKind::none, MaskKind::causal}) {
      ProblemKey key{{DType::bf16, 128, mask}, 2, 4096, true};
      key.features.window = flags & 1;
      key.features.softcap = flags & 2;
      key.features.alibi = flags & 4;
      key.features.ragged = flags & 8;
      auto parsed = parse_problem_key(key.str());
      ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
      EXPECT_EQ(*parsed, key) << key.str();
    }
  // Out of order is not what str() writes.
  auto out_of_order = parse_problem_key("bf16_d128_causal_alibi_window_gqa2_len4096");
  ASSERT_FALSE(static_cast<bool>(out_of_order));
  EXPECT_NE(llvm::toString(out_of_order.takeError()).find("has unknown score modifiers 'causal_alibi_window'"),
            std::string::npos);
}

TEST(ProblemKey, RefusesWhatItWouldNotWrite) {
  const std::pair<const char*, const char*> bad[] = {
      {"", "does not end in _len<sequence bucket>"},
      {"bf16_d128_causal_gqa4_len4000", "has a sequence bucket that is not a power of two in 128..2^31"},
      {"bf16_d128_causal_gqa4_len64", "has a sequence bucket that is not a power of two in 128..2^31"},
      {"bf16_d128_causal_gqa4_len4294967296", "has a sequence bucket that is not a power of two in 128..2^31"},
      {"bf16_d128_causal_gqa4_len+4096", "does not end in _len<sequence bucket>"},
      {"bf16_d128_causal_gqa0_len4096", "has no _gqa<query heads per KV head> before _len"},
      {"bf16_d128_causal_gqa04_len4096", "has no _gqa<query heads per KV head> before _len"},
      {"bf16_d128_causal_len4096", "has no _gqa<query heads per KV head> before _len"},
      {"half_d128_causal_gqa4_len4096", "starts with no dtype: unknown dtype 'half' (expected f32, f16 or bf16)"},
      {"bf16_x128_causal_gqa4_len4096", "has no _d<head dim> after its dtype"},
      {"bf16_d128_sliding_gqa4_len4096", "has unknown score modifiers 'sliding'"},
      {"f16_d8_none_gqa1_len128_aligned", "does not end in _len<sequence bucket>"},
  };
  for (const auto& [text, why] : bad) {
    Status s = failure_of(parse_problem_key(text));
    EXPECT_EQ(s.code(), ErrorCode::invalid_argument) << text;
    EXPECT_EQ(s.message(), std::string("problem key '") + text + "' " + why);
  }
  // Invalid features are refused with the reason validate gives.
  Status odd = failure_of(parse_problem_key("bf16_d100_causal_gqa4_len4096"));
  EXPECT_EQ(odd.code(), ErrorCode::invalid_argument);
  EXPECT_NE(odd.message().find("problem key 'bf16_d100_causal_gqa4_len4096' has invalid features: "),
            std::string::npos)
      << odd.message();
  // A hostile key is quoted short (96 characters: the longest real key fits) and escaped.
  Status hostile = failure_of(parse_problem_key(std::string(1000, 'x') + "\n"));
  EXPECT_EQ(hostile.message(),
            "problem key '" + std::string(128, 'x') + "... (1001 bytes)' does not end in _len<sequence bucket>");
}

TEST(Problem, OfKeyHasThatKey) {
  for (bool aligned : {true, false}) {
    const ProblemKey key{{DType::f16, 64, MaskKind::causal}, 8, 2048, aligned};
    const Problem problem = Problem::of_key(key);
    EXPECT_EQ(problem.key(), key);
    EXPECT_EQ(problem.tma_addressable(), aligned);
  }
}

TEST(ProblemKey, BucketsLengthsToTheNextPowerOfTwoFrom128) {
  EXPECT_EQ(sequence_length_bucket(0), 128);
  EXPECT_EQ(sequence_length_bucket(1), 128);
  EXPECT_EQ(sequence_length_bucket(128), 128);
  EXPECT_EQ(sequence_length_bucket(129), 256);
  EXPECT_EQ(sequence_length_bucket(4096), 4096);
  EXPECT_EQ(sequence_length_bucket(4097), 8192);
  EXPECT_EQ(sequence_length_bucket(int64_t{1} << 40), int64_t{1} << 40);
  EXPECT_EQ(sequence_length_bucket(INT64_MAX), int64_t{1} << 62);  // no overflow
}

TEST(Problem, CarriesWhatTheSelectorJudges) {
  const Problem aligned = Problem::of_call(contiguous_args());
  EXPECT_EQ(aligned.features(), kBf16Causal);
  EXPECT_TRUE(aligned.tma_addressable());
  EXPECT_EQ(aligned.tma_problem(), "");
  EXPECT_EQ(aligned.gqa_ratio(), 4);
  EXPECT_EQ(aligned.seqlen_bucket(), 4096);

  AttentionArgs rows = contiguous_args();
  rows.k.strides.seq = 2 * 128 + 4;
  const Problem unaligned = Problem::of_call(rows);
  EXPECT_FALSE(unaligned.tma_addressable());
  EXPECT_EQ(unaligned.tma_problem(),
            "k: the seq stride of 260 elements (520 bytes) is not a positive multiple of 16 bytes");
}

// A manifest entry or the CLI's options name sizes only: the problem is the one a contiguous call
// of those sizes makes, key and TMA verdict included, with no special case for missing data.
TEST(Problem, FromSizesIsTheContiguousCall) {
  const AttentionArgs call = contiguous_args();
  const Problem sized = from_shape(kBf16Causal, shape_of(call));
  EXPECT_EQ(sized.key(), Problem::of_call(call).key());
  EXPECT_EQ(sized.shape().seqlen_q, 1000);
  EXPECT_EQ(sized.shape().seqlen_k, 3000);
  EXPECT_TRUE(sized.tma_addressable());

  // Its contiguous arguments at real buffers are what validate_args makes of the same call.
  const AttentionArgs made = sized.contiguous_args(call.q.data, call.k.data, call.v.data, call.out.data);
  Result<AttentionArgs> normalized = validate_args(made);
  ASSERT_TRUE(normalized.ok()) << normalized.status().to_string();
  EXPECT_EQ(Problem::of_call(*normalized).key(), sized.key());
  EXPECT_EQ(made.k.strides.seq, call.k.strides.seq);
  EXPECT_EQ(made.out.strides.batch, call.out.strides.batch);
  EXPECT_FLOAT_EQ(made.softmax_scale, 1.0f / std::sqrt(128.0f));
  EXPECT_EQ(made.lse, nullptr);
}

TEST(Problem, FromSizesIsCheckedLikeACall) {
  EXPECT_EQ(message_of(Problem::of_shape({DType::f16, 100, MaskKind::none}, {}), ErrorCode::invalid_argument),
            "head_dim 100 is not a multiple of 8");
  EXPECT_EQ(message_of(Problem::of_shape({DType::f16, 64, MaskKind::none}, {1, 6, 4, 8, 8}),
                       ErrorCode::invalid_argument),
            "num_heads 6 is not a multiple of num_kv_heads 4");
  EXPECT_EQ(message_of(Problem::of_shape({DType::f16, 64, MaskKind::none}, {70000, 1, 1, 8, 8}),
                       ErrorCode::invalid_argument),
            "batch 70000 exceeds the maximum of 65535");
  EXPECT_EQ(message_of(Problem::of_shape({DType::f16, 64, MaskKind::none}, {1, 1, 1, 0, 8}),
                       ErrorCode::invalid_argument),
            "seqlen_q must be positive, got 0");
  EXPECT_EQ(message_of(Problem::of_shape({static_cast<DType>(7), 64, MaskKind::none}, {}), ErrorCode::invalid_argument),
            "dtype 7 is not a known DType (expected f32, f16 or bf16)");
  EXPECT_EQ(message_of(Problem::of_shape({DType::f16, 64, static_cast<MaskKind>(5)}, {}), ErrorCode::invalid_argument),
            "mask 5 is not a known MaskKind (expected none or causal)");
}

TEST(Problem, ABatchChangeKeepsTheKey) {
  const Problem p = from_shape(kBf16Causal, {64, 32, 8, 8192, 8192});
  const Problem smaller = p.with_batch(2);
  EXPECT_EQ(smaller.shape().batch, 2);
  EXPECT_EQ(smaller.key(), p.key());
}

TEST(ProblemFeatures, ReadFromAndWrittenToArguments) {
  AttentionArgs a;
  set_features(kBf16Causal, a);
  EXPECT_EQ(features_of(a), kBf16Causal);
  for (DType t : {a.q.dtype, a.k.dtype, a.v.dtype, a.out.dtype}) EXPECT_EQ(t, DType::bf16);
  EXPECT_EQ(a.head_dim, 128);
  EXPECT_EQ(a.mask, MaskKind::causal);
}

TEST(ProblemFeatures, KeysTraitsAndJsonComeFromOnePlace) {
  EXPECT_EQ(shape_key(kBf16Causal), "bf16_d128");
  EXPECT_EQ(modifier_key(kBf16Causal), "causal");
  EXPECT_EQ(modifier_key({DType::f32, 64, MaskKind::none}), "none");
  const std::vector<KernelTrait> traits = modifier_traits(kBf16Causal);
  ASSERT_EQ(traits.size(), 5u);
  EXPECT_EQ(traits[0].type + " " + traits[0].name + " = " + traits[0].value, "bool kCausal = true");
  for (size_t i = 1; i < traits.size(); ++i) EXPECT_EQ(traits[i].value, "false") << traits[i].name;

  nlohmann::json object = nlohmann::json::object();
  write_features(kBf16Causal, object);
  EXPECT_EQ(object, (nlohmann::json{{"dtype", "bf16"}, {"head_dim", 128}, {"mask", "causal"}}));
  auto back = read_features(object);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, kBf16Causal);

  object["mask"] = "sliding";
  EXPECT_EQ(message_of(read_features(object), ErrorCode::invalid_argument), "field 'mask': expected none or causal");
  object.erase("head_dim");
  object["mask"] = "none";
  EXPECT_EQ(message_of(read_features(object), ErrorCode::invalid_argument), "field 'head_dim': missing");
}

// Issue 14's specializations extend the keys, traits and JSON, and leave a dense problem's alone.
TEST(ProblemFeatures, ModifiersExtendKeysTraitsAndJson) {
  ProblemFeatures f = kBf16Causal;
  f.window = f.softcap = f.alibi = f.ragged = true;
  EXPECT_EQ(modifier_key(f), "causal_window_softcap_alibi_varlen");
  ProblemFeatures only_ragged{DType::f16, 64, MaskKind::none};
  only_ragged.ragged = true;
  EXPECT_EQ(modifier_key(only_ragged), "none_varlen");
  EXPECT_TRUE(only_ragged.any_modifier());
  EXPECT_FALSE(kBf16Causal.any_modifier());
  std::string names;
  for (const KernelTrait& t : modifier_traits(f)) names += t.name + "=" + t.value + " ";
  EXPECT_EQ(names, "kCausal=true kWindow=true kSoftcap=true kAlibi=true kRagged=true ");

  nlohmann::json object = nlohmann::json::object();
  write_features(f, object);
  EXPECT_EQ(object, (nlohmann::json{{"dtype", "bf16"}, {"head_dim", 128}, {"mask", "causal"}, {"window", true},
                                    {"softcap", true}, {"alibi", true}, {"ragged", true}}));
  auto back = read_features(object);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, f);
  object["alibi"] = false;  // never written: only true fields are
  EXPECT_EQ(message_of(read_features(object), ErrorCode::invalid_argument),
            "field 'alibi': expected true (or no field)");
}

// Issue 15's KV cache: its own words in the key and fields in the JSON, both read back; a key with
// pages or appends but no cache is not a problem (they need its counts).
TEST(ProblemFeatures, KvCacheFeaturesExtendKeysAndJson) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::causal};
  f.kv_cache = f.paged = f.append = true;
  EXPECT_EQ(modifier_key(f), "causal_kvcache_paged_append");
  EXPECT_TRUE(f.any_modifier());
  ProblemKey key{f, 4, 8192, true, 16};
  EXPECT_EQ(key.str(), "bf16_d128_causal_kvcache_paged_append_page16_gqa4_len8192");
  auto parsed = parse_problem_key(key.str());
  ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_EQ(*parsed, key);
  nlohmann::json object = nlohmann::json::object();
  write_features(f, object);
  EXPECT_EQ(object, (nlohmann::json{{"dtype", "bf16"}, {"head_dim", 128}, {"mask", "causal"}, {"kv_cache", true},
                                    {"paged", true}, {"append", true}}));
  auto back = read_features(object);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(*back, f);
  EXPECT_EQ(message_of(parse_problem_key("f16_d64_none_paged_gqa1_len128"), ErrorCode::invalid_argument),
            "problem key 'f16_d64_none_paged_gqa1_len128' has invalid features: a paged KV cache needs each "
            "sequence's key count (seqused_k)");
}

// A paged problem's page size is part of its key (pages of 1 and 256 keys are tuned apart), read
// back exactly; a paged key without one, a page size without pages, or one that is not a power of
// two is refused.
TEST(ProblemFeatures, PagedKeysCarryThePageSize) {
  for (int page : {1, 2, 16, 256, 1 << 20}) {
    ProblemFeatures f{DType::f16, 64, MaskKind::none};
    f.kv_cache = f.paged = true;
    const ProblemKey key{f, 1, 128, true, page};
    auto parsed = parse_problem_key(key.str());
    ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, key);
    EXPECT_EQ(parsed->page_size, page);
  }
  EXPECT_EQ(message_of(parse_problem_key("f16_d64_none_kvcache_paged_gqa1_len128"), ErrorCode::invalid_argument),
            "problem key 'f16_d64_none_kvcache_paged_gqa1_len128' is paged but has no _page<page size>");
  EXPECT_EQ(message_of(parse_problem_key("f16_d64_none_kvcache_page16_gqa1_len128"), ErrorCode::invalid_argument),
            "problem key 'f16_d64_none_kvcache_page16_gqa1_len128' has a page size but is not paged");
  EXPECT_EQ(message_of(parse_problem_key("f16_d64_none_kvcache_paged_page24_gqa1_len128"), ErrorCode::invalid_argument),
            "problem key 'f16_d64_none_kvcache_paged_page24_gqa1_len128' has a page size that is not a power of two "
            "from 1 to 1048576");
  EXPECT_EQ(message_of(parse_problem_key("f16_d64_none_kvcache_paged_page016_gqa1_len128"), ErrorCode::invalid_argument),
            "problem key 'f16_d64_none_kvcache_paged_page016_gqa1_len128' has unknown score modifiers "
            "'none_kvcache_paged_page016'");
}

// A KV key on a GPU carries the split count there after its bucket; read back exactly, refused on a
// key without a cache or beyond the most splits.
TEST(ProblemFeatures, KvKeysCarryTheirSplitCount) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::none};
  f.kv_cache = f.paged = true;
  ProblemKey key{f, 4, 32768, false, 16};
  key.splits = 16;
  EXPECT_EQ(key.str(), "bf16_d128_none_kvcache_paged_page16_gqa4_len32768_split16_unaligned");
  for (int splits : {0, 1, 16, kMaxKvSplits}) {
    key.splits = splits;
    auto parsed = parse_problem_key(key.str());
    ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, key);
  }
  EXPECT_EQ(message_of(parse_problem_key("bf16_d128_none_gqa4_len4096_split4"), ErrorCode::invalid_argument),
            "problem key 'bf16_d128_none_gqa4_len4096_split4' has a split count but no KV cache");
  EXPECT_EQ(message_of(parse_problem_key("bf16_d128_none_kvcache_gqa4_len4096_split129"), ErrorCode::invalid_argument),
            "problem key 'bf16_d128_none_kvcache_gqa4_len4096_split129' has a split count above 128");
  EXPECT_EQ(message_of(parse_problem_key("bf16_d128_none_kvcache_gqa4_len4096_split04"), ErrorCode::invalid_argument),
            "problem key 'bf16_d128_none_kvcache_gqa4_len4096_split04' does not end in _len<sequence bucket>");
}

// A KV problem without data: the page size defaults to vLLM's 16 and the appended keys to 1; a page
// size or appended keys the features do not have are refused rather than ignored, and the cache's
// pages cover each sequence's keys rounded up to whole pages.
TEST(ProblemFeatures, KvCacheShapes) {
  ProblemFeatures f{DType::bf16, 128, MaskKind::causal};
  f.kv_cache = f.paged = f.append = true;
  auto defaulted = Problem::of_shape(f, ProblemShape{2, 8, 2, 1, 1000});
  ASSERT_TRUE(static_cast<bool>(defaulted)) << llvm::toString(defaulted.takeError());
  EXPECT_EQ(defaulted->shape().page_size, kDefaultPageSize);
  EXPECT_EQ(defaulted->shape().seqlen_new, 1);
  EXPECT_EQ(defaulted->pages_per_sequence(), 63);  // 1000 / 16 rounded up
  EXPECT_EQ(defaulted->num_pages(), 126);
  EXPECT_EQ(defaulted->key_rows(), 126 * 16);
  EXPECT_EQ(defaulted->new_key_rows(), 2);
  EXPECT_EQ(defaulted->key().page_size, 16);
  EXPECT_EQ(defaulted->key().str(), "bf16_d128_causal_kvcache_paged_append_page16_gqa4_len1024");

  ProblemFeatures dense_cache = f;
  dense_cache.paged = dense_cache.append = false;
  auto dense = Problem::of_shape(dense_cache, ProblemShape{2, 8, 2, 1, 1000});
  ASSERT_TRUE(static_cast<bool>(dense)) << llvm::toString(dense.takeError());
  EXPECT_EQ(dense->key_rows(), 2000);
  EXPECT_EQ(dense->key().page_size, 0);
  EXPECT_EQ(message_of(Problem::of_shape(dense_cache, ProblemShape{2, 8, 2, 1, 1000, 16}), ErrorCode::invalid_argument),
            "page_size 16 is set but the problem has no paged KV cache");
  EXPECT_EQ(message_of(Problem::of_shape(dense_cache, ProblemShape{2, 8, 2, 1, 1000, 0, 4}), ErrorCode::invalid_argument),
            "seqlen_new 4 is set but the problem appends no keys");
  EXPECT_EQ(message_of(Problem::of_shape(f, ProblemShape{2, 8, 2, 1, 1000, 12}), ErrorCode::invalid_argument),
            "page_size 12 is not a power of two from 1 to 1048576");
  EXPECT_EQ(message_of(Problem::of_shape(f, ProblemShape{2, 8, 2, 1, 10, 16, 11}), ErrorCode::invalid_argument),
            "seqlen_new 11 must be from 1 to seqlen_k 10 (the keys a sequence has with them appended)");
}

// A call's arguments decide the features: a causal mask covers window_right, a window_left does not.
TEST(ProblemFeatures, FeaturesOfACall) {
  AttentionArgs a;
  set_features(kBf16Causal, a);
  a.window_right = 4;
  EXPECT_FALSE(features_of(a).window) << "causal already bounds the right side";
  a.mask = MaskKind::none;
  EXPECT_TRUE(features_of(a).window);
  a.window_right = -1;
  a.window_left = 0;
  EXPECT_TRUE(features_of(a).window);
  a.softcap = 50.0f;
  EXPECT_TRUE(features_of(a).softcap);
  int32_t offsets[2] = {0, 1};
  a.cu_seqlens_q = a.cu_seqlens_k = offsets;
  EXPECT_TRUE(features_of(a).ragged);
}

}  // namespace
}  // namespace flashjit
