// The Hopper instructions of templates/wgmma_primitives.cuh for the host emulation: mbarriers, TMA
// tile loads, wgmma.mma_async with shared-memory descriptors, and the bookkeeping instructions
// around them. Semantics from the PTX ISA (8.x): "mbarrier" (phases, pending arrivals, tx-count),
// "cp.async.bulk.tensor", "Asynchronous Warpgroup Level Matrix Multiply-Accumulate" (matrix
// descriptors, 128-byte swizzle, register fragments), "setmaxnreg" and "bar.sync".
//
// Shared-memory addresses: the hooks get host addresses into dev::smem; the hardware works on
// shared-window addresses, which here are byte offsets from dev::smem. The 128-byte swizzle (16-byte
// chunk bits 4..6 XOR row bits 7..9) is applied to window addresses, as the hardware applies it to
// address bits; tiles are 1024-byte aligned so that equals swizzling within the tile.
//
// When TMA copies land (TmaMode, wgmma_emulation.h): by default never at issue. tma_load_4d records
// the copy on its mbarrier; the bytes are written (and the transaction bytes completed) the next
// time any thread polls that barrier in mbarrier_wait, or touches it with an arrive. So a consumer
// that reads a tile without waiting on the barrier reads the shared-memory poison, and one that
// waits on the wrong barrier deadlocks (reported) instead of racing. Copies still in flight when the
// block ends are dropped. In eager mode a copy lands at issue instead.
//
// When a wgmma completes: at issue only its warp's agreement and its descriptors are checked; it
// reads shared memory and its A registers and writes its accumulators at the wgmma.wait_group that
// retires its commit group (groups retire oldest first), the latest moment the hardware allows. So
// a kernel that reads accumulators before the right wait, waits for the wrong group, or changes
// the A registers or the tile while the wgmma may still run computes something else.
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "emulation/mma_fragment_layouts.h"
#include "emulation/tensor_map_emulation.h"
#include "emulation/wgmma_emulation.h"
#include "templates/wgmma_primitives.cuh"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "flashjit/numeric.h"

