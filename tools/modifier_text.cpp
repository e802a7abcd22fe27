#include "tools/modifier_text.h"

#include <cstdio>
#include <vector>

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

namespace flashjit::tools {
namespace {

// 50, 30.5: as short as the value allows.
std::string number(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(value));
  return text;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  return llvm::join(parts.begin(), parts.end(), separator);
}

}  // namespace

std::string modifiers_text(const Problem& problem) {
  const ProblemFeatures& f = problem.features();
  const ScoreModValues& v = problem.score_mod_values();
  std::vector<std::string> parts;
  if (f.ragged) parts.push_back("ragged");
  if (f.window) parts.push_back(llvm::formatv("window {0},{1}", v.window_left, v.window_right));
  if (f.softcap) parts.push_back("softcap " + number(v.softcap));
  if (f.alibi) parts.push_back("ALiBi");
  return join(parts, ", ");
}

std::string modifiers_label(const Problem& problem) {
  const ProblemFeatures& f = problem.features();
  const ScoreModValues& v = problem.score_mod_values();
  std::vector<std::string> parts;
  if (f.ragged) parts.push_back("varlen");
  if (f.window) parts.push_back(llvm::formatv("w{0},{1}", v.window_left, v.window_right));
  if (f.softcap) parts.push_back("cap" + number(v.softcap));
  if (f.alibi) parts.push_back("alibi");
  return parts.empty() ? "-" : join(parts, " ");
}

}  // namespace flashjit::tools
