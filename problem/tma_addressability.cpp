#include "problem/tma_addressability.h"

#include <llvm/Support/FormatVariadic.h>

#include "problem/validate.h"

namespace flashjit {

std::string tma_layout_problem(const TensorGeometry& t, int element_bytes) {
  if (t.base % 16 != 0)
    return llvm::formatv("{0}: the base address {1} is not 16-byte aligned", t.name,
                         reinterpret_cast<const void*>(t.base))
        .str();
  for (const TensorDim& d : t.dims) {
    if (d.extent <= 1) continue;  // never stepped over: any stride will do
    const int64_t bytes = d.stride * element_bytes;
    if (d.stride <= 0 || bytes % 16 != 0)
      return llvm::formatv("{0}: the {1} stride of {2} elements ({3} bytes) is not a positive multiple of 16 bytes",
                           t.name, d.name, d.stride, bytes)
          .str();
    if (static_cast<uint64_t>(bytes) >= kTmaStrideLimit)
      return llvm::formatv("{0}: the {1} stride of {2} bytes is not below TMA's 2^40", t.name, d.name, bytes).str();
  }
  // A dimension of extent 1 takes the tensor's span as its stride (runtime/tensor_map_request.cpp):
  // that too must stay below the limit.
  if (static_cast<uint64_t>(span_elements(t) * element_bytes) >= kTmaStrideLimit)
    return llvm::formatv("{0}: the tensor spans 2^40 bytes or more, beyond what TMA addresses", t.name).str();
  return {};
}

std::string tma_layout_problem(const AttentionArgs& args) {
  // A tensor map is sized by its tensor's extent, which a ragged call's offsets keep on the device.
  // A KV cache's keys are not packed (geometry_of): only the queries' count sizes a map.
  if (args.cu_seqlens_q != nullptr && args.seqused_k != nullptr && args.total_q <= 0)
    return "q: the packed queries' token count is not given (AttentionArgs::total_q), which TMA's tensor map of "
           "them is sized by";
  if (args.cu_seqlens_q != nullptr && !has_token_counts(args))
    return "q: the packed tensors' token counts are not given (AttentionArgs::total_q and total_k), which TMA's "
           "tensor maps are sized by";
  const int element_bytes = dtype_size(args.q.dtype);
  for (Operand operand : {Operand::q, Operand::k, Operand::v, Operand::out})
    if (std::string why = tma_layout_problem(geometry_of(args, operand), element_bytes); !why.empty()) return why;
  return {};
}

}  // namespace flashjit
