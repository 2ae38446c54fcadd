// Unary elementwise ops: forward through kernels::unary / unary_param, VJP written with xgrad
// ops. Gradient masks (x > 0, min <= x <= max) are constants built by kernels in x's dtype.
#include <cmath>
#include <limits>

#include "../core/kernels/elementwise.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kNeg{"neg", 1, "dx = -dy"};
constexpr OpDecl kExp{"exp", 1, "dx = dy * y"};
constexpr OpDecl kLog{"log", 1, "dx = dy / x"};
constexpr OpDecl kSqrt{"sqrt", 1, "dx = dy / (2 y)"};
constexpr OpDecl kAbs{"abs", 1, "dx = dy * sign(x)"};
constexpr OpDecl kSign{"sign", 1, "dx = 0"};
constexpr OpDecl kSin{"sin", 1, "dx = dy * cos(x)"};
constexpr OpDecl kCos{"cos", 1, "dx = -dy * sin(x)"};
constexpr OpDecl kTanh{"tanh", 1, "dx = dy * (1 - y^2)"};
constexpr OpDecl kSigmoid{"sigmoid", 1, "dx = dy * y * (1 - y)"};
constexpr OpDecl kRelu{"relu", 1, "dx = dy * (y > 0)"};
constexpr OpDecl kLeakyRelu{"leaky_relu", 1, "dx = dy * (x > 0 ? 1 : negative_slope)"};
constexpr OpDecl kElu{"elu", 1, "dx = dy * (x > 0 ? 1 : y + alpha)"};
constexpr OpDecl kSoftplus{"softplus", 1, "dx = dy * (beta x > threshold ? 1 : sigmoid(beta x))"};
constexpr OpDecl kErf{"erf", 1, "dx = dy * 2 / sqrt(pi) * exp(-x^2)"};
constexpr OpDecl kGelu{"gelu", 1,
                       "dx = dy * (Phi(x) + x phi(x)); tanh form: dy * ((1 + t) / 2 + x (1 - t^2) u' / 2), "
                       "t = tanh(u), u = sqrt(2 / pi) (x + 0.044715 x^3)"};
constexpr OpDecl kClamp{"clamp", 1, "dx = dy * (min <= x <= max)"};

namespace {

// Math functions need floating values; integer tensors are rejected rather than promoted.
void check_floating(const char* op, const Tensor& x) {
  XGRAD_CHECK(x.defined(), "{}: the input is an undefined tensor", op);
  XGRAD_CHECK(is_floating(x.dtype()), "{}: expects a floating tensor (float32 or float64), got {} of shape {}",
              op, dtype_name(x.dtype()), to_string(x.shape()));
}

// neg, abs, sign, relu and clamp take int64 too, but not bool (PyTorch refuses neg of a bool).
void check_defined(const char* op, const Tensor& x) {
  XGRAD_CHECK(x.defined(), "{}: the input is an undefined tensor", op);
  XGRAD_CHECK(x.dtype() != boolean, "{}: expects a numeric tensor, got bool of shape {} (convert it with .to())",
              op, to_string(x.shape()));
}

using kernels::Compare;
using kernels::Unary;
using kernels::UnaryParam;

}  // namespace

Tensor neg(const Tensor& x) {
  check_defined("neg", x);
  Tensor y = kernels::unary(Unary::neg, x);
  record(y, kNeg, {x}, {}, [](Node&, const Tensor& gy) -> TensorList { return {neg(gy)}; });
  return y;
}

Tensor exp(const Tensor& x) {
  check_floating("exp", x);
  Tensor y = kernels::unary(Unary::exp, x);
  record(y, kExp, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList { return {mul(gy, n.saved(0))}; });
  return y;
}

