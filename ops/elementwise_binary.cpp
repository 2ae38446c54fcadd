// Binary elementwise ops with NumPy broadcasting. Each VJP sums its gradient back to the
// input's shape (sum_to), so broadcasting is differentiable, twice.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "../core/arg_checks.h"
#include "../core/convert.h"
#include "../core/kernels/elementwise.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kAdd{"add", 2, "da = sum_to(dy), db = sum_to(dy)"};
constexpr OpDecl kSub{"sub", 2, "da = sum_to(dy), db = -sum_to(dy)"};
constexpr OpDecl kMul{"mul", 2, "da = sum_to(dy * b), db = sum_to(dy * a)"};
constexpr OpDecl kDiv{"div", 2, "da = sum_to(dy / b), db = -sum_to(dy * a / b^2)"};
constexpr OpDecl kPow{"pow", 2, "da = sum_to(dy * b * a^(b-1)), db = sum_to(dy * y * log(a))"};
constexpr OpDecl kMaximum{"maximum", 2, "da = sum_to(dy * ((a > b) + (a == b) / 2)), db = sum_to(dy) - da"};
constexpr OpDecl kMinimum{"minimum", 2, "da = sum_to(dy * ((a < b) + (a == b) / 2)), db = sum_to(dy) - da"};
constexpr OpDecl kPowScalar{"pow_scalar", 1, "dx = dy * p * x^(p-1)"};
constexpr OpDecl kWhere{"where", 3, "da = sum_to(where(c, dy, 0)), db = sum_to(where(c, 0, dy))"};

namespace {

// The gradient for input i of a broadcasting op, or undefined when that input needs none.
Tensor reduce_grad(Node& n, std::size_t i, const Tensor& g) {
  return n.needs_input_grad(i) ? sum_to(g, n.next_edges()[i].shape) : Tensor();
}

std::pair<Tensor, Tensor> promoted(const Tensor& a, const Tensor& b, Dtype d) {
  // The common case (both already in d) skips the conversions' calls: this is on every op's path.
  if (a.dtype() == d && b.dtype() == d) return {a, b};
  return {to_dtype(a, d), to_dtype(b, d)};
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, {{a, "input"}, {b, "other"}});
}

// PyTorch's kinds of dtype, in promotion order: bool < integer < floating.
int kind(Dtype d) { return d == Dtype::boolean ? 0 : d == Dtype::int64 ? 1 : 2; }

// An op on two bool operands keeps bool in PyTorch (add is "or", mul "and", maximum "or", ...):
// computed in int64 and read back as nonzero. Nothing to record: bool never requires grad.
Tensor on_bools(Tensor (*op)(const Tensor&, const Tensor&), const Tensor& a, const Tensor& b) {
  return to_dtype(op(to_dtype(a, int64), to_dtype(b, int64)), boolean);
}

}  // namespace

// PyTorch's result type: a float beats an int, an int beats a bool; between two of the same kind, a
// 0-d tensor does not promote a tensor with dims; otherwise the wider type wins.
Dtype result_type(const Tensor& a, const Tensor& b) {
  check_defined("result_type", {{a, "tensor1"}, {b, "tensor2"}});
  const Dtype da = a.dtype(), db = b.dtype();
  if (da == db) return da;
  if (kind(da) != kind(db)) return kind(da) > kind(db) ? da : db;
  if ((a.dim() == 0) != (b.dim() == 0)) return a.dim() == 0 ? db : da;
  return promote_types(da, db);
}

Tensor add(const Tensor& a0, const Tensor& b0) {
  check_operands("add", a0, b0);
  const Dtype rt = result_type(a0, b0);
  if (rt == boolean) return on_bools(add, a0, b0);
  auto [a, b] = promoted(a0, b0, rt);
  Tensor y = kernels::binary(kernels::Binary::add, a, b, "add");
  record(y, kAdd, {a, b}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reduce_grad(n, 0, gy), reduce_grad(n, 1, gy)};
  });
  return y;
}

Tensor sub(const Tensor& a0, const Tensor& b0) {
  check_operands("sub", a0, b0);
  const Dtype rt = result_type(a0, b0);
  XGRAD_CHECK(rt != boolean,
              "sub: subtracting two bool tensors ({} and {}) is not supported (PyTorch refuses it too); use "
              "logical_xor or operator^",
              to_string(a0.shape()), to_string(b0.shape()));
  auto [a, b] = promoted(a0, b0, rt);
  Tensor y = kernels::binary(kernels::Binary::sub, a, b, "sub");
  record(y, kSub, {a, b}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reduce_grad(n, 0, gy), n.needs_input_grad(1) ? reduce_grad(n, 1, neg(gy)) : Tensor()};
  });
  return y;
}

