// The CPU backend's block kernels (runtime/cpu/block_kernels.h) one by one against plain double
// arithmetic, for every instruction set given: S^T for wide and narrow blocks, the online softmax
// step, P.V, and the fp16/bf16 conversions, at head dims whose tiles end in narrower tails. A
// standalone program (no LLVM, no GoogleTest) so that scripts/check_arm.sh can cross-compile it
// with the portable kernels for AArch64 and run it under qemu-user; natively, CTest runs it over
// every set this CPU runs. Prints what it checked; exit 0 when every value is within tolerance.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "flashjit/numeric.h"
#include "runtime/cpu/block_kernels.h"
#include "runtime/cpu/cpu_isa.h"

namespace {

using flashjit::cpu::BlockKernels;
using flashjit::cpu::kKeyBlock;
using flashjit::cpu::kKeyGroup;
using flashjit::cpu::kNarrowLanes;
using flashjit::cpu::kWideLanes;

int failures = 0;
int checks = 0;

void expect_near(double got, double want, double tolerance, const std::string& what) {
  ++checks;
  const bool ok = got == want || std::abs(got - want) <= tolerance * (1.0 + std::abs(want)) ||
                  (std::isnan(got) && std::isnan(want));
  if (ok) return;
  if (failures++ < 10) std::printf("  FAIL %s: got %.9g, want %.9g\n", what.c_str(), got, want);
}

std::vector<float> random_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

void check_set(const BlockKernels& k, const char* name) {
  std::mt19937 rng(7);
  for (int head_dim : {8, 40, 72, 128, 136, 248, 256}) {
    for (int keys : {1, 37, kKeyBlock}) {
      const std::string at = std::string(name) + " d" + std::to_string(head_dim) + " keys" + std::to_string(keys);
      // K rows (padded with zero rows to kKeyGroup) and V rows.
      std::vector<float> k_data = random_values(static_cast<size_t>(kKeyBlock) * head_dim, rng);
      std::vector<float> v_data = random_values(static_cast<size_t>(kKeyBlock) * head_dim, rng);
      std::vector<float> zero(head_dim, 0.0f);
      const float* k_rows[kKeyBlock];
      const float* v_rows[kKeyBlock];
      for (int c = 0; c < kKeyBlock; ++c) {
        k_rows[c] = c < keys ? &k_data[static_cast<size_t>(c) * head_dim] : zero.data();
        v_rows[c] = &v_data[static_cast<size_t>(c) * head_dim];
      }

      // Wide scores: Q^T [head_dim][64].
      std::vector<float> q_t = random_values(static_cast<size_t>(head_dim) * kWideLanes, rng);
      std::vector<float> st(static_cast<size_t>(kKeyBlock) * kWideLanes, std::nanf(""));
      k.wide_scores(q_t.data(), k_rows, keys, head_dim, st.data());
      for (int c = 0; c < keys; ++c)
        for (int l = 0; l < kWideLanes; l += 7) {
          double want = 0;
          for (int d = 0; d < head_dim; ++d) want += double(k_rows[c][d]) * q_t[static_cast<size_t>(d) * kWideLanes + l];
          expect_near(st[c * kWideLanes + l], want, 1e-5, at + " wide_scores");
        }

      // Narrow scores: Q [rows][head_dim] for 1 and 8 rows.
      for (int rows : {1, kNarrowLanes}) {
        std::vector<float> q = random_values(static_cast<size_t>(rows) * head_dim, rng);
        std::vector<float> narrow(static_cast<size_t>(kKeyBlock) * kNarrowLanes, std::nanf(""));
        k.narrow_scores(q.data(), rows, k_rows, keys, head_dim, narrow.data());
        for (int c = 0; c < keys; ++c)
          for (int i = 0; i < rows; ++i) {
            double want = 0;
            for (int d = 0; d < head_dim; ++d) want += double(k_rows[c][d]) * q[static_cast<size_t>(i) * head_dim + d];
            expect_near(narrow[c * kNarrowLanes + i], want, 1e-5, at + " narrow_scores");
          }
      }

      // The softmax step on the wide scores, from a running state, then P.V with its correction.
      std::vector<float> row_max(kWideLanes), row_sum(kWideLanes), correction(kWideLanes);
      for (int l = 0; l < kWideLanes; ++l) {
        row_max[l] = l % 5 == 0 ? -std::numeric_limits<float>::infinity() : 0.5f;
        row_sum[l] = l % 5 == 0 ? 0.0f : 3.0f;
      }
      std::vector<float> scores = st;
      const std::vector<float> old_max = row_max, old_sum = row_sum;
      k.softmax(scores.data(), keys, kWideLanes, row_max.data(), row_sum.data(), correction.data());
      for (int l = 0; l < kWideLanes; ++l) {
        double block_max = -INFINITY;
        for (int c = 0; c < keys; ++c) block_max = std::max(block_max, double(st[c * kWideLanes + l]));
        const double new_max = std::max(double(old_max[l]), block_max);
        double sum = 0;
        for (int c = 0; c < keys; ++c) {
          const double p = std::exp(double(st[c * kWideLanes + l]) - new_max);
          sum += p;
          expect_near(scores[c * kWideLanes + l], p, 1e-6, at + " softmax p");
        }
        const double corr = std::exp(double(old_max[l]) - new_max);
        expect_near(correction[l], corr, 1e-6, at + " softmax correction");
        expect_near(row_sum[l], old_sum[l] * corr + sum, 1e-5, at + " softmax sum");
        expect_near(row_max[l], new_max, 0, at + " softmax max");
      }
      std::vector<float> acc = random_values(static_cast<size_t>(kWideLanes) * head_dim, rng);
      const std::vector<float> old_acc = acc;
      const int rows = 61;  // not a multiple of the accumulator tile's rows
      k.accumulate(scores.data(), keys, kWideLanes, v_rows, head_dim, correction.data(), acc.data(), rows);
      for (int r = 0; r < rows; r += 3)
        for (int d = 0; d < head_dim; ++d) {
          double want = double(old_acc[static_cast<size_t>(r) * head_dim + d]) * correction[r];
          for (int c = 0; c < keys; ++c) want += double(scores[c * kWideLanes + r]) * v_rows[c][d];
          expect_near(acc[static_cast<size_t>(r) * head_dim + d], want, 1e-5, at + " accumulate");
        }
    }
  }

  // Score modifiers and masks: cap, bias and a window, on 61 of 64 lanes.
  for (float softcap : {0.0f, 0.7f, 30.0f}) {
    for (float slope : {0.0f, 0.25f}) {
      std::vector<float> scores = random_values(static_cast<size_t>(kKeyBlock) * kWideLanes, rng);
      for (float& x : scores) x *= 8.0f;
      const std::vector<float> before = scores;
      flashjit::cpu::ScoreMods mods;
      mods.softcap = softcap;
      mods.slope = slope;
      mods.row_minus_key0 = 5;
      mods.window_left = 40;
      mods.window_right = 3;
      const int rows = 61;
      k.modify_scores(scores.data(), 50, kWideLanes, rows, mods);
      for (int c = 0; c < 50; ++c)
        for (int r = 0; r < rows; ++r) {
          const int64_t distance = mods.row_minus_key0 + r - c;
          double capped = before[c * kWideLanes + r];
          if (softcap > 0) capped = softcap * std::tanh(capped / softcap);
          const double bias = double(slope) * std::abs(double(distance));
          const bool masked = distance > mods.window_left || distance < -mods.window_right;
          // fp32 terms: a few units of their rounding, relative to the terms (their difference may cancel).
          const double tolerance = 4e-7 * (std::abs(capped) + bias + 1.0);
          expect_near(scores[c * kWideLanes + r], masked ? -INFINITY : capped - bias, masked ? 0.0 : tolerance,
                      std::string(name) + " modify_scores");
        }
      for (int c = 0; c < 50; ++c)  // lanes past `rows` untouched
        expect_near(scores[c * kWideLanes + 63], before[c * kWideLanes + 63], 0, std::string(name) + " modify_scores lanes");
    }
  }

  // Conversions, against the library's scalar ones, over every 16-bit pattern (NaNs: NaN).
  std::vector<uint16_t> bits(65536);
  for (int i = 0; i < 65536; ++i) bits[i] = static_cast<uint16_t>(i);
  std::vector<float> wide(65536);
  std::vector<uint16_t> narrow(65536);
  k.widen_f16(bits.data(), 65536, wide.data());
  for (int i = 0; i < 65536; ++i) expect_near(wide[i], flashjit::half_bits_to_float(bits[i]), 0, std::string(name) + " widen_f16");
  k.narrow_f16(wide.data(), 65536, narrow.data());
  for (int i = 0; i < 65536; ++i)
    if (!std::isnan(wide[i])) expect_near(narrow[i], bits[i], 0, std::string(name) + " narrow_f16 round trip");
  k.widen_bf16(bits.data(), 65536, wide.data());
  for (int i = 0; i < 65536; ++i) expect_near(wide[i], flashjit::bf16_bits_to_float(bits[i]), 0, std::string(name) + " widen_bf16");
  std::vector<float> samples = random_values(4096, rng);
  for (float& x : samples) x *= 1000.0f;
  std::vector<uint16_t> rounded(4096);
  k.narrow_bf16(samples.data(), 4096, rounded.data());
  for (int i = 0; i < 4096; ++i)
    expect_near(rounded[i], flashjit::float_to_bf16_bits(samples[i]), 0, std::string(name) + " narrow_bf16");
}

}  // namespace

int main() {
#ifdef FLASHJIT_KERNELS_CHECK_PORTABLE_ONLY
  const std::vector<flashjit::cpu::CpuIsa> sets = {flashjit::cpu::CpuIsa::portable};
#else
  const std::vector<flashjit::cpu::CpuIsa> sets = flashjit::cpu::runnable_cpu_isas();
#endif
  for (flashjit::cpu::CpuIsa isa : sets) {
    const int before = failures;
    const char* name = isa == flashjit::cpu::CpuIsa::portable ? "portable"
                       : isa == flashjit::cpu::CpuIsa::avx2   ? "avx2"
                       : isa == flashjit::cpu::CpuIsa::avx512 ? "avx512"
                                                              : "avx512_bf16";
    check_set(flashjit::cpu::block_kernels(isa), name);
    std::printf("%s kernels: %s\n", name, failures == before ? "ok" : "FAILED");
  }
#if defined(__aarch64__)
  const char* arch = "aarch64";
#elif defined(__x86_64__)
  const char* arch = "x86-64";
#else
  const char* arch = "this architecture";
#endif
  std::printf("block kernels on %s: %d checks, %d failed\n", arch, checks, failures);
  return failures == 0 ? 0 : 1;
}