namespace flashjit {
namespace emulation {
namespace {

std::atomic<TmaMode> tma_mode{TmaMode::deferred};

// ---- shared-window addresses -----------------------------------------------------------------------

unsigned char* shared_bytes() { return reinterpret_cast<unsigned char*>(dev::smem); }

// The byte offset of `address` from dev::smem; fails unless [address, address + bytes) is inside it.
unsigned window_of(const void* address, std::size_t bytes, const char* what) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  const auto begin = reinterpret_cast<std::uintptr_t>(dev::smem);
  if (at < begin || at - begin + bytes > dev::kEmulatedSharedBytes)
    fail("%s: address %p is not in shared memory", what, address);
  return static_cast<unsigned>(at - begin);
}

// Fails unless the window bytes [window, window + bytes) lie in what the launch reserved. The
// reservation is known to check_shared_chunk16, so check the 16-byte chunks at both ends.
void check_reserved(unsigned window, std::size_t bytes, const char* what) {
  const unsigned first = window & ~15u;
  const unsigned last = static_cast<unsigned>((window + bytes - 1) & ~std::size_t{15});
  for (unsigned chunk : {first, last}) {
    if (chunk + 16 > dev::kEmulatedSharedBytes) fail("%s: shared address 0x%x is out of range", what, chunk);
    check_shared_chunk16(shared_bytes() + chunk, what);
  }
}

// 128-byte swizzle: the 16-byte chunk within a 128-byte row (bits 4..6) is XORed with the row's
// position in its 1024-byte group of 8 rows (bits 7..9).
unsigned swizzle_128b(unsigned window) { return window ^ (((window >> 7) & 7u) << 4); }

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
  std::memcpy(&word, shared_bytes() + window, sizeof word);
  return word;
}

// The window address of the mbarrier object at `bar`: 8-byte aligned, in reserved shared memory.
unsigned barrier_window(const void* bar, const char* what) {
  const unsigned window = window_of(bar, 8, what);
  if (window % 8 != 0) fail("%s: the mbarrier at shared 0x%x is not 8-byte aligned", what, window);
  check_reserved(window, 8, what);
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
  std::memcpy(shared_bytes() + window, &word, sizeof word);
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
          std::memcpy(shared_bytes() + swizzle_128b(row_window + 2 * i0), &bits, sizeof bits);
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

// ---- wgmma -------------------------------------------------------------------------------------------

// What each lane deposits (the payload holds 64 bytes, too few for n / 2 accumulators): the last
// lane of the warp reads and writes all 32 lanes' accumulators through `acc` while they wait.
struct WgmmaIn {
  float* acc;                 // the lane's n / 2 accumulators
  unsigned long long desc_a;  // ss only
  unsigned long long desc_b;
  unsigned a[4];              // rs only: the lane's A fragment, read when the wgmma completes
  int n;
  bool accumulate;
  bool bf16;
};
struct Nothing {};

// One wgmma.mma_async a lane issued and its warp has not completed yet: it completes (reads shared
// memory and the A registers, writes the accumulators) at the wgmma.wait_group that retires its
// group, as late as the hardware may. So a kernel that reads accumulators before waiting, changes
// them or the A registers while the wgmma runs, or lets a tile be overwritten before the wait,
// computes something else and fails its comparison.
struct PendingWgmma {
  WgmmaIn in;
  const unsigned* a_registers;  // rs: the caller's A fragment (its registers stay put until the wait)
  bool rs;
  int group;                    // the commit group it belongs to (commits before it)
};

// A shared-memory matrix descriptor, decoded. Addresses and offsets in bytes, window addresses.
struct Descriptor {
  unsigned start;
  unsigned leading;
  unsigned stride;
};

// Bits 14-15, 30-31, 46-48 and 52-61 are reserved in the sm_90 descriptor format.
constexpr unsigned long long kDescriptorReserved = 0x3ull << 14 | 0x3ull << 30 | 0x7ull << 46 | 0x3ffull << 52;

Descriptor decode_descriptor(unsigned long long desc, const char* what, const char* operand) {
  const unsigned mode = static_cast<unsigned>(desc >> 62);
  if (mode != 1)
    fail("%s: the %s descriptor 0x%016llx has swizzle mode %u; only 1 (128-byte swizzle) is emulated", what, operand,
         desc, mode);
  const unsigned base_offset = static_cast<unsigned>((desc >> 49) & 7);
  if (base_offset != 0)
    fail("%s: the %s descriptor 0x%016llx has base offset %u; only 0 (1024-byte aligned tiles) is emulated", what,
         operand, desc, base_offset);
  if ((desc & kDescriptorReserved) != 0)
    fail("%s: the %s descriptor 0x%016llx sets reserved bits", what, operand, desc);
  const Descriptor d{static_cast<unsigned>(desc & 0x3fff) << 4, static_cast<unsigned>((desc >> 16) & 0x3fff) << 4,
                     static_cast<unsigned>((desc >> 32) & 0x3fff) << 4};
  // The kernel moves a start address only by k * 32 bytes within a row or by whole 1024-byte groups:
  // a start in another row of its group would shift the swizzle pattern.
  if ((d.start >> 7) & 7u)
    fail(
        "%s: the %s descriptor's start address 0x%x is not in the first row of an 8-row group (bits 7..9 must "
        "be 0)",
        what, operand, d.start);
  return d;
}

float decode_element(unsigned short bits, bool bf16) {
  return bf16 ? bf16_bits_to_float(bits) : half_bits_to_float(bits);
}

// The 16-bit element at window address `window` of a canonical (unswizzled) layout.
float read_operand(unsigned window, bool bf16, const char* what) {
  const unsigned at = swizzle_128b(window);
  check_reserved(at, 2, what);
  unsigned short bits;
  std::memcpy(&bits, shared_bytes() + at, sizeof bits);
  return decode_element(bits, bf16);
}

// K-major, 128-byte swizzle: element (row, k) of the operand, rows in 8-row groups `stride` apart.
float read_k_major(const Descriptor& d, int row, int k, bool bf16, const char* what) {
  const unsigned offset =
      static_cast<unsigned>(row / 8) * d.stride + static_cast<unsigned>(row % 8) * 128 + static_cast<unsigned>(k) * 2;
  return read_operand(d.start + offset, bf16, what);
}

// MN-major, 128-byte swizzle: element (k, n); 64-column tiles `leading` apart, 8-row (k) groups
// `stride` apart.
float read_mn_major(const Descriptor& d, int k, int n, bool bf16, const char* what) {
  const unsigned offset = static_cast<unsigned>(n / 64) * d.leading + static_cast<unsigned>(k / 8) * d.stride +
                          static_cast<unsigned>(k % 8) * 128 + static_cast<unsigned>(n % 64) * 2;
  return read_operand(d.start + offset, bf16, what);
}

// Every lane must issue the same instruction: same shape, descriptors and flags.
void check_uniform(const WgmmaIn (&in)[32], bool with_desc_a, bool with_desc_b, const char* what) {
  for (int lane = 1; lane < 32; ++lane) {
    const WgmmaIn& x = in[lane];
    const WgmmaIn& first = in[0];
    if (x.n != first.n || x.accumulate != first.accumulate || x.bf16 != first.bf16 ||
        (with_desc_a && x.desc_a != first.desc_a) || (with_desc_b && x.desc_b != first.desc_b))
      fail("%s: lane %d's n, descriptors or flags differ from lane 0's", what, lane);
  }
  if (in[0].n < 8 || in[0].n > 256 || in[0].n % 8 != 0)
    fail("%s: n = %d is not a multiple of 8 in 8..256", what, in[0].n);
}

// The warp's 16 rows of D (+)= A * B: A is the warp's 16 x 16 slice, b[k * n + col] is B (16 x n).
// Accumulator fragment (PTX ISA, "wgmma .m64nNk16 register fragment D"): lane l holds, for
// i = 0..n/8-1, D[l/4][8i + 2(l%4) + {0,1}] in acc[4i], acc[4i+1] and row l/4 + 8 in acc[4i+2],
// acc[4i+3] (rows relative to the warp's 16). Products and sums in double, rounded once to float.
void multiply(const WgmmaIn (&in)[32], const float (&a)[16][16], const std::vector<float>& b) {
  const int n = in[0].n;
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < n / 2; ++i) {
      const int row = lane / 4 + 8 * ((i / 2) % 2);
      const int col = 8 * (i / 4) + 2 * (lane % 4) + i % 2;
      double sum = in[0].accumulate ? in[lane].acc[i] : 0.0;
      for (int k = 0; k < 16; ++k) sum += static_cast<double>(a[row][k]) * b[static_cast<std::size_t>(k * n + col)];
      in[lane].acc[i] = static_cast<float>(sum);
    }
}

// Rows 16w..16w+15 belong to warp w of the warpgroup; the last lane (running this) is in that warp.
int warp_in_group() { return static_cast<int>(threadIdx.x / 32 % 4); }

// At issue: the warp agrees on the instruction and its descriptors are valid (errors point at the
// issuing code); the product waits for the wait.
void wgmma_ss_check(const WgmmaIn (&in)[32], Nothing (&)[32]) {
  const char* what = "wgmma.mma_async (A and B in shared memory)";
  check_uniform(in, true, true, what);
  decode_descriptor(in[0].desc_a, what, "A");
  decode_descriptor(in[0].desc_b, what, "B");
}

void wgmma_rs_check(const WgmmaIn (&in)[32], Nothing (&)[32]) {
  const char* what = "wgmma.mma_async (A in registers)";
  check_uniform(in, false, true, what);
  decode_descriptor(in[0].desc_b, what, "B");
}

void wgmma_ss_compute(const WgmmaIn (&in)[32], Nothing (&)[32]) {
  const char* what = "wgmma.mma_async (A and B in shared memory)";
  check_uniform(in, true, true, what);
  const int n = in[0].n;
  const bool bf16 = in[0].bf16;
  const Descriptor da = decode_descriptor(in[0].desc_a, what, "A");
  const Descriptor db = decode_descriptor(in[0].desc_b, what, "B");
  float a[16][16];
  for (int r = 0; r < 16; ++r)
    for (int k = 0; k < 16; ++k) a[r][k] = read_k_major(da, 16 * warp_in_group() + r, k, bf16, what);
  // B is stored n x 16 (row n, k contiguous): D[m][col] = sum_k A[m][k] * B_stored[col][k].
  std::vector<float> b(static_cast<std::size_t>(16 * n));
  for (int k = 0; k < 16; ++k)
    for (int col = 0; col < n; ++col) b[static_cast<std::size_t>(k * n + col)] = read_k_major(db, col, k, bf16, what);
  multiply(in, a, b);
}

// The 16-bit element i of a fragment: register i / 2, the low half for even i.
unsigned short fragment_element(const unsigned (&regs)[4], int i) {
  return static_cast<unsigned short>(regs[i / 2] >> (16 * (i % 2)));
}

void wgmma_rs_compute(const WgmmaIn (&in)[32], Nothing (&)[32]) {
  const char* what = "wgmma.mma_async (A in registers)";
  check_uniform(in, false, true, what);
  const int n = in[0].n;
  const bool bf16 = in[0].bf16;
  const Descriptor db = decode_descriptor(in[0].desc_b, what, "B");
  // Each warp's A fragment (PTX ISA, "wgmma .m64nNk16 register fragment A") is laid out like
  // mma.m16n8k16's A over the warp's 16 rows.
  float a[16][16];
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 8; ++i) {
      const ptx_layout::MatrixPos pos = ptx_layout::mma_m16n8k16_a(lane, i);
      a[pos.row][pos.col] = decode_element(fragment_element(in[lane].a, i), bf16);
    }
  std::vector<float> b(static_cast<std::size_t>(16 * n));
  for (int k = 0; k < 16; ++k)
    for (int col = 0; col < n; ++col) b[static_cast<std::size_t>(k * n + col)] = read_mn_major(db, k, col, bf16, what);
  multiply(in, a, b);
}

