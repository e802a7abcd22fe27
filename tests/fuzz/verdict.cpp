#include "fuzz/verdict.h"

#include "support/error.h"
#include "support/quote.h"

namespace flashjit::fuzz {

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::accepted: return "accepted";
    case Outcome::rejected: return "rejected";
    case Outcome::violation: return "violation";
  }
  return "?";
}

namespace {

// `message` without the text between single quotes.
std::string unquoted(const std::string& message) {
  std::string out;
  bool quoted = false;
  for (char c : message) {
    if (c == '\'') quoted = !quoted;
    else if (!quoted) out += c;
  }
  return out;
}

}  // namespace

std::string vague_error_problem(const std::string& message, llvm::StringRef prefix, llvm::StringRef input) {
  if (message.empty()) return "the error is empty";
  if (!llvm::StringRef(message).startswith(prefix))
    return "the error does not start with '" + prefix.str() + "': '" + quote_prefix(message, 200) + "'";
  if (message.size() > kMaxErrorBytes)
    return "the error is " + std::to_string(message.size()) + " bytes, more than " + std::to_string(kMaxErrorBytes) +
           ": '" + quote_prefix(message, 200) + "'";
  // What an exception's what() or a catch-all handler writes, never a message of ours. Looked for
  // outside the quoted values (quote_prefix escapes a quote inside one), which are the input's own
  // bytes, decoded: a fuzzer that writes "unknown exception" into a key must not fail the check.
  const std::string ours = unquoted(message);
  for (const char* generic : {"internal error", "[json.exception", "std::bad_", "basic_string", "bad_alloc",
                              "unknown exception", "what():", "vector::"})
    if (ours.find(generic) != std::string::npos && !input.contains(generic))
      return "the error is generic ('" + std::string(generic) + "'): '" + quote_prefix(message, 200) + "'";
  return {};
}

Verdict rejection(llvm::Error error, llvm::StringRef input, llvm::StringRef prefix,
                  std::optional<ErrorCode> expected_code) {
  const Status status = to_status(std::move(error));
  if (std::string problem = vague_error_problem(status.message(), prefix, input); !problem.empty())
    return Verdict::violation(problem);
  if (expected_code && status.code() != *expected_code)
    return Verdict::violation(std::string("the error's code is ") + error_code_name(status.code()) + ", not " +
                              error_code_name(*expected_code) + ": '" + quote_prefix(status.message(), 200) + "'");
  return Verdict::rejected(status.message());
}

}  // namespace flashjit::fuzz
