// Reductions: values against PyTorch, gradients by hand, errors, keepdim shapes, and gradcheck /
// gradgradcheck over the registry samples of this family.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::grad_of;
using test::leaf;
using test::values;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  test::check_close(t, expected, tol);
}

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("reduce: prod values, dims, keepdim, int64, empty") {
  Tensor x = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(prod(x).item<double>() == 720.0);
  CHECK(prod(x).dim() == 0);
  check_close(prod(x, 1), {6, 120});
  check_close(prod(x, -2), {4, 10, 18});
  CHECK(prod(x, 0, true).shape() == Shape{1, 3});
  CHECK(prod(x, 1, true).shape() == Shape{2, 1});

  Tensor xi = tensor(std::vector<std::int64_t>{2, 3, 4}, {3});
  Tensor pi = prod(xi);
  CHECK(pi.dtype() == int64);
  CHECK(pi.item<std::int64_t>() == 24);

  // Over an empty dim the product is 1 (PyTorch).
  check_close(prod(zeros({0, 3}), 0), {1, 1, 1});
  CHECK(prod(zeros({0, 3})).item<double>() == 1.0);
  CHECK(prod(zeros({2, 0}), 0).shape() == Shape{0});

  // 0-d: dim 0 and -1 are accepted.
  Tensor s = scalar_tensor(3.0);
  CHECK(prod(s, 0).item<double>() == 3.0);
  CHECK(prod(s, -1, true).shape() == Shape{});
  CHECK_THROWS_WITH_AS(prod(s, 1), doctest::Contains("prod"), Error);
  CHECK_THROWS_WITH_AS(prod(x, 2), doctest::Contains("prod"), Error);
}

TEST_CASE("reduce: prod gradient without zeros, with one zero, with several zeros") {
  check_close(grad_of(leaf({2, 3, 4}), [](const Tensor& x) { return prod(x); }), {12, 8, 6});
  check_close(grad_of(leaf({2, 0, 4}), [](const Tensor& x) { return prod(x); }), {0, 8, 0});
  check_close(grad_of(leaf({0, 0, 4}), [](const Tensor& x) { return prod(x); }), {0, 0, 0});
  // Over a dim: [[1, 2], [0, 3]] -> [2, 0]; dx = [[2, 1], [3, 0]].
  Tensor x = tensor({{1, 2}, {0, 3}}, {.dtype = float64, .requires_grad = true});
  check_close(grad_of(x, [](const Tensor& t) { return prod(t, 1); }), {2, 1, 3, 0});
  check_close(grad_of(x, [](const Tensor& t) { return prod(t, 0, true); }), {0, 3, 1, 2});
  // 0-d
  check_close(grad_of(scalar_tensor(5.0, {.dtype = float64, .requires_grad = true}),
                      [](const Tensor& t) { return prod(t); }),
              {1});
}

TEST_CASE("reduce: prod with zeros is exact to second order") {
  // prod is a polynomial, so central differences are exact at zeros too.
  GradcheckOptions opts;
  for (auto v : {std::vector<double>{2, 0, 3, -1.5}, std::vector<double>{0, 0, 3, 2}, std::vector<double>{0, 0, 0, 2}}) {
    Tensor x = tensor(v, {4}, {.dtype = float64, .requires_grad = true});
    auto all = [](const TensorList& in) { return prod(in[0]); };
    CHECK(gradcheck(all, {x}, opts));
    CHECK(gradgradcheck(all, {x}, opts));
    Tensor m = tensor(v, {2, 2}, {.dtype = float64, .requires_grad = true});
    for (std::int64_t dim : {0, 1}) {
      auto along = [dim](const TensorList& in) { return prod(in[0], dim); };
      CHECK(gradcheck(along, {m}, opts));
      CHECK(gradgradcheck(along, {m}, opts));
    }
  }
}

TEST_CASE("reduce: prod gradient with zeros on a large slice (first-order path)") {
  // 3000 elements: the exact [n, n] path would need 9e6 elements, so the masked formula runs.
  std::vector<double> v(3000, 1.0);
  v[7] = 2.0;
  v[10] = 0.0;
  Tensor x = tensor(v, {3000}, {.dtype = float64, .requires_grad = true});
  auto g = values(grad_of(x, [](const Tensor& t) { return prod(t); }));
  CHECK(g[10] == 2.0);
  CHECK(g[7] == 0.0);
  CHECK(g[0] == 0.0);
  v[20] = 0.0;
  Tensor x2 = tensor(v, {3, 1000}, {.dtype = float64, .requires_grad = true});
  auto g2 = values(grad_of(x2, [](const Tensor& t) { return prod(t, 1); }));
  CHECK(g2[10] == 0.0);  // two zeros in row 0
  CHECK(g2[20] == 0.0);
  CHECK(g2[1000] == 1.0);  // row 1 has none
}

