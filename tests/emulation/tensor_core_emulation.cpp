// ldmatrix and mma.sync for the host emulation: the emulation_hooks that templates/mma_primitives.cuh
// calls under FLASHJIT_HOST_EMULATION. Each is a warp collective (cuda_emulation.h): the last lane to
// arrive assembles the whole matrices from the 32 lanes' fragments by the PTX ISA layouts in
// mma_fragment_layouts.h, computes, and hands every lane its part. Which PTX instruction each
// emulates, and where its layout comes from, is said there.
#define FLASHJIT_HOST_EMULATION 1
#include "emulation/cuda_emulation.h"
#include "emulation/mma_fragment_layouts.h"
#include "mma_primitives.cuh"
#include "mma_sm70_primitives.cuh"

#include <cstdint>
#include <cstring>

#include "flashjit/numeric.h"

namespace flashjit {
namespace emulation {
namespace {

using ptx_layout::MatrixPos;
using Layout = MatrixPos (*)(int lane, int element);

// ---- ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 ----------------------------------------------

struct LdmatrixIn {
  const unsigned char* row;  // the row of matrix lane / 8 this lane addresses (row lane % 8)
};
struct LdmatrixOut {
  unsigned regs[4];
};

unsigned short load_b16(const unsigned char* address) {
  unsigned short bits;
  std::memcpy(&bits, address, sizeof bits);
  return bits;
}

LdmatrixBankStats bank_stats;  // only the running emulated thread touches it (one at a time)

// The requests one 8-row phase takes: the most distinct rows that share a 16-byte bank group.
int phase_requests(const LdmatrixIn* rows) {
  int requests = 1;
  for (int i = 0; i < 8; ++i) {
    int sharing = 0;
    for (int j = 0; j < 8; ++j) {
      const bool same_group = (reinterpret_cast<uintptr_t>(rows[i].row) / 16) % 8 ==
                              (reinterpret_cast<uintptr_t>(rows[j].row) / 16) % 8;
      // Equal addresses are one read broadcast to both: only distinct rows count.
      bool first_of_its_address = true;
      for (int k = 0; k < j; ++k) first_of_its_address &= rows[k].row != rows[j].row;
      if (same_group && first_of_its_address) ++sharing;
    }
    requests = requests > sharing ? requests : sharing;
  }
  return requests;
}

void count_bank_conflicts(const LdmatrixIn (&in)[32]) {
  for (int matrix = 0; matrix < 4; ++matrix) {
    ++bank_stats.phases;
    bank_stats.extra_cycles += phase_requests(&in[8 * matrix]) - 1;
  }
}

// Register i of each lane: its two elements of matrix i, whose row r starts at lane 8i + r's address.
template <bool kTranspose>
void ldmatrix_x4(const LdmatrixIn (&in)[32], LdmatrixOut (&out)[32]) {
  count_bank_conflicts(in);
  for (int lane = 0; lane < 32; ++lane)
    for (int matrix = 0; matrix < 4; ++matrix) {
      unsigned reg = 0;
      for (int e = 0; e < 2; ++e) {
        const MatrixPos pos = ptx_layout::ldmatrix_m8n8_b16(lane, e);
        // .trans delivers the transpose of what is stored: its (row, col) is the stored (col, row).
        const int stored_row = kTranspose ? pos.col : pos.row;
        const int stored_col = kTranspose ? pos.row : pos.col;
        const unsigned bits = load_b16(in[8 * matrix + stored_row].row + 2 * stored_col);
        reg |= bits << (16 * e);
      }
      out[lane].regs[matrix] = reg;
    }
}

// ---- mma.sync.aligned.m16n8k{16,8}.row.col.f32.{f16,bf16}.{f16,bf16}.f32 ----------------------------

template <int kK>
struct MmaIn {
  float acc[4];
  unsigned a[kK / 4];  // 16 x kK halves over 32 lanes, two per register
  unsigned b[kK / 8];  // kK x 8 halves
};
struct MmaOut {
  float acc[4];
};

float f16_to_float(unsigned short bits) { return half_bits_to_float(bits); }
float bf16_to_float(unsigned short bits) {  // bf16 is the top half of a float
  const unsigned word = static_cast<unsigned>(bits) << 16;
  float f;
  std::memcpy(&f, &word, sizeof f);
  return f;
}

// Element i of a fragment: register i / 2, the low half for even i (the ISA's "low to high").
unsigned short fragment_element(const unsigned* regs, int i) {
  return static_cast<unsigned short>(regs[i / 2] >> (16 * (i % 2)));
}

// D = A * B + C over the whole warp. Products and sums in double, rounded to float once: the
// hardware's internal accumulation order and rounding are unspecified, and the tests use values whose
// sums are exact, so any order gives the same result.
template <int kK, bool kBf16, Layout kALayout, Layout kBLayout>
void mma_m16n8(const MmaIn<kK> (&in)[32], MmaOut (&out)[32]) {
  float (*const decode)(unsigned short) = kBf16 ? bf16_to_float : f16_to_float;
  float a[16][kK];
  float b[kK][8];
  double d[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < kK / 2; ++i) {
      const MatrixPos pos = kALayout(lane, i);
      a[pos.row][pos.col] = decode(fragment_element(in[lane].a, i));
    }
    for (int i = 0; i < kK / 4; ++i) {
      const MatrixPos pos = kBLayout(lane, i);
      b[pos.row][pos.col] = decode(fragment_element(in[lane].b, i));
    }
    for (int i = 0; i < 4; ++i) {
      const MatrixPos pos = ptx_layout::mma_m16n8_c(lane, i);
      d[pos.row][pos.col] = in[lane].acc[i];
    }
  }
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n)
      for (int k = 0; k < kK; ++k) d[m][n] += static_cast<double>(a[m][k]) * b[k][n];
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const MatrixPos pos = ptx_layout::mma_m16n8_c(lane, i);
      out[lane].acc[i] = static_cast<float>(d[pos.row][pos.col]);
    }
}

