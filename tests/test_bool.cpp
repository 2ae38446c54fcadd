// The bool dtype: comparisons return masks, casts (nonzero is true), PyTorch's promotion with bool,
// where, logical ops and operators, any / all, masked_fill / masked_select, and clear errors from
// the ops that take no bool.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;

namespace {
using test::error_of;
using V = std::vector<double>;
using B = std::vector<bool>;
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor mask(std::initializer_list<double> v) { return tensor(v, {.dtype = boolean}); }
}  // namespace

TEST_CASE("bool: comparisons return one-byte masks that read back, print and convert") {
  CHECK(std::string(dtype_name(boolean)) == "bool");
  CHECK(dtype_size(boolean) == 1);
  CHECK_FALSE(is_floating(boolean));
  auto x = tensor({-1.0, 0.0, 2.0});
  const Tensor m = x > 0.0;
  CHECK(m.dtype() == boolean);
  CHECK(m.to_vector<bool>() == B{false, false, true});
  CHECK(m.at<bool>({2}));
  CHECK_FALSE(m.at<bool>({0}));
  CHECK(m.data<bool>()[2]);
  CHECK(eq(x, tensor({-1.0, 1.0, 2.0})).to_vector<bool>() == B{true, false, true});
  CHECK((x <= 0.0).to_vector<bool>() == B{true, true, false});
  CHECK(sum(x > 0.0).item<bool>());
  CHECK(to_string(m) == "tensor([False, False,  True], shape=[3], dtype=bool)");
  CHECK(to_string(gt(scalar_tensor(1), scalar_tensor(0))) == "tensor(True, shape=[], dtype=bool)");
  // item() without a type reads 0 / 1.
  CHECK(m[2].item() == 1.0);
  // Two bools compare as 0 / 1; NaN is unequal to everything.
  CHECK(lt(mask({0, 1}), mask({1, 1})).to_vector<bool>() == B{true, false});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(ne(tensor({nan}), tensor({nan})).to_vector<bool>() == B{true});
}

