// In-place ops (Tensor::add_, mul_, copy_, fill_, ...), PyTorch's semantics. The arithmetic ones run
// the binary kernel straight into self's buffer when the result has self's dtype (binary_out); a
// wider result (float32 self, float64 operand) is computed into a temporary, converted and copied.
// Then the version is bumped.
// When recorded, the node's inputs are self's previous history and the operands, and self's grad_fn
// becomes the node (PyTorch's rebase_history): record() builds the edges from self's current
// grad_fn before it replaces it. Values the VJP needs that the write destroys (the old self) are
// cloned before the write; the clone is recorded, so double backward flows through it.
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/arg_checks.h"
#include "../core/convert.h"
#include "../core/dispatch.h"
#include "../core/kernels/elementwise.h"
#include "../core/kernels/elementwise_out.h"
#include "inplace_internal.h"
#include "sample_util.h"
#include "xgrad/generator.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

constexpr OpDecl kAdd_{"add_", 2, "dself = dy, dother = alpha * sum_to(dy)"};
constexpr OpDecl kSub_{"sub_", 2, "dself = dy, dother = -alpha * sum_to(dy)"};
constexpr OpDecl kMul_{"mul_", 2, "dself = dy * other, dother = sum_to(dy * old_self)"};
constexpr OpDecl kDiv_{"div_", 2, "dself = dy / other, dother = -sum_to(dy * old_self / other^2)"};
constexpr OpDecl kAddcmul_{"addcmul_", 3, "dself = dy, dt1 = sum_to(dy * v * t2), dt2 = sum_to(dy * v * t1)"};
constexpr OpDecl kAddcdiv_{"addcdiv_", 3, "dself = dy, dt1 = sum_to(dy * v / t2), dt2 = -sum_to(dy * v * t1 / t2^2)"};
constexpr OpDecl kCopy_{"copy_", 2, "dself = 0, dsrc = sum_to(dy)"};
constexpr OpDecl kClamp_{"clamp_", 1, "dself = dy * (min <= old_self <= max)"};
constexpr OpDecl kFill_{"fill_", 1, "dself = 0"};
constexpr OpDecl kZero_{"zero_", 1, "dself = 0"};
constexpr OpDecl kUniform_{"uniform_", 1, "dself = 0"};
constexpr OpDecl kNormal_{"normal_", 1, "dself = 0"};

namespace {

bool shares_buffer(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.impl()->storage() && a.impl()->storage() == b.impl()->storage();
}

// The checks every in-place op makes before writing; returns whether the op must be recorded.
bool begin(const char* op, const Tensor& self, std::initializer_list<Tensor> operands) {
  check_defined(op, {{self, "self"}});
  if (!is_grad_enabled()) return false;
  TensorImpl& impl = *self.impl();
  XGRAD_CHECK(!(impl.requires_grad && !impl.grad_fn),
              "{}: a leaf Variable that requires grad is being used in an in-place operation ({} {}). Update "
              "parameters under NoGradGuard (as an optimizer step does), or write into a clone()",
              op, dtype_name(self.dtype()), to_string(self.shape()));
  bool record = impl.requires_grad;
  for (const Tensor& t : operands) record = record || (t.defined() && t.requires_grad());
  if (record && impl.is_view && impl.storage() && impl.storage().use_count() > 1)
    throw Error(fmt::format(
        "{}: in-place write into a view ({} {}, made by reshape, detach or another aliasing op) whose buffer "
        "another tensor still holds, while recording the graph: xgrad does not rebase the view's base as "
        "PyTorch does, so its gradients would be wrong. Write into a clone(), or run it under NoGradGuard",
        op, dtype_name(self.dtype()), to_string(self.shape())));
  return record;
}

}  // namespace

namespace detail {
bool begin_inplace(const char* op, const Tensor& self, std::initializer_list<Tensor> operands) {
  return begin(op, self, operands);
}
void bump_version(Tensor& self) {
  if (const auto& s = self.impl()->storage()) s->bump_version();
}
}  // namespace detail

