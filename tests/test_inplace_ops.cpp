// In-place ops (Tensor::add_, mul_, copy_, fill_, +=, ...): values, version bumps, the leaf error,
// gradients through recorded in-place ops (history rebased onto the new node), broadcasting rules,
// the NoGradGuard parameter update and seeded random fills.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {
using test::check_close;
using test::error_of;
using test::values;

Tensor f64(std::initializer_list<double> v, bool requires_grad = false) {
  return tensor(v, {.dtype = float64, .requires_grad = requires_grad});
}
Tensor f64(std::initializer_list<std::initializer_list<double>> v, bool requires_grad = false) {
  return tensor(v, {.dtype = float64, .requires_grad = requires_grad});
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("inplace ops: values, the returned reference and the version bump") {
  Tensor x = f64({1.0, 2.0, 3.0});
  const double* buffer = x.data<double>();
  Tensor& r = x.add_(f64({1.0, 1.0, 1.0}), 2.0);
  CHECK(&r == &x);
  CHECK(values(x) == std::vector<double>{3.0, 4.0, 5.0});
  CHECK(x.version() == 1);
  x.sub_(f64({1.0, 2.0, 3.0}), 0.5);
  CHECK(values(x) == std::vector<double>{2.5, 3.0, 3.5});
  x.mul_(f64({2.0, -1.0, 0.5}));
  CHECK(values(x) == std::vector<double>{5.0, -3.0, 1.75});
  x.div_(f64({5.0, 3.0, 0.25}));
  CHECK(values(x) == std::vector<double>{1.0, -1.0, 7.0});
  x.add_(1.0).sub_(0.5, 2.0).mul_(3.0).div_(2.0);
  CHECK(values(x) == std::vector<double>{1.5, -1.5, 10.5});
  x.addcmul_(f64({1.0, 2.0, 3.0}), f64({2.0, 2.0, 2.0}), 0.5);
  CHECK(values(x) == std::vector<double>{2.5, 0.5, 13.5});
  x.addcdiv_(f64({1.0, 2.0, 3.0}), f64({2.0, 4.0, 0.5}), -2.0);
  CHECK(values(x) == std::vector<double>{1.5, -0.5, 1.5});
  x.clamp_(-0.25, 1.0);
  CHECK(values(x) == std::vector<double>{1.0, -0.25, 1.0});
  x.clamp_(std::nullopt, 0.5);
  CHECK(values(x) == std::vector<double>{0.5, -0.25, 0.5});
  x.fill_(7.0);
  CHECK(values(x) == std::vector<double>{7.0, 7.0, 7.0});
  x.zero_();
  CHECK(values(x) == std::vector<double>{0.0, 0.0, 0.0});
  x.copy_(f64({4.0, 5.0, 6.0}));
  CHECK(values(x) == std::vector<double>{4.0, 5.0, 6.0});
  CHECK(x.version() == 15);  // one per op
  CHECK(x.data<double>() == buffer);  // always the same buffer
}

TEST_CASE("inplace ops: the compound assignment operators") {
  Tensor x = f64({2.0, 4.0});
  x += f64({1.0, 1.0});
  x -= 0.5;
  CHECK(values(x) == std::vector<double>{2.5, 4.5});
  x *= f64({2.0, 0.5});
  x /= 0.25;
  CHECK(values(x) == std::vector<double>{20.0, 9.0});
  x += 1.0;
  x -= f64({1.0, 1.0});
  x *= 2.0;
  x /= f64({4.0, 3.0});
  CHECK(values(x) == std::vector<double>{10.0, 6.0});
  CHECK(x.version() == 8);
}

TEST_CASE("inplace ops: broadcasting goes into self's shape only, errors name the op and shapes") {
  Tensor x = zeros({2, 3}, {.dtype = float64});
  x.add_(f64({1.0, 2.0, 3.0}));  // [3] into [2,3]
  x.add_(tensor(std::vector<double>{10.0, 20.0}, {2, 1}, {.dtype = float64}));  // [2,1] into [2,3]
  x.mul_(scalar_tensor(2.0, {.dtype = float64}));  // 0-d
  CHECK(values(x) == std::vector<double>{22, 24, 26, 42, 44, 46});
  x.copy_(f64({1.0, 2.0, 3.0}));
  CHECK(values(x) == std::vector<double>{1, 2, 3, 1, 2, 3});
  x.addcmul_(tensor(std::vector<double>{1.0, 2.0}, {2, 1}, {.dtype = float64}), f64({1.0, 0.0, -1.0}));
  CHECK(values(x) == std::vector<double>{2, 2, 2, 3, 2, 1});

  Tensor small = f64({1.0, 2.0, 3.0});
  std::string msg = error_of([&] { small.add_(zeros({2, 3}, {.dtype = float64})); });
  CHECK(contains(msg, "add_"));
  CHECK(contains(msg, "[2, 3]"));
  CHECK(contains(msg, "[3]"));
  CHECK(contains(msg, "never changes self's shape"));
  msg = error_of([&] { small.mul_(zeros({4}, {.dtype = float64})); });
  CHECK(contains(msg, "mul_"));
  CHECK(contains(msg, "[4]"));
  msg = error_of([&] { small.copy_(zeros({2, 3})); });
  CHECK(contains(msg, "copy_"));
  msg = error_of([&] { small.addcdiv_(zeros({3}), ones({1, 3})); });
  CHECK(contains(msg, "addcdiv_"));
  CHECK(values(small) == std::vector<double>{1.0, 2.0, 3.0});  // nothing written
  CHECK(small.version() == 0);
}

TEST_CASE("inplace ops: dtypes: self keeps its dtype, copy_ converts, int64 wraps and refuses float results") {
  Tensor f = zeros({3});  // float32
  f.add_(f64({0.5, 1.5, 2.5}));
  CHECK(f.dtype() == float32);
  CHECK(values(f) == std::vector<double>{0.5, 1.5, 2.5});
  f.copy_(tensor(std::vector<std::int64_t>{7, 8, 9}, {3}));
  CHECK(f.dtype() == float32);
  CHECK(values(f) == std::vector<double>{7.0, 8.0, 9.0});

  Tensor i = tensor(std::vector<std::int64_t>{INT64_MAX, 5, -3}, {3});
  i.add_(1.0);  // wraps, as elsewhere
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MIN, 6, -2});
  i.mul_(tensor(std::vector<std::int64_t>{1, 3, -2}, {3}));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MIN, 18, 4});
  i.sub_(2.0, 3.0);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{INT64_MAX - 5, 12, -2});
  i.copy_(f64({1.9, -2.9, 3.0}));  // float -> int64 truncates
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});
  i.clamp_(0.0, 2.0);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 2});
  i.fill_(4.0);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 4, 4});
  CHECK(i.dtype() == int64);

  std::string msg = error_of([&] { i.div_(2.0); });
  CHECK(contains(msg, "div_"));
  CHECK(contains(msg, "can't be cast to the desired output type int64"));
  CHECK(contains(error_of([&] { i /= tensor(std::vector<std::int64_t>{1, 1, 1}, {3}); }), "div_"));
  CHECK(contains(error_of([&] { i.add_(f64({1.0, 1.0, 1.0})); }), "add_: result type float64 can't be cast"));
  CHECK(contains(error_of([&] { i.mul_(1.5); }), "mul_"));
  CHECK(contains(error_of([&] { i.add_(1.0, 0.5); }), "alpha"));
  CHECK(contains(error_of([&] { i.uniform_(); }), "uniform_: expects a floating dtype"));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 4, 4});
}

