// Elementwise ops: known values (PyTorch results), broadcasting, type promotion, int64
// behaviour, comparisons, error messages, and hand-computed gradients of small cases.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::grad_of_sum;
using test::leaf;
using test::values;

void check_values(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  test::check_close(t, expected, tol);
}

const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("elementwise: smooth unary functions give PyTorch's values") {
  auto x = tensor({-2.0, 0.0, 0.5, 3.0}, {.dtype = float64});
  check_values(sigmoid(x), {1 / (1 + std::exp(2.0)), 0.5, 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))});
  check_values(tanh(x), {std::tanh(-2.0), 0.0, std::tanh(0.5), std::tanh(3.0)});
  check_values(sin(x), {std::sin(-2.0), 0.0, std::sin(0.5), std::sin(3.0)});
  check_values(cos(x), {std::cos(-2.0), 1.0, std::cos(0.5), std::cos(3.0)});
  check_values(exp(x), {std::exp(-2.0), 1.0, std::exp(0.5), std::exp(3.0)});
  CHECK(softplus(scalar_tensor(0.0)).item<double>() == doctest::Approx(std::log(2.0)));
  check_values(softplus(x), {std::log1p(std::exp(-2.0)), std::log(2.0), std::log1p(std::exp(0.5)),
                             std::log1p(std::exp(3.0))});
  // beta and threshold: linear where beta x > threshold.
  check_values(softplus(x, 2.0, 1.0), {std::log1p(std::exp(-4.0)) / 2, std::log(2.0) / 2, std::log1p(std::exp(1.0)) / 2, 3.0});
  // Far beyond the default threshold the result is x itself (no overflow).
  CHECK(softplus(scalar_tensor(1000.0)).item<double>() == 1000.0);
  CHECK(sigmoid(scalar_tensor(-1000.0)).item<double>() == 0.0);
  CHECK(sigmoid(scalar_tensor(1000.0)).item<double>() == 1.0);

  auto p = tensor({0.25, 1.0, 4.0}, {.dtype = float64});
  check_values(log(p), {std::log(0.25), 0.0, std::log(4.0)});
  check_values(sqrt(p), {0.5, 1.0, 2.0});
  CHECK(std::isnan(log(scalar_tensor(-1.0)).item<double>()));
  CHECK(log(scalar_tensor(0.0)).item<double>() == -inf);
}

TEST_CASE("elementwise: piecewise activations and their gradients") {
  auto x = leaf({-2.0, -0.5, 0.5, 3.0});
  check_values(relu(x), {0, 0, 0.5, 3});
  check_values(grad_of_sum(relu(x), x), {0, 0, 1, 1});
  check_values(leaky_relu(x), {-0.02, -0.005, 0.5, 3});
  check_values(leaky_relu(x, 0.2), {-0.4, -0.1, 0.5, 3});
  check_values(grad_of_sum(leaky_relu(x, 0.2), x), {0.2, 0.2, 1, 1});
  check_values(elu(x), {std::expm1(-2.0), std::expm1(-0.5), 0.5, 3});
  check_values(elu(x, 0.5), {0.5 * std::expm1(-2.0), 0.5 * std::expm1(-0.5), 0.5, 3});
  // d/dx alpha (e^x - 1) = alpha e^x
  check_values(grad_of_sum(elu(x, 0.5), x), {0.5 * std::exp(-2.0), 0.5 * std::exp(-0.5), 1, 1});
  check_values(abs(x), {2, 0.5, 0.5, 3});
  check_values(grad_of_sum(abs(x), x), {-1, -1, 1, 1});
  // PyTorch: relu'(0) = 0, abs'(0) = 0.
  auto z = leaf({0.0});
  check_values(grad_of_sum(relu(z), z), {0});
  check_values(grad_of_sum(abs(z), z), {0});
  // softplus: sigmoid(beta x) below the threshold, 1 above it.
  auto s = leaf({-1.0, 0.0, 2.0});
  check_values(grad_of_sum(softplus(s, 2.0, 1.0), s), {1 / (1 + std::exp(2.0)), 0.5, 1.0});
}

