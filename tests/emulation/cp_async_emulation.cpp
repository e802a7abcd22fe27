// cp.async for the host emulation: the emulation_hooks cp_async_16 / cp_async_commit / cp_async_wait
// that templates/mma_primitives.cuh calls under FLASHJIT_HOST_EMULATION. Per thread, not collective.
//
// Semantics from the PTX ISA, "Data Movement and Conversion Instructions: cp.async" and its
// cp.async.commit_group / cp.async.wait_group subsections (§9.7.9.25.3 in PTX ISA 8.x; renumbered
// in later versions):
//  - cp.async.cg.shared.global [dst], [src], 16, src-size: copies src-size bytes and zero-fills the
//    rest of the 16 (cp-size); .cg allows only cp-size 16.
//  - cp.async.commit_group "batches all prior cp.async instructions initiated by the executing
//    thread but not committed to any cp.async-group into" a new group; with none, the group is empty
//    (and still counts).
//  - cp.async.wait_group N waits "till only N or fewer of the most recent cp.async-groups are
//    pending and all the prior cp.async-groups committed by the executing thread are complete";
//    the copies' writes are visible to the executing thread only after that.
// In deferred mode the copies land exactly then (oldest group first), the latest the ISA allows; in
// eager mode at issue, the earliest (see CpAsyncMode in cuda_emulation.h for what each exposes).
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "mma_primitives.cuh"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

namespace flashjit {
namespace emulation {
namespace {

std::atomic<CpAsyncMode> requested_mode{CpAsyncMode::deferred};

struct PendingCopy {
  void* dst;
  const void* src;
  int src_bytes;
};
using Group = std::vector<PendingCopy>;

struct ThreadCopies {
  CpAsyncMode mode = CpAsyncMode::deferred;  // fixed for the thread when it starts
  Group uncommitted;
  std::deque<Group> committed;  // oldest first
};

// Per emulated thread; a thread's copies that nobody waited for are dropped when it ends (or when
// the next thread on it begins).
thread_local ThreadCopies copies;

void perform(const PendingCopy& copy) {
  unsigned char bytes[16] = {};
  if (copy.src_bytes > 0) std::memcpy(bytes, copy.src, static_cast<std::size_t>(copy.src_bytes));
  std::memcpy(copy.dst, bytes, sizeof bytes);
}

}  // namespace

void set_cp_async_mode(CpAsyncMode mode) { requested_mode.store(mode); }

// Emulated threads run one at a time and hand over through mutexes: a plain counter is race-free.
long long issued_cp_async_copies = 0;
long long cp_async_copies_issued() { return issued_cp_async_copies; }

void begin_thread_cp_async() {
  copies = ThreadCopies{};
  copies.mode = requested_mode.load();
}

}  // namespace emulation

namespace emulation_hooks {

using emulation::copies;
using emulation::CpAsyncMode;
using emulation::fail;

void cp_async_16(void* shared_dst, const void* global_src, int src_bytes) {
  emulation::check_shared_chunk16(shared_dst, "cp.async (destination)");
  if (src_bytes != 0 && src_bytes != 16) fail("cp.async: src_bytes is %d; only 0 and 16 are emulated", src_bytes);
  if (src_bytes > 0 && reinterpret_cast<std::uintptr_t>(global_src) % 16 != 0)
    fail("cp.async: source address %p is not 16-byte aligned", global_src);
  ++emulation::issued_cp_async_copies;
  const emulation::PendingCopy copy{shared_dst, global_src, src_bytes};
  if (copies.mode == CpAsyncMode::eager) {
    emulation::perform(copy);
    return;
  }
  copies.uncommitted.push_back(copy);
}

void cp_async_commit() {
  copies.committed.push_back(std::move(copies.uncommitted));
  copies.uncommitted.clear();
}

void cp_async_wait(int pending_groups) {
  if (pending_groups < 0) fail("cp.async.wait_group %d: N must not be negative", pending_groups);
  while (copies.committed.size() > static_cast<std::size_t>(pending_groups)) {
    for (const emulation::PendingCopy& copy : copies.committed.front()) emulation::perform(copy);
    copies.committed.pop_front();
  }
}

}  // namespace emulation_hooks
}  // namespace flashjit
