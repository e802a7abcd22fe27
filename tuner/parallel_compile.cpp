#include "tuner/parallel_compile.h"

#include <algorithm>
#include <future>

#include <llvm/Support/ThreadPool.h>
#include <llvm/Support/Threading.h>

namespace flashjit::tuner {

std::vector<CompileOutcome> compile_all(const std::vector<gen::KernelSpec>& specs, TuningBackend& backend,
                                        int threads, const Progress& progress) {
  std::vector<CompileOutcome> outcomes(specs.size());
  if (specs.empty()) return outcomes;

  // No more workers than specs: idle threads would only cost start-up time.
  const unsigned requested = threads > 0 ? static_cast<unsigned>(std::min<size_t>(threads, specs.size())) : 0;
  llvm::ThreadPool pool(llvm::hardware_concurrency(requested));

  // Each task writes only its own slot, so the slots need no lock; the futures order the writes
  // before the reads below.
  std::vector<std::shared_future<void>> done;
  done.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    done.push_back(pool.async([&, i] {
      auto compiled = backend.compile(specs[i]);
      if (!compiled) {
        outcomes[i].error = llvm::toString(compiled.takeError());
        return;
      }
      outcomes[i].candidate = std::move(*compiled);
    }));
  }

  // The callback runs here, not on the workers, so callers need not make it thread-safe.
  const int total = static_cast<int>(specs.size());
  for (size_t i = 0; i < done.size(); ++i) {
    done[i].wait();
    if (progress) progress(static_cast<int>(i) + 1, total, "compile " + gen::canonical_key(specs[i]));
  }
  return outcomes;
}

}  // namespace flashjit::tuner