Tensor mul(const Tensor& a0, const Tensor& b0) {
  check_operands("mul", a0, b0);
  const Dtype rt = result_type(a0, b0);
  if (rt == boolean) return on_bools(mul, a0, b0);
  auto [a, b] = promoted(a0, b0, rt);
  Tensor y = kernels::binary(kernels::Binary::mul, a, b, "mul");
  record(y, kMul, {a, b}, {a, b}, [](Node& n, const Tensor& gy) -> TensorList {
    return {n.needs_input_grad(0) ? reduce_grad(n, 0, mul(gy, n.saved(1))) : Tensor(),
            n.needs_input_grad(1) ? reduce_grad(n, 1, mul(gy, n.saved(0))) : Tensor()};
  });
  return y;
}

Tensor div(const Tensor& a0, const Tensor& b0) {
  check_operands("div", a0, b0);
  // True division, as in PyTorch: integers divide as float32.
  const Dtype rt = result_type(a0, b0);
  auto [a, b] = promoted(a0, b0, is_floating(rt) ? rt : float32);
  Tensor y = kernels::binary(kernels::Binary::div, a, b, "div");
  record(y, kDiv, {a, b}, {a, b}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor b = n.saved(1);
    return {n.needs_input_grad(0) ? reduce_grad(n, 0, div(gy, b)) : Tensor(),
            n.needs_input_grad(1) ? reduce_grad(n, 1, neg(div(mul(gy, n.saved(0)), mul(b, b)))) : Tensor()};
  });
  return y;
}

Tensor pow(const Tensor& base0, const Tensor& exponent0) {
  check_operands("pow", base0, exponent0);
  const Dtype rt = result_type(base0, exponent0);
  if (rt == boolean) return on_bools(pow, base0, exponent0);
  auto [a, b] = promoted(base0, exponent0, rt);
  if (b.dtype() == int64 && b.numel() > 0) {
    const std::int64_t* e = b.data<std::int64_t>();
    XGRAD_CHECK(std::none_of(e, e + b.numel(), [](std::int64_t v) { return v < 0; }),
                "pow: integers to negative integer powers are not allowed (base {} {}, exponent {} {})",
                to_string(a.shape()), dtype_name(a.dtype()), to_string(b.shape()), dtype_name(b.dtype()));
  }
  Tensor y = kernels::binary(kernels::Binary::pow, a, b, "pow");
  record(y, kPow, {a, b}, {a, b, y}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor a = n.saved(0), b = n.saved(1);
    const Tensor zero = scalar_like(0.0, gy);
    Tensor da, db;
    if (n.needs_input_grad(0)) {
      // b * a^(b-1), taken as 0 where b == 0 (PyTorch), so 0^0 gives no NaN.
      const Tensor b_is_zero = kernels::compare_scalar(kernels::Compare::eq, b, 0.0);
      da = reduce_grad(n, 0, where(b_is_zero, zero, gy * (b * pow(a, b - 1.0))));
    }
    if (n.needs_input_grad(1)) {
      // y * log(a), taken as 0 where a == 0 and b >= 0 (PyTorch): the limit there is finite.
      const Tensor a_zero_b_nonneg =
          kernels::binary(kernels::Binary::mul, kernels::compare_scalar(kernels::Compare::eq, a, 0.0),
                          kernels::compare_scalar(kernels::Compare::ge, b, 0.0), "pow");
      db = reduce_grad(n, 1, where(a_zero_b_nonneg, zero, gy * (n.saved(2) * log(a))));
    }
    return {da, db};
  });
  return y;
}

Tensor pow(const Tensor& base, double exponent) {
  XGRAD_CHECK(base.defined(), "pow: the base is an undefined tensor");
  Tensor x = base.dtype() == boolean ? to_dtype(base, int64) : base;  // PyTorch: bool ** 2 is int64
  if (x.dtype() == int64) {
    // A whole exponent that int64 holds stays an integer power (wrapping modulo 2^64); others,
    // 1e30 included, promote as a fractional one does (PyTorch: a float exponent gives a float).
    const bool integral = is_int64_value(exponent);
    XGRAD_CHECK(!integral || exponent >= 0,
                "pow: integers to negative integer powers are not allowed (base {} int64, exponent {})",
                to_string(x.shape()), exponent);
    if (!integral) x = to_dtype(x, float32);  // PyTorch promotes an integer tensor to the default float
  }
  Tensor y = kernels::unary_param(kernels::UnaryParam::pow, x, exponent);
  record(y, kPowScalar, {x}, {x}, [exponent](Node& n, const Tensor& gy) -> TensorList {
    const Edge& e = n.next_edges()[0];
    if (exponent == 0.0) return {zeros(e.shape, {.dtype = e.dtype})};
    return {gy * (exponent * pow(n.saved(0), exponent - 1.0))};
  });
  return y;
}

