// The emulated Hopper instructions (tma_emulation.cpp, wgmma_emulation.cpp,
// tensor_map_emulation.cpp), driven through
// templates/wgmma_primitives.cuh by small kernels. Expected shared-memory placements are computed
// here by the test's own helpers (and at a few elements by hand), the products by a naive
// double-precision matmul, so the emulator is not checked against itself.
#define FLASHJIT_HOST_EMULATION 1

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "flashjit/numeric.h"

#include "emulation/cuda_emulation.h"
#include "emulation/tensor_map_emulation.h"
#include "emulation/wgmma_emulation.h"
#include "wgmma_primitives.cuh"

namespace flashjit {
namespace {

using dev::bf16_bits;
using dev::half_bits;
using emulation::inspect_mbarrier;
using emulation::MbarrierView;

constexpr std::size_t kSharedBytes = 32768;

void run_block(unsigned threads, const std::function<void()>& kernel) {
  emulation::run_grid(dim3{1, 1, 1}, dim3{threads, 1, 1}, kSharedBytes, kernel);
}

unsigned char* shared() { return reinterpret_cast<unsigned char*>(dev::smem); }
dev::smem_addr_t at(unsigned offset) { return dev::to_smem_addr(shared() + offset); }
unsigned lane() { return threadIdx.x % 32; }
unsigned warp() { return threadIdx.x / 32; }

unsigned short load16(unsigned offset) {
  unsigned short bits;
  std::memcpy(&bits, shared() + offset, sizeof bits);
  return bits;
}
void store16(unsigned offset, unsigned short bits) { std::memcpy(shared() + offset, &bits, sizeof bits); }
unsigned load32(unsigned offset) {
  unsigned bits;
  std::memcpy(&bits, shared() + offset, sizeof bits);
  return bits;
}

// Where byte `offset` of an unswizzled 128-byte-row tile (starting 1024-byte aligned) lands with the
// 128-byte swizzle: chunk c of row r goes to chunk c ^ (r % 8) of the same row.
unsigned swizzled(unsigned offset) {
  const unsigned row = offset / 128;
  const unsigned chunk = offset % 128 / 16;
  return row * 128 + (chunk ^ (row % 8)) * 16 + offset % 16;
}

// ---- tensor maps -------------------------------------------------------------------------------------

// A rank-4 tensor of 16-bit values in padded host memory: element c has the value 1 + its linear
// index (so never 0, which is what out-of-bounds elements read), and padding holds 0xffff.
struct HostTensor {
  std::array<unsigned long long, 4> dims;
  std::array<unsigned long long, 3> strides;  // bytes, of dims 1..3
  std::vector<dev::Chunk16> storage;          // 16-byte aligned, as TMA wants

