// TMA tensor maps from the driver: cuTensorMapEncodeTiled with the arguments tensor_map_request()
// computed. Host-only work (no launch, no synchronization), so it may run during graph capture.
#pragma once

#include <llvm/Support/Error.h>

#include "../templates/tma_params.cuh"
#include "runtime/tensor_map_request.h"

namespace flashjit::cuda {

llvm::Expected<TensorMapBits> encode_tensor_map(const TensorMapRequest& request);

}  // namespace flashjit::cuda