TEST_CASE("elementwise: sign is 0 at 0 and NaN, with a zero gradient") {
  check_values(sign(tensor({-3.0, -0.0, 0.0, 2.5, nan_value}, {.dtype = float64})), {-1, 0, 0, 1, 0});
  check_values(sign(tensor(std::vector<std::int64_t>{-4, 0, 7}, {3})), {-1, 0, 1});
  auto x = leaf({-1.0, 2.0});
  auto y = sign(x);
  CHECK(y.requires_grad());
  check_values(grad_of_sum(y * 3.0, x), {0, 0});
}

TEST_CASE("elementwise: clamp values, gradient mask and errors") {
  auto x = leaf({-2.0, -0.5, 0.0, 0.5, 2.0});
  check_values(clamp(x, -1.0, 1.0), {-1, -0.5, 0, 0.5, 1});
  check_values(clamp(x, 0.0, std::nullopt), {0, 0, 0, 0.5, 2});
  check_values(clamp(x, std::nullopt, 0.0), {-2, -0.5, 0, 0, 0});
  // PyTorch: gradient 1 inside [min, max] including the bounds, 0 outside.
  check_values(grad_of_sum(clamp(x, -0.5, 0.5), x), {0, 1, 1, 1, 0});
  // min > max gives max everywhere (min(max(x, min), max)).
  check_values(clamp(x, 1.0, -1.0), {-1, -1, -1, -1, -1});
  check_values(clamp(tensor({nan_value, 5.0}, {.dtype = float64}), 0.0, 1.0), {nan_value, 1});
  CHECK_THROWS_WITH_AS(clamp(x, std::nullopt, std::nullopt), doctest::Contains("clamp: at least one of min or max"),
                       Error);
  // int64: integral bounds keep int64, a fractional bound gives float32.
  auto i = tensor(std::vector<std::int64_t>{-5, 0, 5}, {3});
  auto ci = clamp(i, -1.0, 2.0);
  CHECK(ci.dtype() == int64);
  CHECK(ci.to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 2});
  CHECK(clamp(i, 0.0, std::nullopt).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 5});
  auto cf = clamp(i, -0.5, 2.5);
  CHECK(cf.dtype() == float32);
  check_values(cf, {-0.5, 0, 2.5});
}

TEST_CASE("elementwise: pow with a scalar exponent") {
  auto x = leaf({-1.5, 0.0, 2.0, 3.0});
  check_values(pow(x, 2.0), {2.25, 0, 4, 9});
  check_values(grad_of_sum(pow(x, 2.0), x), {-3, 0, 4, 6});  // 2x
  check_values(grad_of_sum(pow(x, 3.0), x), {6.75, 0, 12, 27});  // 3x^2
  check_values(pow(x, 0.0), {1, 1, 1, 1});
  check_values(grad_of_sum(pow(x, 0.0), x), {0, 0, 0, 0});  // PyTorch: zeros, even at 0
  auto p = leaf({0.25, 4.0});
  check_values(pow(p, 0.5), {0.5, 2});
  check_values(grad_of_sum(pow(p, 0.5), p), {1.0, 0.25});  // 0.5 / sqrt(x)
  check_values(pow(p, -1.0), {4, 0.25});
  CHECK(std::isnan(pow(scalar_tensor(-8.0, {.dtype = float64}), 1.0 / 3).item<double>()));
  // int64 base: integral exponent stays int64, fractional promotes, negative integral raises.
  auto i = tensor(std::vector<std::int64_t>{2, 3, -4}, {3});
  auto sq = pow(i, 3.0);
  CHECK(sq.dtype() == int64);
  CHECK(sq.to_vector<std::int64_t>() == std::vector<std::int64_t>{8, 27, -64});
  CHECK(pow(i, 0.5).dtype() == float32);
  CHECK_THROWS_WITH_AS(pow(i, -1.0), doctest::Contains("pow: integers to negative integer powers"), Error);
}