namespace {

// `t` must broadcast to self's shape: an in-place op never grows self.
void check_fits(const char* op, const char* name, const Tensor& t, const Tensor& self) {
  const Shape s = broadcast_shapes(t.shape(), self.shape(), op);
  XGRAD_CHECK(s == self.shape(),
              "{}: {} of shape {} does not broadcast to self's shape {} (an in-place op never changes self's shape)",
              op, name, to_string(t.shape()), to_string(self.shape()));
}

// The value computed in `result` must be storable in self's dtype (PyTorch: a float result cannot
// be cast to an integer self).
void check_storable(const char* op, Dtype result, const Tensor& self) {
  XGRAD_CHECK(is_floating(self.dtype()) || !is_floating(result),
              "{}: result type {} can't be cast to the desired output type {} (self {})", op, dtype_name(result),
              dtype_name(self.dtype()), to_string(self.shape()));
}

// Arithmetic into a mask: refused, rather than PyTorch's mix of "or" for add_ and errors for sub_.
void check_not_bool(const char* op, const Tensor& self) {
  XGRAD_CHECK(self.dtype() != boolean,
              "{}: in-place arithmetic on a bool tensor (shape {}) is not supported; use the logical ops, "
              "masked_fill or index_put_",
              op, to_string(self.shape()));
}

void check_integral_scalar(const char* op, const char* name, double v, const Tensor& self) {
  XGRAD_CHECK(is_floating(self.dtype()) || is_int64_value(v),
              "{}: {} = {} is not an integer, but self is an int64 tensor (result type float32 can't be cast to "
              "int64)",
              op, name, v);
}

// Every write counts: saved tensors compare the version before backward.
void bump(Tensor& self) { detail::bump_version(self); }

// Copies `value` (self's shape or broadcast to it, any dtype) into self's buffer and bumps the version.
void write(Tensor& self, const Tensor& value) {
  Tensor v = value.dtype() == self.dtype() ? value : kernels::cast(value, self.dtype());
  if (v.shape() != self.shape()) v = kernels::broadcast_copy(v, self.shape());
  const auto bytes = static_cast<std::size_t>(self.numel()) * dtype_size(self.dtype());
  if (bytes) std::memmove(self.impl()->raw(), v.impl()->raw(), bytes);
  bump(self);
}

// self = self (op) operand, operand broadcast to self's shape. When the result has self's dtype and
// the operand does not share self's buffer, the kernel writes straight into self (no temporary);
// otherwise the value is computed into a temporary, converted and copied. Bumps the version.
void apply_binary(Tensor& self, kernels::Binary op, const Tensor& operand, const char* name) {
  const Dtype rt = result_type(self, operand);
  if (rt == self.dtype() && !shares_buffer(operand, self)) {
    const Tensor b = operand.dtype() == rt ? operand : kernels::cast(operand, rt);
    kernels::binary_out(op, self, b, self, name);
    bump(self);
    return;
  }
  const Tensor a = self.dtype() == rt ? self : kernels::cast(self, rt);
  const Tensor b = operand.dtype() == rt ? operand : kernels::cast(operand, rt);
  write(self, kernels::binary(op, a, b, name));
}

// An operand the VJP needs: itself, or a copy when it shares self's buffer (the write would change it).
Tensor kept(const Tensor& t, const Tensor& self) { return shares_buffer(t, self) ? clone(t) : t; }

Tensor grad_to(Node& n, std::size_t i, const Tensor& g) {
  return n.needs_input_grad(i) ? sum_to(g, n.next_edges()[i].shape) : Tensor();
}

Tensor zero_grad_of(Node& n, const Tensor& gy) {
  return n.needs_input_grad(0) ? zeros_like(gy) : Tensor();
}

using detail::record_inplace;

// self += alpha * other (sign -1: self -= alpha * other).
Tensor& add_sub(const OpDecl& op, Tensor& self, const Tensor& other, double alpha, double sign) {
  const bool rec = begin(op.name, self, {other});
  check_not_bool(op.name, self);
  check_defined(op.name, {{other, "other"}});
  check_fits(op.name, "other", other, self);
  check_integral_scalar(op.name, "alpha", alpha, self);
  check_storable(op.name, result_type(self, other), self);
  {
    NoGradGuard no_grad;
    const Tensor scaled = alpha == 1 ? other : mul(other, scalar_like(alpha, other));
    apply_binary(self, sign > 0 ? kernels::Binary::add : kernels::Binary::sub, scaled, op.name);
  }
  if (rec) {
    const double a = sign * alpha;
    record_inplace(self, op, {self, other}, {}, [a](Node& n, const Tensor& gy) -> TensorList {
      return {n.needs_input_grad(0) ? gy : Tensor(), grad_to(n, 1, a == 1 ? gy : gy * a)};
    });
  }
  return self;
}

Tensor& mul_div(bool is_div, Tensor& self, const Tensor& other) {
  const OpDecl& op = is_div ? kDiv_ : kMul_;
  const bool rec = begin(op.name, self, {other});
  check_not_bool(op.name, self);
  check_defined(op.name, {{other, "other"}});
  check_fits(op.name, "other", other, self);
  XGRAD_CHECK(!is_div || is_floating(self.dtype()),
              "div_: result type float32 can't be cast to the desired output type int64 (self {}): true division "
              "of an integer tensor is not in place",
              to_string(self.shape()));
  check_storable(op.name, result_type(self, other), self);
  Tensor saved_other, old_self;
  if (rec) {
    saved_other = kept(other, self);
    if (other.requires_grad()) old_self = clone(self);  // d/d(other) needs the value the write destroys
  }
  {
    NoGradGuard no_grad;
    apply_binary(self, is_div ? kernels::Binary::div : kernels::Binary::mul, other, op.name);
  }
  if (rec)
    record_inplace(self, op, {self, other}, {saved_other, old_self}, [is_div](Node& n, const Tensor& gy) -> TensorList {
      const Tensor o = n.saved(0);
      Tensor gself, gother;
      if (n.needs_input_grad(0)) gself = is_div ? gy / o : gy * o;
      if (n.needs_input_grad(1)) {
        const Tensor x = n.saved(1);
        gother = is_div ? grad_to(n, 1, -(gy * x / (o * o))) : grad_to(n, 1, gy * x);
      }
      return {gself, gother};
    });
  return self;
}

// self += value * t1 (*|/) t2.
Tensor& addc(bool is_div, Tensor& self, const Tensor& t1, const Tensor& t2, double value) {
  const OpDecl& op = is_div ? kAddcdiv_ : kAddcmul_;
  const bool rec = begin(op.name, self, {t1, t2});
  check_not_bool(op.name, self);
  check_defined(op.name, {{t1, "tensor1"}, {t2, "tensor2"}});
  check_fits(op.name, "tensor1", t1, self);
  check_fits(op.name, "tensor2", t2, self);
  XGRAD_CHECK(!is_div || (is_floating(t1.dtype()) || is_floating(t2.dtype())),
              "addcdiv_: integer division of tensor1 ({}) by tensor2 ({}) is not supported, as in PyTorch",
              dtype_name(t1.dtype()), dtype_name(t2.dtype()));
  check_integral_scalar(op.name, "value", value, self);
  Tensor term;
  {
    NoGradGuard no_grad;
    term = is_div ? div(t1, t2) : mul(t1, t2);
    if (value != 1) term = mul(term, scalar_like(value, term));
  }
  check_storable(op.name, result_type(self, term), self);
  Tensor k1, k2;
  if (rec) k1 = kept(t1, self), k2 = kept(t2, self);
  {
    NoGradGuard no_grad;
    apply_binary(self, kernels::Binary::add, term, op.name);
  }
  if (rec)
    record_inplace(self, op, {self, t1, t2}, {k1, k2}, [is_div, value](Node& n, const Tensor& gy) -> TensorList {
      const Tensor g = value == 1 ? gy : gy * value;
      Tensor g1, g2;
      if (n.needs_input_grad(1)) g1 = grad_to(n, 1, is_div ? g / n.saved(1) : g * n.saved(1));
      if (n.needs_input_grad(2)) {
        const Tensor a = n.saved(0), b = n.saved(1);
        g2 = grad_to(n, 2, is_div ? -(g * a / (b * b)) : g * a);
      }
      return {n.needs_input_grad(0) ? gy : Tensor(), g1, g2};
    });
  return self;
}

// fill_, zero_, uniform_, normal_: the old value gets a zero gradient.
void record_overwrite(const OpDecl& op, Tensor& self, bool rec) {
  if (rec)
    record_inplace(self, op, {self}, {}, [](Node& n, const Tensor& gy) -> TensorList { return {zero_grad_of(n, gy)}; });
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) { return add_sub(kAdd_, *this, other, alpha, 1); }
Tensor& Tensor::sub_(const Tensor& other, double alpha) { return add_sub(kSub_, *this, other, alpha, -1); }
Tensor& Tensor::add_(double other, double alpha) {
  check_defined("add_", {{*this, "self"}});
  return add_sub(kAdd_, *this, scalar_like(other, *this), alpha, 1);
}
Tensor& Tensor::sub_(double other, double alpha) {
  check_defined("sub_", {{*this, "self"}});
  return add_sub(kSub_, *this, scalar_like(other, *this), alpha, -1);
}
Tensor& Tensor::mul_(const Tensor& other) { return mul_div(false, *this, other); }
Tensor& Tensor::div_(const Tensor& other) { return mul_div(true, *this, other); }
Tensor& Tensor::mul_(double other) {
  check_defined("mul_", {{*this, "self"}});
  return mul_div(false, *this, scalar_like(other, *this));
}
Tensor& Tensor::div_(double other) {
  check_defined("div_", {{*this, "self"}});
  return mul_div(true, *this, scalar_like(other, *this));
}
Tensor& Tensor::addcmul_(const Tensor& t1, const Tensor& t2, double value) { return addc(false, *this, t1, t2, value); }
Tensor& Tensor::addcdiv_(const Tensor& t1, const Tensor& t2, double value) { return addc(true, *this, t1, t2, value); }

Tensor& Tensor::operator+=(const Tensor& other) { return add_(other); }
Tensor& Tensor::operator+=(double other) { return add_(other); }
Tensor& Tensor::operator-=(const Tensor& other) { return sub_(other); }
Tensor& Tensor::operator-=(double other) { return sub_(other); }
Tensor& Tensor::operator*=(const Tensor& other) { return mul_(other); }
Tensor& Tensor::operator*=(double other) { return mul_(other); }
Tensor& Tensor::operator/=(const Tensor& other) { return div_(other); }
Tensor& Tensor::operator/=(double other) { return div_(other); }

Tensor& Tensor::copy_(const Tensor& src) {
  const bool rec = begin("copy_", *this, {src});
  check_defined("copy_", {{src, "src"}});
  check_fits("copy_", "src", src, *this);
  write(*this, src);  // any dtype converts (PyTorch's copy_), float to int64 by xgrad's rule
  if (rec)
    record_inplace(*this, kCopy_, {*this, src}, {}, [](Node& n, const Tensor& gy) -> TensorList {
      return {zero_grad_of(n, gy), grad_to(n, 1, gy)};
    });
  return *this;
}

Tensor& Tensor::zero_() {
  const bool rec = begin("zero_", *this, {});
  const auto bytes = static_cast<std::size_t>(numel()) * dtype_size(dtype());
  if (bytes) std::memset(impl()->raw(), 0, bytes);
  bump(*this);
  record_overwrite(kZero_, *this, rec);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  const bool rec = begin("fill_", *this, {});
  XGRAD_DISPATCH_WITH_BOOL(dtype(), T, std::fill_n(impl()->data<T>(), numel(), convert<T>(value)));
  bump(*this);
  record_overwrite(kFill_, *this, rec);
  return *this;
}

Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  const bool rec = begin("clamp_", *this, {});
  check_not_bool("clamp_", *this);
  XGRAD_CHECK(min.has_value() || max.has_value(), "clamp_: at least one of min or max must be given (self {} {})",
              dtype_name(dtype()), to_string(shape()));
  const double inf = std::numeric_limits<double>::infinity();
  const double lo = min.value_or(-inf), hi = max.value_or(inf);
  XGRAD_CHECK(!std::isnan(lo) && !std::isnan(hi), "clamp_: a bound is NaN (min {}, max {})", lo, hi);
  if (min) check_integral_scalar("clamp_", "min", *min, *this);
  if (max) check_integral_scalar("clamp_", "max", *max, *this);
  Tensor mask;  // the gradient mask comes from the old value: computed before the write
  if (rec) mask = kernels::unary_param(kernels::UnaryParam::in_range, *this, lo, hi);
  write(*this, kernels::unary_param(kernels::UnaryParam::clamp, *this, lo, hi));
  if (rec)
    record_inplace(*this, kClamp_, {*this}, {mask}, [](Node& n, const Tensor& gy) -> TensorList {
      return {gy * n.saved(0)};
    });
  return *this;
}

