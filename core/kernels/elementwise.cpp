#include "elementwise.h"

#include "../dispatch.h"
#include "xt.h"

namespace xgrad::kernels {

namespace {

// Evaluates f(A, B) into out, picking the cheapest view for the operands' shapes.
template <class T, class F>
void binary_into(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  if (out.numel() == 0) return;
  auto o = flat<T>(out);
  if (a.shape() == b.shape()) {
    xt::noalias(o) = f(flat<T>(a), flat<T>(b));
  } else if (b.numel() == 1 && a.numel() == out.numel()) {
    xt::noalias(o) = f(flat<T>(a), b.impl()->data<T>()[0]);
  } else if (a.numel() == 1 && b.numel() == out.numel()) {
    xt::noalias(o) = f(a.impl()->data<T>()[0], flat<T>(b));
  } else {
    auto os = shaped<T>(out);
    xt::noalias(os) = f(shaped<T>(a), shaped<T>(b));
  }
}

}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b, const char* op_name) {
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), a.dtype());
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    switch (op) {
      case Binary::add: binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return x + y; }); break;
      case Binary::sub: binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return x - y; }); break;
      case Binary::mul: binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return x * y; }); break;
      case Binary::div: binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return x / y; }); break;
    }
  });
  return out;
}

Tensor cast(const Tensor& x, Dtype dtype) {
  Tensor out = make_tensor(x.shape(), dtype);
  if (x.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), S, {
    XGRAD_DISPATCH_ALL(dtype, D, {
      auto o = flat<D>(out);
      xt::noalias(o) = xt::cast<D>(flat<S>(x));
    });
  });
  return out;
}

Tensor broadcast_copy(const Tensor& x, const Shape& shape) {
  Tensor out = make_tensor(shape, x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    auto o = shaped<T>(out);
    xt::noalias(o) = xt::broadcast(shaped<T>(x), xt_shape(shape));
  });
  return out;
}

}  // namespace xgrad::kernels

namespace xgrad::kernels {

namespace {
template <class T, class F>
void unary_into(const Tensor& x, Tensor& out, F f) {
  if (out.numel() == 0) return;
  auto o = flat<T>(out);
  xt::noalias(o) = f(flat<T>(x));
}
}  // namespace

Tensor unary(Unary op, const Tensor& x) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    switch (op) {
      case Unary::neg: unary_into<T>(x, out, [](auto&& v) { return -v; }); break;
      case Unary::exp: unary_into<T>(x, out, [](auto&& v) { return xt::exp(v); }); break;
    }
  });
  return out;
}

}  // namespace xgrad::kernels