TEST_CASE("elementwise: pow of two tensors, values and gradients") {
  auto a = leaf({0.5, 2.0, 3.0});
  auto b = leaf({2.0, -1.0, 0.5});
  auto y = pow(a, b);
  check_values(y, {0.25, 0.5, std::sqrt(3.0)});
  auto g = grad({sum(y)}, {a, b});
  check_values(g[0], {2 * 0.5, -1 * std::pow(2.0, -2.0), 0.5 * std::pow(3.0, -0.5)});  // b a^(b-1)
  check_values(g[1], {0.25 * std::log(0.5), 0.5 * std::log(2.0), std::sqrt(3.0) * std::log(3.0)});  // y log a
  // Broadcasting base [3,1] with exponent [2]: gradients are summed back.
  auto base = tensor(std::vector<double>{1, 2, 3}, {3, 1}, {.dtype = float64, .requires_grad = true});
  auto e = leaf({1.0, 2.0});
  auto yb = pow(base, e);
  CHECK(yb.shape() == Shape{3, 2});
  check_values(yb, {1, 1, 2, 4, 3, 9});
  auto gb = grad({sum(yb)}, {base, e});
  check_values(gb[0], {1 + 2, 1 + 4, 1 + 6});  // 1 + 2a
  CHECK(gb[0].shape() == Shape{3, 1});
  check_values(gb[1], {0 + 2 * std::log(2.0) + 3 * std::log(3.0), 0 + 4 * std::log(2.0) + 9 * std::log(3.0)});
  // 0^0 = 1 with finite gradients (PyTorch masks both terms).
  auto a0 = leaf({0.0});
  auto b0 = leaf({0.0});
  auto g0 = grad({sum(pow(a0, b0))}, {a0, b0});
  check_values(g0[0], {0});
  check_values(g0[1], {0});
  // Type promotion: int64 base with a float exponent computes in float.
  auto ib = tensor(std::vector<std::int64_t>{4, 9}, {2});
  auto r = pow(ib, tensor({0.5, 0.5}));
  CHECK(r.dtype() == float32);
  check_values(r, {2, 3});
  auto ii = pow(ib, tensor(std::vector<std::int64_t>{2, 0}, {2}));
  CHECK(ii.dtype() == int64);
  CHECK(ii.to_vector<std::int64_t>() == std::vector<std::int64_t>{16, 1});
  CHECK_THROWS_WITH_AS(pow(ib, tensor(std::vector<std::int64_t>{1, -1}, {2})),
                       doctest::Contains("pow: integers to negative integer powers"), Error);
}

TEST_CASE("elementwise: maximum and minimum, ties split the gradient evenly") {
  auto a = leaf({1.0, 2.0, 3.0});
  auto b = leaf({3.0, 2.0, 1.0});
  check_values(maximum(a, b), {3, 2, 3});
  check_values(minimum(a, b), {1, 2, 1});
  auto gmax = grad({sum(maximum(a, b))}, {a, b});
  check_values(gmax[0], {0, 0.5, 1});
  check_values(gmax[1], {1, 0.5, 0});
  auto gmin = grad({sum(minimum(a, b))}, {a, b});
  check_values(gmin[0], {1, 0.5, 0});
  check_values(gmin[1], {0, 0.5, 1});
  // Broadcasting against a 0-d tensor: the scalar's gradient sums its share.
  auto s = tensor({0.0}, {.dtype = float64}).reshape({});
  s.requires_grad_();
  auto x = leaf({-1.0, 0.0, 2.0});
  auto gr = grad({sum(maximum(x, s))}, {x, s});
  check_values(gr[0], {0, 0.5, 1});
  check_values(gr[1], {1 + 0.5});
  CHECK(gr[1].dim() == 0);
  // NaN propagates from either side, as in PyTorch.
  auto n = tensor({nan_value, 1.0, 2.0}, {.dtype = float64});
  auto m = tensor({0.0, nan_value, 1.0}, {.dtype = float64});
  check_values(maximum(n, m), {nan_value, nan_value, 2});
  check_values(minimum(n, m), {nan_value, nan_value, 1});
  check_values(maximum(scalar_tensor(nan_value, {.dtype = float64}), m), {nan_value, nan_value, nan_value});
  // int64 stays int64; mixed int64/float promotes.
  auto i = tensor(std::vector<std::int64_t>{1, 5}, {2});
  auto j = tensor(std::vector<std::int64_t>{3, 2}, {2});
  CHECK(maximum(i, j).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 5});
  CHECK(minimum(i, j).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
  CHECK(maximum(i, tensor({2.5, 2.5})).dtype() == float32);
}

