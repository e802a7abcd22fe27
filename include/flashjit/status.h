// Status and Result: how every public FlashJIT call reports failure. Messages are specific and
// lowercase ("head_dim 100 is not a multiple of 8"); the library never exits or aborts.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

#include "flashjit/export.h"

namespace flashjit {

enum class ErrorCode {
  ok,
  invalid_argument,  // the caller's input is wrong; nothing was launched
  unsupported,       // valid input this device, build or variant cannot run
  no_device,         // no usable GPU (no driver, no device, index out of range)
  driver_error,      // the CUDA driver reported a failure
  compile_error,     // NVRTC rejected generated source (message carries the log)
  launch_error,      // a kernel failed to load or launch
  internal,          // a bug in FlashJIT
};

FLASHJIT_API const char* error_code_name(ErrorCode code);

class FLASHJIT_API Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status success() { return Status(); }

  bool ok() const { return code_ == ErrorCode::ok; }
  explicit operator bool() const { return ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: head_dim 100 is not a multiple of 8"
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::ok;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace flashjit