Tensor& Tensor::uniform_(double low, double high) { return uniform_(low, high, default_generator()); }

Tensor& Tensor::uniform_(double low, double high, Generator& gen) {
  const bool rec = begin("uniform_", *this, {});
  XGRAD_CHECK(is_floating(dtype()), "uniform_: expects a floating dtype, got {}", dtype_name(dtype()));
  XGRAD_CHECK(low <= high && std::isfinite(low) && std::isfinite(high),
              "uniform_: expects finite low <= high, got low={} high={}", low, high);
  write(*this, uniform(shape(), low, high, gen, {.dtype = dtype()}));
  record_overwrite(kUniform_, *this, rec);
  return *this;
}

Tensor& Tensor::normal_(double mean, double sd) { return normal_(mean, sd, default_generator()); }

Tensor& Tensor::normal_(double mean, double sd, Generator& gen) {
  const bool rec = begin("normal_", *this, {});
  XGRAD_CHECK(is_floating(dtype()), "normal_: expects a floating dtype, got {}", dtype_name(dtype()));
  XGRAD_CHECK(sd >= 0 && std::isfinite(sd) && std::isfinite(mean),
              "normal_: expects a finite mean and a finite std >= 0, got mean={} std={}", mean, sd);
  {
    NoGradGuard no_grad;
    write(*this, normal(shape(), mean, sd, gen, {.dtype = dtype()}));
  }
  record_overwrite(kNormal_, *this, rec);
  return *this;
}

