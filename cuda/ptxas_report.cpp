#include "cuda/ptxas_report.h"
#include "support/error.h"

#include <llvm/ADT/STLExtras.h>
#include <llvm/ADT/SmallVector.h>

namespace flashjit::cuda {
namespace {

// The integer just before `unit` in `line` ("40 registers" -> 40), or -1.
int number_before(llvm::StringRef line, llvm::StringRef unit) {
  const size_t at = line.find(unit);
  if (at == llvm::StringRef::npos) return -1;
  llvm::StringRef before = line.take_front(at).rtrim();
  const size_t start = before.find_last_not_of("0123456789");
  llvm::StringRef digits = before.drop_front(start == llvm::StringRef::npos ? 0 : start + 1);
  int value = -1;
  if (digits.getAsInteger(10, value)) return -1;
  return value;
}

// The function a report header names ("Compiling entry function 'f' for ..." or "Function
// properties for f"), compared whole: a substring test would take "attn_v2" for "attn".
llvm::StringRef header_symbol(llvm::StringRef line) {
  constexpr llvm::StringLiteral kEntry("Compiling entry function '");
  constexpr llvm::StringLiteral kProperties("Function properties for ");
  if (size_t at = line.find(kEntry); at != llvm::StringRef::npos)
    return line.drop_front(at + kEntry.size()).take_until([](char c) { return c == '\''; });
  if (size_t at = line.find(kProperties); at != llvm::StringRef::npos)
    return line.drop_front(at + kProperties.size()).trim();
  return {};
}

// A ptxas message with a diagnostic code, "(C7520) ...": performance advisories and warnings.
bool is_advisory(llvm::StringRef line) {
  const size_t open = line.find("(C");
  if (open == llvm::StringRef::npos || open + 7 > line.size() || line[open + 6] != ')') return false;
  const llvm::StringRef digits = line.substr(open + 2, 4);
  return llvm::all_of(digits, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

llvm::Expected<ResourceUsage> parse_ptxas_report(llvm::StringRef log, llvm::StringRef symbol) {
  // ptxas prints, per entry:
  //   ptxas info    : Compiling entry function '<symbol>' for 'sm_90'
  //   ptxas info    : Function properties for <symbol>
  //   ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
  //   ptxas info    : Used 40 registers, used 1 barriers, 256 bytes smem, 400 bytes cmem[0]
  llvm::SmallVector<llvm::StringRef, 32> lines;
  log.split(lines, '\n', -1, false);
  ResourceUsage usage;
  bool in_symbol = false;
  bool saw_properties = false;
  bool saw_registers = false;
  for (llvm::StringRef line : lines) {
    // Advisories carry a code and name the function at their end, outside the per-entry block:
    //   ptxas info    : (C7520) Potential Performance Loss: ... in the function '<symbol>'
    // Some (C7508 "setmaxnreg ignored", say) name no function: they concern every kernel.
    if (is_advisory(line)) {
      const bool names_a_function = line.contains(" in the function '");
      if (!names_a_function || line.contains("'" + symbol.str() + "'")) {
        llvm::StringRef text = line.split(" : ").second.trim();
        usage.advisories.push_back(text.split(" in the function").first.str());
      }
      continue;
    }
    if (line.contains("Compiling entry function") || line.contains("Function properties for")) {
      in_symbol = header_symbol(line) == symbol;
      if (in_symbol && line.contains("Function properties for")) saw_properties = true;
      continue;
    }
    if (!in_symbol) continue;
    if (line.contains("bytes stack frame")) {
      usage.stack_bytes = number_before(line, "bytes stack frame");
      usage.spill_store_bytes = number_before(line, "bytes spill stores");
      usage.spill_load_bytes = number_before(line, "bytes spill loads");
    } else if (line.contains("Used") && line.contains("registers")) {
      usage.registers = number_before(line, "registers");
      if (int b = number_before(line, "barriers"); b >= 0) usage.barriers = b;
      if (int s = number_before(line, "bytes smem"); s >= 0) usage.shared_bytes = s;
      if (int c = number_before(line, "bytes cmem[0]"); c >= 0) usage.constant_bytes = c;
      saw_registers = true;
    }
  }
  if (!saw_properties || !saw_registers)
    return make_error(ErrorCode::compile_error, "the ptxas report has no resource usage for " + symbol);
  return usage;
}

}  // namespace flashjit::cuda
