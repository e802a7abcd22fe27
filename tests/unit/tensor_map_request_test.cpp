// What the wgmma_sm90 kernel asks TMA for (runtime/tensor_map_request.h), without a driver: the
// arguments of cuTensorMapEncodeTiled per input tensor (dimensions innermost first, ordered by
// stride, and where the sequence, head and batch coordinates went), and why a layout cannot be
// addressed at all. The pointers are fake: these functions never dereference them.
#include <array>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "problem/tma_addressability.h"
#include "runtime/tensor_map_request.h"
#include "problem/validate.h"

namespace flashjit {
namespace {

using Dims = std::array<unsigned long long, 4>;
using StridesBytes = std::array<unsigned long long, 3>;
using Box = std::array<unsigned, 4>;

const void* fake(uintptr_t address) { return reinterpret_cast<const void*>(address); }

// Contiguous [batch, seqlen, heads, head_dim] tensors (the FlashAttention layout) with explicit
// strides, as validate_args leaves them, at 16-byte aligned fake addresses.
AttentionArgs bshd(int batch, int heads, int kv_heads, int seqlen_q, int seqlen_k, int head_dim,
                   DType dtype = DType::f16) {
  AttentionArgs a;
  a.q = {fake(0x100000), dtype, contiguous_strides(seqlen_q, heads, head_dim)};
  a.k = {fake(0x200000), dtype, contiguous_strides(seqlen_k, kv_heads, head_dim)};
  a.v = {fake(0x300000), dtype, contiguous_strides(seqlen_k, kv_heads, head_dim)};
  a.out = {reinterpret_cast<void*>(0x400000), dtype, contiguous_strides(seqlen_q, heads, head_dim)};
  a.batch = batch;
  a.num_heads = heads;
  a.num_kv_heads = kv_heads;
  a.seqlen_q = seqlen_q;
  a.seqlen_k = seqlen_k;
  a.head_dim = head_dim;
  a.softmax_scale = 0.125f;
  return a;
}

// Head-major [batch, heads, seqlen, head_dim] strides.
Strides bhsd_strides(int seqlen, int heads, int head_dim) {
  Strides s;
  s.seq = head_dim;
  s.head = int64_t{seqlen} * head_dim;
  s.batch = s.head * heads;
  return s;
}

// ---- tensor_map_request --------------------------------------------------------------------------

// BSHD q, batch 2, seqlen 100, 3 heads, d 128: strides in elements head 128 < seq 384 < batch
// 38400, so the head comes right after the head dim, then the sequence, then the batch.
TEST(TensorMapRequest, ContiguousQueriesOrderHeadSeqBatch) {
  const AttentionArgs a = bshd(2, 3, 3, 100, 100, 128);
  const TensorMapRequest r = tensor_map_request(a, Operand::q, 64);
  EXPECT_EQ(r.address, a.q.data);
  EXPECT_EQ(r.dtype, DType::f16);
  EXPECT_EQ(r.dims, (Dims{128, 3, 100, 2}));
  EXPECT_EQ(r.strides_bytes, (StridesBytes{256, 768, 76800}));
  // The box spans 64 sequence positions of one head: its rows go where the sequence went.
  EXPECT_EQ(r.box, (Box{64, 1, 64, 1}));
  EXPECT_EQ(r.head_slot, 1);
  EXPECT_EQ(r.seq_slot, 2);
  EXPECT_EQ(r.batch_slot, 3);
}

// Head-major tensors: the sequence is the second-innermost dimension, then the head, then the batch.
TEST(TensorMapRequest, HeadMajorLayoutOrdersSeqHeadBatch) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 128);
  a.q.strides = bhsd_strides(100, 3, 128);  // seq 128, head 12800, batch 38400
  const TensorMapRequest r = tensor_map_request(a, Operand::q, 64);
  EXPECT_EQ(r.dims, (Dims{128, 100, 3, 2}));
  EXPECT_EQ(r.strides_bytes, (StridesBytes{256, 25600, 76800}));
  EXPECT_EQ(r.box, (Box{64, 64, 1, 1}));
  EXPECT_EQ(r.seq_slot, 1);
  EXPECT_EQ(r.head_slot, 2);
  EXPECT_EQ(r.batch_slot, 3);
}

