#include "runtime/device_modifier_data.h"

#include <vector>

namespace flashjit {
namespace {

template <class T>
llvm::Error upload(const std::vector<T>& host, cuda::DeviceBuffer& device) {
  if (host.empty()) return llvm::Error::success();
  auto buffer = cuda::DeviceBuffer::allocate(host.size() * sizeof(T));
  if (!buffer) return buffer.takeError();
  if (llvm::Error err = buffer->copy_from_host(host.data(), host.size() * sizeof(T))) return err;
  device = std::move(*buffer);
  return llvm::Error::success();
}

}  // namespace

ModifierPointers DeviceModifierData::pointers() const {
  ModifierPointers p;
  p.cu_seqlens_q = static_cast<const int32_t*>(cu_seqlens_q.pointer());
  p.cu_seqlens_k = static_cast<const int32_t*>(cu_seqlens_k.pointer());
  p.total_q = total_q;
  p.total_k = total_k;
  p.alibi_slopes = static_cast<const float*>(alibi_slopes.pointer());
  p.seqused_k = static_cast<const int32_t*>(seqused_k.pointer());
  p.block_table = static_cast<const int32_t*>(block_table.pointer());
  return p;
}

llvm::Expected<DeviceModifierData> upload_modifier_data(const ModifierData& host) {
  DeviceModifierData device;
  device.total_q = host.q_tokens();
  device.total_k = host.k_tokens();
  if (llvm::Error err = upload(host.cu_seqlens_q, device.cu_seqlens_q)) return err;
  if (llvm::Error err = upload(host.cu_seqlens_k, device.cu_seqlens_k)) return err;
  if (llvm::Error err = upload(host.alibi_slopes, device.alibi_slopes)) return err;
  if (llvm::Error err = upload(host.seqused_k, device.seqused_k)) return err;
  if (llvm::Error err = upload(host.block_table, device.block_table)) return err;
  return device;
}

}  // namespace flashjit