// ---- per-thread wgmma group bookkeeping ---------------------------------------------------------------

struct WgmmaGroups {
  bool fenced = false;  // a wgmma.fence came before the first wgmma.mma_async, as the ISA requires
  int uncommitted = 0;  // wgmma.mma_async since the last commit_group
  int committed = 0;    // commit_group calls so far
  std::vector<PendingWgmma> pending;  // issued, not completed, in issue order
};
thread_local WgmmaGroups wgmma_groups;  // every emulated thread is a new std::thread: fresh per thread

// Per-lane checks before a wgmma joins its warp's collective: the failing lane is the one named.
void before_wgmma(const float* acc, const char* what) {
  const unsigned group_first = threadIdx.x / 128 * 128;
  if (group_first + 128 > blockDim.x)
    fail("%s: the warpgroup of threads %u..%u is not all in the block of %u threads", what, group_first,
         group_first + 127, blockDim.x);
  if (acc == nullptr) fail("%s: no accumulators", what);
  if (!wgmma_groups.fenced) fail("%s: issued before any wgmma.fence in this thread", what);
  ++wgmma_groups.uncommitted;
}

// A description of the wait for deadlock messages; it must outlive the wait, hence per thread.
thread_local char wait_description[128];

}  // namespace

void set_tma_mode(TmaMode mode) { tma_mode.store(mode); }

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
  if (copy.map.box[0] != kTmaBoxColumns)
    fail("%s: the box is %u columns wide; the emulation copies rows of exactly %u (the 128-byte swizzle span)", what,
         copy.map.box[0], kTmaBoxColumns);
  const long long bytes = emulation::box_bytes(copy.map);
  copy.dst_window = emulation::window_of(smem_dst, static_cast<std::size_t>(bytes), what);
  if (copy.dst_window % 1024 != 0)
    fail(
        "%s: the destination at shared 0x%x is not 1024-byte aligned (the 128-byte swizzle repeats every 1024 "
        "bytes)",
        what, copy.dst_window);
  emulation::check_reserved(copy.dst_window, static_cast<std::size_t>(bytes), what);
  const unsigned window = emulation::barrier_window(bar, what);
  emulation::Mbarrier b = emulation::load_barrier(window, what);
  emulation::tma_in_flight[window].push_back(copy);
  b.copies_in_flight = true;
  if (emulation::tma_mode.load() == emulation::TmaMode::eager) emulation::land_copies(b, window, what);
  emulation::store_barrier(window, b);
}

