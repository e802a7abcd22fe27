#include "support/error.h"

#include <llvm/Support/raw_ostream.h>

namespace flashjit {

char CodedError::ID = 0;

void CodedError::log(llvm::raw_ostream& os) const { os << message_; }

llvm::Error make_error(ErrorCode code, const llvm::Twine& message) {
  return llvm::make_error<CodedError>(code, message.str());
}

Status to_status(llvm::Error error) {
  if (!error) return Status::success();
  ErrorCode code = ErrorCode::internal;
  bool coded = false;
  std::string message;
  // Messages joined as llvm::toString joins them, for an ErrorList of several.
  auto append = [&](const std::string& text) {
    if (!message.empty()) message += "\n";
    message += text;
  };
  llvm::handleAllErrors(
      std::move(error),
      [&](const CodedError& e) {
        append(e.message());
        if (coded) return;
        code = e.code();
        coded = true;
      },
      [&](const llvm::ErrorInfoBase& e) { append(e.message()); });
  return Status(code, message);
}

llvm::Error to_error(const Status& status) {
  if (status.ok()) return llvm::Error::success();
  return make_error(status.code(), status.message());
}

llvm::Error with_prefix(llvm::Error error, const llvm::Twine& prefix) {
  if (!error) return error;
  Status status = to_status(std::move(error));
  return make_error(status.code(), prefix + status.message());
}

}  // namespace flashjit