TEST_CASE("reduce: max/min values, ties, NaN, int64") {
  Tensor x = tensor({{1, 7, 3}, {7, 2, -4}});
  CHECK(max(x).item<double>() == 7.0);
  CHECK(min(x).item<double>() == -4.0);
  check_close(max(x, 1), {7, 7});
  check_close(min(x, 0), {1, 2, -4});
  CHECK(max(x, -1, true).shape() == Shape{2, 1});
  CHECK(min(x, 0, true).shape() == Shape{1, 3});

  Tensor xi = tensor(std::vector<std::int64_t>{3, -9, 5}, {3});
  CHECK(max(xi).dtype() == int64);
  CHECK(max(xi).item<std::int64_t>() == 5);
  CHECK(min(xi, 0).item<std::int64_t>() == -9);

  // NaN propagates (PyTorch), and argmax points at it.
  Tensor xn = tensor({1.0, kNaN, 3.0});
  CHECK(std::isnan(max(xn).item<double>()));
  CHECK(std::isnan(min(xn).item<double>()));
  CHECK(std::isnan(max(xn, 0).item<double>()));
  CHECK(argmax(xn).item<std::int64_t>() == 1);
  CHECK(argmin(xn, 0).item<std::int64_t>() == 1);

  // 0-d
  Tensor s = scalar_tensor(-2.5);
  CHECK(max(s).item<double>() == -2.5);
  CHECK(max(s, 0).item<double>() == -2.5);
  CHECK(min(s, -1, true).shape() == Shape{});
  // An empty non-reduced dim is fine.
  CHECK(max(zeros({0, 3}), 1).shape() == Shape{0});
}

TEST_CASE("reduce: max/min gradients: ties split for max(), first index for max(dim)") {
  check_close(grad_of(leaf({1, 3, 3}), [](const Tensor& t) { return max(t); }), {0, 0.5, 0.5});
  check_close(grad_of(leaf({2, 2}), [](const Tensor& t) { return max(t); }), {0.5, 0.5});
  check_close(grad_of(leaf({-1, 4, -1}), [](const Tensor& t) { return min(t); }), {0.5, 0, 0.5});
  Tensor tie = tensor({{3, 3}}, {.dtype = float64, .requires_grad = true});
  check_close(grad_of(tie, [](const Tensor& t) { return max(t, 1); }), {1, 0});
  check_close(grad_of(tie, [](const Tensor& t) { return min(t, -1, true); }), {1, 0});
  // [[1, 5], [4, 2]] max over dim 0 -> rows [1, 0]; weighted by dy = [10, 20].
  Tensor x = tensor({{1, 5}, {4, 2}}, {.dtype = float64, .requires_grad = true});
  Tensor y = max(x, 0);
  Tensor gx = grad({y}, {x}, {tensor({10.0, 20.0}, {.dtype = float64})})[0];
  check_close(gx, {0, 20, 10, 0});
}

TEST_CASE("reduce: max/min over dim double backward routes like a gather") {
  Tensor x = tensor({{1, 5, 2}, {4, 0, 3}}, {.dtype = float64, .requires_grad = true});
  Tensor v = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor gx = grad({max(x, 1)}, {x}, {v}, {.create_graph = true})[0];
  check_close(gx, {0, 1, 0, 2, 0, 0});
  // d(sum(gx * w))/dv = w at the argmax of each row.
  Tensor w = tensor({{1, 10, 100}, {1000, 1e4, 1e5}}, {.dtype = float64});
  Tensor gv = grad({sum(mul(gx, w))}, {v})[0];
  check_close(gv, {10, 1000});
}