// K and V have num_kv_heads heads and seqlen_k rows (GQA: 8 query heads share 2 kv heads), boxes of
// block_n rows, and each request addresses its own tensor.
TEST(TensorMapRequest, KeysAndValuesUseKvHeadsSeqlenKAndTheirOwnAddress) {
  const AttentionArgs a = bshd(3, 8, 2, 100, 300, 64);
  for (Operand operand : {Operand::k, Operand::v}) {
    const TensorMapRequest r = tensor_map_request(a, operand, 128);
    EXPECT_EQ(r.address, operand == Operand::k ? a.k.data : a.v.data);
    // Strides in elements: head 64, seq 2*64 = 128, batch 300*128 = 38400.
    EXPECT_EQ(r.dims, (Dims{64, 2, 300, 3}));
    EXPECT_EQ(r.strides_bytes, (StridesBytes{128, 256, 76800}));
    EXPECT_EQ(r.box, (Box{64, 1, 128, 1}));
    EXPECT_EQ(r.head_slot, 1);
    EXPECT_EQ(r.seq_slot, 2);
    EXPECT_EQ(r.batch_slot, 3);
  }
  // The query tensor of the same call keeps its own shape.
  EXPECT_EQ(tensor_map_request(a, Operand::q, 64).dims, (Dims{64, 8, 100, 3}));
}

// A dimension of extent 1 is never stepped over, so its stride is replaced by the tensor's span and
// it sorts last, whatever the caller passed (here a batch stride of 1 element, which would otherwise
// sort first and break TMA's increasing strides).
TEST(TensorMapRequest, AnExtentOneDimensionSortsLast) {
  AttentionArgs a = bshd(1, 3, 3, 100, 100, 128);
  a.q.strides = bhsd_strides(100, 3, 128);
  a.q.strides.batch = 1;
  const TensorMapRequest r = tensor_map_request(a, Operand::q, 64);
  // Span: the largest stride * extent, head 12800 * 3 = 38400 elements.
  EXPECT_EQ(r.dims, (Dims{128, 100, 3, 1}));
  EXPECT_EQ(r.strides_bytes, (StridesBytes{256, 25600, 76800}));
  EXPECT_EQ(r.seq_slot, 1);
  EXPECT_EQ(r.head_slot, 2);
  EXPECT_EQ(r.batch_slot, 3);

  // MQA: one kv head, whose stride (64, equal to the sequence stride) moves past the batch.
  const AttentionArgs mqa = bshd(2, 4, 1, 50, 100, 64);
  const TensorMapRequest k = tensor_map_request(mqa, Operand::k, 64);
  // seq 64, batch 6400; the head takes the span 6400 * 2 = 12800.
  EXPECT_EQ(k.dims, (Dims{64, 100, 2, 1}));
  EXPECT_EQ(k.strides_bytes, (StridesBytes{128, 12800, 25600}));
  EXPECT_EQ(k.seq_slot, 1);
  EXPECT_EQ(k.batch_slot, 2);
  EXPECT_EQ(k.head_slot, 3);
}

// A ragged batch's packed tensors are one entry of their token counts (the batch stride 0 is never
// stepped over and sorts last); q/out take total_q rows, k/v total_k.
TEST(TensorMapRequest, ARaggedBatchIsOnePackedEntryOfItsTokenCount) {
  static const int32_t offsets[] = {0, 70, 75, 180};
  AttentionArgs a = bshd(3, 4, 2, 105, 105, 128);
  a.cu_seqlens_q = a.cu_seqlens_k = offsets;
  a.total_q = 180;
  a.total_k = 200;
  for (Strides* s : {&a.q.strides, &a.k.strides, &a.v.strides, &a.out.strides}) s->batch = 0;
  const TensorMapRequest q = tensor_map_request(a, Operand::q, 64);
  // Head 128, seq 512 elements; the batch entry takes the span, 180 * 512 elements.
  EXPECT_EQ(q.dims, (Dims{128, 4, 180, 1}));
  EXPECT_EQ(q.strides_bytes, (StridesBytes{256, 1024, 180 * 1024}));
  EXPECT_EQ(q.seq_slot, 2);
  EXPECT_EQ(q.batch_slot, 3);
  EXPECT_EQ(tensor_map_request(a, Operand::k, 128).dims, (Dims{128, 2, 200, 1}));
  EXPECT_EQ(tma_layout_problem(a), "");
  // Without the counts there is no extent to give TMA.
  a.total_q = a.total_k = 0;
  EXPECT_EQ(tma_layout_problem(a),
            "q: the packed tensors' token counts are not given (AttentionArgs::total_q and total_k), which TMA's "
            "tensor maps are sized by");
}