TEST_CASE("elementwise: where routes values and gradients, with broadcasting") {
  auto cond = tensor(std::vector<std::int64_t>{1, 0, 1}, {3});
  auto a = leaf({1.0, 2.0, 3.0});
  auto b = leaf({10.0, 20.0, 30.0});
  auto y = where(cond, a, b);
  check_values(y, {1, 20, 3});
  auto g = grad({sum(y * tensor({1.0, 2.0, 3.0}, {.dtype = float64}))}, {a, b});
  check_values(g[0], {1, 0, 3});
  check_values(g[1], {0, 2, 0});
  // Condition [2,1] (float: nonzero is true, NaN too), a [3], b 0-d -> [2,3].
  auto c2 = tensor(std::vector<double>{0.5, 0.0}, {2, 1});
  auto a2 = leaf({1.0, 2.0, 3.0});
  auto b2 = scalar_tensor(-1.0, {.dtype = float64, .requires_grad = true});
  auto y2 = where(c2, a2, b2);
  CHECK(y2.shape() == Shape{2, 3});
  check_values(y2, {1, 2, 3, -1, -1, -1});
  auto g2 = grad({sum(y2)}, {a2, b2});
  check_values(g2[0], {1, 1, 1});
  check_values(g2[1], {3});
  CHECK(g2[1].dim() == 0);
  check_values(where(tensor({nan_value}, {.dtype = float64}), tensor({1.0}), tensor({2.0})), {1});
  // A condition that requires grad is still never differentiated.
  auto soft = leaf({1.0, 0.0, 1.0});
  auto ys = where(soft, a, b);
  CHECK(ys.requires_grad());
  auto gs = grad({ys}, {a, b, soft}, {ones_like(ys)}, {.allow_unused = true});
  check_values(gs[0], {1, 0, 1});
  check_values(gs[1], {0, 1, 0});
  CHECK(!gs[2].defined());
  // Dtypes: result_type(a, b); int64 values work.
  auto wi = where(cond, tensor(std::vector<std::int64_t>{1, 2, 3}, {3}), tensor(std::vector<std::int64_t>{7, 8, 9}, {3}));
  CHECK(wi.dtype() == int64);
  CHECK(wi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 8, 3});
  CHECK(where(cond, tensor(std::vector<std::int64_t>{1, 2, 3}, {3}), tensor({0.5f, 0.5f, 0.5f})).dtype() == float32);
  CHECK_THROWS_WITH_AS(where(ones({2}), ones({3}), ones({3})), doctest::Contains("where"), Error);
  CHECK_THROWS_WITH_AS(where(Tensor(), ones({3}), ones({3})), doctest::Contains("where"), Error);
}

