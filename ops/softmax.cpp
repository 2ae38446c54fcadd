// softmax and log_softmax along one dim, each one graph op with a fused row kernel. Their VJPs
// are graph ops too (softmax_backward, log_softmax_backward) whose own VJPs use xgrad ops, so
// gradients of gradients work to any order.
#include "../core/arg_checks.h"
#include "../core/kernels/softmax.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kSoftmax{"softmax", 1, "dx = y * (dy - sum(dy * y, dim))"};
constexpr OpDecl kLogSoftmax{"log_softmax", 1, "dx = dy - exp(y) * sum(dy, dim)"};
constexpr OpDecl kSoftmaxBackward{"softmax_backward", 2,
    "d(gy) = y * (g - sum(g * y)); d(y) = g * (gy - sum(gy * y)) - gy * sum(g * y)"};
constexpr OpDecl kLogSoftmaxBackward{"log_softmax_backward", 2,
    "d(gy) = g - sum(g * exp(y)); d(y) = -g * exp(y) * sum(gy)"};

namespace {

std::int64_t softmax_dim(const Tensor& x, std::int64_t dim, const char* op) {
  XGRAD_CHECK(x.defined(), "{}: the input is undefined", op);
  XGRAD_CHECK(is_floating(x.dtype()), "{}: expects a floating tensor, got {} (input shape {})", op,
              dtype_name(x.dtype()), to_string(x.shape()));
  return wrap_dim(dim, x.dim(), op);
}

// The backward ops, given a wrapped dim. softmax: dx = y (gy - sum(gy y)); log_softmax:
// dx = gy - exp(y) sum(gy).
Tensor softmax_backward_op(const Tensor& gy, const Tensor& y, std::int64_t dim, bool log) {
  const OpDecl& decl = log ? kLogSoftmaxBackward : kSoftmaxBackward;
  const char* name = decl.name;
  check_defined(name, {{gy, "grad_output"}, {y, "output"}});
  XGRAD_CHECK(is_floating(y.dtype()), "{}: the output must be floating, got {} (shape {})", name,
              dtype_name(y.dtype()), to_string(y.shape()));
  XGRAD_CHECK(gy.shape() == y.shape() && gy.dtype() == y.dtype(),
              "{}: gradient {} {} does not match the output {} {}", name, dtype_name(gy.dtype()),
              to_string(gy.shape()), dtype_name(y.dtype()), to_string(y.shape()));
  Tensor dx = kernels::softmax_backward(gy, y, kernels::layout_along(y.shape(), dim), log);
  // A 0-d tensor reduces over its one element: sum over no dims would be wrong, so use dim list {}
  // only for 0-d (sum of everything = that element).
  const Dims along = y.dim() == 0 ? Dims{} : Dims{dim};
  if (log) {
    record(dx, decl, {gy, y}, {gy, y}, [along](Node& n, const Tensor& g) -> TensorList {
      // d/dgy = g - sum(g exp(y)); d/dy = -g exp(y) sum(gy)
      const Tensor gy = n.saved(0), y = n.saved(1);
      const Tensor ey = exp(y);
      Tensor ggy, gyy;
      if (n.needs_input_grad(0)) ggy = sub(g, sum(mul(g, ey), along, true));
      if (n.needs_input_grad(1)) gyy = neg(mul(mul(g, ey), sum(gy, along, true)));
      return {ggy, gyy};
    });
  } else {
    record(dx, decl, {gy, y}, {gy, y}, [dim, along](Node& n, const Tensor& g) -> TensorList {
      // d/dgy = y (g - sum(g y)) (this op again); d/dy = g (gy - sum(gy y)) - gy sum(g y)
      const Tensor gy = n.saved(0), y = n.saved(1);
      Tensor ggy, gyy;
      if (n.needs_input_grad(0)) ggy = softmax_backward_op(g, y, dim, false);
      if (n.needs_input_grad(1))
        gyy = sub(mul(g, sub(gy, sum(mul(gy, y), along, true))), mul(gy, sum(mul(g, y), along, true)));
      return {ggy, gyy};
    });
  }
  return dx;
}

Tensor softmax_impl(const Tensor& x, std::int64_t dim0, bool log) {
  const OpDecl& decl = log ? kLogSoftmax : kSoftmax;
  const std::int64_t dim = softmax_dim(x, dim0, decl.name);
  Tensor y = kernels::softmax_forward(x, kernels::layout_along(x.shape(), dim), log);
  record(y, decl, {x}, {y}, [dim, log](Node& n, const Tensor& gy) -> TensorList {
    return {softmax_backward_op(gy, n.saved(0), dim, log)};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, std::int64_t dim) { return softmax_impl(x, dim, true); }

void register_softmax_ops(std::vector<OpInfo>& r) {
  using Call = std::function<Tensor(const TensorList&)>;
  auto one = [](std::string desc, Tensor x, Call call) { return OpSample{std::move(desc), {std::move(x)}, call}; };
  auto forward_samples = [one](Tensor (*fn)(const Tensor&, std::int64_t)) {
    return [one, fn](Dtype d) {
      auto x = [d](const Shape& s) { return samples::input(s, d, -2.0, 2.0); };
      return std::vector<OpSample>{
          one("[3,5] dim 1", x({3, 5}), [fn](const TensorList& in) { return fn(in[0], 1); }),
          one("[3,5] dim 0", x({3, 5}), [fn](const TensorList& in) { return fn(in[0], 0); }),
          one("[2,3,4] dim -1", x({2, 3, 4}), [fn](const TensorList& in) { return fn(in[0], -1); }),
          one("[2,3,4] dim 1 (strided)", x({2, 3, 4}), [fn](const TensorList& in) { return fn(in[0], 1); }),
          one("[2,3,4] dim -3", x({2, 3, 4}), [fn](const TensorList& in) { return fn(in[0], -3); }),
          one("[4,1] dim 1 (size-1)", x({4, 1}), [fn](const TensorList& in) { return fn(in[0], 1); }),
          one("[20] dim 0 (one batch and a tail)", x({20}), [fn](const TensorList& in) { return fn(in[0], 0); }),
          one("0-d dim 0", x({}), [fn](const TensorList& in) { return fn(in[0], 0); }),
          one("0-d dim -1", x({}), [fn](const TensorList& in) { return fn(in[0], -1); }),
          one("[0,3] dim 1", x({0, 3}), [fn](const TensorList& in) { return fn(in[0], 1); }),
          one("[2,0] dim 1 (no classes)", x({2, 0}), [fn](const TensorList& in) { return fn(in[0], 1); }),
          // Large, equal-spread logits: the row max is subtracted.
          one("[2,3] dim 1, logits near 50", samples::input({2, 3}, d, 48.0, 52.0),
              [fn](const TensorList& in) { return fn(in[0], 1); }),
      };
    };
  };
  r.push_back(declared(kSoftmax, {
               .differentiable = {true},
               .samples = forward_samples(softmax)}));
  r.push_back(declared(kLogSoftmax, {
               .differentiable = {true},
               .samples = forward_samples(log_softmax)}));

  // The backward ops take (gy, y): y any values (the formulas are polynomial in y and gy).
  auto backward_samples = [](bool log) {
    return [log](Dtype d) {
      auto in = [d](const Shape& s) { return TensorList{samples::input(s, d), samples::input(s, d, 0.1, 0.9)}; };
      auto call = [log](std::int64_t dim) {
        return [log, dim](const TensorList& t) {
          const char* name = (log ? kLogSoftmaxBackward : kSoftmaxBackward).name;
          check_defined(name, {{t[1], "output"}});
          return softmax_backward_op(t[0], t[1], wrap_dim(dim, t[1].dim(), name), log);
        };
      };
      return std::vector<OpSample>{
          {"[3,4] dim 1", in({3, 4}), call(1)},
          {"[2,3,4] dim 1 (strided)", in({2, 3, 4}), call(1)},
          {"[2,3,4] dim -1", in({2, 3, 4}), call(-1)},
          {"[3,4] dim 0", in({3, 4}), call(0)},
          {"0-d dim 0", in({}), call(0)},
          {"[0,3] dim 1", in({0, 3}), call(1)},
      };
    };
  };
  r.push_back(declared(kSoftmaxBackward, {
               .differentiable = {true, true},
               .samples = backward_samples(false)}));
  r.push_back(declared(kLogSoftmaxBackward, {
               .differentiable = {true, true},
               .samples = backward_samples(true)}));
}

}  // namespace xgrad
