#include "cuda/pointer_checks.h"

#include <llvm/Support/FormatVariadic.h>

#include "cuda/driver_api.h"

namespace flashjit::cuda {
namespace {

// The three attributes forward() needs of a pointer, fetched in one driver call.
struct PointerFacts {
  unsigned int memory_type = 0;
  unsigned int is_managed = 0;
  int device_ordinal = -1;
};

// False when the driver does not know the pointer (plain host memory: malloc, std::vector).
bool query(const DriverApi& api, const void* pointer, PointerFacts& facts) {
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_IS_MANAGED,
                                      CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
  void* values[] = {&facts.memory_type, &facts.is_managed, &facts.device_ordinal};
  if (api.cuPointerGetAttributes(3, attributes, values, reinterpret_cast<CUdeviceptr>(pointer)) != CUDA_SUCCESS)
    return false;
  // Unknown memory answers success with a zero memory type rather than an error.
  return facts.memory_type != 0;
}

}  // namespace

Status check_device_pointers(const AttentionArgs& args, int device_index) {
  auto api = driver_api();
  if (!api) return Status(ErrorCode::driver_error, llvm::toString(api.takeError()));
  const std::pair<const char*, const void*> pointers[] = {
      {"q", args.q.data},   {"k", args.k.data},
      {"v", args.v.data},   {"out", args.out.data},
      {"lse", args.lse},    {"cu_seqlens_q", args.cu_seqlens_q},
      {"cu_seqlens_k", args.cu_seqlens_k}, {"alibi_slopes", args.alibi_slopes},
      {"seqused_k", args.seqused_k}, {"block_table", args.block_table},
      {"k_new", args.k_new.data}, {"v_new", args.v_new.data}};
  for (auto [name, pointer] : pointers) {
    if (pointer == nullptr) continue;
    PointerFacts facts;
    if (!query(*api, pointer, facts))
      return Status(ErrorCode::invalid_argument,
                    llvm::formatv("{0} ({1}) is not memory the CUDA driver knows; the CUDA backend "
                                  "needs device memory (a host pointer?)",
                                  name, pointer));
    // Mapped host memory is readable by every GPU; managed memory reports either type wherever it
    // lives and migrates to the GPU that reads it.
    if (facts.memory_type != CU_MEMORYTYPE_DEVICE || facts.is_managed != 0) continue;
    // Device memory of another GPU would fault (or, with peer access, crawl over the
    // interconnect): refused like mixed devices in PyTorch.
    if (facts.device_ordinal != device_index)
      return Status(ErrorCode::invalid_argument,
                    llvm::formatv("{0} ({1}) is memory of GPU {2}, but this runtime computes on GPU {3}; "
                                  "create a Runtime with device_index {2} for it",
                                  name, pointer, facts.device_ordinal, device_index));
  }
  return Status::success();
}

bool stream_is_capturing(CUstream stream) {
  auto api = driver_api();
  if (!api) {
    llvm::consumeError(api.takeError());
    return false;
  }
  CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
  const CUresult r = api->cuStreamIsCapturing(stream, &capture);
  // The legacy default stream while another stream captures in global or thread-local mode: any
  // work on it would break that capture.
  if (r == CUDA_ERROR_STREAM_CAPTURE_IMPLICIT) return true;
  return r == CUDA_SUCCESS && capture != CU_STREAM_CAPTURE_STATUS_NONE;
}

}  // namespace flashjit::cuda