template <int kK, bool kBf16, Layout kALayout, Layout kBLayout>
void run_mma(const char* name, float acc[4], const unsigned* a, const unsigned* b) {
  MmaIn<kK> in;
  std::memcpy(in.acc, acc, sizeof in.acc);
  std::memcpy(in.a, a, sizeof in.a);
  std::memcpy(in.b, b, sizeof in.b);
  const MmaOut out = warp_collective<MmaIn<kK>, MmaOut, &mma_m16n8<kK, kBf16, kALayout, kBLayout>>(name, in);
  std::memcpy(acc, out.acc, sizeof out.acc);
}

// ---- mma.sync.aligned.m8n8k4.{row,col}.{row,col}.f32.f16.f16.f32 ------------------------------------

struct M8n8k4In {
  float acc[8];
  unsigned a[2];  // 8 x 4 halves of the lane's quad pair, two per register
  unsigned b[2];  // 4 x 8 halves
};
struct M8n8k4Out {
  float acc[8];
};

// The four products of the warp, each over its own quad pair's lanes only (the low group 4q..4q+3
// and the high group 16+4q..16+4q+3): D_q = A_q * B_q + C_q, in double rounded to float once, as
// mma_m16n8 above. A lane's fragments never reach another quad pair's matrices.
template <Layout kALayout, Layout kBLayout>
void mma_m8n8k4(const M8n8k4In (&in)[32], M8n8k4Out (&out)[32]) {
  for (int q = 0; q < 4; ++q) {
    float a[8][4];
    float b[4][8];
    double d[8][8];
    for (int lane = 0; lane < 32; ++lane) {
      if (ptx_layout::quad_pair(lane) != q) continue;
      for (int i = 0; i < 4; ++i) {
        const MatrixPos pa = kALayout(lane, i);
        a[pa.row][pa.col] = f16_to_float(fragment_element(in[lane].a, i));
        const MatrixPos pb = kBLayout(lane, i);
        b[pb.row][pb.col] = f16_to_float(fragment_element(in[lane].b, i));
      }
      for (int i = 0; i < 8; ++i) {
        const MatrixPos pc = ptx_layout::mma_m8n8k4_c_f32(lane, i);
        d[pc.row][pc.col] = in[lane].acc[i];
      }
    }
    for (int m = 0; m < 8; ++m)
      for (int n = 0; n < 8; ++n)
        for (int k = 0; k < 4; ++k) d[m][n] += static_cast<double>(a[m][k]) * b[k][n];
    for (int lane = 0; lane < 32; ++lane) {
      if (ptx_layout::quad_pair(lane) != q) continue;
      for (int i = 0; i < 8; ++i) {
        const MatrixPos pc = ptx_layout::mma_m8n8k4_c_f32(lane, i);
        out[lane].acc[i] = static_cast<float>(d[pc.row][pc.col]);
      }
    }
  }
}