TEST_CASE("elementwise: broadcasting shapes, results and error messages") {
  auto a = tensor(std::vector<double>{1, 2, 3}, {3, 1});
  auto b = tensor({10.0, 20.0, 30.0, 40.0});         // [4]
  auto s = add(a, b);
  CHECK(s.shape() == Shape{3, 4});
  check_values(s, {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  CHECK(mul(ones({2, 1, 3}), ones({4, 1})).shape() == Shape{2, 4, 3});
  CHECK(add(ones({0, 3}), ones({3})).shape() == Shape{0, 3});
  CHECK(maximum(ones({}), ones({2, 2})).shape() == Shape{2, 2});
  CHECK(sub(scalar_tensor(1.0), scalar_tensor(3.0)).dim() == 0);
  CHECK_THROWS_WITH_AS(add(ones({2, 3}), ones({4})), doctest::Contains("add"), Error);
  CHECK_THROWS_WITH_AS(add(ones({2, 3}), ones({4})), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(add(ones({2, 3}), ones({4})), doctest::Contains("[4]"), Error);
  CHECK_THROWS_WITH_AS(maximum(ones({2}), ones({3})), doctest::Contains("maximum"), Error);
  CHECK_THROWS_WITH_AS(pow(ones({2}), ones({3})), doctest::Contains("pow"), Error);
  CHECK_THROWS_WITH_AS(lt(ones({2}), ones({3})), doctest::Contains("lt"), Error);
  // Gradients of a broadcast product sum over the broadcast dims.
  auto x = tensor(std::vector<double>{1, 2}, {2, 1}, {.dtype = float64, .requires_grad = true});
  auto w = leaf({1.0, 2.0, 3.0});                                              // [3]
  auto g = grad({sum(x * w)}, {x, w});
  CHECK(g[0].shape() == Shape{2, 1});
  check_values(g[0], {6, 6});
  check_values(g[1], {3, 3, 3});
}

TEST_CASE("elementwise: type promotion follows PyTorch") {
  auto f32 = ones({2});
  auto f64 = ones({2}, {.dtype = float64});
  auto i64 = ones({2}, {.dtype = int64});
  CHECK(add(f32, f64).dtype() == float64);
  CHECK(add(i64, f32).dtype() == float32);
  CHECK(add(i64, i64).dtype() == int64);
  // A 0-d tensor of the same kind does not promote a tensor with dims.
  CHECK(add(f32, scalar_tensor(1.0, {.dtype = float64})).dtype() == float32);
  CHECK(add(i64, scalar_tensor(1.0, {.dtype = float64})).dtype() == float64);
  CHECK(div(i64, i64).dtype() == float32);  // true division
  CHECK((i64 * 2.0).dtype() == int64);
  CHECK((i64 * 2.5).dtype() == float32);
}

TEST_CASE("elementwise: int64 arithmetic works, float-only math raises") {
  auto a = tensor(std::vector<std::int64_t>{-3, 0, 4}, {3});
  auto b = tensor(std::vector<std::int64_t>{2, 5, -1}, {3});
  CHECK(add(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 5, 3});
  CHECK(sub(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{-5, -5, 5});
  CHECK(mul(a, b).to_vector<std::int64_t>() == std::vector<std::int64_t>{-6, 0, -4});
  CHECK(neg(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, -4});
  CHECK(abs(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, 4});
  CHECK(relu(a).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 4});
  CHECK(abs(a).dtype() == int64);
  // Large values survive exactly (no round trip through float).
  auto big = tensor(std::vector<std::int64_t>{(std::int64_t{1} << 60) + 1}, {1});
  CHECK(add(big, big).to_vector<std::int64_t>()[0] == (std::int64_t{1} << 61) + 2);
  for (auto fn : {+[](const Tensor& x) { return exp(x); }, +[](const Tensor& x) { return log(x); },
                  +[](const Tensor& x) { return sqrt(x); }, +[](const Tensor& x) { return sin(x); },
                  +[](const Tensor& x) { return cos(x); }, +[](const Tensor& x) { return tanh(x); },
                  +[](const Tensor& x) { return sigmoid(x); }, +[](const Tensor& x) { return softplus(x); },
                  +[](const Tensor& x) { return elu(x); }, +[](const Tensor& x) { return leaky_relu(x); }}) {
    CHECK_THROWS_WITH_AS(fn(a), doctest::Contains("expects a floating tensor"), Error);
    CHECK_THROWS_WITH_AS(fn(a), doctest::Contains("int64"), Error);
  }
  CHECK_THROWS_WITH_AS(log(a), doctest::Contains("log:"), Error);
  CHECK_THROWS_WITH_AS(sigmoid(a), doctest::Contains("sigmoid:"), Error);
}

TEST_CASE("elementwise: comparisons give bool masks with broadcasting") {
  auto a = tensor({1.0, 2.0, 3.0});
  auto b = tensor({3.0, 2.0, 1.0});
  auto as_ints = [](const Tensor& t) {
    CHECK(t.dtype() == boolean);  // PyTorch's dtype for a comparison
    return t.to_vector<std::int64_t>();
  };
  using V = std::vector<std::int64_t>;
  CHECK(as_ints(eq(a, b)) == V{0, 1, 0});
  CHECK(as_ints(ne(a, b)) == V{1, 0, 1});
  CHECK(as_ints(lt(a, b)) == V{1, 0, 0});
  CHECK(as_ints(le(a, b)) == V{1, 1, 0});
  CHECK(as_ints(gt(a, b)) == V{0, 0, 1});
  CHECK(as_ints(ge(a, b)) == V{0, 1, 1});
  CHECK(as_ints(a < b) == V{1, 0, 0});
  CHECK(as_ints(a <= b) == V{1, 1, 0});
  CHECK(as_ints(a > b) == V{0, 0, 1});
  CHECK(as_ints(a >= b) == V{0, 1, 1});
  CHECK(as_ints(a > 1.5) == V{0, 1, 1});
  CHECK(as_ints(a >= 2.0) == V{0, 1, 1});
  CHECK(as_ints(a < 2.0) == V{1, 0, 0});
  CHECK(as_ints(a <= 2.0) == V{1, 1, 0});
  // [3,1] vs [2]: a [3,2] mask.
  auto col = tensor(std::vector<double>{1, 2, 3}, {3, 1});
  auto m = lt(col, tensor({1.5, 2.5}));
  CHECK(m.shape() == Shape{3, 2});
  CHECK(as_ints(m) == V{1, 1, 0, 1, 0, 0});
  // NaN compares false except for ne.
  auto n = tensor({nan_value});
  CHECK(as_ints(eq(n, n)) == V{0});
  CHECK(as_ints(ne(n, n)) == V{1});
  CHECK(as_ints(lt(n, tensor({0.0}))) == V{0});
  // Mixed dtypes compare after promotion: int64 3 vs float 2.5, and an int64 tensor vs 1.5.
  auto i = tensor(std::vector<std::int64_t>{1, 2, 3}, {3});
  CHECK(as_ints(gt(i, tensor({2.5, 2.5, 2.5}))) == V{0, 0, 1});
  CHECK(as_ints(i > 1.5) == V{0, 1, 1});
  CHECK(as_ints(eq(i, i)) == V{1, 1, 1});
  // Masks carry no history, even from inputs that require grad.
  auto x = leaf({1.0, -1.0});
  CHECK(!gt(x, zeros({2}, {.dtype = float64})).requires_grad());
  CHECK(eq(ones({0, 2}), ones({2})).shape() == Shape{0, 2});
}

TEST_CASE("elementwise: allclose and equal") {
  auto a = tensor({1.0, 2.0, 3.0}, {.dtype = float64});
  CHECK(allclose(a, a));
  CHECK(allclose(a, a + 1e-9));
  CHECK_FALSE(allclose(a, a + 1e-3));
  CHECK(allclose(a, a + 1e-3, 1e-3));          // rtol * |b| covers it
  CHECK(allclose(a, a + 1e-3, 0.0, 2e-3));     // atol covers it
  CHECK(allclose(a, scalar_tensor(2.0, {.dtype = float64}), 0.0, 1.0));  // broadcasting
  CHECK_FALSE(allclose(tensor({nan_value}), tensor({nan_value})));
  CHECK(allclose(tensor({inf}), tensor({inf})));
  CHECK_FALSE(allclose(tensor({inf}), tensor({-inf})));
  CHECK(allclose(tensor(std::vector<std::int64_t>{1, 2}, {2}), tensor({1.0, 2.0})));
  CHECK_THROWS_WITH_AS(allclose(ones({2}), ones({3})), doctest::Contains("allclose"), Error);
  CHECK(equal(a, a));
  CHECK_FALSE(equal(a, a + 1e-12));
  CHECK_FALSE(equal(ones({2, 1}), ones({2})));  // shapes must match exactly
  CHECK(equal(ones({0, 2}), ones({0, 2})));
  CHECK(equal(tensor(std::vector<std::int64_t>{1, 2}, {2}), tensor({1.0, 2.0})));
  CHECK_FALSE(equal(tensor({nan_value}), tensor({nan_value})));
}

TEST_CASE("elementwise: unary gradients by hand, and second derivatives") {
  auto x = leaf({-0.7, 0.2, 1.3});
  const std::vector<double> xv = {-0.7, 0.2, 1.3};
  auto map = [&](auto f) {
    std::vector<double> out;
    for (double v : xv) out.push_back(f(v));
    return out;
  };
  check_values(grad_of_sum(sin(x), x), map([](double v) { return std::cos(v); }));
  check_values(grad_of_sum(cos(x), x), map([](double v) { return -std::sin(v); }));
  check_values(grad_of_sum(exp(x), x), map([](double v) { return std::exp(v); }));
  check_values(grad_of_sum(tanh(x), x), map([](double v) { return 1 - std::tanh(v) * std::tanh(v); }));
  check_values(grad_of_sum(sigmoid(x), x), map([](double v) {
                 double s = 1 / (1 + std::exp(-v));
                 return s * (1 - s);
               }));
  auto p = leaf({0.5, 2.0});
  check_values(grad_of_sum(log(p), p), {2.0, 0.5});
  check_values(grad_of_sum(sqrt(p), p), {0.5 / std::sqrt(0.5), 0.5 / std::sqrt(2.0)});

  // Second derivatives through create_graph.
  auto second = [&](const Tensor& input, auto f) {
    auto g = grad({sum(f(input))}, {input}, {}, {.create_graph = true})[0];
    return grad({sum(g)}, {input})[0];
  };
  // tanh'' = -2 tanh (1 - tanh^2)
  check_values(second(x, [](const Tensor& t) { return tanh(t); }), map([](double v) {
                 double t = std::tanh(v);
                 return -2 * t * (1 - t * t);
               }));
  // sigmoid'' = s (1 - s) (1 - 2 s)
  check_values(second(x, [](const Tensor& t) { return sigmoid(t); }), map([](double v) {
                 double s = 1 / (1 + std::exp(-v));
                 return s * (1 - s) * (1 - 2 * s);
               }));
  check_values(second(x, [](const Tensor& t) { return sin(t); }), map([](double v) { return -std::sin(v); }));
  check_values(second(x, [](const Tensor& t) { return pow(t, 3.0); }), map([](double v) { return 6 * v; }));
  check_values(second(p, [](const Tensor& t) { return log(t); }), {-4.0, -0.25});
  // elu'' = alpha e^x below 0, 0 above; softplus'' = s (1 - s) with s = sigmoid(x).
  check_values(second(x, [](const Tensor& t) { return elu(t, 2.0); }), {2 * std::exp(-0.7), 0, 0});
  check_values(second(x, [](const Tensor& t) { return softplus(t); }), map([](double v) {
                 double s = 1 / (1 + std::exp(-v));
                 return s * (1 - s);
               }));
  check_values(second(x, [](const Tensor& t) { return relu(t) * relu(t); }), {0, 2, 2});
}

TEST_CASE("elementwise: 0-d and size-0 inputs") {
  auto s = scalar_tensor(0.5, {.dtype = float64, .requires_grad = true});
  auto y = tanh(s);
  CHECK(y.dim() == 0);
  CHECK(grad({y}, {s})[0].item<double>() == doctest::Approx(1 - std::tanh(0.5) * std::tanh(0.5)));
  auto e = zeros({0, 3}, {.dtype = float64, .requires_grad = true});
  for (auto fn : {+[](const Tensor& x) { return sigmoid(x); }, +[](const Tensor& x) { return relu(x); },
                  +[](const Tensor& x) { return clamp(x, 0.0, 1.0); }, +[](const Tensor& x) { return pow(x, 2.0); }}) {
    auto out = fn(e);
    CHECK(out.shape() == Shape{0, 3});
    CHECK(grad({sum(out)}, {e})[0].shape() == Shape{0, 3});
  }
  CHECK(where(ones({0, 1}), ones({3}), ones({})).shape() == Shape{0, 3});
}

TEST_CASE("elementwise: large float32 inputs take the vectorised path with the right values") {
  // Odd sizes exercise the SIMD body and its scalar tail; broadcasting exercises the strided path.
  const std::int64_t n = 1001;
  auto x = linspace(-5, 5, n);
  auto xv = values(x);
  auto check_map = [&](const Tensor& y, auto f, double tol) {
    auto yv = values(y);
    REQUIRE(yv.size() == xv.size());
    double worst = 0;
    for (std::size_t i = 0; i < yv.size(); ++i) worst = std::max(worst, std::abs(yv[i] - f(xv[i])) / std::max(1.0, std::abs(f(xv[i]))));
    CHECK(worst < tol);
  };
  check_map(sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); }, 1e-6);
  check_map(tanh(x), [](double v) { return std::tanh(v); }, 1e-6);
  check_map(softplus(x), [](double v) { return std::log1p(std::exp(v)); }, 1e-6);
  check_map(elu(x), [](double v) { return v > 0 ? v : std::expm1(v); }, 1e-6);
  check_map(sin(x), [](double v) { return std::sin(v); }, 1e-6);
  check_map(clamp(x, -1.0, 2.0), [](double v) { return std::min(std::max(v, -1.0), 2.0); }, 1e-7);
  check_map(maximum(x, zeros({n})), [](double v) { return std::max(v, 0.0); }, 1e-7);
  check_map(where(x > 0.0, x, zeros({})), [](double v) { return v > 0 ? v : 0.0; }, 1e-7);
  auto rows = reshape(x.reshape({7, 143}), {7, 1, 143});
  auto bc = add(rows, tensor({0.0, 1.0}).reshape({2, 1}));
  CHECK(bc.shape() == Shape{7, 2, 143});
  auto bv = values(bc);
  CHECK(bv[143] == doctest::Approx(xv[0] + 1));
  CHECK(bv[2 * 143 + 5] == doctest::Approx(xv[143 + 5]));
}
