// Unary elementwise ops: forward through kernels::unary, VJP written with xgrad ops.
#include "../core/kernels/elementwise.h"
#include "sample_util.h"

namespace xgrad {

Tensor neg(const Tensor& x) {
  Tensor y = kernels::unary(kernels::Unary::neg, x);
  record(y, "neg", {x}, {}, [](Node&, const Tensor& gy) -> TensorList { return {neg(gy)}; });
  return y;
}

Tensor exp(const Tensor& x) {
  XGRAD_CHECK(is_floating(x.dtype()), "exp: expects a floating tensor, got {}", dtype_name(x.dtype()));
  Tensor y = kernels::unary(kernels::Unary::exp, x);
  record(y, "exp", {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList { return {mul(gy, n.saved(0))}; });
  return y;
}

void register_elementwise_unary_ops(std::vector<OpInfo>& r) {
  auto unary_samples = [](Dtype d) {
    return std::vector<std::pair<std::string, Tensor>>{
        {"[3,4]", samples::input({3, 4}, d)},
        {"0-d", samples::input({}, d)},
        {"size-0 [0,2]", samples::input({0, 2}, d)},
    };
  };
  auto add_unary = [&](const char* name, const char* formula, Tensor (*fn)(const Tensor&)) {
    r.push_back({.name = name,
                 .arity = 1,
                 .differentiable = {true},
                 .formula = formula,
                 .samples = [=](Dtype d) {
                   std::vector<OpSample> out;
                   for (auto& [desc, x] : unary_samples(d))
                     out.push_back({desc, {x}, [=](const TensorList& in) { return fn(in[0]); }});
                   return out;
                 }});
  };
  add_unary("neg", "dx = -dy", neg);
  add_unary("exp", "dx = dy * y", exp);
}

}  // namespace xgrad