namespace {

// maximum / minimum. Ties split the gradient evenly (PyTorch).
Tensor extremum(const OpDecl& decl, kernels::Binary op, const Tensor& a0, const Tensor& b0) {
  const char* name = decl.name;
  check_operands(name, a0, b0);
  const Dtype rt = result_type(a0, b0);
  if (rt == boolean) return on_bools(op == kernels::Binary::maximum ? maximum : minimum, a0, b0);
  auto [a, b] = promoted(a0, b0, rt);
  Tensor y = kernels::binary(op, a, b, name);
  const bool is_max = op == kernels::Binary::maximum;
  record(y, decl, {a, b}, {a, b}, [name, is_max](Node& n, const Tensor& gy) -> TensorList {
    // da = dy * share (a constant 1, 1/2 or 0); db = dy - da, exactly dy * (1 - share).
    const Tensor share_a = kernels::extremum_share(n.saved(0), n.saved(1), is_max, gy.dtype(), name);
    const Tensor da = gy * share_a;
    return {reduce_grad(n, 0, da), n.needs_input_grad(1) ? reduce_grad(n, 1, gy - da) : Tensor()};
  });
  return y;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return extremum(kMaximum, kernels::Binary::maximum, a, b);
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  return extremum(kMinimum, kernels::Binary::minimum, a, b);
}

Tensor where(const Tensor& condition, const Tensor& a0, const Tensor& b0) {
  XGRAD_CHECK(condition.defined(), "where: the condition is an undefined tensor");
  check_operands("where", a0, b0);
  const Dtype rt = result_type(a0, b0);
  if (rt == boolean) return to_dtype(where(condition, to_dtype(a0, int64), to_dtype(b0, int64)), boolean);
  auto [a, b] = promoted(a0, b0, rt);
  Tensor y = kernels::where(condition, a, b, "where");
  // The condition is an input of the node (as in the registry) but is never differentiated.
  record(y, kWhere, {condition, a, b}, {condition.detach()}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor c = n.saved(0);
    const Tensor zero = scalar_like(0.0, gy);
    return {Tensor(), n.needs_input_grad(1) ? reduce_grad(n, 1, where(c, gy, zero)) : Tensor(),
            n.needs_input_grad(2) ? reduce_grad(n, 2, where(c, zero, gy)) : Tensor()};
  });
  return y;
}

