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
  if (f.kv_cache) {
    std::string cache = f.paged ? llvm::formatv("paged KV cache (pages of {0})", problem.shape().page_size).str()
                                : std::string("dense KV cache");
    if (f.append) cache += llvm::formatv(", {0} appended per sequence", problem.shape().seqlen_new).str();
    parts.push_back(cache);
  }
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
  if (f.kv_cache) parts.push_back(f.paged ? "page" + std::to_string(problem.shape().page_size) : std::string("kv"));
  if (f.append) parts.push_back("new" + std::to_string(problem.shape().seqlen_new));
  return parts.empty() ? "-" : join(parts, " ");
}

}  // namespace flashjit::tools
