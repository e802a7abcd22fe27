#include <gtest/gtest.h>

#include "support/log.h"

namespace flashjit {
namespace {

TEST(Log, ParsesLevelsAndDefaultsToWarning) {
  EXPECT_EQ(log::parse_level(nullptr), log::Level::warning);
  EXPECT_EQ(log::parse_level(""), log::Level::warning);
  EXPECT_EQ(log::parse_level("debug"), log::Level::debug);
  EXPECT_EQ(log::parse_level("info"), log::Level::info);
  EXPECT_EQ(log::parse_level("warn"), log::Level::warning);
  EXPECT_EQ(log::parse_level("error"), log::Level::error);
  EXPECT_EQ(log::parse_level("off"), log::Level::off);
  EXPECT_EQ(log::parse_level("loud"), log::Level::warning);
}

}  // namespace
}  // namespace flashjit
