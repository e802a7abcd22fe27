// What one fuzz input did to its parser: accepted, rejected with an error, or a violation of what
// FlashJIT promises about untrusted input (an escaped exception, a vague or unbounded error, an
// accepted input that breaks an invariant). A target never aborts: it returns a violation and the
// driver (the replay or libFuzzer's entry point) decides what to do.
#pragma once

#include <optional>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "flashjit/status.h"

namespace flashjit::fuzz {

enum class Outcome { accepted, rejected, violation };

const char* outcome_name(Outcome outcome);

struct Verdict {
  Outcome outcome = Outcome::accepted;
  std::string message;  // rejected: the parser's error; violation: what was broken; accepted: empty

  static Verdict accepted() { return {Outcome::accepted, {}}; }
  static Verdict rejected(std::string error) { return {Outcome::rejected, std::move(error)}; }
  static Verdict violation(std::string what) { return {Outcome::violation, std::move(what)}; }
};

// Errors about untrusted input stay short even when the input is huge: values are quoted short.
inline constexpr size_t kMaxErrorBytes = 4096;

// Why `message`, the error for `input`, is not a specific one (empty when it is): it must be
// non-empty, start with `prefix` (the parser's name), be at most kMaxErrorBytes long, and hold no
// text of an escaped exception or of an internal error ("[json.exception", "std::bad_alloc", ...)
// that the input does not hold itself (messages name fields and values of the input).
std::string vague_error_problem(const std::string& message, llvm::StringRef prefix, llvm::StringRef input);

// `error` as the verdict of rejecting `input`: rejected when its message is specific (see above)
// and its code is `expected_code` (when given), a violation saying what is wrong otherwise.
Verdict rejection(llvm::Error error, llvm::StringRef input, llvm::StringRef prefix,
                  std::optional<ErrorCode> expected_code);

}  // namespace flashjit::fuzz