// ---------------------------------------------------------------- registry

namespace {

// The sample's own copy of its input: an in-place op on the sample's leaf would raise (and gradcheck
// must differentiate through the op). Checks the input first so the fuzz test's errors name the op.
Tensor fresh(const char* op, const Tensor& t) {
  check_defined(op, {{t, "self"}});
  return clone(t);
}

struct ShapePair {
  std::string desc;
  Shape self, other;
};

const std::vector<ShapePair>& binary_shapes() {
  static const std::vector<ShapePair> shapes = {
      {"same shape [3,4]", {3, 4}, {3, 4}},
      {"other [4] broadcast to [3,4]", {3, 4}, {4}},
      {"other [3,1] broadcast to [3,4]", {3, 4}, {3, 1}},
      {"other [4,1] broadcast to [2,4,3]", {2, 4, 3}, {4, 1}},
      {"other 0-d into [2,3]", {2, 3}, {}},
      {"0-d into 0-d", {}, {}},
      {"size-0 [0,3] with [3]", {0, 3}, {3}},
  };
  return shapes;
}

}  // namespace

void register_inplace_ops(std::vector<OpInfo>& r) {
  using Call = std::function<Tensor(const TensorList&)>;
  // Binary in-place ops: every shape pair, plus one sample whose self needs no gradient.
  auto add_binary = [&](const OpDecl& op, bool other_away_from_zero, std::function<void(Tensor&, const Tensor&)> f) {
    r.push_back(declared(op, {.differentiable = {true, true},
                              .samples = [op, other_away_from_zero, f](Dtype d) {
                                const char* name = op.name;
                                Call call = [name, f](const TensorList& in) {
                                  Tensor s = fresh(name, in[0]);
                                  f(s, in[1]);
                                  return s;
                                };
                                auto other = [&](const Shape& s) {
                                  return other_away_from_zero ? samples::away_from_zero(s, d, 0.5, 2.0)
                                                              : samples::input(s, d);
                                };
                                std::vector<OpSample> out;
                                for (const auto& [desc, ss, so] : binary_shapes())
                                  out.push_back({desc, {samples::input(ss, d), other(so)}, call});
                                out.push_back({"self without history [3,4], other [4]",
                                               {samples::constant({3, 4}, d), other({4})}, call});
                                out.push_back({"self [3,4] with history, other constant [4]",
                                               {samples::input({3, 4}, d), samples::constant({4}, d, 0.5, 2.0)},
                                               call});
                                return out;
                              }}));
  };
  add_binary(kAdd_, false, [](Tensor& s, const Tensor& o) { s.add_(o, 2.5); });
  add_binary(kSub_, false, [](Tensor& s, const Tensor& o) { s.sub_(o, 0.5); });
  add_binary(kMul_, false, [](Tensor& s, const Tensor& o) { s.mul_(o); });
  add_binary(kDiv_, true, [](Tensor& s, const Tensor& o) { s.div_(o); });
  add_binary(kCopy_, false, [](Tensor& s, const Tensor& o) { s.copy_(o); });

  auto add_ternary = [&](const OpDecl& op, bool is_div) {
    r.push_back(declared(op, {.differentiable = {true, true, true},
                              .samples = [op, is_div](Dtype d) {
                                const char* name = op.name;
                                auto with = [name, is_div](double v) -> Call {
                                  return [name, is_div, v](const TensorList& in) {
                                    Tensor s = fresh(name, in[0]);
                                    if (is_div) s.addcdiv_(in[1], in[2], v);
                                    else s.addcmul_(in[1], in[2], v);
                                    return s;
                                  };
                                };
                                auto t2 = [&](const Shape& s) {
                                  return is_div ? samples::away_from_zero(s, d, 0.5, 2.0) : samples::input(s, d);
                                };
                                return std::vector<OpSample>{
                                    {"same shape [3,4], value 1", {samples::input({3, 4}, d), samples::input({3, 4}, d), t2({3, 4})}, with(1.0)},
                                    {"t1 [4], t2 [3,1] into [3,4], value -0.5", {samples::input({3, 4}, d), samples::input({4}, d), t2({3, 1})}, with(-0.5)},
                                    {"t1 0-d, t2 [2,3], value 2", {samples::input({2, 3}, d), samples::input({}, d), t2({2, 3})}, with(2.0)},
                                    {"self without history", {samples::constant({2, 3}, d), samples::input({3}, d), t2({2, 3})}, with(1.5)},
                                    {"size-0 [0,2]", {samples::input({0, 2}, d), samples::input({2}, d), t2({0, 2})}, with(1.0)},
                                };
                              }}));
  };
  add_ternary(kAddcmul_, false);
  add_ternary(kAddcdiv_, true);

  r.push_back(declared(kClamp_, {.differentiable = {true},
                                 .samples = [](Dtype d) {
                                   auto with = [](std::optional<double> lo, std::optional<double> hi) -> Call {
                                     return [lo, hi](const TensorList& in) {
                                       Tensor s = fresh("clamp_", in[0]);
                                       s.clamp_(lo, hi);
                                       return s;
                                     };
                                   };
                                   // Values on the grid 0.2 k + 0.1 never sit within 0.1 of the bounds.
                                   auto grid = [d](const Shape& s) {
                                     std::vector<double> v = uniform(s, -1.0, 1.0, {.dtype = float64}).to_vector<double>();
                                     for (double& x : v) x = std::round(x / 0.2) * 0.2 + 0.1;
                                     return tensor(v, s, {.dtype = d, .requires_grad = true});
                                   };
                                   return std::vector<OpSample>{
                                       {"[3,4] in [-0.4, 0.4]", {grid({3, 4})}, with(-0.4, 0.4)},
                                       {"[5] min 0", {grid({5})}, with(0.0, std::nullopt)},
                                       {"0-d max 0.2", {grid({})}, with(std::nullopt, 0.2)},
                                   };
                                 }}));

  // Overwrites: the result does not depend on the old value (gradient zero). The random ones are
  // sampled with a degenerate range, so the numerical derivative is defined.
  auto add_overwrite = [&](const OpDecl& op, std::function<void(Tensor&)> f) {
    r.push_back(declared(op, {.differentiable = {true},
                              .samples = [op, f](Dtype d) {
                                const char* name = op.name;
                                Call call = [name, f](const TensorList& in) {
                                  Tensor s = fresh(name, in[0]);
                                  f(s);
                                  return s;
                                };
                                return std::vector<OpSample>{{"[3,4]", {samples::input({3, 4}, d)}, call},
                                                             {"0-d", {samples::input({}, d)}, call}};
                              }}));
  };
  add_overwrite(kFill_, [](Tensor& s) { s.fill_(0.75); });
  add_overwrite(kZero_, [](Tensor& s) { s.zero_(); });
  add_overwrite(kUniform_, [](Tensor& s) { s.uniform_(0.25, 0.25); });
  add_overwrite(kNormal_, [](Tensor& s) { s.normal_(-0.5, 0.0); });
}

}  // namespace xgrad
