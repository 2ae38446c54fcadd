// Logical ops on bool buffers: one byte per element holding 0 or 1, so and / or / xor are the
// bitwise ops on bytes, and GCC vectorises these loops (no xtensor expression on C++ bool).
#include "logical.h"

#include <cstdint>

#include "elementwise.h"

namespace xgrad::kernels {

namespace {
const std::uint8_t* bytes_of(const Tensor& t) { return static_cast<const std::uint8_t*>(t.impl()->raw()); }

template <class F>
void combine(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const std::uint8_t *pa = bytes_of(a), *pb = bytes_of(b);
  auto* o = static_cast<std::uint8_t*>(out.impl()->raw());
  for (std::int64_t i = 0, n = out.numel(); i < n; ++i) o[i] = f(pa[i], pb[i]);
}
}  // namespace

Tensor logical(Logical op, const Tensor& a0, const Tensor& b0, const char* op_name) {
  const Shape shape = broadcast_shapes(a0.shape(), b0.shape(), op_name);
  Tensor out = make_tensor(shape, Dtype::boolean, op_name);
  if (out.numel() == 0) return out;
  const Tensor a = a0.shape() == shape ? a0 : broadcast_copy(a0, shape);
  const Tensor b = b0.shape() == shape ? b0 : broadcast_copy(b0, shape);
  switch (op) {
    case Logical::and_: combine(a, b, out, [](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return x & y; }); break;
    case Logical::or_: combine(a, b, out, [](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return x | y; }); break;
    case Logical::xor_: combine(a, b, out, [](std::uint8_t x, std::uint8_t y) -> std::uint8_t { return x ^ y; }); break;
  }
  return out;
}

Tensor logical_not(const Tensor& x) {
  Tensor out = make_tensor(x.shape(), Dtype::boolean);
  const std::uint8_t* p = bytes_of(x);
  auto* o = static_cast<std::uint8_t*>(out.impl()->raw());
  for (std::int64_t i = 0, n = x.numel(); i < n; ++i) o[i] = p[i] ^ 1;
  return out;
}

}  // namespace xgrad::kernels
