// Reading untrusted input: only regular files within a byte limit, JSON with bounded nesting.
#include <fstream>
#include <string>

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "helpers/errors.h"
#include "support/untrusted_input.h"
#include "unit/cache_test_support.h"

namespace flashjit {
namespace {

using flashjit::testing::message_of;

std::string write_file(const cache::testing::ScratchDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(UntrustedInput, ARegularFileWithinTheLimitIsReadWhole) {
  cache::testing::ScratchDir dir;
  const std::string text("{\"a\": 1}\0tail", 13);  // a NUL byte does not end it
  const std::string path = write_file(dir, "in.json", text);
  auto read = read_input_file(path, 13, "--max-input-bytes");
  ASSERT_TRUE(static_cast<bool>(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(*read, text);
}

TEST(UntrustedInput, AFileOverTheLimitIsRefusedWithItsSize) {
  cache::testing::ScratchDir dir;
  const std::string path = write_file(dir, "big.json", std::string(100, ' '));
  EXPECT_EQ(message_of(read_input_file(path, 99, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read " + path + ": it is 100 bytes, over the limit of 99 bytes (raise it with --max-input-bytes)");
}

TEST(UntrustedInput, WhatIsNotARegularFileIsRefusedSayingWhatItIs) {
  cache::testing::ScratchDir dir;
  EXPECT_EQ(message_of(read_input_file(dir.path(), 1 << 20, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read " + dir.path() + ": it is a directory");
  // Unbounded streams: reading them would never end (or end the process).
  EXPECT_EQ(message_of(read_input_file("/dev/zero", 1 << 20, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read /dev/zero: it is a character device");
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // No writer: a blocking open would hang here.
  EXPECT_EQ(message_of(read_input_file(fifo, 1 << 20, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read " + fifo + ": it is a FIFO (named pipe)");
  EXPECT_EQ(message_of(read_input_file(dir.file("missing"), 1 << 20, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read " + dir.file("missing") + ": No such file or directory");
}

TEST(UntrustedInput, ControlBytesInAPathAreEscaped) {
  EXPECT_EQ(message_of(read_input_file(std::string("/no\x01such"), 1, "--max-input-bytes"), ErrorCode::invalid_argument),
            "cannot read /no\\x01such: No such file or directory");
}

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(UntrustedInput, JsonNestingIsBounded) {
  auto at_limit = parse_json(nested_arrays(kMaxJsonDepth));
  ASSERT_TRUE(static_cast<bool>(at_limit)) << llvm::toString(at_limit.takeError());
  EXPECT_TRUE(at_limit->is_array());
  EXPECT_EQ(message_of(parse_json(nested_arrays(kMaxJsonDepth + 1)), ErrorCode::invalid_argument),
            "JSON nesting deeper than 64 levels");
  // What crashed `flashjit warm`: 100k levels, in objects too; refused without recursing.
  const std::string deep_objects = "{\"version\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(message_of(parse_json(deep_objects), ErrorCode::invalid_argument), "JSON nesting deeper than 64 levels");
  EXPECT_EQ(message_of(parse_json(nested_arrays(3), 2), ErrorCode::invalid_argument),
            "JSON nesting deeper than 2 levels");
}

TEST(UntrustedInput, InvalidJsonIsAnError) {
  EXPECT_EQ(message_of(parse_json("{\"a\": "), ErrorCode::invalid_argument), "not valid JSON");
  EXPECT_EQ(message_of(parse_json(""), ErrorCode::invalid_argument), "not valid JSON");
  auto parsed = parse_json(R"({"a": [1, {"b": null}]})");
  ASSERT_TRUE(static_cast<bool>(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_EQ(parsed->dump(), R"({"a":[1,{"b":null}]})");
}

}  // namespace
}  // namespace flashjit