  HostTensor(std::array<unsigned long long, 4> d, std::array<unsigned long long, 3> s) : dims(d), strides(s) {
    const unsigned long long bytes = (dims[3] - 1) * s[2] + (dims[2] - 1) * s[1] + (dims[1] - 1) * s[0] + 2 * dims[0];
    storage.resize((bytes + 15) / 16);
    std::memset(storage.data(), 0xff, storage.size() * sizeof(dev::Chunk16));
    for (unsigned long long c3 = 0; c3 < dims[3]; ++c3)
      for (unsigned long long c2 = 0; c2 < dims[2]; ++c2)
        for (unsigned long long c1 = 0; c1 < dims[1]; ++c1)
          for (unsigned long long c0 = 0; c0 < dims[0]; ++c0) {
            const unsigned short v = value({static_cast<long long>(c0), static_cast<long long>(c1),
                                            static_cast<long long>(c2), static_cast<long long>(c3)});
            std::memcpy(bytes_at(c0, c1, c2, c3), &v, sizeof v);
          }
  }
  unsigned char* bytes_at(unsigned long long c0, unsigned long long c1, unsigned long long c2, unsigned long long c3) {
    return reinterpret_cast<unsigned char*>(storage.data()) + 2 * c0 + c1 * strides[0] + c2 * strides[1] +
           c3 * strides[2];
  }
  // The value TMA must deliver for coordinate c (0 outside the tensor).
  unsigned short value(const std::array<long long, 4>& c) const {
    for (int d = 0; d < 4; ++d)
      if (c[d] < 0 || c[d] >= static_cast<long long>(dims[d])) return 0;
    const long long linear =
        c[0] + static_cast<long long>(dims[0]) *
                   (c[1] + static_cast<long long>(dims[1]) * (c[2] + static_cast<long long>(dims[2]) * c[3]));
    return static_cast<unsigned short>(1 + linear);
  }
  TensorMapRequest request(std::array<unsigned, 4> box) const {
    TensorMapRequest r;
    r.address = storage.data();
    r.dtype = DType::f16;
    r.dims = dims;
    r.strides_bytes = strides;
    r.box = box;
    return r;
  }
};

TEST(TensorMapEmulation, DecodeReturnsTheEncodedRequest) {
  const HostTensor t({64, 16, 2, 3}, {128, 2048, 4096});
  TensorMapRequest r = t.request({64, 8, 1, 1});
  r.dtype = DType::bf16;
  r.seq_slot = 2;
  r.head_slot = 3;
  r.batch_slot = 1;
  const TensorMapRequest d = emulation::decode_tensor_map(emulation::encode_tensor_map(r));
  EXPECT_EQ(d.address, r.address);
  EXPECT_EQ(d.dtype, DType::bf16);
  EXPECT_EQ(d.dims, r.dims);
  EXPECT_EQ(d.strides_bytes, r.strides_bytes);
  EXPECT_EQ(d.box, r.box);
  EXPECT_EQ(d.seq_slot, 2);
  EXPECT_EQ(d.head_slot, 3);
  EXPECT_EQ(d.batch_slot, 1);
}

// ---- TMA ---------------------------------------------------------------------------------------------

constexpr unsigned kBar = 64;     // the mbarrier's shared offset in the TMA tests
constexpr unsigned kTile = 2048;  // the destination tile's (1024-byte aligned)

unsigned box_bytes(const std::array<unsigned, 4>& box) { return 2 * box[0] * box[1] * box[2] * box[3]; }

struct TmaResult {
  std::vector<unsigned char> tile;  // the destination bytes after the wait
  unsigned before_wait = 0;         // the destination's first word before it
  MbarrierView in_flight{};         // the barrier between issue and wait
};

// One thread loads one box at `coords` into kTile and waits for it.
TmaResult run_tma(const HostTensor& t, std::array<unsigned, 4> box, std::array<int, 4> coords) {
  const TensorMapBits map = emulation::encode_tensor_map(t.request(box));
  TmaResult result;
  run_block(32, [&] {
    if (threadIdx.x != 0) return;
    const unsigned bytes = box_bytes(box);
    dev::mbarrier_init(at(kBar), 1);
    dev::mbarrier_arrive_expect_tx(at(kBar), bytes);
    const int c[4] = {coords[0], coords[1], coords[2], coords[3]};
    dev::tma_load_4d(at(kTile), &map, c, at(kBar));
    result.before_wait = load32(kTile);
    result.in_flight = inspect_mbarrier(shared() + kBar);
    dev::mbarrier_wait(at(kBar), 0);
    result.tile.assign(shared() + kTile, shared() + kTile + bytes);
  });
  return result;
}

unsigned short tile_element(const TmaResult& r, unsigned offset) {
  unsigned short bits;
  std::memcpy(&bits, r.tile.data() + offset, sizeof bits);
  return bits;
}

// Every element of the box at the place the swizzle gives it.
void expect_box(const TmaResult& r, const HostTensor& t, std::array<unsigned, 4> box, std::array<int, 4> coords) {
  for (unsigned i3 = 0; i3 < box[3]; ++i3)
    for (unsigned i2 = 0; i2 < box[2]; ++i2)
      for (unsigned i1 = 0; i1 < box[1]; ++i1)
        for (unsigned i0 = 0; i0 < box[0]; ++i0) {
          const unsigned linear = ((i3 * box[2] + i2) * box[1] + i1) * 128 + i0 * 2;
          const std::array<long long, 4> c = {
              coords[0] + static_cast<long long>(i0), coords[1] + static_cast<long long>(i1),
              coords[2] + static_cast<long long>(i2), coords[3] + static_cast<long long>(i3)};
          ASSERT_EQ(tile_element(r, swizzled(linear)), t.value(c))
              << "box element (" << i0 << ", " << i1 << ", " << i2 << ", " << i3 << ")";
        }
}

TEST(TmaEmulation, PlacesABoxWithThe128ByteSwizzle) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});  // value 1 + col + 64 * row
  const TmaResult r = run_tma(t, {64, 8, 1, 1}, {0, 0, 0, 0});
  // By hand: byte 2 * col of row r is in chunk col / 8, which moves to chunk (col / 8) ^ (r % 8).
  EXPECT_EQ(tile_element(r, 0), 1);                  // row 0, col 0: chunk 0 ^ 0
  EXPECT_EQ(tile_element(r, 144), 1 + 64);           // row 1, col 0: chunk 0 ^ 1 = 1 -> 128 + 16
  EXPECT_EQ(tile_element(r, 416), 1 + 8 + 3 * 64);   // row 3, col 8: chunk 1 ^ 3 = 2 -> 384 + 32
  EXPECT_EQ(tile_element(r, 706), 1 + 9 + 5 * 64);   // row 5, col 9: chunk 1 ^ 5 = 4 -> 640 + 64 + 2
  EXPECT_EQ(tile_element(r, 910), 1 + 63 + 7 * 64);  // row 7, col 63: chunk 7 ^ 7 = 0 -> 896 + 14
  expect_box(r, t, {64, 8, 1, 1}, {0, 0, 0, 0});
}

