// Dropout: the kept fraction, the 1/(1-p) scaling, reproducibility under manual_seed, the
// identity in evaluation, the gradient through the same mask, and errors.
#include <doctest/doctest.h>

#include <cmath>

#include <xgrad/xgrad.h>

using namespace xgrad;

TEST_CASE("dropout: keeps about 1 - p of a large tensor, scaled by 1 / (1 - p)") {
  manual_seed(123);
  const std::int64_t n = 1 << 20;
  for (double p : {0.1, 0.5, 0.8}) {
    INFO("p = ", p);
    const Tensor x = full({n}, 2.0);
    const Tensor y = dropout(x, p);
    std::int64_t kept = 0;
    bool values_ok = true;
    const float scaled = static_cast<float>(2.0 / (1.0 - p));
    for (float v : y.to_vector<float>()) {
      if (v != 0.0f) {
        ++kept;
        values_ok = values_ok && std::abs(v - scaled) <= 1e-6f * scaled;
      }
    }
    CHECK(values_ok);
    // Binomial: 6 standard deviations of the kept fraction.
    const double fraction = static_cast<double>(kept) / static_cast<double>(n);
    CHECK(std::abs(fraction - (1.0 - p)) <= 6.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(n)));
  }
}

TEST_CASE("dropout: the same seed gives the same mask, another seed another") {
  const Tensor x = ones({1000}, {.dtype = float64});
  manual_seed(7);
  const Tensor a = dropout(x, 0.5);
  manual_seed(7);
  const Tensor b = dropout(x, 0.5);
  const Tensor c = dropout(x, 0.5);  // the generator moved on
  manual_seed(8);
  const Tensor d = dropout(x, 0.5);
  CHECK(equal(a, b));
  CHECK_FALSE(equal(a, c));
  CHECK_FALSE(equal(a, d));
  // The mask does not depend on the dtype.
  manual_seed(7);
  CHECK(equal(dropout(ones({1000}), 0.5).to(float64), a));
}

TEST_CASE("dropout: evaluation and p = 0 are the identity, p = 1 gives zeros") {
  Tensor x = uniform({3, 4}, -1, 1, {.dtype = float64, .requires_grad = true});
  CHECK(dropout(x, 0.5, false).is_same(x));
  CHECK(dropout(x, 0.0).is_same(x));
  Tensor z = dropout(x, 1.0);
  CHECK(equal(z, zeros({3, 4}, {.dtype = float64})));
  CHECK(equal(grad({sum(z)}, {x})[0], zeros({3, 4}, {.dtype = float64})));
}

TEST_CASE("dropout: the gradient is the same scaled mask, twice differentiable") {
  manual_seed(3);
  Tensor x = ones({50}, {.dtype = float64, .requires_grad = true});
  Tensor y = dropout(x, 0.4);
  CHECK(y.grad_fn_name() == "dropout");
  const Tensor g = grad({sum(y)}, {x})[0];
  CHECK(equal(g, y.detach()));  // x = 1: y is the scaled mask itself
  Tensor xs = uniform({4, 5}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto fn = [](const TensorList& in) {
    manual_seed(11);
    return dropout(in[0], 0.3);
  };
  auto r = gradgradcheck(fn, {xs});
  CHECK_MESSAGE(r.passed, r.report());
}

TEST_CASE("dropout: errors") {
  const Tensor x = ones({2, 3});
  CHECK_THROWS_WITH_AS(dropout(x, 1.5), doctest::Contains("dropout: probability has to be between 0 and 1, but got 1.5"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1), doctest::Contains("dropout: probability"), xgrad::Error);
  CHECK_THROWS_WITH_AS(dropout(ones({2}, {.dtype = int64}), 0.5), doctest::Contains("dropout: expects a floating input"),
                       xgrad::Error);
}
