// The smallest FlashJIT application: one attention forward, on the GPU when there is one (device
// memory through the runtime's own allocator is the application's business; this example uses the
// CPU backend's host memory so it runs anywhere) and a check of one output row by hand.
#include <cmath>
#include <cstdio>
#include <vector>

#include <flashjit/flashjit.h>

int main() {
  const int batch = 1, heads = 2, seqlen = 5, head_dim = 8;
  std::vector<float> q(batch * seqlen * heads * head_dim), k(q.size()), v(q.size()), out(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = std::sin(0.1f * i);
    k[i] = std::cos(0.2f * i);
    v[i] = 0.01f * i;
  }

  flashjit::RuntimeOptions options;
  options.backend = flashjit::Backend::cpu;  // host pointers below
  auto runtime = flashjit::Runtime::create(options);
  if (!runtime) {
    std::fprintf(stderr, "flashjit: %s\n", runtime.status().to_string().c_str());
    return 1;
  }

  flashjit::AttentionArgs args;
  args.q = {q.data(), flashjit::DType::f32, {}};
  args.k = {k.data(), flashjit::DType::f32, {}};
  args.v = {v.data(), flashjit::DType::f32, {}};
  args.out = {out.data(), flashjit::DType::f32, {}};
  args.batch = batch;
  args.num_heads = args.num_kv_heads = heads;
  args.seqlen_q = args.seqlen_k = seqlen;
  args.head_dim = head_dim;
  args.mask = flashjit::MaskKind::causal;

  flashjit::Status status = (*runtime)->forward(args);
  if (!status.ok()) {
    std::fprintf(stderr, "flashjit: %s\n", status.to_string().c_str());
    return 1;
  }
  // With the causal mask, query 0 sees only key 0: its output is v's row 0 for head 0.
  for (int d = 0; d < head_dim; ++d) {
    if (std::fabs(out[d] - v[d]) > 1e-6f) {
      std::fprintf(stderr, "unexpected out[0][%d] = %f, expected %f\n", d, out[d], v[d]);
      return 1;
    }
  }
  // A bad call is an error with a message, not a crash.
  args.head_dim = 12;
  flashjit::Status bad = (*runtime)->forward(args);
  std::printf("simple_attention: ok (%s); a bad call says: %s\n", (*runtime)->device_name().c_str(),
              bad.message().c_str());
  return bad.ok() ? 1 : 0;
}