TEST_CASE("inplace ops: a leaf that requires grad refuses them under grad mode, naming the op") {
  Tensor w = f64({1.0, 2.0}, true);
  for (auto [name, f] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"add_", [&] { w.add_(1.0); }},
           {"mul_", [&] { w *= 2.0; }},
           {"copy_", [&] { w.copy_(f64({0.0, 0.0})); }},
           {"zero_", [&] { w.zero_(); }},
           {"normal_", [&] { w.normal_(); }},
       }) {
    const std::string msg = error_of(f);
    INFO(msg);
    CHECK(contains(msg, name + ": a leaf Variable that requires grad is being used in an in-place operation"));
  }
  CHECK(values(w) == std::vector<double>{1.0, 2.0});
  CHECK(w.version() == 0);
}

TEST_CASE("inplace ops: the NoGradGuard parameter update keeps the parameter a leaf with its buffer") {
  Tensor w = f64({1.0, -2.0}, true);
  const double* buffer = w.data<double>();
  const double lr = 0.1;
  for (int step = 0; step < 3; ++step) {
    (w * w).sum().backward();
    {
      NoGradGuard g;
      w -= lr * w.grad();
    }
    w.zero_grad();
  }
  // w <- w - 0.1 * 2w = 0.8 w, three times.
  check_close(w, {0.512, -1.024}, 1e-12);
  CHECK(w.is_leaf());
  CHECK(w.requires_grad());
  CHECK(w.grad_fn() == nullptr);
  CHECK(w.data<double>() == buffer);
  CHECK(w.version() == 3);
  std::vector<Tensor> params{w};  // a handle in a container sees the update
  {
    NoGradGuard g;
    params[0].mul_(0.5);
  }
  check_close(w, {0.256, -0.512}, 1e-12);
}