Tensor scalar_like(double value, const Tensor& like) {
  check_defined("scalar_like", {{like, "like"}});
  Dtype d = like.dtype();
  // A fractional value, or one beyond int64 (1e30, inf, NaN), makes the scalar float32; a whole one
  // next to a bool tensor is int64 (PyTorch: mask + 1 counts).
  if (!is_floating(d) && !is_int64_value(value)) d = float32;
  else if (d == boolean) d = int64;
  return scalar_tensor(value, {.dtype = d});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
namespace {
// The scalar operand of `tensor op scalar`: an undefined tensor is reported by the op (e.g.
// `lr * p.grad()` before any backward says "mul: ...").
Tensor scalar_operand(const char* op, double value, const Tensor& like) {
  check_defined(op, {{like, "input"}});
  return scalar_like(value, like);
}
}  // namespace

Tensor operator+(const Tensor& a, double b) { return add(a, scalar_operand("add", b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_operand("sub", b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_operand("mul", b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_operand("div", b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_operand("add", a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_operand("sub", a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_operand("mul", a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_operand("div", a, b), b); }

namespace {

// How the second (and first) operand of a sampled binary op is drawn.
enum class SampleKind {
  any,               // both uniform in [-1, 1)
  b_away_from_zero,  // b's magnitude in [0.5, 2): div
  positive_base,     // a uniform in [0.5, 2), b in [-1, 1): pow
  separated,         // a on the grid 0.2k, b on 0.2k + 0.1: |a - b| >= 0.1, no ties (maximum, minimum)
};

// Values on the grid 0.2 k + offset within [-1, 1]: random, and never within 0.1 of the other grid.
Tensor on_grid(const Shape& shape, Dtype d, double offset) {
  std::vector<double> v = uniform(shape, -1.0, 1.0, {.dtype = float64}).to_vector<double>();
  for (double& x : v) x = std::round(x / 0.2) * 0.2 + offset;
  return tensor(v, shape, {.dtype = d, .requires_grad = true});
}

std::pair<Tensor, Tensor> sample_pair(const Shape& sa, const Shape& sb, Dtype d, SampleKind kind) {
  switch (kind) {
    case SampleKind::any: return {samples::input(sa, d), samples::input(sb, d)};
    case SampleKind::b_away_from_zero: return {samples::input(sa, d), samples::away_from_zero(sb, d, 0.5, 2.0)};
    case SampleKind::positive_base: return {samples::input(sa, d, 0.5, 2.0), samples::input(sb, d)};
    case SampleKind::separated: return {on_grid(sa, d, 0.0), on_grid(sb, d, 0.1)};
  }
  return {};
}

// Shapes every broadcasting binary op is sampled on.
std::vector<std::pair<std::string, TensorList>> binary_samples(Dtype d, SampleKind kind) {
  const std::vector<std::tuple<std::string, Shape, Shape>> shapes = {
      {"same shape [3,4]", {3, 4}, {3, 4}},
      {"broadcast [3,1] x [4]", {3, 1}, {4}},
      {"broadcast [2,1,3] x [4,1]", {2, 1, 3}, {4, 1}},
      {"broadcast [1] x [2,3]", {1}, {2, 3}},
      {"tensor x 0-d", {2, 3}, {}},
      {"0-d x tensor", {}, {3}},
      {"0-d x 0-d", {}, {}},
      {"size-0 dim [0,3] x [3]", {0, 3}, {3}},
  };
  std::vector<std::pair<std::string, TensorList>> out;
  for (const auto& [desc, sa, sb] : shapes) {
    auto [a, b] = sample_pair(sa, sb, d, kind);
    out.push_back({desc, {a, b}});
  }
  return out;
}

}  // namespace

void register_elementwise_binary_ops(std::vector<OpInfo>& r) {
  auto add_binary = [&](const OpDecl& op, Tensor (*fn)(const Tensor&, const Tensor&), SampleKind kind) {
    r.push_back(declared(op, {.differentiable = {true, true},
                              .samples = [=](Dtype d) {
                                std::vector<OpSample> out;
                                for (auto& [desc, ins] : binary_samples(d, kind))
                                  out.push_back({desc, ins, [=](const TensorList& in) { return fn(in[0], in[1]); }});
                                return out;
                              }}));
  };
  add_binary(kAdd, add, SampleKind::any);
  add_binary(kSub, sub, SampleKind::any);
  add_binary(kMul, mul, SampleKind::any);
  add_binary(kDiv, div, SampleKind::b_away_from_zero);
  add_binary(kPow, static_cast<Tensor (*)(const Tensor&, const Tensor&)>(pow), SampleKind::positive_base);
  add_binary(kMaximum, maximum, SampleKind::separated);
  add_binary(kMinimum, minimum, SampleKind::separated);

  r.push_back(declared(kPowScalar, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto with = [](double p) {
                   return [p](const TensorList& in) { return pow(in[0], p); };
                 };
                 return std::vector<OpSample>{
                     {"[3,4] ^ 2", {samples::input({3, 4}, d)}, with(2.0)},
                     {"[3,4] ^ 3", {samples::input({3, 4}, d)}, with(3.0)},
                     {"positive [2,3] ^ 0.5", {samples::input({2, 3}, d, 0.5, 2.0)}, with(0.5)},
                     {"positive [4] ^ -1.5", {samples::input({4}, d, 0.5, 2.0)}, with(-1.5)},
                     {"0-d ^ 2.5", {samples::input({}, d, 0.5, 2.0)}, with(2.5)},
                     {"size-0 [0,2] ^ 2", {samples::input({0, 2}, d)}, with(2.0)},
                 };
               }}));

  r.push_back(declared(kWhere, {
               .differentiable = {false, true, true},
               .samples = [](Dtype d) {
                 auto call = [](const TensorList& in) { return where(in[0], in[1], in[2]); };
                 // Conditions as constant masks: float 0/1 in the sample dtype, int64 0/1, or bool from a comparison.
                 auto float_mask = [d](const Shape& s) { return kernels::compare_scalar(kernels::Compare::gt, samples::constant(s, d), 0.0); };
                 auto int_mask = [d](const Shape& s) { return gt(samples::constant(s, d), zeros({}, {.dtype = d})).to(int64); };
                 auto bool_mask = [d](const Shape& s) { return gt(samples::constant(s, d), zeros({}, {.dtype = d})); };
                 return std::vector<OpSample>{
                     {"same shape [3,4]", {float_mask({3, 4}), samples::input({3, 4}, d), samples::input({3, 4}, d)}, call},
                     {"int64 cond [3,1] broadcasts, a [4], b [3,4]",
                      {int_mask({3, 1}), samples::input({4}, d), samples::input({3, 4}, d)}, call},
                     {"bool cond [2,3], a [3], b [2,1]",
                      {bool_mask({2, 3}), samples::input({3}, d), samples::input({2, 1}, d)}, call},
                     {"cond [4], a [2,1,4], b 0-d", {float_mask({4}), samples::input({2, 1, 4}, d), samples::input({}, d)}, call},
                     {"0-d cond, a [2,3], b [3]", {float_mask({}), samples::input({2, 3}, d), samples::input({3}, d)}, call},
                     {"size-0 [0,3]", {float_mask({0, 3}), samples::input({0, 3}, d), samples::input({3}, d)}, call},
                 };
               }}));
}

}  // namespace xgrad