TEST(TensorMapRequest, CarriesTheDtype) {
  const AttentionArgs a = bshd(2, 3, 3, 100, 100, 128, DType::bf16);
  for (Operand operand : {Operand::q, Operand::k, Operand::v})
    EXPECT_EQ(tensor_map_request(a, operand, 64).dtype, DType::bf16);
  EXPECT_EQ(tensor_map_request(bshd(2, 3, 3, 100, 100, 128), Operand::v, 64).dtype, DType::f16);
}

// ---- tma_layout_problem --------------------------------------------------------------------------

TEST(TmaLayoutProblem, NoneForContiguousTensors) {
  EXPECT_EQ(tma_layout_problem(bshd(2, 3, 3, 100, 100, 128)), "");
  EXPECT_EQ(tma_layout_problem(bshd(3, 8, 2, 100, 300, 64, DType::bf16)), "");
  AttentionArgs head_major = bshd(2, 3, 3, 100, 100, 128);
  head_major.q.strides = bhsd_strides(100, 3, 128);
  EXPECT_EQ(tma_layout_problem(head_major), "");
}

TEST(TmaLayoutProblem, BaseAddressNotSixteenByteAligned) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 128);
  a.k.data = fake(0x1008);
  EXPECT_EQ(tma_layout_problem(a), "k: the base address 0x0000000000001008 is not 16-byte aligned");
}

// A row padding of 100 - 64 elements: 200-byte rows that TMA cannot step over.
TEST(TmaLayoutProblem, SeqStrideNotAMultipleOfSixteenBytes) {
  AttentionArgs a = bshd(2, 1, 1, 100, 100, 64);
  a.q.strides.seq = 100;
  a.q.strides.batch = 100 * 100;
  EXPECT_EQ(tma_layout_problem(a),
            "q: the seq stride of 100 elements (200 bytes) is not a positive multiple of 16 bytes");
}

// Issue 15: a paged cache's k and v are its pages (page_size rows, num_pages entries stepped by the
// batch stride), whatever seqlen_k the call names; a dense cache keeps [batch, seqlen_k]; the
// queries are untouched. A paged box never crosses a page: the page, or block_n's largest power of
// two when smaller.
TEST(TensorMapRequest, APagedCacheIsAddressedByItsPages) {
  AttentionArgs a = bshd(3, 8, 2, 100, 300, 64);
  static const int32_t used[3] = {0, 0, 0};
  static const int32_t table[3 * 5] = {};
  a.seqused_k = used;
  a.block_table = table;
  a.page_size = 64;
  a.num_pages = 17;
  a.max_pages_per_sequence = 5;
  a.k.strides = a.v.strides = contiguous_strides(64, 2, 64);  // [pages, 64, 2, 64]
  for (Operand operand : {Operand::k, Operand::v}) {
    const TensorMapRequest r = tensor_map_request(a, operand, paged_box_rows(128, a.page_size));
    EXPECT_EQ(r.dims, (Dims{64, 2, 64, 17}));
    EXPECT_EQ(r.strides_bytes, (StridesBytes{128, 256, 16384}));
    EXPECT_EQ(r.box, (Box{64, 1, 64, 1}));
    EXPECT_EQ(r.seq_slot, 2);
    EXPECT_EQ(r.batch_slot, 3);
  }
  EXPECT_EQ(tensor_map_request(a, Operand::q, 64).dims, (Dims{64, 8, 100, 3}));
  EXPECT_EQ(tma_layout_problem(a), "");
  a.block_table = nullptr;  // a dense cache
  a.k.strides = contiguous_strides(300, 2, 64);
  EXPECT_EQ(tensor_map_request(a, Operand::k, 128).dims, (Dims{64, 2, 300, 3}));

  // Ragged queries over the cache: only the queries' token count sizes a map.
  static const int32_t offsets[4] = {0, 40, 40, 100};
  a.cu_seqlens_q = offsets;
  EXPECT_EQ(tma_layout_problem(a),
            "q: the packed queries' token count is not given (AttentionArgs::total_q), which TMA's tensor map of them "
            "is sized by");
  a.total_q = 100;
  EXPECT_EQ(tma_layout_problem(a), "");
  EXPECT_EQ(tensor_map_request(a, Operand::k, 128).dims, (Dims{64, 2, 300, 3}));

  EXPECT_EQ(paged_box_rows(128, 64), 64);
  EXPECT_EQ(paged_box_rows(128, 256), 128);
  EXPECT_EQ(paged_box_rows(96, 64), 32);
  EXPECT_EQ(paged_box_rows(192, 256), 64);
  EXPECT_EQ(paged_box_rows(64, 1024), 64);
}

