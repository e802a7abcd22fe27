// What the emulation of templates/wgmma_primitives.cuh (tma_emulation.cpp, wgmma_emulation.cpp)
// offers beyond the hooks themselves: when TMA copies land, and the state of an mbarrier, read
// without disturbing it.
#pragma once

#include <vector>

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

// One TMA load as issued: the tensor's global address (the map's) and the box's coordinates, the
// 64-column tile first, then the sequence row, head and batch wherever the map placed them.
struct TmaLoad {
  const void* tensor;
  int column;
  int row;
  int head;
  int batch;
};
// Starts recording every TMA load any thread issues (forgetting those recorded before), and what was
// recorded since: a test counts which key blocks a kernel loaded.
void record_tma_loads();
std::vector<TmaLoad> recorded_tma_loads();

// The mbarrier at `bar` (emulated shared memory). Unlike every hook, this does not land TMA copies
// in flight: a test sees them pending. Fails, like the hooks, on an address that holds no mbarrier.
MbarrierView inspect_mbarrier(const void* bar);

}  // namespace emulation
}  // namespace flashjit
