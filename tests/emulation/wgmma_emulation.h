// What the emulation of templates/wgmma_primitives.cuh (tma_emulation.cpp, wgmma_emulation.cpp)
// offers beyond the hooks themselves: when TMA copies land, and the state of an mbarrier, read
// without disturbing it.
#pragma once

namespace flashjit {
namespace emulation {

struct MbarrierView {
  unsigned arrival_count;     // what mbarrier.init set: arrivals each phase waits for
  unsigned pending_arrivals;  // arrivals the current phase still waits for
  int tx_count;               // transaction bytes it still waits for (negative: more arrived than expected)
  unsigned phase_parity;      // parity of the current (incomplete) phase
  int tma_copies_in_flight;   // TMA loads issued on it that have not landed yet (see tma_load_4d)
};

// When an emulated TMA load lands its bytes (and completes them on its mbarrier); set before a launch.
//  - deferred (the default): when a thread next polls the barrier in mbarrier_wait (or arrives on it),
//    so a consumer that reads a tile without waiting for it reads the shared-memory poison;
//  - eager: at issue, so a producer that loads into a buffer consumers still read (a missing wait on
//    the buffer's "empty" barrier) corrupts what they read.
enum class TmaMode { eager, deferred };
void set_tma_mode(TmaMode mode);

// The mbarrier at `bar` (emulated shared memory). Unlike every hook, this does not land TMA copies
// in flight: a test sees them pending. Fails, like the hooks, on an address that holds no mbarrier.
MbarrierView inspect_mbarrier(const void* bar);

}  // namespace emulation
}  // namespace flashjit
