// softmax / log_softmax: known values, the softmax Jacobian element by element, identities,
// stability for huge logits, every dim (strided too), 0-d and empty inputs, errors.
#include <doctest/doctest.h>

#include <cmath>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::check_same;
using test::values;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  test::check_close(t, expected, tol);
}

// softmax along `dim` with xgrad's small ops: exp(x - logsumexp(x)).
Tensor reference_softmax(const Tensor& x, std::int64_t dim) { return exp(sub(x, logsumexp(x, {dim}, true))); }

}  // namespace

TEST_CASE("softmax: known values in float32 and float64") {
  for (Dtype d : {float32, float64}) {
    Tensor x = tensor({1.0, 2.0, 3.0}, {.dtype = d});
    const double tol = d == float32 ? 1e-6 : 1e-14;
    check_close(softmax(x, 0), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219}, tol);
    check_close(log_softmax(x, -1), {-2.4076059644443806, -1.4076059644443804, -0.4076059644443803}, tol);
    CHECK(softmax(x, 0).dtype() == d);
  }
}

TEST_CASE("softmax: the Jacobian dy_i/dx_j = y_i (delta_ij - y_j), element by element") {
  Tensor x = tensor({0.3, -1.2, 2.0, 0.7}, {.dtype = float64, .requires_grad = true});
  Tensor y = softmax(x, 0);
  const auto yv = values(y);
  for (std::int64_t i = 0; i < 4; ++i) {
    // Row i of the Jacobian: the gradient of y with a one-hot upstream at i.
    std::vector<double> e(4, 0.0);
    e[static_cast<std::size_t>(i)] = 1.0;
    Tensor row = grad({y}, {x}, {tensor(e, {4}, {.dtype = float64})}, {.retain_graph = true})[0];
    const auto r = values(row);
    for (std::size_t j = 0; j < 4; ++j) {
      const double expected = yv[static_cast<std::size_t>(i)] * ((static_cast<std::size_t>(i) == j ? 1.0 : 0.0) - yv[j]);
      CHECK(r[j] == doctest::Approx(expected).epsilon(1e-14).scale(1.0));
    }
  }
}

TEST_CASE("softmax: log_softmax equals log(softmax) and rows sum to 1, every dim") {
  manual_seed(3);
  Tensor x = uniform({3, 4, 5}, -3.0, 3.0, {.dtype = float64});
  for (std::int64_t dim : {0, 1, 2, -1, -2, -3}) {
    INFO("dim ", dim);
    Tensor y = softmax(x, dim);
    check_same(log_softmax(x, dim), log(y), 1e-13);
    check_same(y, reference_softmax(x, dim), 1e-13);
    check_same(sum(y, {dim}), ones({dim == 0 || dim == -3 ? 4 : 3, dim == 2 || dim == -1 ? 4 : 5}, {.dtype = float64}),
               1e-14);
  }
}

TEST_CASE("softmax: long rows take the vector path with a tail (float32 against float64)") {
  manual_seed(4);
  for (std::int64_t c : {1, 7, 16, 17, 1000, 1003}) {
    INFO("classes ", c);
    Tensor x64 = uniform({3, c}, -5.0, 5.0, {.dtype = float64});
    Tensor x32 = x64.to(float32);
    check_same(softmax(x32, 1), softmax(x64, 1), 1e-5);
    check_same(log_softmax(x32, 1), log_softmax(x64, 1), 1e-5);
    check_same(softmax(x64, 1), reference_softmax(x64, 1), 1e-12);
    // Strided: the same values along dim 0 of the transpose.
    Tensor xt = transpose(x64, 0, 1).reshape({c, 3});
    check_same(transpose(softmax(xt, 0), 0, 1).reshape({3, c}), softmax(x64, 1), 1e-13);
  }
}