// Padded strides in every dimension, a non-zero coordinate in each, and a box that reaches past
// the end of dimensions 0 and 1.
TEST(TmaEmulation, ZeroFillsOutOfBoundsElementsAndFollowsTheStrides) {
  const HostTensor t({80, 20, 3, 3}, {192, 20 * 192 + 64, 3 * (20 * 192 + 64) + 32});
  const std::array<unsigned, 4> box = {64, 8, 2, 2};
  const std::array<int, 4> coords = {32, 14, 1, 1};
  const TmaResult r = run_tma(t, box, coords);
  // Box (0, 0, 0, 0) is tensor (32, 14, 1, 1): 1 + 32 + 80 * (14 + 20 * (1 + 3 * 1)).
  EXPECT_EQ(tile_element(r, 0), 7553);
  // Box (8, 3, 1, 1) is tensor (40, 17, 2, 2): box row (1 * 2 + 1) * 8 + 3 = 27, byte 16 in chunk 1,
  // which moves to chunk 1 ^ (27 % 8) = 2: 27 * 128 + 32.
  EXPECT_EQ(tile_element(r, 3488), 1 + 40 + 80 * (17 + 20 * (2 + 3 * 2)));
  // Box (47, 5, 0, 0) is tensor (79, 19, 1, 1), the last in-bounds column and row: byte 94 of row 5
  // is chunk 5, byte 14, which moves to chunk 0: 640 + 14.
  EXPECT_EQ(tile_element(r, 654), 1 + 79 + 80 * (19 + 20 * (1 + 3 * 1)));
  EXPECT_EQ(tile_element(r, 96), 0);   // box (48, 0, 0, 0): column 80, past the end
  EXPECT_EQ(tile_element(r, 864), 0);  // box (0, 6, 0, 0): row 20, past the end; chunk 0 ^ 6
  expect_box(r, t, box, coords);
}

TEST(TmaEmulation, ZeroFillsBeforeTheStartOfEachDimension) {
  const HostTensor t({80, 20, 3, 3}, {192, 20 * 192 + 64, 3 * (20 * 192 + 64) + 32});
  const std::array<unsigned, 4> box = {64, 8, 2, 2};
  const std::array<int, 4> coords = {-16, -3, -1, -1};
  const TmaResult r = run_tma(t, box, coords);
  // Box (16, 3, 1, 1) is tensor (0, 0, 0, 0): box row 27, byte 32 in chunk 2 -> chunk 2 ^ 3 = 1.
  EXPECT_EQ(tile_element(r, 27 * 128 + 16), 1);
  // Box (15, 3, 1, 1) is column -1: byte 30 in chunk 1 -> chunk 1 ^ 3 = 2, byte 14.
  EXPECT_EQ(tile_element(r, 27 * 128 + 32 + 14), 0);
  expect_box(r, t, box, coords);
}

TEST(TmaEmulation, LandsOnlyWhenTheBarrierIsPolled) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  const TmaResult r = run_tma(t, {64, 8, 1, 1}, {0, 8, 0, 0});
  EXPECT_EQ(r.before_wait, emulation::kSharedMemoryPoison);  // a consumer reading early sees poison
  EXPECT_EQ(r.in_flight.tma_copies_in_flight, 1);
  EXPECT_EQ(r.in_flight.tx_count, 1024);
  EXPECT_EQ(r.in_flight.pending_arrivals, 0u);
  EXPECT_EQ(r.in_flight.phase_parity, 0u);
  expect_box(r, t, {64, 8, 1, 1}, {0, 8, 0, 0});
}

TEST(TmaEmulation, EagerModeLandsAtIssue) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  emulation::set_tma_mode(emulation::TmaMode::eager);
  const TmaResult r = run_tma(t, {64, 8, 1, 1}, {0, 8, 0, 0});
  emulation::set_tma_mode(emulation::TmaMode::deferred);
  EXPECT_EQ(r.before_wait, 1u + 8 * 64 + (1u + 1 + 8 * 64) * 65536);  // elements (0, 8) and (1, 8)
  EXPECT_EQ(r.in_flight.tma_copies_in_flight, 0);
  EXPECT_EQ(r.in_flight.tx_count, 0);
  EXPECT_EQ(r.in_flight.phase_parity, 1u);  // the phase completed at issue
  expect_box(r, t, {64, 8, 1, 1}, {0, 8, 0, 0});
}

// ---- mbarrier ----------------------------------------------------------------------------------------

void expect_barrier(const MbarrierView& v, unsigned parity, unsigned pending, int tx, const char* when) {
  EXPECT_EQ(v.phase_parity, parity) << when;
  EXPECT_EQ(v.pending_arrivals, pending) << when;
  EXPECT_EQ(v.tx_count, tx) << when;
}