TEST_CASE("reduce: max/min/argmax errors over empty inputs") {
  CHECK_THROWS_WITH_AS(max(zeros({0})), doctest::Contains("max(): Expected reduction dim"), Error);
  CHECK_THROWS_WITH_AS(min(zeros({2, 0})), doctest::Contains("[2, 0]"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({0, 3}), 0), doctest::Contains("max(): Expected reduction dim 0 to have non-zero size"),
                       Error);
  CHECK_THROWS_WITH_AS(min(zeros({3, 0}), -1), doctest::Contains("[3, 0]"), Error);
  CHECK_THROWS_WITH_AS(argmax(zeros({0})), doctest::Contains("argmax"), Error);
  CHECK_THROWS_WITH_AS(argmin(zeros({2, 0}), 1), doctest::Contains("argmin"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({2, 3}), 2), doctest::Contains("max"), Error);
}

TEST_CASE("reduce: argmax/argmin all and over a dim, first occurrence") {
  Tensor x = tensor({{1, 5, 2}, {5, 0, 0}});
  Tensor a = argmax(x);
  CHECK(a.dtype() == int64);
  CHECK(a.dim() == 0);
  CHECK(a.item<std::int64_t>() == 1);
  CHECK(argmin(x).item<std::int64_t>() == 4);
  Tensor am = argmax(x, 0);
  CHECK(am.dtype() == int64);
  CHECK(am.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0});
  CHECK(argmin(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
  CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
  CHECK(argmax(x, -1, true).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0});
  // 1-D (xtensor's own argmax over a 1-D axis returns the argmin; ours does not).
  CHECK(argmax(tensor({3.0, 9.0, 1.0}), 0).item<std::int64_t>() == 1);
  // int64 and 0-d
  CHECK(argmax(tensor(std::vector<std::int64_t>{4, 8, 8}, {3})).item<std::int64_t>() == 1);
  CHECK(argmax(scalar_tensor(2.0)).item<std::int64_t>() == 0);
  CHECK(argmin(scalar_tensor(2.0), -1).item<std::int64_t>() == 0);
  // Middle dim of a 3-D tensor.
  Tensor t = arange(24.0).reshape({2, 3, 4});
  CHECK(argmax(t, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>(8, 2));
  CHECK(argmin(t, 1, true).shape() == Shape{2, 1, 4});
}

TEST_CASE("reduce: var and std known values") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0});
  CHECK(var(x).item<double>() == doctest::Approx(1.6666667));
  CHECK(var(x, {}, 0).item<double>() == doctest::Approx(1.25));
  CHECK(xgrad::std(x).item<double>() == doctest::Approx(1.2909944));
  CHECK(xgrad::std(x, {}, 0).item<double>() == doctest::Approx(1.1180340));
  Tensor m = tensor({{1, 2, 3}, {4, 6, 8}});
  check_close(var(m, {1}), {1, 4});
  check_close(var(m, {0}), {4.5, 8, 12.5});
  check_close(xgrad::std(m, {-1}, 1, true), {1, 2});
  CHECK(xgrad::std(m, {-1}, 1, true).shape() == Shape{2, 1});
  Tensor t = arange(24.0).reshape({2, 3, 4});
  CHECK(var(t, {0, 2}, 1, true).shape() == Shape{1, 3, 1});
  // var over dims 0 and 2 of arange: each slice is {4j + k, 12 + 4j + k}, var = 298 / 7.
  check_close(var(t, {0, 2}), {298.0 / 7, 298.0 / 7, 298.0 / 7}, 1e-6);
  CHECK(var(t, {2, -3}).shape() == Shape{3});
  // Large offset: two passes keep the answer exact where E[x^2] - E[x]^2 would cancel.
  CHECK(var(tensor({1e8 + 1, 1e8 + 2, 1e8 + 3}, {.dtype = float64})).item<double>() == doctest::Approx(1.0));
  // Too few elements: NaN (PyTorch), and an empty slice gives NaN too.
  CHECK(std::isnan(var(scalar_tensor(1.0)).item<double>()));
  CHECK(var(scalar_tensor(1.0), {}, 0).item<double>() == 0.0);
  CHECK(std::isnan(var(zeros({0, 2}), {0}).to_vector<double>()[0]));
  CHECK(std::isinf(var(tensor({1.0, 2.0}), {}, 3).item<double>()));
}

TEST_CASE("reduce: var/std gradients") {
  // var [1,2,3,4]: dx = 2 (x - 2.5) / 3
  check_close(grad_of(leaf({1, 2, 3, 4}), [](const Tensor& t) { return var(t); }), {-1, -1.0 / 3, 1.0 / 3, 1});
  // std correction 0: dx = (x - mean) / (N std) = (x - 2.5) / (4 * 1.118034)
  const double s = std::sqrt(1.25);
  check_close(grad_of(leaf({1, 2, 3, 4}), [](const Tensor& t) { return xgrad::std(t, {}, 0); }),
              {-1.5 / (4 * s), -0.5 / (4 * s), 0.5 / (4 * s), 1.5 / (4 * s)});
}