TEST(TmaLayoutProblem, NonPositiveStrides) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 128);
  a.v.strides.seq = -384;
  EXPECT_EQ(tma_layout_problem(a),
            "v: the seq stride of -384 elements (-768 bytes) is not a positive multiple of 16 bytes");
  a.v.strides.seq = 0;
  EXPECT_EQ(tma_layout_problem(a),
            "v: the seq stride of 0 elements (0 bytes) is not a positive multiple of 16 bytes");
}

TEST(TmaLayoutProblem, StridesBelowTwoToTheForty) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 128);
  a.q.strides.batch = int64_t{1} << 39;  // 2^40 bytes
  EXPECT_EQ(tma_layout_problem(a), "q: the batch stride of 1099511627776 bytes is not below TMA's 2^40");
}

// The output is checked too: rows that are not 16-byte aligned go to mma_sm80 (whose vector stores
// need them) under their own problem key, like unaligned inputs.
TEST(TmaLayoutProblem, UnalignedOutput) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 64);
  a.out.strides.head = 68;  // 136 bytes
  EXPECT_EQ(tma_layout_problem(a),
            "out: the head stride of 68 elements (136 bytes) is not a positive multiple of 16 bytes");
  a = bshd(2, 3, 3, 100, 100, 64);
  a.out.data = reinterpret_cast<void*>(0x400002);
  EXPECT_EQ(tma_layout_problem(a), "out: the base address 0x0000000000400002 is not 16-byte aligned");
}

// Only the tensors' first problem is told, in the order q, k, v, out.
TEST(TmaLayoutProblem, TellsTheFirstTensorsProblem) {
  AttentionArgs a = bshd(2, 3, 3, 100, 100, 64);
  a.out.strides.head = 68;
  a.k.strides.seq = 3 * 64 + 4;
  EXPECT_EQ(tma_layout_problem(a),
            "k: the seq stride of 196 elements (392 bytes) is not a positive multiple of 16 bytes");
}

// A dimension of extent 1 is never stepped over, so its stride may be anything.
TEST(TmaLayoutProblem, IgnoresTheStrideOfAnExtentOneDimension) {
  AttentionArgs a = bshd(1, 1, 1, 100, 100, 64);
  a.q.strides.batch = 3;
  a.q.strides.head = 7;
  a.k.strides.batch = -5;
  a.out.strides.head = 1;
  EXPECT_EQ(tma_layout_problem(a), "");
  // The same strides with two heads are a problem.
  a.num_heads = 2;
  a.num_kv_heads = 2;
  EXPECT_EQ(tma_layout_problem(a),
            "q: the head stride of 7 elements (14 bytes) is not a positive multiple of 16 bytes");
}

}  // namespace
}  // namespace flashjit