TEST_CASE("bool: casts to bool test nonzero (NaN included), casts from bool give 0 and 1") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto f = tensor({0.0, 0.5, -2.0, nan, -0.0, inf});
  CHECK(f.to(boolean).to_vector<bool>() == B{false, true, true, true, false, true});  // PyTorch: bool(0.5) is True
  CHECK(f.to(float64).to(boolean).to_vector<bool>() == B{false, true, true, true, false, true});
  CHECK(tensor(std::vector<std::int64_t>{0, 7, -1}, {3}).to(boolean).to_vector<bool>() == B{false, true, true});
  const Tensor m = mask({1, 0, 1});
  CHECK(m.to(float32).to_vector<float>() == std::vector<float>{1, 0, 1});
  CHECK(m.to(int64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
  CHECK(m.to(float64).dtype() == float64);
  // Factories and accessors follow the same rule.
  CHECK(full({2}, 0.25, {.dtype = boolean}).to_vector<bool>() == B{true, true});
  CHECK(tensor({3.0}).item<bool>());
  CHECK_FALSE(tensor({0.0}).item<bool>());
  CHECK(zeros({2}, {.dtype = boolean}).to_vector<bool>() == B{false, false});
  CHECK(m.clone().to_vector<bool>() == B{true, false, true});
}

TEST_CASE("bool: arithmetic promotes as PyTorch (bool < int64 < float32 < float64)") {
  const Tensor m = mask({1, 0, 1});
  const Tensor ints = tensor(std::vector<std::int64_t>{10, 20, 30}, {3});
  CHECK(promote_types(boolean, int64) == int64);
  CHECK(promote_types(boolean, float32) == float32);
  CHECK(result_type(m, ints) == int64);
  // A 0-d tensor of a higher kind promotes (bool tensor + 0-d float is float).
  CHECK(result_type(m, scalar_tensor(2.5)) == float32);
  CHECK(result_type(m, scalar_tensor(2.5, {.dtype = float64})) == float64);
  Tensor y = m + ints;
  CHECK(y.dtype() == int64);
  CHECK(values(y) == V{11, 20, 31});
  y = m * tensor({0.5, 0.5, 0.5});
  CHECK(y.dtype() == float32);
  CHECK(values(y) == V{0.5, 0, 0.5});
  // A whole scalar makes an int64 result, a fractional one float32 (torch: mask + 1, mask + 0.5).
  CHECK((m + 1.0).dtype() == int64);
  CHECK(values(m + 1.0) == V{2, 1, 2});
  CHECK((m * 0.5).dtype() == float32);
  // bool with bool stays bool: add is "or", mul "and", maximum "or", minimum "and".
  const Tensor n = mask({1, 1, 0});
  CHECK((m + n).dtype() == boolean);
  CHECK((m + n).to_vector<bool>() == B{true, true, true});
  CHECK((m * n).to_vector<bool>() == B{true, false, false});
  CHECK(maximum(m, n).to_vector<bool>() == B{true, true, true});
  CHECK(minimum(m, n).to_vector<bool>() == B{true, false, false});
  // True division makes float32; subtraction is refused as in PyTorch.
  CHECK((m / n).dtype() == float32);
  CHECK(values(m / n) == V{1, 0, std::numeric_limits<double>::infinity()});
  CHECK(error_of([&] { (void)(m - n); }).find("sub: subtracting two bool tensors") != std::string::npos);
  // pow: bool ** 2 counts in int64.
  CHECK(pow(m, 2.0).dtype() == int64);
  // Reductions: sum and prod count in int64; max keeps bool; mean is refused as in PyTorch.
  CHECK(m.sum().dtype() == int64);
  CHECK(m.sum().item<std::int64_t>() == 2);
  CHECK(values(sum(mask({1, 0, 1, 1}).reshape({2, 2}), {1})) == V{1, 2});
  CHECK(prod(m).item<std::int64_t>() == 0);
  CHECK(m.max().dtype() == boolean);
  CHECK(m.max().item<bool>());
  CHECK_FALSE(m.min().item<bool>());
  CHECK(m.argmax().item<std::int64_t>() == 0);
  CHECK(error_of([&] { (void)m.mean(); }).find("mean: expects a floating tensor, got bool") != std::string::npos);
}

TEST_CASE("bool: where takes a bool condition or a numeric one (nonzero), and bool values") {
  auto a = tensor({1.0, 2.0, 3.0, 4.0});
  auto b = tensor({-1.0, -2.0, -3.0, -4.0});
  CHECK(values(where(mask({1, 0, 0, 1}), a, b)) == V{1, -2, -3, 4});
  CHECK(values(where(tensor({0.5, 0.0, -1.0, 0.0}), a, b)) == V{1, -2, 3, -4});
  CHECK(values(where(tensor(std::vector<std::int64_t>{0, 3, 0, 1}, {4}), a, b)) == V{-1, 2, -3, 4});
  // A broadcast [2,1] mask over [2,2] values.
  CHECK(values(where(mask({1, 0}).reshape({2, 1}), a.reshape({2, 2}), b.reshape({2, 2}))) == V{1, 2, -3, -4});
  // On SIMD-sized inputs (float32, 16 lanes; the mask is one byte per lane).
  auto x = linspace(-5, 5, 1001);
  const auto picked = where(x > 0.0, x, zeros({})).to_vector<float>();
  const auto xv = x.to_vector<float>();
  int wrong = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) wrong += picked[i] != (xv[i] > 0 ? xv[i] : 0.0f);
  CHECK(wrong == 0);
  CHECK(where(mask({1, 0}), mask({1, 1}), mask({0, 0})).to_vector<bool>() == B{true, false});
  // Differentiable in the values, not the condition.
  auto leaf = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  where(mask({1, 0}), leaf * 3.0, scalar_tensor(0.0, {.dtype = float64})).sum().backward();
  CHECK(values(leaf.grad()) == V{3, 0});
}

