#include "runtime/kernel_table.h"
#include "support/error.h"

namespace flashjit {

llvm::Expected<const BuiltKernel*> KernelTable::get_or_build(const ProblemKey& key, const Builder& build) {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::shared_ptr<Slot>& entry = slots_[key];
    if (!entry) entry = std::make_shared<Slot>();
    slot = entry;
  }
  std::lock_guard<std::mutex> build_lock(slot->build_mutex);
  if (!slot->built) {
    auto ready = build();
    if (ready)
      slot->ready = std::make_unique<BuiltKernel>(std::move(*ready));
    else
      slot->error = to_status(ready.takeError());
    slot->built = true;
  }
  if (!slot->ready) return to_error(slot->error);
  return slot->ready.get();
}

const BuiltKernel* KernelTable::find(const ProblemKey& key) const {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slots_.find(key);
    if (it == slots_.end()) return nullptr;
    slot = it->second;
  }
  std::lock_guard<std::mutex> build_lock(slot->build_mutex);
  return slot->ready.get();  // slots are never removed, so the pointer stays valid
}

size_t KernelTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.size();
}

}  // namespace flashjit