TEST_CASE("reduce: logsumexp is stable and matches PyTorch") {
  Tensor big = tensor({1e4, 1e4});
  CHECK(logsumexp(big, {0}).item<double>() == doctest::Approx(1e4 + std::log(2.0)).epsilon(1e-7));
  CHECK(logsumexp(tensor({-1e4, -1e4}, {.dtype = float64}), {0}).item<double>() ==
        doctest::Approx(-1e4 + std::log(2.0)));
  Tensor x = tensor({{1, 2, 3}, {0, 0, 0}}, {.dtype = float64});
  check_close(logsumexp(x, {1}), {3.4076059644443806, std::log(3.0)});
  check_close(logsumexp(x, {-2}), {1.3132616875182228, 2.1269280110429727, 3.048587351573742});
  CHECK(logsumexp(x, {}).item<double>() == doctest::Approx(3.5023371));
  CHECK(logsumexp(x, {1}, true).shape() == Shape{2, 1});
  // Infinities: -inf slices give -inf, +inf gives +inf, not NaN.
  check_close(logsumexp(tensor({{-kInf, -kInf}, {kInf, 1.0}}, {.dtype = float64}), {1}), {-kInf, kInf});
  // Empty slices give -inf; an empty kept dim gives an empty result.
  check_close(logsumexp(zeros({2, 0}), {1}), {-kInf, -kInf});
  CHECK(logsumexp(zeros({0, 3}), {1}).shape() == Shape{0});
  CHECK(logsumexp(scalar_tensor(2.0), {0}).item<double>() == doctest::Approx(2.0));
  // gradient = softmax
  Tensor g = grad_of(leaf({1e4, 1e4}), [](const Tensor& t) { return logsumexp(t, {0}); });
  check_close(g, {0.5, 0.5});
  g = grad_of(leaf({0, std::log(3.0)}), [](const Tensor& t) { return logsumexp(t, {0}); });
  check_close(g, {0.25, 0.75});
}

TEST_CASE("reduce: float-only reductions reject int64 with the op name") {
  Tensor xi = tensor(std::vector<std::int64_t>{1, 2, 3}, {3});
  CHECK_THROWS_WITH_AS(mean(xi), doctest::Contains("mean"), Error);
  CHECK_THROWS_WITH_AS(var(xi), doctest::Contains("var: expects a floating tensor, got int64"), Error);
  CHECK_THROWS_WITH_AS(xgrad::std(xi), doctest::Contains("std: expects a floating tensor, got int64"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(xi, {0}), doctest::Contains("logsumexp: expects a floating tensor, got int64"),
                       Error);
  CHECK(sum(xi).item<std::int64_t>() == 6);
}

TEST_CASE("reduce: dim errors name the op") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(var(x, {0, -2}), doctest::Contains("var: dim 0 appears more than once"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, {2}), doctest::Contains("logsumexp: dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(xgrad::std(x, {-3}), doctest::Contains("std"), Error);
}

TEST_CASE("reduce: sum/mean over empty dims") {
  check_close(sum(zeros({0, 3}), {0}), {0, 0, 0});
  CHECK(sum(zeros({0, 3})).item<double>() == 0.0);
  CHECK(std::isnan(mean(zeros({0, 3})).item<double>()));
  CHECK(std::isnan(mean(zeros({0}), {0}).item<double>()));
  check_close(sum(ones({3, 0}), {1}), {0, 0, 0});
}

TEST_CASE("reduce: registry samples pass gradcheck and gradgradcheck") {
  for (const char* name : {"sum", "mean", "prod", "max", "min", "var", "std", "logsumexp"}) {
    const OpInfo* op = find_op(name);
    REQUIRE_MESSAGE(op != nullptr, name);
    for (const OpSample& s : op->samples(float64)) {
      INFO(name, " ", s.description);
      auto r = gradcheck(s.call, s.inputs);
      CHECK_MESSAGE(r.passed, r.report());
      if (op->supports_gradgrad) {
        auto rr = gradgradcheck(s.call, s.inputs);
        CHECK_MESSAGE(rr.passed, rr.report());
      }
    }
  }
}