// One thread, so every wait must return at once (or the test hangs into the deadlock check).
TEST(MbarrierEmulation, PhasesCompleteOnArrivalsAndTransactionBytes) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  const TensorMapBits map = emulation::encode_tensor_map(t.request({64, 2, 1, 1}));  // 256 bytes
  run_block(32, [&] {
    if (threadIdx.x != 0) return;
    void* const bar = shared() + kBar;
    dev::mbarrier_init(at(kBar), 2);
    expect_barrier(inspect_mbarrier(bar), 0, 2, 0, "after init");
    EXPECT_EQ(inspect_mbarrier(bar).arrival_count, 2u);
    dev::mbarrier_wait(at(kBar), 1);  // the phase before the first counts as completed
    dev::mbarrier_arrive(at(kBar));
    expect_barrier(inspect_mbarrier(bar), 0, 1, 0, "after one arrival");
    dev::mbarrier_arrive_expect_tx(at(kBar), 256);
    expect_barrier(inspect_mbarrier(bar), 0, 0, 256, "after the last arrival: bytes outstanding");
    const int c[4] = {0, 0, 0, 0};
    dev::tma_load_4d(at(kTile), &map, c, at(kBar));
    dev::mbarrier_wait(at(kBar), 0);  // lands the copy, which completes phase 0
    expect_barrier(inspect_mbarrier(bar), 1, 2, 0, "after phase 0");
    EXPECT_EQ(load16(kTile), 1);
    dev::mbarrier_wait(at(kBar), 0);  // phase 0 stays completed while phase 1 runs
    dev::mbarrier_arrive(at(kBar));
    dev::mbarrier_arrive(at(kBar));
    expect_barrier(inspect_mbarrier(bar), 0, 2, 0, "after phase 1");
    dev::mbarrier_wait(at(kBar), 1);
  });
}

// TMA may finish before the producer's expect_tx: the tx-count goes negative for a while.
TEST(MbarrierEmulation, BytesMayCompleteBeforeTheyAreExpected) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  const TensorMapBits map = emulation::encode_tensor_map(t.request({64, 2, 1, 1}));
  run_block(32, [&] {
    if (threadIdx.x != 0) return;
    void* const bar = shared() + kBar;
    dev::mbarrier_init(at(kBar), 1);
    const int c[4] = {0, 0, 0, 0};
    dev::tma_load_4d(at(kTile), &map, c, at(kBar));
    EXPECT_EQ(inspect_mbarrier(bar).tma_copies_in_flight, 1);
    dev::mbarrier_arrive_expect_tx(at(kBar), 256);  // lands the copy first (-256), then expects and arrives
    expect_barrier(inspect_mbarrier(bar), 1, 1, 0, "after the arrival");
    EXPECT_EQ(inspect_mbarrier(bar).tma_copies_in_flight, 0);
  });
}

// A producer warp fills two stages with TMA, a consumer warp empties them: six rounds, so each
// stage's barriers go through three phases. Needs waits that block (wait_until).
TEST(MbarrierEmulation, ProducerAndConsumerHandOffThroughTwoStages) {
  const HostTensor t({64, 48, 1, 1}, {128, 48 * 128, 48 * 128});
  const TensorMapBits map = emulation::encode_tensor_map(t.request({64, 8, 1, 1}));
  constexpr int kRounds = 6;
  std::vector<int> mismatches(32 * kRounds, -1);
  run_block(64, [&] {
    const auto full = [](int s) { return at(static_cast<unsigned>(8 * s)); };
    const auto empty = [](int s) { return at(static_cast<unsigned>(16 + 8 * s)); };
    const auto tile = [](int s) { return static_cast<unsigned>(1024 + 1024 * s); };
    if (threadIdx.x == 0)
      for (int s = 0; s < 2; ++s) {
        dev::mbarrier_init(full(s), 1);
        dev::mbarrier_init(empty(s), 32);
      }
    __syncthreads();
    for (int round = 0; round < kRounds; ++round) {
      const int s = round % 2;
      const unsigned phase = static_cast<unsigned>(round / 2 % 2);
      if (warp() == 0) {
        dev::mbarrier_wait(empty(s), phase ^ 1u);
        if (lane() == 0) {
          dev::mbarrier_arrive_expect_tx(full(s), 1024);
          const int c[4] = {0, 8 * round, 0, 0};
          dev::tma_load_4d(at(tile(s)), &map, c, full(s));
        }
      } else {
        dev::mbarrier_wait(full(s), phase);
        int bad = 0;
        for (unsigned e = 0; e < 512; ++e)
          bad += load16(tile(s) + swizzled(2 * e)) != t.value({e % 64, 8 * round + e / 64, 0, 0});
        mismatches[static_cast<std::size_t>(32 * round) + lane()] = bad;
        dev::mbarrier_arrive(empty(s));
      }
    }
  });
  for (int i = 0; i < 32 * kRounds; ++i) EXPECT_EQ(mismatches[static_cast<std::size_t>(i)], 0) << "round " << i / 32;
}

TEST(NamedBarrierEmulation, OrdersTheWarpsThatTakePart) {
  std::vector<unsigned> seen(32);
  run_block(64, [&] {
    // Warp 0 runs first: without the barrier it would read the poison.
    if (warp() == 1) reinterpret_cast<unsigned*>(dev::smem)[lane()] = 100 + lane();
    dev::named_barrier_sync(1, 64);
    if (warp() == 0) seen[lane()] = reinterpret_cast<unsigned*>(dev::smem)[31 - lane()];
  });
  for (unsigned l = 0; l < 32; ++l) EXPECT_EQ(seen[l], 100 + 31 - l);
}

