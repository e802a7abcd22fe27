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

// At least a byte, so that an absent buffer still has an address (the call does not read it).
template <class Vector>
size_t bytes_of(const Vector& values) {
  return std::max<size_t>(1, values.size() * sizeof(values[0]));
}

}  // namespace

Status run_on_device(Runtime& runtime, KvCacheProblem& p) {
  return run_on_device(runtime, p, [](Runtime& r, const AttentionArgs& args) { return r.forward(args); });
}

Status run_on_device(Runtime& runtime, KvCacheProblem& p, const ForwardCall& call) {
  auto context = cuda::PrimaryContext::retain(0);
  if (!context) return driver_status(context.takeError());
  if (Status s = driver_status((*context)->make_current()); !s.ok()) return s;
  HostProblem& h = p.queries;
  auto q = upload(h.q.data(), bytes_of(h.q));
  auto out = upload(h.out.data(), bytes_of(h.out));
  auto lse = upload(h.lse.data(), bytes_of(h.lse));
  auto cu_q = upload(h.cu_seqlens_q.data(), bytes_of(h.cu_seqlens_q));
  auto slopes = upload(h.alibi_slopes.data(), bytes_of(h.alibi_slopes));
  auto k_cache = upload(p.k_cache.data(), bytes_of(p.k_cache));
  auto v_cache = upload(p.v_cache.data(), bytes_of(p.v_cache));
  auto k_new = upload(p.k_new.data(), bytes_of(p.k_new));
  auto v_new = upload(p.v_new.data(), bytes_of(p.v_new));
  auto used = upload(p.seqused_k.data(), bytes_of(p.seqused_k));
  auto table = upload(p.block_table.data(), bytes_of(p.block_table));
  for (auto* b : {&q, &out, &lse, &cu_q, &slopes, &k_cache, &v_cache, &k_new, &v_new, &used, &table})
    if (!*b) return driver_status(b->takeError());

  AttentionArgs args = p.args;
  args.q.data = q->pointer();
  args.out.data = out->pointer();
  args.lse = static_cast<float*>(p.args.lse ? lse->pointer() : nullptr);
  if (p.args.cu_seqlens_q) args.cu_seqlens_q = static_cast<const int32_t*>(cu_q->pointer());
  if (p.args.alibi_slopes) args.alibi_slopes = static_cast<const float*>(slopes->pointer());
  args.k.data = k_cache->pointer();
  args.v.data = v_cache->pointer();
  if (p.args.k_new.data) args.k_new.data = k_new->pointer();
  if (p.args.v_new.data) args.v_new.data = v_new->pointer();
  args.seqused_k = static_cast<const int32_t*>(used->pointer());
  if (p.args.block_table) args.block_table = static_cast<const int32_t*>(table->pointer());
  const Status forwarded = call(runtime, args);
  // Copied back even when forward() failed: a refused call must have left everything as it was.
  Status copied = driver_status(cuda::synchronize_stream(nullptr));
  if (copied.ok()) copied = driver_status(out->copy_to_host(h.out.data(), h.out.size()));
  if (copied.ok()) copied = driver_status(lse->copy_to_host(h.lse.data(), h.lse.size() * sizeof(float)));
  if (copied.ok()) copied = driver_status(k_cache->copy_to_host(p.k_cache.data(), p.k_cache.size()));
  if (copied.ok()) copied = driver_status(v_cache->copy_to_host(p.v_cache.data(), p.v_cache.size()));
  return forwarded.ok() ? copied : forwarded;
}

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
