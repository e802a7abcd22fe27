#include "tools/forward_timing.h"

#include "cuda/device.h"

namespace flashjit::tools {

llvm::Expected<std::vector<double>> time_forward_calls(Runtime& runtime, const AttentionArgs& args, int calls) {
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    auto start = cuda::Event::create();
    if (!start) return start.takeError();
    auto end = cuda::Event::create();
    if (!end) return end.takeError();
    if (llvm::Error err = start->record(nullptr)) return err;
    if (Status s = runtime.forward(args); !s.ok())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), s.to_string());
    if (llvm::Error err = end->record(nullptr)) return err;
    if (llvm::Error err = end->synchronize()) return err;
    auto ms = cuda::Event::elapsed_ms(*start, *end);
    if (!ms) return ms.takeError();
    times.push_back(*ms);
  }
  return times;
}

}  // namespace flashjit::tools
