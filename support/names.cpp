// Names of the public enums, used in messages, keys and JSON, and reading them back.
#include "support/names.h"

#include "flashjit/runtime.h"
#include "flashjit/status.h"
#include "support/error.h"
#include "support/quote.h"

namespace flashjit {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
  }
  return "unknown";
}

int dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 2; }

const char* mask_name(MaskKind mask) { return mask == MaskKind::causal ? "causal" : "none"; }

const char* kernel_origin_name(KernelOrigin origin) {
  switch (origin) {
    case KernelOrigin::planned: return "planned";
    case KernelOrigin::cache: return "cache";
    case KernelOrigin::remote: return "remote";
    case KernelOrigin::tuned: return "tuned";
    case KernelOrigin::heuristic: return "heuristic";
    case KernelOrigin::forced: return "forced";
    case KernelOrigin::cpu: return "cpu";
  }
  return "unknown";
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::no_device: return "no_device";
    case ErrorCode::driver_error: return "driver_error";
    case ErrorCode::compile_error: return "compile_error";
    case ErrorCode::launch_error: return "launch_error";
    case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

llvm::Expected<DType> parse_dtype(llvm::StringRef text) {
  for (DType d : {DType::f32, DType::f16, DType::bf16})
    if (text == dtype_name(d)) return d;
  return make_error(ErrorCode::invalid_argument, "unknown dtype '" + quote_prefix(text) + "' (expected f32, f16 or bf16)");
}

llvm::Expected<MaskKind> parse_mask(llvm::StringRef text) {
  for (MaskKind m : {MaskKind::none, MaskKind::causal})
    if (text == mask_name(m)) return m;
  return make_error(ErrorCode::invalid_argument, "unknown mask '" + quote_prefix(text) + "' (expected none or causal)");
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(error_code_name(code_)) + ": " + message_;
}

}  // namespace flashjit
