// The mbarrier and TMA instructions of templates/wgmma_primitives.cuh for the host emulation: the
// emulation_hooks mbarrier_init / mbarrier_arrive / mbarrier_arrive_expect_tx / mbarrier_wait and
// tma_load_4d, with set_tma_mode and inspect_mbarrier (wgmma_emulation.h). One file, because a TMA
// copy lands on its mbarrier: it completes its transaction bytes there. Semantics from the PTX ISA
// (8.x): "mbarrier" (phases, pending arrivals, tx-count) and "cp.async.bulk.tensor". Shared-window
// addresses and the 128-byte swizzle the copies write with: hopper_emulation_detail.h.
//
// When TMA copies land (TmaMode, wgmma_emulation.h): by default never at issue. tma_load_4d records
// the copy on its mbarrier; the bytes are written (and the transaction bytes completed) the next
// time any thread polls that barrier in mbarrier_wait, or touches it with an arrive. So a consumer
// that reads a tile without waiting on the barrier reads the shared-memory poison, and one that
// waits on the wrong barrier deadlocks (reported) instead of racing. Copies still in flight when the
// block ends are dropped. In eager mode a copy lands at issue instead.
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "emulation/hopper_emulation_detail.h"
#include "emulation/tensor_map_emulation.h"
#include "emulation/wgmma_emulation.h"
#include "wgmma_primitives.cuh"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flashjit {
namespace emulation {
namespace {

std::atomic<TmaMode> tma_mode{TmaMode::deferred};

// The loads record_tma_loads asked to keep (the producer threads of several blocks issue them).
std::mutex tma_log_mutex;
bool tma_log_on = false;
std::vector<TmaLoad> tma_log;

void log_tma_load(const TensorMapRequest& map, const int (&coords)[4]) {
  std::lock_guard<std::mutex> lock(tma_log_mutex);
  if (!tma_log_on) return;
  tma_log.push_back(TmaLoad{map.address, coords[0], coords[map.seq_slot], coords[map.head_slot],
                            coords[map.batch_slot]});
}

// ---- mbarrier state, packed into the object's 8 bytes ---------------------------------------------
// bits 63..48 a marker (so shared-memory poison, or anything else, is not taken for a barrier);
// bit 47 TMA copies in flight (recorded in tma_in_flight); bit 46 the current phase's parity;
// bits 45..34 the arrival count; bits 33..22 pending arrivals; bits 21..0 the tx-count, signed.

constexpr std::uint64_t kMarker = 0xba12;
constexpr unsigned kMaxArrivalCount = (1u << 12) - 1;  // PTX allows 2^20 - 1; blocks need far fewer
constexpr long long kMaxTxCount = (1 << 20) - 1;       // PTX: tx-count in [-(2^20 - 1), 2^20 - 1]

struct Mbarrier {
  unsigned count = 0;
  unsigned pending = 0;
  long long tx = 0;
  unsigned parity = 0;
  bool copies_in_flight = false;
};

std::uint64_t pack(const Mbarrier& b) {
  const std::uint64_t tx_bits = static_cast<std::uint64_t>(b.tx) & ((1ull << 22) - 1);
  return kMarker << 48 | static_cast<std::uint64_t>(b.copies_in_flight) << 47 |
         static_cast<std::uint64_t>(b.parity) << 46 | static_cast<std::uint64_t>(b.count) << 34 |
         static_cast<std::uint64_t>(b.pending) << 22 | tx_bits;
}

bool unpack(std::uint64_t word, Mbarrier& b) {
  if (word >> 48 != kMarker) return false;
  b.copies_in_flight = (word >> 47) & 1;
  b.parity = static_cast<unsigned>((word >> 46) & 1);
  b.count = static_cast<unsigned>((word >> 34) & 0xfff);
  b.pending = static_cast<unsigned>((word >> 22) & 0xfff);
  const long long raw = static_cast<long long>(word & ((1ull << 22) - 1));
  b.tx = raw >= (1ll << 21) ? raw - (1ll << 22) : raw;
  return true;
}

std::uint64_t read_word(unsigned window) {
  std::uint64_t word;
  std::memcpy(&word, detail::shared_bytes() + window, sizeof word);
  return word;
}

// The window address of the mbarrier object at `bar`: 8-byte aligned, in reserved shared memory.
unsigned barrier_window(const void* bar, const char* what) {
  const unsigned window = detail::window_of(bar, 8, what);
  if (window % 8 != 0) fail("%s: the mbarrier at shared 0x%x is not 8-byte aligned", what, window);
  detail::check_reserved(window, 8, what);
  return window;
}

Mbarrier load_barrier(unsigned window, const char* what) {
  const std::uint64_t word = read_word(window);
  Mbarrier b;
  if (!unpack(word, b)) {
    const std::uint64_t poison = static_cast<std::uint64_t>(kSharedMemoryPoison) * 0x100000001ull;
    fail("%s: the mbarrier at shared 0x%x is not initialized (it holds 0x%016llx%s)", what, window,
         static_cast<unsigned long long>(word), word == poison ? ", never-written shared memory" : "");
  }
  return b;
}

void store_barrier(unsigned window, const Mbarrier& b) {
  const std::uint64_t word = pack(b);
  std::memcpy(detail::shared_bytes() + window, &word, sizeof word);
}

// Completes the current phase once nothing is outstanding: the parity flips and the arrivals are
// expected afresh. Transaction bytes beyond what the phase expected can only come from a kernel bug
// (wrong expect_tx byte count, or a copy counted on the wrong barrier).
void settle(Mbarrier& b, unsigned window, const char* what) {
  if (b.pending > 0) return;
  if (b.tx < 0)
    fail("%s: the mbarrier at shared 0x%x completed %lld transaction bytes more than its phase expected", what, window,
         -b.tx);
  if (b.tx > 0) return;
  b.parity ^= 1u;
  b.pending = b.count;
}

void add_tx(Mbarrier& b, long long bytes, unsigned window, const char* what) {
  const long long tx = b.tx + bytes;
  if (tx > kMaxTxCount || tx < -kMaxTxCount)
    fail("%s: the tx-count of the mbarrier at shared 0x%x would be %lld, outside the PTX range +-(2^20 - 1)", what,
         window, tx);
  b.tx = tx;
}

void arrive(Mbarrier& b, unsigned window, const char* what) {
  if (b.pending == 0)
    fail(
        "%s: more arrivals than the count of %u on the mbarrier at shared 0x%x (its phase waits only for "
        "transaction bytes)",
        what, b.count, window);
  --b.pending;
  settle(b, window, what);
}

// ---- TMA copies in flight ----------------------------------------------------------------------------

struct PendingTma {
  unsigned dst_window;
  TensorMapRequest map;
  int coords[4];
};

long long box_bytes(const TensorMapRequest& map) { return 2ll * map.box[0] * map.box[1] * map.box[2] * map.box[3]; }

// By barrier window address. Emulated threads run one at a time, handing over through mutexes, so
// the table needs no lock. An entry is live only while its barrier's in-flight bit is set: entries
// left by an earlier block (whose barrier has since been poisoned) are dropped by mbarrier_init.
std::unordered_map<unsigned, std::vector<PendingTma>> tma_in_flight;

// Element (i0, i1, i2, i3) of the box: zero outside the tensor.
unsigned short tma_source_element(const PendingTma& copy, const long long (&at)[4]) {
  for (int d = 0; d < 4; ++d)
    if (at[d] < 0 || at[d] >= static_cast<long long>(copy.map.dims[d])) return 0;
  const unsigned char* element = static_cast<const unsigned char*>(copy.map.address) + 2 * at[0];
  for (int d = 1; d < 4; ++d) element += at[d] * static_cast<long long>(copy.map.strides_bytes[d - 1]);
  unsigned short bits;
  std::memcpy(&bits, element, sizeof bits);
  return bits;
}

// The box, row by row of 128 bytes in box order, each row's chunks swizzled.
void perform(const PendingTma& copy) {
  const std::array<unsigned, 4>& box = copy.map.box;
  for (unsigned i3 = 0; i3 < box[3]; ++i3)
    for (unsigned i2 = 0; i2 < box[2]; ++i2)
      for (unsigned i1 = 0; i1 < box[1]; ++i1) {
        const unsigned row_window = copy.dst_window + ((i3 * box[2] + i2) * box[1] + i1) * 128;
        for (unsigned i0 = 0; i0 < box[0]; ++i0) {
          const long long at[4] = {
              copy.coords[0] + static_cast<long long>(i0), copy.coords[1] + static_cast<long long>(i1),
              copy.coords[2] + static_cast<long long>(i2), copy.coords[3] + static_cast<long long>(i3)};
          const unsigned short bits = tma_source_element(copy, at);
          std::memcpy(detail::shared_bytes() + detail::swizzle_128b(row_window + 2 * i0), &bits, sizeof bits);
        }
      }
}

// Lands the copies recorded on the barrier, oldest first, each completing its bytes.
void land_copies(Mbarrier& b, unsigned window, const char* what) {
  if (!b.copies_in_flight) return;
  auto entry = tma_in_flight.find(window);
  if (entry == tma_in_flight.end())
    fail(
        "%s: the mbarrier at shared 0x%x says TMA copies are in flight, but none were issued on it (was it "
        "copied or overwritten?)",
        what, window);
  const std::vector<PendingTma> copies = std::move(entry->second);
  tma_in_flight.erase(entry);
  b.copies_in_flight = false;
  for (const PendingTma& copy : copies) {
    perform(copy);
    add_tx(b, -box_bytes(copy.map), window, "TMA complete_tx");
    settle(b, window, "TMA complete_tx");
  }
}

// A description of the wait for deadlock messages; it must outlive the wait, hence per thread.
thread_local char wait_description[128];

}  // namespace

void set_tma_mode(TmaMode mode) { tma_mode.store(mode); }

void record_tma_loads() {
  std::lock_guard<std::mutex> lock(tma_log_mutex);
  tma_log_on = true;
  tma_log.clear();
}

std::vector<TmaLoad> recorded_tma_loads() {
  std::lock_guard<std::mutex> lock(tma_log_mutex);
  return tma_log;
}

MbarrierView inspect_mbarrier(const void* bar) {
  const unsigned window = barrier_window(bar, "inspect_mbarrier");
  const Mbarrier b = load_barrier(window, "inspect_mbarrier");
  int copies = 0;
  if (b.copies_in_flight) {
    const auto entry = tma_in_flight.find(window);
    if (entry != tma_in_flight.end()) copies = static_cast<int>(entry->second.size());
  }
  return MbarrierView{b.count, b.pending, static_cast<int>(b.tx), b.parity, copies};
}

}  // namespace emulation