TEST_CASE("bool: logical ops on any dtype, and & | ^ ~ on masks") {
  const Tensor p = mask({1, 1, 0, 0}), q = mask({1, 0, 1, 0});
  CHECK(logical_and(p, q).to_vector<bool>() == B{true, false, false, false});
  CHECK(logical_or(p, q).to_vector<bool>() == B{true, true, true, false});
  CHECK(logical_xor(p, q).to_vector<bool>() == B{false, true, true, false});
  CHECK(logical_not(p).to_vector<bool>() == B{false, false, true, true});
  CHECK((p & q).to_vector<bool>() == B{true, false, false, false});
  CHECK((p | q).to_vector<bool>() == B{true, true, true, false});
  CHECK((p ^ q).to_vector<bool>() == B{false, true, true, false});
  CHECK((~p).to_vector<bool>() == B{false, false, true, true});
  CHECK(p.logical_not().to_vector<bool>() == B{false, false, true, true});
  // Numbers count as nonzero (NaN too), with broadcasting: [2,1] with [2] gives [2,2].
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor r = logical_and(tensor({0.0, nan}).reshape({2, 1}), tensor(std::vector<std::int64_t>{3, 0}, {2}));
  CHECK(r.dtype() == boolean);
  CHECK(r.shape() == Shape{2, 2});
  CHECK(r.to_vector<bool>() == B{false, false, true, false});
  CHECK(logical_not(tensor({0.0, -0.5})).to_vector<bool>() == B{true, false});
  // A mask combined with a comparison, as users write it.
  auto x = tensor({-2.0, -0.5, 0.5, 2.0});
  CHECK(((x > -1.0) & (x < 1.0)).to_vector<bool>() == B{false, true, true, false});
  CHECK(error_of([&] { (void)(x & x); }).find("bitwise_and: expects bool tensors, got float32") != std::string::npos);
  CHECK(error_of([&] { (void)~x; }).find("bitwise_not: expects a bool tensor, got float32") != std::string::npos);
}

TEST_CASE("bool: any and all over everything and over a dim") {
  const Tensor m = mask({1, 0, 0, 0, 0, 0}).reshape({2, 3});
  CHECK(any(m).dtype() == boolean);
  CHECK(any(m).item<bool>());
  CHECK_FALSE(all(m).item<bool>());
  CHECK(m.any(1).to_vector<bool>() == B{true, false});
  CHECK(m.all(0).to_vector<bool>() == B{false, false, false});
  CHECK(m.any(0, true).shape() == Shape{1, 3});
  CHECK(m.any(-1).shape() == Shape{2});
  CHECK(all(ones({2, 2})).item<bool>());
  CHECK(all(tensor({1.0, 2.0}) > 0.0).item<bool>());
  CHECK_FALSE(any(zeros({3})).item<bool>());
  CHECK(any(tensor({std::numeric_limits<double>::quiet_NaN()})).item<bool>());  // NaN is nonzero
  // Empty: any is false, all is true (PyTorch).
  CHECK_FALSE(any(zeros({0})).item<bool>());
  CHECK(all(zeros({0})).item<bool>());
  CHECK(all(zeros({2, 0}), 1).to_vector<bool>() == B{true, true});
  CHECK(error_of([&] { (void)m.any(2); }).find("any") != std::string::npos);
}

TEST_CASE("bool: masked_fill and masked_select give PyTorch's values and gradients") {
  auto x = tensor({{1.0, 2.0}, {3.0, 4.0}}, {.dtype = float64, .requires_grad = true});
  const Tensor m = x.detach() > 2.0;
  Tensor y = x.masked_fill(m, -1.0);
  CHECK(values(y) == V{1, 2, -1, -1});
  CHECK(y.dtype() == float64);
  (y * tensor({{10.0, 20.0}, {30.0, 40.0}}, {.dtype = float64})).sum().backward();
  CHECK(values(x.grad()) == V{10, 20, 0, 0});
  // A [2] mask broadcasts over rows: torch.tensor([[1.,2],[3,4]]).masked_fill(torch.tensor([True,False]), 0).
  CHECK(values(masked_fill(x.detach(), mask({1, 0}), 0.0)) == V{0, 2, 0, 4});
  // The value takes x's dtype: 2.7 into int64 is 2.
  CHECK(values(masked_fill(tensor(std::vector<std::int64_t>{5, 6}, {2}), mask({0, 1}), 2.7)) == V{5, 2});
  x.zero_grad();
  Tensor s = x.masked_select(m);
  CHECK(s.shape() == Shape{2});
  CHECK(values(s) == V{3, 4});
  (s * tensor({5.0, 7.0}, {.dtype = float64})).sum().backward();
  CHECK(values(x.grad()) == V{0, 0, 5, 7});
  // Broadcast mask: [2] over rows selects column 1 of each row.
  CHECK(values(masked_select(x.detach(), mask({0, 1}))) == V{2, 4});
  // Both broadcast: x [2,1], mask [2] -> [2,2].
  CHECK(values(masked_select(tensor(std::vector<double>{1, 2}, {2, 1}), mask({1, 1}))) == V{1, 1, 2, 2});
  CHECK(masked_select(scalar_tensor(3), scalar_tensor(0, {.dtype = boolean})).shape() == Shape{0});
  CHECK(error_of([&] { (void)masked_fill(x, x, 0.0); }).find("masked_fill: expects a bool mask, got float64") !=
        std::string::npos);
  CHECK(error_of([&] { (void)masked_fill(x, mask({1, 0, 1}), 0.0); }).find("masked_fill") != std::string::npos);
}