TEST_CASE("softmax: stable for logits of +-1e4") {
  for (Dtype d : {float32, float64}) {
    Tensor x = tensor({{1e4, 1e4 - 1.0, -1e4}, {-1e4, -1e4, -1e4 + 2.0}}, {.dtype = d, .requires_grad = true});
    Tensor y = softmax(x, 1);
    Tensor shifted = tensor({{0.0, -1.0, -2e4}, {-2.0, -2.0, 0.0}}, {.dtype = float64});
    const double tol = d == float32 ? 1e-6 : 1e-14;
    check_close(y, values(softmax(shifted, 1)), tol);
    Tensor ly = log_softmax(x, 1);
    const auto lv = values(ly);
    for (double v : lv) CHECK(std::isfinite(v));
    CHECK(lv[0] == doctest::Approx(-std::log1p(std::exp(-1.0))).epsilon(tol));
    CHECK(lv[5] == doctest::Approx(-std::log1p(2 * std::exp(-2.0))).epsilon(tol));
    Tensor g = grad({sum(mul(ly, tensor({{1.0, 0.0, 0.0}, {0.0, 0.0, 1.0}}, {.dtype = d})))}, {x})[0];
    for (double v : values(g)) CHECK(std::isfinite(v));
  }
}

TEST_CASE("softmax: 0-d and empty inputs as PyTorch") {
  Tensor s = scalar_tensor(3.5, {.dtype = float64, .requires_grad = true});
  Tensor y = softmax(s, 0);
  CHECK(y.dim() == 0);
  CHECK(y.item<double>() == 1.0);
  CHECK(log_softmax(s, -1).item<double>() == 0.0);
  CHECK(grad({y}, {s})[0].item<double>() == 0.0);
  Tensor e = zeros({0, 3});
  CHECK(softmax(e, 1).shape() == Shape{0, 3});
  CHECK(log_softmax(zeros({2, 0}), 1).shape() == Shape{2, 0});
}

TEST_CASE("softmax: gradients by hand, and double backward") {
  // log_softmax: dx = gy - softmax(x) * sum(gy)
  Tensor x = tensor({{0.5, -0.5, 1.0}}, {.dtype = float64, .requires_grad = true});
  Tensor gy = tensor({{1.0, 2.0, -1.0}}, {.dtype = float64});
  Tensor g = grad({log_softmax(x, 1)}, {x}, {gy})[0];
  const auto p = values(softmax(x.detach(), 1));
  check_close(g, {1.0 - 2 * p[0], 2.0 - 2 * p[1], -1.0 - 2 * p[2]}, 1e-14);
  // Hessian-vector product of sum(w * softmax(x)) agrees with gradcheck's numbers.
  Tensor w = tensor({{0.3, -0.2, 0.9}}, {.dtype = float64});
  auto f = [&](const TensorList& in) { return sum(mul(softmax(in[0], 1), w)); };
  CHECK(gradgradcheck(f, {x}).passed);
  auto h = [&](const TensorList& in) { return sum(mul(log_softmax(in[0], 0), w)); };
  CHECK(gradgradcheck(h, {x}).passed);
  CHECK(x.grad_fn_name().empty());
  CHECK(softmax(x, 1).grad_fn_name() == "softmax");
  CHECK(log_softmax(x, 1).grad_fn_name() == "log_softmax");
}

TEST_CASE("softmax: errors name the op and the rule") {
  Tensor i = tensor(std::vector<std::int64_t>{1, 2, 3}, {3});
  CHECK_THROWS_WITH_AS(softmax(i, 0), doctest::Contains("softmax: expects a floating tensor, got int64"), xgrad::Error);
  CHECK_THROWS_WITH_AS(log_softmax(i, 0), doctest::Contains("log_softmax"), xgrad::Error);
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax: dim 2 is out of range"), xgrad::Error);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("log_softmax: dim -3"), xgrad::Error);
  CHECK_THROWS_WITH_AS(softmax(scalar_tensor(1.0), 1), doctest::Contains("softmax: dim 1"), xgrad::Error);
}