void wgmma_ss(float* acc, int n, unsigned long long desc_a, unsigned long long desc_b, bool accumulate, bool bf16) {
  const char* what = "wgmma.mma_async (A and B in shared memory)";
  emulation::before_wgmma(acc, what);
  const emulation::WgmmaIn in{acc, desc_a, desc_b, {0, 0, 0, 0}, n, accumulate, bf16};
  emulation::warp_collective<emulation::WgmmaIn, emulation::Nothing, &emulation::wgmma_ss_check>(what, in);
  emulation::wgmma_groups.pending.push_back({in, nullptr, false, emulation::wgmma_groups.committed});
}

void wgmma_rs(float* acc, int n, const unsigned (&a)[4], unsigned long long desc_b, bool accumulate, bool bf16) {
  const char* what = "wgmma.mma_async (A in registers)";
  emulation::before_wgmma(acc, what);
  const emulation::WgmmaIn in{acc, 0, desc_b, {a[0], a[1], a[2], a[3]}, n, accumulate, bf16};
  emulation::warp_collective<emulation::WgmmaIn, emulation::Nothing, &emulation::wgmma_rs_check>(what, in);
  emulation::wgmma_groups.pending.push_back({in, a, true, emulation::wgmma_groups.committed});
}

// fence and commit keep the books the ISA's rules need; wait completes the wgmma of every group but
// the `pending_groups` most recent, in issue order, each a collective of the warp (all lanes wait
// together, as wgmma.wait_group is .sync.aligned).
void wgmma_fence() { emulation::wgmma_groups.fenced = true; }