// ---- wgmma -------------------------------------------------------------------------------------------

// Byte offset, within a 128-byte-swizzled tile of 64-column rows, of element (row, col): 8-row groups
// 1024 bytes apart, rows 128 apart, 16-byte chunk col / 8 moved to chunk (col / 8) ^ (row % 8).
unsigned swizzled_tile_offset(int row, int col) {
  const int chunk = (col / 8) ^ (row % 8);
  return static_cast<unsigned>(row / 8 * 1024 + row % 8 * 128 + chunk * 16 + col % 8 * 2);
}

constexpr int kM = 64;
constexpr int kK = 64;                  // four k16 steps
constexpr unsigned kATile = 0;          // A: 64 x 64, K-major (ss only)
constexpr unsigned kBTiles = 8192;      // B: K-major n x 64 (ss) or MN-major 64 x n in 64-column tiles (rs)
constexpr unsigned kVTileBytes = 8192;  // one 64 x 64 tile: the MN-major leading byte offset

// A 16-bit matrix with values rounded to the format, kept as bits and as the floats they mean.
struct Matrix {
  int rows, cols;
  std::vector<unsigned short> bits;
  std::vector<double> values;
  unsigned short bits_at(int r, int c) const { return bits[static_cast<std::size_t>(r * cols + c)]; }
  double at(int r, int c) const { return values[static_cast<std::size_t>(r * cols + c)]; }
};

Matrix random_matrix(int rows, int cols, bool bf16, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Matrix m{rows, cols, {}, {}};
  for (int i = 0; i < rows * cols; ++i) {
    const float v = dist(rng);
    const unsigned short b = bf16 ? float_to_bf16_bits(v) : float_to_half_bits(v);
    m.bits.push_back(b);
    m.values.push_back(bf16 ? bf16_bits_to_float(b) : half_bits_to_float(b));
  }
  return m;
}

// D = C + A * B in double: A is 64 x 64, B is 64 x n.
std::vector<double> naive_product(const Matrix& a, const Matrix& b, const std::vector<float>* c) {
  const int n = b.cols;
  std::vector<double> d(static_cast<std::size_t>(kM * n));
  for (int m = 0; m < kM; ++m)
    for (int j = 0; j < n; ++j) {
      double sum = c != nullptr ? (*c)[static_cast<std::size_t>(m * n + j)] : 0.0;
      for (int k = 0; k < kK; ++k) sum += a.at(m, k) * b.at(k, j);
      d[static_cast<std::size_t>(m * n + j)] = sum;
    }
  return d;
}

// Accumulator i of lane `l` in warp `w` (the ISA's wgmma D fragment): row 16w + l/4 (+8 for
// i % 4 >= 2), column 8 * (i / 4) + 2 * (l % 4) + i % 2.
int d_row(int w, int l, int i) { return 16 * w + l / 4 + (i % 4 >= 2 ? 8 : 0); }
int d_col(int l, int i) { return 8 * (i / 4) + 2 * (l % 4) + i % 2; }

unsigned pack2(unsigned short low, unsigned short high) { return low | static_cast<unsigned>(high) << 16; }

// The A fragment of lane l of warp w for k step s: rows 16w + l/4 (+8), columns 16s + 2(l%4) (+8).
void a_fragment(const Matrix& a, int w, int l, int s, unsigned (&regs)[4]) {
  const int r = 16 * w + l / 4;
  const int c = 16 * s + 2 * (l % 4);
  regs[0] = pack2(a.bits_at(r, c), a.bits_at(r, c + 1));
  regs[1] = pack2(a.bits_at(r + 8, c), a.bits_at(r + 8, c + 1));
  regs[2] = pack2(a.bits_at(r, c + 8), a.bits_at(r, c + 9));
  regs[3] = pack2(a.bits_at(r + 8, c + 8), a.bits_at(r + 8, c + 9));
}

// Writes A (K-major, ss only) and B (K-major for ss: stored row j holds column j of B; MN-major
// for rs: 64-column tiles of B kVTileBytes apart) into shared memory.
void place_operands(const Matrix& a, const Matrix& b, bool rs) {
  if (!rs)
    for (int m = 0; m < kM; ++m)
      for (int k = 0; k < kK; ++k) store16(kATile + swizzled_tile_offset(m, k), a.bits_at(m, k));
  for (int k = 0; k < kK; ++k)
    for (int j = 0; j < b.cols; ++j) {
      const unsigned offset = rs ? static_cast<unsigned>(j / 64) * kVTileBytes + swizzled_tile_offset(k, j % 64)
                                 : swizzled_tile_offset(j, k);
      store16(kBTiles + offset, b.bits_at(k, j));
    }
}

struct WgmmaCase {
  bool rs;
  bool with_c;  // start from C (accumulate on the first step) instead of overwriting NaNs
};