// Each layout pair is its own collective, so lanes that disagree on the qualifiers diverge.
template <Layout kALayout, Layout kBLayout>
void run_m8n8k4(const char* name, float acc[8], const unsigned a[2], const unsigned b[2]) {
  M8n8k4In in;
  std::memcpy(in.acc, acc, sizeof in.acc);
  std::memcpy(in.a, a, sizeof in.a);
  std::memcpy(in.b, b, sizeof in.b);
  const M8n8k4Out out = warp_collective<M8n8k4In, M8n8k4Out, &mma_m8n8k4<kALayout, kBLayout>>(name, in);
  std::memcpy(acc, out.acc, sizeof out.acc);
}

}  // namespace

void reset_ldmatrix_bank_stats() { bank_stats = LdmatrixBankStats{}; }
LdmatrixBankStats ldmatrix_bank_stats() { return bank_stats; }

}  // namespace emulation

namespace emulation_hooks {

using emulation::LdmatrixIn;
using emulation::LdmatrixOut;
using emulation::warp_collective;
namespace ptx_layout = emulation::ptx_layout;

void ldmatrix_x4(unsigned regs[4], const void* row_address, bool transpose) {
  // Checked by the lane that gives the address, so the message names it.
  emulation::check_shared_chunk16(row_address, transpose ? "ldmatrix.x4.trans" : "ldmatrix.x4");
  const LdmatrixIn in{static_cast<const unsigned char*>(row_address)};
  const LdmatrixOut out =
      transpose ? warp_collective<LdmatrixIn, LdmatrixOut, &emulation::ldmatrix_x4<true>>("ldmatrix.x4.trans", in)
                : warp_collective<LdmatrixIn, LdmatrixOut, &emulation::ldmatrix_x4<false>>("ldmatrix.x4", in);
  std::memcpy(regs, out.regs, sizeof out.regs);
}

void mma_m16n8k16(float acc[4], const unsigned a[4], const unsigned b[2], bool bf16) {
  if (bf16) {
    emulation::run_mma<16, true, ptx_layout::mma_m16n8k16_a, ptx_layout::mma_m16n8k16_b>("mma.m16n8k16.bf16", acc,
                                                                                          a, b);
    return;
  }
  emulation::run_mma<16, false, ptx_layout::mma_m16n8k16_a, ptx_layout::mma_m16n8k16_b>("mma.m16n8k16.f16", acc, a,
                                                                                         b);
}

void mma_m16n8k8(float acc[4], const unsigned a[2], unsigned b) {
  emulation::run_mma<8, false, ptx_layout::mma_m16n8k8_a, ptx_layout::mma_m16n8k8_b>("mma.m16n8k8.f16", acc, a, &b);
}

void mma_m8n8k4(float acc[8], const unsigned a[2], const unsigned b[2], bool a_col, bool b_col) {
  using ptx_layout::mma_m8n8k4_a_col;
  using ptx_layout::mma_m8n8k4_a_row;
  using ptx_layout::mma_m8n8k4_b_col;
  using ptx_layout::mma_m8n8k4_b_row;
  if (!a_col && b_col) return emulation::run_m8n8k4<mma_m8n8k4_a_row, mma_m8n8k4_b_col>("mma.m8n8k4.row.col", acc, a, b);
  if (!a_col && !b_col) return emulation::run_m8n8k4<mma_m8n8k4_a_row, mma_m8n8k4_b_row>("mma.m8n8k4.row.row", acc, a, b);
  if (a_col && b_col) return emulation::run_m8n8k4<mma_m8n8k4_a_col, mma_m8n8k4_b_col>("mma.m8n8k4.col.col", acc, a, b);
  emulation::run_m8n8k4<mma_m8n8k4_a_col, mma_m8n8k4_b_row>("mma.m8n8k4.col.row", acc, a, b);
}

void check_shared_load(const void* address, int bytes, const char* what) {
  emulation::check_shared_bytes(address, static_cast<std::size_t>(bytes), what);
}

}  // namespace emulation_hooks
}  // namespace flashjit