TEST_CASE("bool: ops that take no bool raise naming the op and the dtype") {
  const Tensor m = mask({1, 0});
  auto has = [](const std::string& msg, const std::string& text) {
    INFO(msg);
    CHECK(msg.find(text) != std::string::npos);
  };
  has(error_of([&] { (void)neg(m); }), "neg: expects a numeric tensor, got bool");
  has(error_of([&] { (void)abs(m); }), "abs: expects a numeric tensor, got bool");
  has(error_of([&] { (void)exp(m); }), "exp: expects a floating tensor (float32 or float64), got bool");
  has(error_of([&] { (void)softmax(m, 0); }), "softmax");
  has(error_of([&] { (void)matmul(m, m); }), "matmul");
  has(error_of([&] { (void)Tensor(m).requires_grad_(); }), "requires_grad_: only floating-point tensors");
  has(error_of([&] { (void)ones({2}, {.dtype = boolean, .requires_grad = true}); }), "ones: requires_grad=true needs a floating dtype");
  has(error_of([&] { (void)index_add(m, 0, tensor(std::vector<std::int64_t>{0}, {1}), mask({1})); }),
      "index_add: expects a numeric input, got bool");
  has(error_of([&] { (void)sum_to(m, {1}); }), "sum_to: cannot sum a bool tensor");
  has(error_of([&] { (void)randint(0, 2, {2}, {.dtype = boolean}); }), "randint: expects a numeric dtype, got bool");
  Tensor w = mask({1, 0});
  has(error_of([&] { w.add_(mask({1, 1})); }), "add_: in-place arithmetic on a bool tensor");
  has(error_of([&] { w.clamp_(0.0, 1.0); }), "clamp_: in-place arithmetic on a bool tensor");
  // The in-place ops that do take bool: copy_ (nonzero), fill_, zero_.
  w.copy_(tensor({0.0, 0.25}));
  CHECK(w.to_vector<bool>() == B{false, true});
  w.fill_(2.0);
  CHECK(w.to_vector<bool>() == B{true, true});
  w.zero_();
  CHECK(w.to_vector<bool>() == B{false, false});
  // Shape ops move bool elements like any others.
  const Tensor g = mask({1, 0, 0, 1, 1, 0}).reshape({2, 3});
  CHECK(g.t().to_vector<bool>() == B{true, true, false, true, false, false});
  CHECK(cat({g, g}, 1).shape() == Shape{2, 6});
  CHECK(pad(mask({1}), {1, 1}, 1.0).to_vector<bool>() == B{true, true, true});
  CHECK(slice(g, 1, 1, std::nullopt).to_vector<bool>() == B{false, false, true, false});
  CHECK(expand(mask({1, 0}), {2, 2}).to_vector<bool>() == B{true, false, true, false});
  CHECK(equal(g, g.clone()));
  CHECK(allclose(m, tensor({1.0, 0.0})));
}

TEST_CASE("bool: == and != compare element-wise into masks, as in PyTorch") {
  const Tensor a = tensor({1.0, 2.0, 3.0});
  const Tensor b = tensor({1.0, 0.0, 3.0});
  const Tensor same = a == b;
  CHECK(same.dtype() == Dtype::boolean);
  CHECK(same.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
  CHECK((a != b).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0});
  CHECK((a == 2.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0});
  CHECK((a != 2.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
  // Broadcasting, and counting matches the way an accuracy is computed.
  const Tensor labels = tensor(std::vector<std::int64_t>{0, 2, 1, 2}, {4});
  const Tensor scores = tensor({{0.9, 0.1, 0.0}, {0.0, 0.2, 0.8}, {0.3, 0.3, 0.4}, {0.1, 0.1, 0.8}});
  CHECK((scores.argmax(1) == labels).sum().item() == 3);
  CHECK_THROWS_AS((Tensor() == 1.0), Error);
}