void wgmma_commit() {
  ++emulation::wgmma_groups.committed;
  emulation::wgmma_groups.uncommitted = 0;
}

void wgmma_wait(int pending_groups) {
  if (pending_groups < 0) fail("wgmma.wait_group %d: N must not be negative", pending_groups);
  emulation::WgmmaGroups& g = emulation::wgmma_groups;
  if (g.uncommitted > 0)
    fail("wgmma.wait_group %d: %d wgmma.mma_async issued since the last commit_group are in no group", pending_groups,
         g.uncommitted);
  const int retire_below = g.committed - pending_groups;  // groups numbered below this complete now
  size_t done = 0;
  for (; done < g.pending.size() && g.pending[done].group < retire_below; ++done) {
    emulation::PendingWgmma& op = g.pending[done];
    if (op.rs) {
      for (int r = 0; r < 4; ++r) op.in.a[r] = op.a_registers[r];
      emulation::warp_collective<emulation::WgmmaIn, emulation::Nothing, &emulation::wgmma_rs_compute>(
          "wgmma.mma_async (A in registers) completing at wgmma.wait_group", op.in);
    } else {
      emulation::warp_collective<emulation::WgmmaIn, emulation::Nothing, &emulation::wgmma_ss_compute>(
          "wgmma.mma_async (A and B in shared memory) completing at wgmma.wait_group", op.in);
    }
  }
  g.pending.erase(g.pending.begin(), g.pending.begin() + static_cast<std::ptrdiff_t>(done));
}

void setmaxnreg(bool increase, int registers) {
  if (registers < 24 || registers > 256 || registers % 8 != 0)
    fail("setmaxnreg.%s %d: the register count must be a multiple of 8 in 24..256", increase ? "inc" : "dec",
         registers);
}

void named_barrier_sync(int id, int threads) { emulation::named_barrier(id, threads); }
void named_barrier_arrive(int id, int threads) { emulation::named_barrier_arrive(id, threads); }

unsigned shared_window_address(const void* host_address) {
  return emulation::window_of(host_address, 1, "shared_window_address");
}

}  // namespace emulation_hooks
}  // namespace flashjit
