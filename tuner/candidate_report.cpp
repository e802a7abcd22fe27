#include "tuner/candidate_report.h"

#include <map>

#include <llvm/ADT/StringExtras.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/FormatVariadic.h>

#include "tuner/timing.h"

namespace flashjit::tuner {
namespace {

// Enough to see the pattern of failures; the rest is counted, not listed.
constexpr size_t kListedReasons = 12;

}  // namespace

const char* candidate_status_name(CandidateStatus status) {
  switch (status) {
    case CandidateStatus::ok: return "ok";
    case CandidateStatus::pruned: return "pruned";
    case CandidateStatus::compile_failed: return "compile_failed";
    case CandidateStatus::load_failed: return "load_failed";
    case CandidateStatus::launch_failed: return "launch_failed";
    case CandidateStatus::wrong_result: return "wrong_result";
    case CandidateStatus::not_timed: return "not_timed";
  }
  return "unknown";
}

CandidateReport make_report(const gen::KernelSpec& spec, CandidateStatus status, std::string detail) {
  CandidateReport report;
  report.spec = spec;
  report.key = gen::launch_key(spec);
  report.status = status;
  report.detail = std::move(detail);
  report.timing = untimed();
  return report;
}

std::string failure_summary(const std::vector<CandidateReport>& reports) {
  // Counted in enum order (std::map on the enum), so the text does not depend on report order.
  std::map<CandidateStatus, int> counts;
  for (const CandidateReport& report : reports) ++counts[report.status];
  std::vector<std::string> count_text;
  for (const auto& [status, count] : counts)
    count_text.push_back(llvm::formatv("{0} {1}", count, candidate_status_name(status)).str());

  std::vector<std::string> reasons;
  for (const CandidateReport& report : reports) {
    if (reasons.size() == kListedReasons) break;
    const llvm::StringRef first_line = llvm::StringRef(report.detail).split('\n').first.trim();
    reasons.push_back(report.key + ": " + candidate_status_name(report.status) +
                      (first_line.empty() ? "" : ", " + first_line.str()));
  }
  std::string text = llvm::formatv("{0} candidate{1} ({2}): {3}", reports.size(), reports.size() == 1 ? "" : "s",
                                    llvm::join(count_text, ", "), llvm::join(reasons, "; "))
                         .str();
  if (reports.size() > reasons.size())
    text += llvm::formatv("; and {0} more", reports.size() - reasons.size()).str();
  return text;
}

}  // namespace flashjit::tuner
