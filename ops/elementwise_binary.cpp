// Binary elementwise ops with NumPy broadcasting. Each VJP sums its gradient back to the
// input's shape (sum_to), so broadcasting is differentiable, twice.
#include "../core/kernels/elementwise.h"
#include "sample_util.h"

namespace xgrad {

namespace {

// PyTorch's result type: a float beats an int; between two of the same kind, a 0-d tensor
// does not promote a tensor with dims; otherwise the wider type wins.
Dtype result_type(const Tensor& a, const Tensor& b) {
  const Dtype da = a.dtype(), db = b.dtype();
  if (da == db) return da;
  if (is_floating(da) != is_floating(db)) return is_floating(da) ? da : db;
  if ((a.dim() == 0) != (b.dim() == 0)) return a.dim() == 0 ? db : da;
  return promote_types(da, db);
}

// The gradient for input i of a broadcasting op, or undefined when that input needs none.
Tensor reduce_grad(Node& n, std::size_t i, const Tensor& g) {
  return n.needs_input_grad(i) ? sum_to(g, n.next_edges()[i].shape) : Tensor();
}

std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, Dtype d) {
  return {to_dtype(a, d), to_dtype(b, d)};
}

void check_defined(const char* op, const Tensor& a, const Tensor& b) {
  XGRAD_CHECK(a.defined() && b.defined(), "{}: an operand is an undefined tensor", op);
}

}  // namespace

Tensor add(const Tensor& a0, const Tensor& b0) {
  check_defined("add", a0, b0);
  auto [a, b] = promoted(a0, b0, result_type(a0, b0));
  Tensor y = kernels::binary(kernels::Binary::add, a, b, "add");
  record(y, "add", {a, b}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reduce_grad(n, 0, gy), reduce_grad(n, 1, gy)};
  });
  return y;
}

Tensor sub(const Tensor& a0, const Tensor& b0) {
  check_defined("sub", a0, b0);
  auto [a, b] = promoted(a0, b0, result_type(a0, b0));
  Tensor y = kernels::binary(kernels::Binary::sub, a, b, "sub");
  record(y, "sub", {a, b}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reduce_grad(n, 0, gy), n.needs_input_grad(1) ? reduce_grad(n, 1, neg(gy)) : Tensor()};
  });
  return y;
}

Tensor mul(const Tensor& a0, const Tensor& b0) {
  check_defined("mul", a0, b0);
  auto [a, b] = promoted(a0, b0, result_type(a0, b0));
  Tensor y = kernels::binary(kernels::Binary::mul, a, b, "mul");
  record(y, "mul", {a, b}, {a, b}, [](Node& n, const Tensor& gy) -> TensorList {
    return {n.needs_input_grad(0) ? reduce_grad(n, 0, mul(gy, n.saved(1))) : Tensor(),
            n.needs_input_grad(1) ? reduce_grad(n, 1, mul(gy, n.saved(0))) : Tensor()};
  });
  return y;
}

Tensor div(const Tensor& a0, const Tensor& b0) {
  check_defined("div", a0, b0);
  // True division, as in PyTorch: integers divide as float32.
  const Dtype rt = result_type(a0, b0);
  auto [a, b] = promoted(a0, b0, is_floating(rt) ? rt : float32);
  Tensor y = kernels::binary(kernels::Binary::div, a, b, "div");
  record(y, "div", {a, b}, {a, b}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor b = n.saved(1);
    return {n.needs_input_grad(0) ? reduce_grad(n, 0, div(gy, b)) : Tensor(),
            n.needs_input_grad(1) ? reduce_grad(n, 1, neg(div(mul(gy, n.saved(0)), mul(b, b)))) : Tensor()};
  });
  return y;
}

Tensor scalar_like(double value, const Tensor& like) {
  Dtype d = like.dtype();
  if (!is_floating(d) && value != static_cast<double>(static_cast<std::int64_t>(value))) d = float32;
  return scalar_tensor(value, {.dtype = d});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

void register_elementwise_binary_ops(std::vector<OpInfo>& r) {
  // Shapes every broadcasting binary op is sampled on.
  auto binary_samples = [](Dtype d, bool b_away_from_zero) {
    auto second = [&](const Shape& s) {
      return b_away_from_zero ? samples::away_from_zero(s, d, 0.5, 2.0) : samples::input(s, d);
    };
    return std::vector<std::pair<std::string, TensorList>>{
        {"same shape [3,4]", {samples::input({3, 4}, d), second({3, 4})}},
        {"broadcast [3,1] x [4]", {samples::input({3, 1}, d), second({4})}},
        {"broadcast [2,1,3] x [4,1]", {samples::input({2, 1, 3}, d), second({4, 1})}},
        {"tensor x 0-d", {samples::input({2, 3}, d), second({})}},
        {"0-d x 0-d", {samples::input({}, d), second({})}},
        {"size-0 dim [0,3] x [3]", {samples::input({0, 3}, d), second({3})}},
    };
  };
  auto add_binary = [&](const char* name, const char* formula, Tensor (*fn)(const Tensor&, const Tensor&),
                        bool b_away_from_zero) {
    r.push_back({.name = name,
                 .arity = 2,
                 .differentiable = {true, true},
                 .formula = formula,
                 .samples = [=](Dtype d) {
                   std::vector<OpSample> out;
                   for (auto& [desc, ins] : binary_samples(d, b_away_from_zero))
                     out.push_back({desc, ins, [=](const TensorList& in) { return fn(in[0], in[1]); }});
                   return out;
                 }});
  };
  add_binary("add", "da = sum_to(dy), db = sum_to(dy)", add, false);
  add_binary("sub", "da = sum_to(dy), db = -sum_to(dy)", sub, false);
  add_binary("mul", "da = sum_to(dy * b), db = sum_to(dy * a)", mul, false);
  add_binary("div", "da = sum_to(dy / b), db = -sum_to(dy * a / b^2)", div, true);
}

}  // namespace xgrad
