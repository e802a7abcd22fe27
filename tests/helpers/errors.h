// Looking at an internal error in a test: its code and message as the public Status would carry
// them, so tests assert both.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <llvm/Support/Error.h>

#include "support/error.h"

namespace flashjit::testing {

// The Status `error` converts to; a test failure (and an ok Status) when there is no error.
inline Status failure_of(llvm::Error error) {
  if (!error) ADD_FAILURE() << "expected an error, got success";
  return to_status(std::move(error));
}

template <class T>
Status failure_of(llvm::Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "expected an error, got a value";
    return Status::success();
  }
  return to_status(value.takeError());
}

// The message of `error`, after checking that it carries `expected`: how tests assert an error's
// code and its message together.
inline std::string message_of(llvm::Error error, ErrorCode expected) {
  Status status = failure_of(std::move(error));
  EXPECT_EQ(status.code(), expected) << "code " << error_code_name(status.code()) << " for: " << status.message();
  return status.message();
}

template <class T>
std::string message_of(llvm::Expected<T> value, ErrorCode expected) {
  if (value) {
    ADD_FAILURE() << "expected an error, got a value";
    return std::string();
  }
  return message_of(value.takeError(), expected);
}

}  // namespace flashjit::testing