TEST_CASE("inplace ops: a recorded op on a non-leaf rebases its history and matches the out-of-place gradient") {
  auto check_op = [](const char* name, const std::function<void(Tensor&, const Tensor&)>& inplace,
                     const std::function<Tensor(const Tensor&, const Tensor&)>& outplace) {
    INFO(std::string(name));
    Tensor a = f64({{0.5, -1.0, 2.0}, {1.5, 0.25, -0.75}}, true);
    Tensor b = f64({1.25, -0.5, 2.0}, true);  // broadcast over rows
    Tensor y = a * 1.5;
    inplace(y, b);
    CHECK(y.grad_fn_name() == name);
    REQUIRE(y.grad_fn()->next_edges().size() >= 2);
    CHECK(std::string(y.grad_fn()->next_edges()[0].fn->name()) == "mul");  // the old history
    (y * y).sum().backward();
    const auto ga = values(a.grad()), gb = values(b.grad());
    Tensor a2 = a.detach().clone().requires_grad_(), b2 = b.detach().clone().requires_grad_();
    Tensor z = outplace(a2 * 1.5, b2);
    (z * z).sum().backward();
    check_close(ga, values(a2.grad()), 1e-12);
    check_close(gb, values(b2.grad()), 1e-12);
    check_close(y, values(z), 1e-12);
  };
  check_op("add_", [](Tensor& y, const Tensor& b) { y.add_(b, 2.0); }, [](const Tensor& x, const Tensor& b) { return x + 2.0 * b; });
  check_op("sub_", [](Tensor& y, const Tensor& b) { y -= b; }, [](const Tensor& x, const Tensor& b) { return x - b; });
  check_op("mul_", [](Tensor& y, const Tensor& b) { y *= b; }, [](const Tensor& x, const Tensor& b) { return x * b; });
  check_op("div_", [](Tensor& y, const Tensor& b) { y.div_(b); }, [](const Tensor& x, const Tensor& b) { return x / b; });
  check_op("addcmul_", [](Tensor& y, const Tensor& b) { y.addcmul_(b, b, 0.5); },
           [](const Tensor& x, const Tensor& b) { return x + 0.5 * b * b; });
  check_op("addcdiv_", [](Tensor& y, const Tensor& b) { y.addcdiv_(b * b, b, -1.0); },
           [](const Tensor& x, const Tensor& b) { return x - b * b / b; });
  check_op("copy_", [](Tensor& y, const Tensor& b) { y.copy_(b); }, [](const Tensor& x, const Tensor& b) { return x * 0.0 + b; });
}