Tensor log(const Tensor& x) {
  check_floating("log", x);
  Tensor y = kernels::unary(Unary::log, x);
  record(y, kLog, {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList { return {div(gy, n.saved(0))}; });
  return y;
}

Tensor sqrt(const Tensor& x) {
  check_floating("sqrt", x);
  Tensor y = kernels::unary(Unary::sqrt, x);
  record(y, kSqrt, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList {
    return {div(gy, n.saved(0) * 2.0)};
  });
  return y;
}

Tensor abs(const Tensor& x) {
  check_defined("abs", x);
  Tensor y = kernels::unary(Unary::abs, x);
  // sign(x) is locally constant, so the mask needs no graph of its own.
  record(y, kAbs, {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList {
    return {gy * kernels::unary(Unary::sign, n.saved(0))};
  });
  return y;
}

Tensor sign(const Tensor& x) {
  check_defined("sign", x);
  Tensor y = kernels::unary(Unary::sign, x);
  // Zero gradient, as PyTorch; written through gy so second-order graphs stay connected.
  record(y, kSign, {x}, {}, [](Node&, const Tensor& gy) -> TensorList { return {gy * 0.0}; });
  return y;
}

Tensor sin(const Tensor& x) {
  check_floating("sin", x);
  Tensor y = kernels::unary(Unary::sin, x);
  record(y, kSin, {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList { return {gy * cos(n.saved(0))}; });
  return y;
}

Tensor cos(const Tensor& x) {
  check_floating("cos", x);
  Tensor y = kernels::unary(Unary::cos, x);
  record(y, kCos, {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList { return {-(gy * sin(n.saved(0)))}; });
  return y;
}

Tensor tanh(const Tensor& x) {
  check_floating("tanh", x);
  Tensor y = kernels::unary(Unary::tanh, x);
  record(y, kTanh, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor y = n.saved(0);
    return {gy * (1.0 - y * y)};
  });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  check_floating("sigmoid", x);
  Tensor y = kernels::unary(Unary::sigmoid, x);
  record(y, kSigmoid, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList {
    const Tensor y = n.saved(0);
    return {gy * (y * (1.0 - y))};
  });
  return y;
}

Tensor relu(const Tensor& x) {
  check_defined("relu", x);
  Tensor y = kernels::unary(Unary::relu, x);
  record(y, kRelu, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList {
    return {gy * kernels::compare_scalar(Compare::gt, n.saved(0), 0.0)};
  });
  return y;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  check_floating("leaky_relu", x);
  Tensor y = kernels::unary_param(UnaryParam::leaky_relu, x, negative_slope);
  record(y, kLeakyRelu, {x}, {x}, [negative_slope](Node& n, const Tensor& gy) -> TensorList {
    // The local slope: 1 where x > 0, else negative_slope (a constant).
    const Tensor positive = kernels::compare_scalar(Compare::gt, n.saved(0), 0.0);
    return {gy * (positive * (1.0 - negative_slope) + negative_slope)};
  });
  return y;
}

Tensor elu(const Tensor& x, double alpha) {
  check_floating("elu", x);
  Tensor y = kernels::unary_param(UnaryParam::elu, x, alpha);
  record(y, kElu, {x}, {x, y}, [alpha](Node& n, const Tensor& gy) -> TensorList {
    // x <= 0: d/dx alpha (e^x - 1) = y + alpha, through y so the second derivative follows.
    const Tensor positive = kernels::compare_scalar(Compare::gt, n.saved(0), 0.0);
    return {where(positive, gy, gy * (n.saved(1) + alpha))};
  });
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  check_floating("softplus", x);
  XGRAD_CHECK(beta != 0.0, "softplus: beta must be nonzero, got {}", beta);
  Tensor y = kernels::unary_param(UnaryParam::softplus, x, beta, threshold);
  record(y, kSoftplus, {x}, {x}, [beta, threshold](Node& n, const Tensor& gy) -> TensorList {
    // Linear (slope 1) where beta x > threshold, else sigmoid(beta x).
    const Tensor x = n.saved(0);
    const Tensor bx = x * beta;
    const Tensor linear = kernels::compare_scalar(Compare::gt, bx.detach(), threshold);
    return {where(linear, gy, gy * sigmoid(bx))};
  });
  return y;
}

Tensor erf(const Tensor& x) {
  check_floating("erf", x);
  Tensor y = kernels::unary(Unary::erf, x);
  record(y, kErf, {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList {
    constexpr double two_over_sqrt_pi = 1.12837916709551257390;
    const Tensor x = n.saved(0);
    return {gy * (exp(x * x * -1.0) * two_over_sqrt_pi)};
  });
  return y;
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  check_floating("gelu", x);
  XGRAD_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '{}'",
              approximate);
  const bool tanh_form = approximate == "tanh";
  Tensor y = kernels::unary(tanh_form ? Unary::gelu_tanh : Unary::gelu, x);
  // The local slope is written with xgrad ops (erf, exp, tanh), so every higher derivative follows.
  record(y, kGelu, {x}, {x}, [tanh_form](Node& n, const Tensor& gy) -> TensorList {
    const Tensor x = n.saved(0);
    if (tanh_form) {
      constexpr double sqrt_2_over_pi = 0.79788456080286535588, c = 0.044715;
      const Tensor t = tanh((x + x * x * x * c) * sqrt_2_over_pi);
      const Tensor du = (x * x * (3 * c) + 1.0) * sqrt_2_over_pi;
      return {gy * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * du * 0.5)};
    }
    constexpr double inv_sqrt2 = 0.70710678118654752440, inv_sqrt_2pi = 0.39894228040143267794;
    const Tensor cdf = (erf(x * inv_sqrt2) + 1.0) * 0.5;
    const Tensor pdf = exp(x * x * -0.5) * inv_sqrt_2pi;
    return {gy * (cdf + x * pdf)};
  });
  return y;
}

Tensor clamp(const Tensor& x0, std::optional<double> min, std::optional<double> max) {
  check_defined("clamp", x0);
  XGRAD_CHECK(min.has_value() || max.has_value(), "clamp: at least one of min or max must be given (input {} {})",
              to_string(x0.shape()), dtype_name(x0.dtype()));
  const double inf = std::numeric_limits<double>::infinity();
  const double lo = min.value_or(-inf), hi = max.value_or(inf);
  XGRAD_CHECK(!std::isnan(lo) && !std::isnan(hi), "clamp: a bound is NaN (min {}, max {})", lo, hi);
  // An integer tensor keeps its dtype for integral bounds and becomes float32 otherwise (PyTorch).
  auto integral = [](std::optional<double> v) { return !v || *v == std::floor(*v); };
  const Tensor x = x0.dtype() == int64 && !(integral(min) && integral(max)) ? to_dtype(x0, float32) : x0;
  Tensor y = kernels::unary_param(UnaryParam::clamp, x, lo, hi);
  record(y, kClamp, {x}, {x}, [lo, hi](Node& n, const Tensor& gy) -> TensorList {
    return {gy * kernels::unary_param(UnaryParam::in_range, n.saved(0), lo, hi)};
  });
  return y;
}

namespace {

// Values uniform in [lo, hi) pushed at least `gap` away from each point in `kinks`.
Tensor away_from(const Shape& shape, Dtype d, std::vector<double> kinks, double lo = -1.5, double hi = 1.5,
                 double gap = 0.15) {
  std::vector<double> v = uniform(shape, lo, hi, {.dtype = float64}).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::abs(x - k) < gap) x = x < k ? k - gap : k + gap;
  return tensor(v, shape, {.dtype = d, .requires_grad = true});
}

// How a unary op's sample inputs are drawn.
enum class Domain { any, away_from_zero, positive };

Tensor draw(const Shape& s, Dtype d, Domain domain) {
  switch (domain) {
    case Domain::any: return samples::input(s, d);
    case Domain::away_from_zero: return samples::away_from_zero(s, d, 0.1, 1.5);
    case Domain::positive: return samples::input(s, d, 0.5, 2.0);
  }
  return {};
}

}  // namespace

void register_elementwise_unary_ops(std::vector<OpInfo>& r) {
  using Fn = std::function<Tensor(const Tensor&)>;
  auto unary_samples = [](Dtype d, Domain domain) {
    return std::vector<std::pair<std::string, Tensor>>{
        {"[3,4]", draw({3, 4}, d, domain)},
        {"[2,1,3]", draw({2, 1, 3}, d, domain)},
        {"0-d", draw({}, d, domain)},
        {"size-0 [0,2]", draw({0, 2}, d, domain)},
    };
  };
  auto add_unary = [&](const OpDecl& op, Fn fn, Domain domain) {
    r.push_back(declared(op, {.differentiable = {true},
                              .samples = [=](Dtype d) {
                                std::vector<OpSample> out;
                                for (auto& [desc, x] : unary_samples(d, domain))
                                  out.push_back({desc, {x}, [=](const TensorList& in) { return fn(in[0]); }});
                                return out;
                              }}));
  };
  add_unary(kNeg, [](const Tensor& x) { return neg(x); }, Domain::any);
  add_unary(kExp, [](const Tensor& x) { return exp(x); }, Domain::any);
  add_unary(kLog, [](const Tensor& x) { return log(x); }, Domain::positive);
  add_unary(kSqrt, [](const Tensor& x) { return sqrt(x); }, Domain::positive);
  add_unary(kAbs, [](const Tensor& x) { return abs(x); }, Domain::away_from_zero);
  add_unary(kSign, [](const Tensor& x) { return sign(x); }, Domain::away_from_zero);
  add_unary(kSin, [](const Tensor& x) { return sin(x); }, Domain::any);
  add_unary(kCos, [](const Tensor& x) { return cos(x); }, Domain::any);
  add_unary(kTanh, [](const Tensor& x) { return tanh(x); }, Domain::any);
  add_unary(kSigmoid, [](const Tensor& x) { return sigmoid(x); }, Domain::any);
  add_unary(kRelu, [](const Tensor& x) { return relu(x); }, Domain::away_from_zero);
  add_unary(kErf, [](const Tensor& x) { return erf(x); }, Domain::any);
  r.push_back(declared(kGelu, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] exact", {draw({3, 4}, d, Domain::any)},
                      [](const TensorList& in) { return gelu(in[0]); }},
                     {"[2,3] tanh", {draw({2, 3}, d, Domain::any)},
                      [](const TensorList& in) { return gelu(in[0], "tanh"); }},
                     {"0-d exact", {draw({}, d, Domain::any)}, [](const TensorList& in) { return gelu(in[0]); }},
                     {"size-0 [0,2] tanh", {draw({0, 2}, d, Domain::any)},
                      [](const TensorList& in) { return gelu(in[0], "tanh"); }},
                 };
               }}));

  r.push_back(declared(kLeakyRelu, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] default slope", {draw({3, 4}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return leaky_relu(in[0]); }},
                     {"[2,3] slope 0.2", {draw({2, 3}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return leaky_relu(in[0], 0.2); }},
                     {"0-d slope -0.5", {draw({}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return leaky_relu(in[0], -0.5); }},
                     {"size-0 [0,2]", {draw({0, 2}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return leaky_relu(in[0]); }},
                 };
               }}));
  r.push_back(declared(kElu, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] alpha 1", {draw({3, 4}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return elu(in[0]); }},
                     {"[2,3] alpha 0.5", {draw({2, 3}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return elu(in[0], 0.5); }},
                     {"0-d alpha 2", {draw({}, d, Domain::away_from_zero)},
                      [](const TensorList& in) { return elu(in[0], 2.0); }},
                 };
               }}));
  r.push_back(declared(kSoftplus, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] defaults", {draw({3, 4}, d, Domain::any)},
                      [](const TensorList& in) { return softplus(in[0]); }},
                     // beta x crosses threshold 1 at x = 0.5: values kept away from it.
                     {"[2,3] beta 2 threshold 1 (both branches)", {away_from({2, 3}, d, {0.5})},
                      [](const TensorList& in) { return softplus(in[0], 2.0, 1.0); }},
                     {"0-d beta 0.5", {draw({}, d, Domain::any)},
                      [](const TensorList& in) { return softplus(in[0], 0.5); }},
                     {"size-0 [0,2]", {draw({0, 2}, d, Domain::any)},
                      [](const TensorList& in) { return softplus(in[0]); }},
                 };
               }}));
  r.push_back(declared(kClamp, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] min -0.5 max 0.5", {away_from({3, 4}, d, {-0.5, 0.5})},
                      [](const TensorList& in) { return clamp(in[0], -0.5, 0.5); }},
                     {"[2,3] min 0 only", {away_from({2, 3}, d, {0.0})},
                      [](const TensorList& in) { return clamp(in[0], 0.0, std::nullopt); }},
                     {"[4] max 0.3 only", {away_from({4}, d, {0.3})},
                      [](const TensorList& in) { return clamp(in[0], std::nullopt, 0.3); }},
                     {"0-d min -1 max 1", {away_from({}, d, {-1.0, 1.0})},
                      [](const TensorList& in) { return clamp(in[0], -1.0, 1.0); }},
                     {"size-0 [0,2]", {away_from({0, 2}, d, {0.0})},
                      [](const TensorList& in) { return clamp(in[0], 0.0, 1.0); }},
                 };
               }}));
}

}  // namespace xgrad