// One warpgroup: D (64 x N) = [C +] A (64 x 64) * B (64 x N) in four k16 steps.
template <int N, class Element>
std::vector<float> run_wgmma(const WgmmaCase& wc, const Matrix& a, const Matrix& b, const std::vector<float>& c) {
  std::vector<float> d(static_cast<std::size_t>(kM * N), std::numeric_limits<float>::quiet_NaN());
  run_block(128, [&] {
    if (threadIdx.x == 0) place_operands(a, b, wc.rs);
    __syncthreads();
    const int w = static_cast<int>(warp());
    const int l = static_cast<int>(lane());
    float acc[N / 8][4];  // accumulator i is acc[i / 4][i % 4]
    for (int i = 0; i < N / 2; ++i)
      acc[i / 4][i % 4] = wc.with_c ? c[static_cast<std::size_t>(d_row(w, l, i) * N + d_col(l, i))]
                                    : std::numeric_limits<float>::quiet_NaN();
    // A's registers must stay unchanged until the wgmma completes (at the wait): one set per step.
    unsigned regs[kK / 16][4];
    dev::wgmma_fence();
    for (int s = 0; s < kK / 16; ++s) {
      const bool accumulate = wc.with_c || s > 0;
      if (wc.rs) {
        a_fragment(a, w, l, s, regs[s]);
        // Step s starts at k row 16s: two 1024-byte row groups further.
        const auto desc_b =
            dev::make_wgmma_descriptor(at(kBTiles + 2048 * static_cast<unsigned>(s)), kVTileBytes, 1024);
        dev::wgmma_rs<N, Element>(acc, regs[s], desc_b, accumulate);
      } else {
        // Step s starts 16 columns (32 bytes) into each row.
        const auto desc_a = dev::make_wgmma_descriptor(at(kATile + 32 * static_cast<unsigned>(s)), 0, 1024);
        const auto desc_b = dev::make_wgmma_descriptor(at(kBTiles + 32 * static_cast<unsigned>(s)), 0, 1024);
        dev::wgmma_ss<N, Element>(acc, desc_a, desc_b, accumulate);
      }
    }
    dev::wgmma_commit();
    dev::wgmma_wait<0>();
    for (int i = 0; i < N / 2; ++i) d[static_cast<std::size_t>(d_row(w, l, i) * N + d_col(l, i))] = acc[i / 4][i % 4];
  });
  return d;
}

template <int N, class Element>
void check_wgmma(const WgmmaCase& wc) {
  const bool bf16 = std::is_same<Element, bf16_bits>::value;
  const Matrix a = random_matrix(kM, kK, bf16, 1);
  const Matrix b = random_matrix(kK, N, bf16, 2);
  std::vector<float> c(static_cast<std::size_t>(kM * N));
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.5f;
  const std::vector<float> got = run_wgmma<N, Element>(wc, a, b, c);
  const std::vector<double> want = naive_product(a, b, wc.with_c ? &c : nullptr);
  // Sums of 64 products of magnitude <= 1, rounded to float after each k16 step: errors ~1e-6.
  for (int m = 0; m < kM; ++m)
    for (int j = 0; j < N; ++j) {
      const std::size_t i = static_cast<std::size_t>(m * N + j);
      ASSERT_NEAR(got[i], want[i], 1e-4) << (wc.rs ? "rs" : "ss") << (bf16 ? " bf16" : " f16") << " n " << N
                                         << (wc.with_c ? " with C" : "") << ": D[" << m << "][" << j << "]";
    }
}

template <int N, class Element>
void check_wgmma_all_ways() {
  for (bool rs : {false, true})
    for (bool with_c : {false, true}) check_wgmma<N, Element>(WgmmaCase{rs, with_c});
}

TEST(WgmmaEmulation, MatchesTheNaiveProductF16N64) { check_wgmma_all_ways<64, half_bits>(); }
TEST(WgmmaEmulation, MatchesTheNaiveProductF16N128) { check_wgmma_all_ways<128, half_bits>(); }
TEST(WgmmaEmulation, MatchesTheNaiveProductBf16N64) { check_wgmma_all_ways<64, bf16_bits>(); }
TEST(WgmmaEmulation, MatchesTheNaiveProductBf16N128) { check_wgmma_all_ways<128, bf16_bits>(); }