TEST_CASE("inplace ops: fill_, zero_, clamp_ on a non-leaf: the old value's gradient is zero or masked") {
  Tensor a = f64({-2.0, 0.5, 3.0}, true);
  Tensor y = a * 2.0;
  y.fill_(1.0);
  CHECK(y.grad_fn_name() == "fill_");
  (y * a).sum().backward();  // d/da = y = 1 directly, 0 through the overwritten value
  CHECK(values(a.grad()) == std::vector<double>{1.0, 1.0, 1.0});
  a.zero_grad();
  Tensor z = a * 1.0;
  z.clamp_(-1.0, 1.0);
  CHECK(values(z) == std::vector<double>{-1.0, 0.5, 1.0});
  (z * 3.0).sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{0.0, 3.0, 0.0});
  a.zero_grad();
  Tensor u = a * 1.0;
  u.zero_().add_(a);  // the zero_ node passes zero, add_ passes dy
  u.sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{1.0, 1.0, 1.0});
}

TEST_CASE("inplace ops: a tensor without history gains it when the operand requires grad") {
  Tensor b = f64({1.0, 2.0}, true);
  Tensor x = zeros({2}, {.dtype = float64});
  x.add_(b, 3.0);
  CHECK_FALSE(x.is_leaf());
  CHECK(x.requires_grad());
  CHECK(x.grad_fn_name() == "add_");
  x.sum().backward();
  CHECK(values(b.grad()) == std::vector<double>{3.0, 3.0});
  // Without grad mode nothing is recorded.
  Tensor c = zeros({2}, {.dtype = float64});
  {
    NoGradGuard g;
    c.add_(b);
  }
  CHECK(c.is_leaf());
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("inplace ops: a value saved by an earlier node and then overwritten makes backward raise") {
  Tensor a = f64({1.0, 2.0}, true);
  Tensor y = a * 1.0;
  Tensor z = (y * y).sum();  // mul saves y
  y.add_(1.0);
  const std::string msg = error_of([&] { z.backward(); });
  CHECK(contains(msg, "mul"));
  CHECK(contains(msg, "modified in place"));
  // exp saves its output: exp(a).mul_(2) invalidates it, as in PyTorch.
  Tensor e = exp(a);
  e.mul_(2.0);
  CHECK(contains(error_of([&] { e.sum().backward(); }), "exp"));
  // mul_ saved a clone of the old self, so a later write to the operand does not matter, but
  // a write to the saved operand does.
  Tensor b = f64({3.0, 4.0}, true);
  Tensor w = a * 1.0;
  Tensor other = b * 1.0;
  w.mul_(other);
  other.add_(1.0);
  CHECK(contains(error_of([&] { w.sum().backward(); }), "mul_"));
}

TEST_CASE("inplace ops: a recorded write into a view is refused, a write into a detached alias is not") {
  Tensor a = f64({1.0, 2.0, 3.0, 4.0}, true);
  Tensor base = a * 1.0;
  Tensor v = base.reshape({2, 2});
  const std::string msg = error_of([&] { v.add_(1.0); });
  CHECK(contains(msg, "add_"));
  CHECK(contains(msg, "view"));
  Tensor leaf_view = a.reshape({2, 2});
  CHECK(contains(error_of([&] { leaf_view.mul_(2.0); }), "mul_"));
  // Under NoGradGuard a view is written like any tensor, and the base sees it.
  {
    NoGradGuard g;
    v.add_(1.0);
  }
  CHECK(values(base) == std::vector<double>{2.0, 3.0, 4.0, 5.0});
  // detach() shares the buffer and the version counter: in-place on it is allowed, and a graph
  // that saved the base raises.
  Tensor x = f64({1.0, 2.0}, true);
  Tensor y = x * 1.0;
  Tensor loss = (y * y).sum();
  y.detach().zero_();
  CHECK(values(y) == std::vector<double>{0.0, 0.0});
  CHECK(contains(error_of([&] { loss.backward(); }), "modified in place"));
}

TEST_CASE("inplace ops: uniform_ and normal_ draw from the seeded generator") {
  Tensor a = zeros({1000});
  Tensor b = zeros({1000}, {.dtype = float64});
  manual_seed(42);
  a.uniform_(-2.0, 3.0);
  b.normal_(1.0, 0.5);
  manual_seed(42);
  Tensor a2 = zeros({1000});
  Tensor b2 = zeros({1000}, {.dtype = float64});
  a2.uniform_(-2.0, 3.0);
  b2.normal_(1.0, 0.5);
  CHECK(values(a) == values(a2));
  CHECK(values(b) == values(b2));
  CHECK(a.version() == 1);
  const auto va = values(a);
  double lo = 1e9, hi = -1e9, mean = 0;
  for (double v : va) lo = std::min(lo, v), hi = std::max(hi, v), mean += v / 1000;
  CHECK(lo >= -2.0);
  CHECK(hi < 3.0);
  CHECK(mean == doctest::Approx(0.5).epsilon(0.1));
  // uniform_ gives the same values as the uniform factory from the same seed.
  manual_seed(7);
  Tensor c = zeros({5});
  c.uniform_(0.0, 1.0);
  manual_seed(7);
  CHECK(values(c) == values(rand({5})));
  const auto vb = values(b);
  double m = 0, s2 = 0;
  for (double v : vb) m += v / 1000;
  for (double v : vb) s2 += (v - m) * (v - m) / 999;
  CHECK(m == doctest::Approx(1.0).epsilon(0.1));
  CHECK(std::sqrt(s2) == doctest::Approx(0.5).epsilon(0.15));
  CHECK(contains(error_of([&] { a.uniform_(1.0, 0.0); }), "uniform_"));
  CHECK(contains(error_of([&] { a.normal_(0.0, -1.0); }), "normal_"));
}

TEST_CASE("inplace ops: undefined arguments are reported by the op") {
  Tensor x = zeros({2});
  CHECK(contains(error_of([&] { x.add_(Tensor()); }), "add_: argument 'other' is an undefined tensor"));
  Tensor u;
  CHECK(contains(error_of([&] { u.zero_(); }), "zero_: argument 'self' is an undefined tensor"));
  CHECK(contains(error_of([&] { u += 1.0; }), "add_"));
}

TEST_CASE("inplace ops: an operand that is self itself (x.mul_(x), x.add_(x)) differentiates correctly") {
  Tensor a = f64({1.5, -2.0, 0.5}, true);
  Tensor y = a * 1.0;
  y.mul_(y);  // y = a^2: the operand is copied before the write
  CHECK(values(y) == std::vector<double>{2.25, 4.0, 0.25});
  y.sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{3.0, -4.0, 1.0});
  a.zero_grad();
  Tensor z = a * 1.0;
  z.add_(z, 2.0);  // z = 3a
  CHECK(values(z) == std::vector<double>{4.5, -6.0, 1.5});
  z.sum().backward();
  CHECK(values(a.grad()) == std::vector<double>{3.0, 3.0, 3.0});
  // Double backward through a recorded in-place op: d/da of d(sum(a^2 * a))/da = 6a.
  Tensor w = a * 1.0;
  w.mul_(a * a);
  const Tensor g = grad({w.sum()}, {a}, {}, {.create_graph = true})[0];
  check_close(g, {6.75, 12.0, 0.75}, 1e-12);  // 3a^2
  const Tensor gg = grad({g.sum()}, {a})[0];
  check_close(gg, {9.0, -12.0, 3.0}, 1e-12);  // 6a
}

TEST_CASE("inplace ops: retain_grad follows the tensor to its new node") {
  Tensor a = f64({1.0, 2.0}, true);
  Tensor y = a * 1.0;
  y.retain_grad();
  y.mul_(2.0);  // y = 2a
  CHECK(y.retains_grad());
  (y * y).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{4.0, 8.0});  // d/dy of y^2 at the new value
  CHECK(values(a.grad()) == std::vector<double>{8.0, 16.0});
}