namespace emulation_hooks {

using emulation::fail;

void mbarrier_init(void* bar, unsigned arrivals) {
  const char* what = "mbarrier.init";
  const unsigned window = emulation::barrier_window(bar, what);
  if (arrivals == 0 || arrivals > emulation::kMaxArrivalCount)
    fail("%s: arrival count %u; the emulation supports 1..%u", what, arrivals, emulation::kMaxArrivalCount);
  emulation::Mbarrier old;
  if (emulation::unpack(emulation::read_word(window), old) && old.copies_in_flight)
    fail("%s: re-initializing the mbarrier at shared 0x%x while TMA copies are in flight on it", what, window);
  emulation::tma_in_flight.erase(window);  // whatever an earlier block left at this address
  emulation::Mbarrier b;
  b.count = arrivals;
  b.pending = arrivals;
  emulation::store_barrier(window, b);
}

void mbarrier_arrive(void* bar) {
  const char* what = "mbarrier.arrive";
  const unsigned window = emulation::barrier_window(bar, what);
  emulation::Mbarrier b = emulation::load_barrier(window, what);
  emulation::land_copies(b, window, what);
  emulation::arrive(b, window, what);
  emulation::store_barrier(window, b);
}

void mbarrier_arrive_expect_tx(void* bar, unsigned bytes) {
  const char* what = "mbarrier.arrive.expect_tx";
  const unsigned window = emulation::barrier_window(bar, what);
  emulation::Mbarrier b = emulation::load_barrier(window, what);
  emulation::land_copies(b, window, what);
  emulation::add_tx(b, bytes, window, what);
  emulation::arrive(b, window, what);
  emulation::store_barrier(window, b);
}

void mbarrier_wait(void* bar, unsigned parity) {
  const char* what = "mbarrier.try_wait.parity";
  const unsigned window = emulation::barrier_window(bar, what);
  if (parity > 1) fail("%s: parity %u is not 0 or 1", what, parity);
  emulation::load_barrier(window, what);  // an uninitialized barrier fails here, in the waiting thread
  // Each poll lands the copies in flight, which may complete the phase. Phase `parity` has completed
  // once the current phase's parity differs from it.
  const auto ready = [window, parity, what] {
    emulation::Mbarrier b = emulation::load_barrier(window, what);
    emulation::land_copies(b, window, what);
    emulation::store_barrier(window, b);
    return b.parity != parity;
  };
  if (ready()) return;
  std::snprintf(emulation::wait_description, sizeof emulation::wait_description, "%s %u on the mbarrier at shared 0x%x",
                what, parity, window);
  emulation::wait_until(emulation::wait_description, ready);
}

void tma_load_4d(void* smem_dst, const TensorMapBits* map, const int (&coords)[4], void* bar) {
  const char* what = "cp.async.bulk.tensor.4d";
  if (reinterpret_cast<std::uintptr_t>(map) % 64 != 0)
    fail("%s: the tensor map at %p is not 64-byte aligned", what, static_cast<const void*>(map));
  emulation::PendingTma copy{0, emulation::decode_tensor_map(*map), {coords[0], coords[1], coords[2], coords[3]}};
  emulation::log_tma_load(copy.map, coords);
  if (copy.map.box[0] != kTmaBoxColumns)
    fail("%s: the box is %u columns wide; the emulation copies rows of exactly %u (the 128-byte swizzle span)", what,
         copy.map.box[0], kTmaBoxColumns);
  const long long bytes = emulation::box_bytes(copy.map);
  copy.dst_window = emulation::detail::window_of(smem_dst, static_cast<std::size_t>(bytes), what);
  if (copy.dst_window % 1024 != 0)
    fail(
        "%s: the destination at shared 0x%x is not 1024-byte aligned (the 128-byte swizzle repeats every 1024 "
        "bytes)",
        what, copy.dst_window);
  emulation::detail::check_reserved(copy.dst_window, static_cast<std::size_t>(bytes), what);
  const unsigned window = emulation::barrier_window(bar, what);
  emulation::Mbarrier b = emulation::load_barrier(window, what);
  emulation::tma_in_flight[window].push_back(copy);
  b.copies_in_flight = true;
  if (emulation::tma_mode.load() == emulation::TmaMode::eager) emulation::land_copies(b, window, what);
  emulation::store_barrier(window, b);
}

}  // namespace emulation_hooks
}  // namespace flashjit