// A wgmma writes its accumulators when its group is waited for, oldest group first: wait_group 1
// after two groups completes the first only.
TEST(WgmmaEmulation, CompletesAtTheWaitThatRetiresItsGroup) {
  const Matrix a = random_matrix(kM, kK, false, 5);
  const Matrix b = random_matrix(kK, 64, false, 6);
  std::vector<float> seen(4 * 128, 0.0f);
  run_block(128, [&] {
    if (threadIdx.x == 0) place_operands(a, b, false);
    __syncthreads();
    const float poison = std::numeric_limits<float>::quiet_NaN();
    float first[8][4], second[8][4];
    for (int i = 0; i < 8; ++i)
      for (int e = 0; e < 4; ++e) first[i][e] = second[i][e] = poison;
    const auto desc_a = dev::make_wgmma_descriptor(at(kATile), 0, 1024);
    const auto desc_b = dev::make_wgmma_descriptor(at(kBTiles), 0, 1024);
    dev::wgmma_fence();
    dev::wgmma_ss<64, half_bits>(first, desc_a, desc_b, false);
    dev::wgmma_commit();
    dev::wgmma_ss<64, half_bits>(second, desc_a, desc_b, false);
    dev::wgmma_commit();
    const size_t t = threadIdx.x;
    seen[t] = first[0][0];   // nothing completed yet
    dev::wgmma_wait<1>();
    seen[128 + t] = first[0][0];  // the first group completed
    seen[256 + t] = second[0][0];  // the second not yet
    dev::wgmma_wait<0>();
    seen[384 + t] = second[0][0];
  });
  for (int t = 0; t < 128; ++t) {
    EXPECT_TRUE(std::isnan(seen[static_cast<size_t>(t)])) << "thread " << t << " before any wait";
    EXPECT_FALSE(std::isnan(seen[static_cast<size_t>(128 + t)])) << "thread " << t << " after wait_group 1";
    EXPECT_TRUE(std::isnan(seen[static_cast<size_t>(256 + t)])) << "thread " << t << " second group after wait_group 1";
    EXPECT_EQ(seen[static_cast<size_t>(384 + t)], seen[static_cast<size_t>(128 + t)]) << "thread " << t;
  }
}

TEST(WgmmaEmulation, SharedWindowAddressesAreOffsetsIntoSharedMemory) {
  EXPECT_EQ(emulation_hooks::shared_window_address(shared()), 0u);
  EXPECT_EQ(emulation_hooks::shared_window_address(shared() + 4096 + 16), 4112u);
  const auto desc = dev::make_wgmma_descriptor(at(4096 + 32), 8192, 1024);
  EXPECT_EQ(desc & 0x3fff, (4096u + 32) >> 4);
  EXPECT_EQ((desc >> 16) & 0x3fff, 8192u >> 4);
  EXPECT_EQ((desc >> 32) & 0x3fff, 1024u >> 4);
  EXPECT_EQ(desc >> 62, 1u);
}

// ---- misuse ------------------------------------------------------------------------------------------
// Death tests fork before any emulated thread exists (gtest runs *DeathTest suites first).

TensorMapRequest good_request(const HostTensor& t) { return t.request({64, 8, 1, 1}); }

TEST(TensorMapEmulationDeathTest, RefusesWhatTheDriverRefuses) {
  const HostTensor t({64, 16, 2, 2}, {128, 2048, 4096});
  TensorMapRequest r = good_request(t);
  r.address = reinterpret_cast<const unsigned char*>(r.address) + 2;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "global address .* is not 16-byte aligned");
  r = good_request(t);
  r.strides_bytes[1] = 2056;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "the stride of dimension 2 is 2056 bytes; it must be a multiple of 16");
  r = good_request(t);
  r.strides_bytes[2] = 1ull << 40;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "the stride of dimension 3 .* below 2\\^40");
  r = good_request(t);
  r.box[0] = 128;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "inner dimension is 256 bytes, more than the 128-byte swizzle span");
  r = good_request(t);
  r.box[0] = 4;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "inner dimension is 8 bytes; it must be a multiple of 16");
  r = good_request(t);
  r.box[1] = 257;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "box dimension 1 is 257; it must be in 1..256");
  r = good_request(t);
  r.box[3] = 0;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "box dimension 3 is 0");
  r = good_request(t);
  r.dims[2] = 0;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "dimension 2 has 0 elements");
  r = good_request(t);
  r.dtype = DType::f32;
  EXPECT_DEATH(emulation::encode_tensor_map(r), "element type f32");
}

TEST(TensorMapEmulationDeathTest, DecodeRefusesBytesItDidNotEncode) {
  const TensorMapBits zeroed{};
  EXPECT_DEATH(emulation::decode_tensor_map(zeroed), "was not made by the emulated cuTensorMapEncodeTiled");
}

TEST(TmaEmulationDeathTest, DestinationMustBe1024ByteAlignedAndReserved) {
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  const TensorMapBits map = emulation::encode_tensor_map(t.request({64, 8, 1, 1}));
  const auto load_to = [&map](unsigned dst) {
    run_block(32, [&map, dst] {
      if (threadIdx.x != 0) return;
      dev::mbarrier_init(at(kBar), 1);
      const int c[4] = {0, 0, 0, 0};
      dev::tma_load_4d(at(dst), &map, c, at(kBar));
    });
  };
  EXPECT_DEATH(load_to(kTile + 512),
               "cp.async.bulk.tensor.4d: the destination at shared 0xa00 is not 1024-byte aligned");
  EXPECT_DEATH(load_to(kSharedBytes), "cp.async.bulk.tensor.4d: bytes .* are not inside the 32768 bytes");
}

