#include "helpers/device_problem.h"

#include <algorithm>

#include "cuda/device.h"

namespace flashjit::test {
namespace {

Status driver_status(llvm::Error err) {
  if (!err) return Status::success();
  return Status(ErrorCode::driver_error, llvm::toString(std::move(err)));
}

llvm::Expected<cuda::DeviceBuffer> upload(const void* data, size_t bytes) {
  auto buffer = cuda::DeviceBuffer::allocate(bytes);
  if (!buffer) return buffer.takeError();
  if (llvm::Error err = buffer->copy_from_host(data, bytes)) return err;
  return buffer;
}

}  // namespace

Status run_on_device(Runtime& runtime, HostProblem& p) {
  return run_on_device(runtime, p, [](Runtime& r, const AttentionArgs& args) { return r.forward(args); });
}

Status run_on_device(Runtime& runtime, HostProblem& p, const ForwardCall& call) {
  auto context = cuda::PrimaryContext::retain(0);
  if (!context) return driver_status(context.takeError());
  if (Status s = driver_status((*context)->make_current()); !s.ok()) return s;

  auto q = upload(p.q.data(), p.q.size());
  auto k = upload(p.k.data(), p.k.size());
  auto v = upload(p.v.data(), p.v.size());
  auto out = upload(p.out.data(), p.out.size());
  auto lse = upload(p.lse.data(), p.lse.size() * sizeof(float));
  // A ragged batch's offsets and the ALiBi slopes live on the device too (a byte for absent ones).
  auto bytes_of = [](const auto& values) { return std::max<size_t>(1, values.size() * sizeof(values[0])); };
  auto cu_q = upload(p.cu_seqlens_q.data(), bytes_of(p.cu_seqlens_q));
  auto cu_k = upload(p.cu_seqlens_k.data(), bytes_of(p.cu_seqlens_k));
  auto slopes = upload(p.alibi_slopes.data(), bytes_of(p.alibi_slopes));
  for (auto* b : {&q, &k, &v, &out, &lse, &cu_q, &cu_k, &slopes})
    if (!*b) return driver_status(b->takeError());

  AttentionArgs args = p.args;
  args.q.data = q->pointer();
  args.k.data = k->pointer();
  args.v.data = v->pointer();
  args.out.data = out->pointer();
  args.lse = static_cast<float*>(p.args.lse ? lse->pointer() : nullptr);
  if (p.args.cu_seqlens_q) args.cu_seqlens_q = static_cast<const int32_t*>(cu_q->pointer());
  if (p.args.cu_seqlens_k) args.cu_seqlens_k = static_cast<const int32_t*>(cu_k->pointer());
  if (p.args.alibi_slopes) args.alibi_slopes = static_cast<const float*>(slopes->pointer());
  const Status forwarded = call(runtime, args);
  // Copied back even when forward() failed, so that a test can check a refused call left the
  // poisoned buffers alone (launched nothing); forward()'s own error is the one reported.
  // The legacy default stream waits for every blocking stream, the tests' own included.
  Status copied = driver_status(cuda::synchronize_stream(nullptr));
  if (copied.ok()) copied = driver_status(out->copy_to_host(p.out.data(), p.out.size()));
  if (copied.ok()) copied = driver_status(lse->copy_to_host(p.lse.data(), p.lse.size() * sizeof(float)));
  return forwarded.ok() ? copied : forwarded;
}

}  // namespace flashjit::test
