// Internal errors that carry their public ErrorCode from where they happen: the selector and the
// variant rules raise `unsupported`, the NVRTC wrapper `compile_error`, the driver layer
// `driver_error` (or `no_device`, `launch_error`), validation `invalid_argument`. The public
// boundary turns an error into a Status with the code it carries and never guesses one from the
// message; an error that carries none is a FlashJIT bug and reaches the caller as `internal`.
#pragma once

#include <string>

#include <llvm/ADT/Twine.h>
#include <llvm/Support/Error.h>

#include "flashjit/status.h"

namespace flashjit {

class CodedError : public llvm::ErrorInfo<CodedError> {
 public:
  static char ID;
  CodedError(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  std::string message() const override { return message_; }
  void log(llvm::raw_ostream& os) const override;
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

 private:
  ErrorCode code_;
  std::string message_;
};

// An error with `code` and `message`.
llvm::Error make_error(ErrorCode code, const llvm::Twine& message);

// Consumes `error` into a Status: the code of its first coded payload (`internal` when none has
// one), and the whole message as llvm::toString gives it. Success gives Status::success().
Status to_status(llvm::Error error);
// The reverse, for an error kept as a Status (a failed build remembered by the kernel table).
llvm::Error to_error(const Status& status);

// `error` with `prefix` in front of its message, keeping its code: "forced tiles ...: " + why.
llvm::Error with_prefix(llvm::Error error, const llvm::Twine& prefix);

}  // namespace flashjit
