// The wgmma instructions of templates/wgmma_primitives.cuh for the host emulation: wgmma.mma_async
// with shared-memory descriptors (wgmma_ss, wgmma_rs) and wgmma.fence / commit_group / wait_group,
// plus the small hooks around them (setmaxnreg, named barriers, shared_window_address). Semantics
// from the PTX ISA (8.x): "Asynchronous Warpgroup Level Matrix Multiply-Accumulate" (matrix
// descriptors, 128-byte swizzle, register fragments), "setmaxnreg" and "bar.sync". The mbarriers and
// TMA tile loads are in tma_emulation.cpp; shared-window addresses and the 128-byte swizzle in
// hopper_emulation_detail.h.
//
// When a wgmma completes: at issue only its warp's agreement and its descriptors are checked; it
// reads shared memory and its A registers and writes its accumulators at the wgmma.wait_group that
// retires its commit group (groups retire oldest first), the latest moment the hardware allows. So
// a kernel that reads accumulators before the right wait, waits for the wrong group, or changes
// the A registers or the tile while the wgmma may still run computes something else.
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "emulation/hopper_emulation_detail.h"
#include "emulation/mma_fragment_layouts.h"
#include "wgmma_primitives.cuh"

#include <cstddef>
#include <cstring>
#include <vector>

#include "flashjit/numeric.h"

namespace flashjit {
namespace emulation {
namespace {

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
  const unsigned at = detail::swizzle_128b(window);
  detail::check_reserved(at, 2, what);
  unsigned short bits;
  std::memcpy(&bits, detail::shared_bytes() + at, sizeof bits);
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

}  // namespace
}  // namespace emulation

namespace emulation_hooks {

using emulation::fail;

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
  return emulation::detail::window_of(host_address, 1, "shared_window_address");
}

}  // namespace emulation_hooks
}  // namespace flashjit
