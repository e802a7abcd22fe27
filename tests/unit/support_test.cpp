// The bottom layer: errors that carry their public code, and the enum names read back.
#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "helpers/errors.h"
#include "support/error.h"
#include "support/names.h"
#include "support/quote.h"

namespace flashjit {
namespace {

using testing::failure_of;

TEST(CodedError, ReachesTheBoundaryWithItsCodeAndMessage) {
  Status s = to_status(make_error(ErrorCode::unsupported, "no kernel variant can run f32 on sm_61"));
  EXPECT_EQ(s.code(), ErrorCode::unsupported);
  EXPECT_EQ(s.message(), "no kernel variant can run f32 on sm_61");
  EXPECT_EQ(s.to_string(), "unsupported: no kernel variant can run f32 on sm_61");
}

TEST(CodedError, AnErrorWithoutACodeIsInternal) {
  // Every error that can reach a caller is raised with its code; one without is a FlashJIT bug and
  // says so rather than being given a guessed code.
  Status s = to_status(llvm::createStringError(llvm::inconvertibleErrorCode(), "something odd"));
  EXPECT_EQ(s.code(), ErrorCode::internal);
  EXPECT_EQ(s.message(), "something odd");
}

TEST(CodedError, SuccessIsOk) { EXPECT_TRUE(to_status(llvm::Error::success()).ok()); }

TEST(CodedError, APrefixKeepsTheCode) {
  Status s = to_status(with_prefix(make_error(ErrorCode::compile_error, "nvrtc compile failed"), "building x: "));
  EXPECT_EQ(s.code(), ErrorCode::compile_error);
  EXPECT_EQ(s.message(), "building x: nvrtc compile failed");
}

TEST(CodedError, RoundTripsThroughAStatus) {
  const Status kept(ErrorCode::driver_error, "cuModuleLoadData failed: CUDA_ERROR_INVALID_CONTEXT");
  Status again = to_status(to_error(kept));
  EXPECT_EQ(again.code(), kept.code());
  EXPECT_EQ(again.message(), kept.message());
  EXPECT_FALSE(static_cast<bool>(to_error(Status::success())));
}

TEST(CodedError, TheFirstCodedPayloadOfAListDecides) {
  llvm::Error both = llvm::joinErrors(llvm::createStringError(llvm::inconvertibleErrorCode(), "plain"),
                                      make_error(ErrorCode::launch_error, "launch failed"));
  Status s = to_status(std::move(both));
  EXPECT_EQ(s.code(), ErrorCode::launch_error);
  EXPECT_EQ(s.message(), "plain\nlaunch failed");
}

TEST(ParseDtype, AcceptsTheNamesAndRejectsOthers) {
  for (DType d : {DType::f32, DType::f16, DType::bf16}) {
    auto parsed = parse_dtype(dtype_name(d));
    ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, d);
  }
  for (const char* bad : {"half", "F16", ""}) {
    Status s = failure_of(parse_dtype(bad));
    EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
    EXPECT_EQ(s.message(), std::string("unknown dtype '") + bad + "' (expected f32, f16 or bf16)");
  }
}

TEST(ParseMask, AcceptsTheNamesAndRejectsOthers) {
  for (MaskKind m : {MaskKind::none, MaskKind::causal}) {
    auto parsed = parse_mask(mask_name(m));
    ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, m);
  }
  Status s = failure_of(parse_mask("sliding"));
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.message(), "unknown mask 'sliding' (expected none or causal)");
}

TEST(QuotePrefix, ShortPrintableTextIsUnchanged) { EXPECT_EQ(quote_prefix("bf16"), "bf16"); }

TEST(QuotePrefix, EscapesControlBytesQuotesAndBackslashes) {
  EXPECT_EQ(quote_prefix(llvm::StringRef("a\0b\n'\\\"\xff", 8)), "a\\x00b\\x0a\\x27\\x5c\\x22\\xff");
}

TEST(QuotePrefix, CutsLongTextAndSaysHowLongItWas) {
  const std::string huge(50 * 1000 * 1000, 'x');
  EXPECT_EQ(quote_prefix(huge, 10), "xxxxxxxxxx... (50000000 bytes)");
  // An escape is never cut in half.
  EXPECT_EQ(quote_prefix(llvm::StringRef("abcdefghi\x01", 10), 10), "abcdefghi... (10 bytes)");
}

}  // namespace
}  // namespace flashjit