TEST(MbarrierEmulationDeathTest, UninitializedBarriersAreReported) {
  EXPECT_DEATH(run_block(32, [] { dev::mbarrier_wait(at(kBar), 0); }),
               "mbarrier.try_wait.parity: the mbarrier at shared 0x40 is not initialized \\(it holds "
               "0x7fc0dead7fc0dead, never-written shared memory\\)");
  EXPECT_DEATH(run_block(32, [] { dev::mbarrier_arrive(at(kBar)); }), "mbarrier.arrive: .* is not initialized");
  EXPECT_DEATH(run_block(32, [] { dev::mbarrier_init(at(kBar + 4), 1); }), "is not 8-byte aligned");
}

TEST(MbarrierEmulationDeathTest, OverArrivalAndExcessBytesAreReported) {
  EXPECT_DEATH(run_block(32,
                         [] {
                           if (threadIdx.x != 0) return;
                           dev::mbarrier_init(at(kBar), 1);
                           dev::mbarrier_arrive_expect_tx(at(kBar), 128);
                           dev::mbarrier_arrive(at(kBar));
                         }),
               "mbarrier.arrive: more arrivals than the count of 1");
  const HostTensor t({64, 16, 1, 1}, {128, 2048, 2048});
  const TensorMapBits map = emulation::encode_tensor_map(t.request({64, 2, 1, 1}));  // 256 bytes
  EXPECT_DEATH(run_block(32,
                         [&map] {
                           if (threadIdx.x != 0) return;
                           dev::mbarrier_init(at(kBar), 1);
                           dev::mbarrier_arrive_expect_tx(at(kBar), 128);
                           const int c[4] = {0, 0, 0, 0};
                           dev::tma_load_4d(at(kTile), &map, c, at(kBar));
                           dev::mbarrier_wait(at(kBar), 0);
                         }),
               "completed 128 transaction bytes more than its phase expected");
}

// Needs waits that block (wait_until): nobody ever arrives.
TEST(MbarrierEmulationDeathTest, AWaitNobodyCompletesIsADeadlock) {
  EXPECT_DEATH(run_block(32,
                         [] {
                           if (threadIdx.x == 0) dev::mbarrier_init(at(kBar), 1);
                           __syncthreads();
                           dev::mbarrier_wait(at(kBar), 0);
                         }),
               "mbarrier.try_wait.parity 0 on the mbarrier at shared 0x40");
}

// A warpgroup that issues one wgmma_ss with the descriptors `make` gives it.
void run_one_wgmma_ss(unsigned long long (*desc_a)(), bool fence = true) {
  run_block(128, [desc_a, fence] {
    float acc[8][4] = {};
    if (fence) dev::wgmma_fence();
    dev::wgmma_ss<64, half_bits>(acc, desc_a(), dev::make_wgmma_descriptor(at(8192), 0, 1024), false);
  });
}

TEST(WgmmaEmulationDeathTest, DescriptorsMustDescribeAlignedSwizzledTiles) {
  EXPECT_DEATH(run_one_wgmma_ss([] {
                 const auto d = dev::make_wgmma_descriptor(at(0), 0, 1024);
                 return (d & ~(3ull << 62)) | 2ull << 62;  // 64-byte swizzle
               }),
               "the A descriptor 0x[0-9a-f]* has swizzle mode 2; only 1 \\(128-byte swizzle\\) is emulated");
  EXPECT_DEATH(run_one_wgmma_ss([] { return dev::make_wgmma_descriptor(at(0), 0, 1024) | 1ull << 49; }),
               "has base offset 1");
  EXPECT_DEATH(run_one_wgmma_ss([] { return dev::make_wgmma_descriptor(at(128), 0, 1024); }),
               "start address 0x80 is not in the first row of an 8-row group");
  EXPECT_DEATH(run_one_wgmma_ss([] { return dev::make_wgmma_descriptor(at(threadIdx.x % 2 * 32), 0, 1024); }),
               "lane 1's n, descriptors or flags differ from lane 0's");
}

TEST(WgmmaEmulationDeathTest, BookkeepingRulesAreEnforced) {
  EXPECT_DEATH(run_one_wgmma_ss([] { return dev::make_wgmma_descriptor(at(0), 0, 1024); }, false),
               "issued before any wgmma.fence in this thread");
  EXPECT_DEATH(run_block(128, [] { emulation_hooks::wgmma_wait(-1); }), "wgmma.wait_group -1: N must not be negative");
  EXPECT_DEATH(run_block(128, [] { dev::setmaxnreg_inc<250>(); }), "setmaxnreg.inc 250: the register count");
  EXPECT_DEATH(run_block(128, [] { dev::setmaxnreg_dec<16>(); }), "setmaxnreg.dec 16");
  EXPECT_DEATH(run_block(32,
                         [] {
                           float acc[8][4] = {};
                           dev::wgmma_fence();
                           const auto d = dev::make_wgmma_descriptor(at(0), 0, 1024);
                           dev::wgmma_ss<64, half_bits>(acc, d, d, false);
                         }),
               "the warpgroup of threads 0..127 is not all in the block of 32 threads");
  int not_shared = 0;
  EXPECT_DEATH(emulation_hooks::shared_window_address(&not_shared),
               "shared_window_address: address .* is not in shared memory");
}

}  // namespace
}  // namespace flashjit
