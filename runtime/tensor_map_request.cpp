#include "runtime/tensor_map_request.h"

#include <algorithm>
#include <cstdint>

namespace flashjit {

TensorMapRequest tensor_map_request(const AttentionArgs& args, Operand operand, int box_rows) {
  const TensorGeometry t = geometry_of(args, operand);
  const int64_t element_bytes = dtype_size(args.q.dtype);
  TensorMapRequest r;
  r.address = reinterpret_cast<const void*>(t.base);
  r.dtype = args.q.dtype;
  r.dims[0] = static_cast<unsigned long long>(args.head_dim);
  r.box = {kTmaBoxColumns, 1u, 1u, 1u};

  // A dimension of extent 1 is never stepped over, so its stride is free: give it the tensor's
  // whole span (rounded to 16 bytes), which sorts it last and keeps strides increasing.
  std::array<TensorDim, 3> outer = t.dims;
  const int64_t span = (span_elements(t) * element_bytes + 15) / 16 * 16 / element_bytes;
  for (TensorDim& d : outer)
    if (d.extent <= 1) d.stride = span;
  // TMA describes each dimension as wrapping the previous ones: order them by stride.
  std::stable_sort(outer.begin(), outer.end(),
                   [](const TensorDim& x, const TensorDim& y) { return x.stride < y.stride; });
  for (int i = 0; i < 3; ++i) {
    const int slot = i + 1;
    r.dims[slot] = static_cast<unsigned long long>(outer[i].extent);
    r.strides_bytes[i] = static_cast<unsigned long long>(outer[i].stride * element_bytes);
    switch (outer[i].role) {
      case TensorRole::sequence:
        r.seq_slot = slot;
        r.box[slot] = static_cast<unsigned>(box_rows);  // a box is `box_rows` positions of one (head, batch)
        break;
      case TensorRole::head: r.head_slot = slot; break;
      case TensorRole::batch: r.batch_slot = slot; break;
    }
  }
  return r;
}

int paged_box_rows(int block_n, int page_size) { return std::min(page_size, block_n & -block_n); }

}  // namespace flashjit
