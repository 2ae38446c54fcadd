// expand / sum_to / reshape / to: the ops the engine leans on for broadcasting.
#include <doctest/doctest.h>

#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {
// Reference broadcast: out[i...] = x[i... with broadcast dims pinned to 0].
std::vector<double> reference_expand(const Tensor& x, const Shape& shape) {
  const Shape xs = x.shape();
  const auto vals = x.to_vector<double>();
  const std::size_t lead = shape.size() - xs.size();
  std::vector<double> out;
  for (std::int64_t flat = 0; flat < numel_of(shape); ++flat) {
    std::int64_t rem = flat, src = 0, stride = 1;
    for (std::size_t k = shape.size(); k-- > 0;) {
      const std::int64_t i = rem % shape[k];
      rem /= shape[k];
      if (k >= lead) {
        const std::int64_t size = xs[k - lead];
        src += (size == 1 ? 0 : i) * stride;
        stride *= size;
      }
    }
    out.push_back(vals[static_cast<std::size_t>(src)]);
  }
  return out;
}
}  // namespace

TEST_CASE("core ops: expand matches a reference broadcast for every pattern") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {2, 3, 4}}, {{1, 4}, {3, 4}},    {{4}, {2, 3, 4}},   {{2, 1, 3}, {2, 5, 3}},
      {{4, 1}, {4, 1}},    {{1, 1}, {3, 2}},    {{}, {2, 2}},       {{2, 1, 1}, {2, 3, 1}},
      {{1, 3, 1}, {2, 3, 2}}, {{5}, {1, 5}},
  };
  for (const auto& [from, to] : cases) {
    INFO(to_string(from), " -> ", to_string(to));
    auto x = arange(static_cast<double>(numel_of(from)), {.dtype = float64}).reshape(from);
    auto y = expand(x, to);
    CHECK(y.shape() == to);
    CHECK(y.to_vector<double>() == reference_expand(x, to));
  }
  auto i = tensor(std::vector<std::int64_t>{7, 8}, {2, 1});
  CHECK(expand(i, {2, 3}).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7, 7, 8, 8, 8});
}

TEST_CASE("core ops: sum_to reverses broadcasting and is expand's VJP") {
  auto x = ones({2, 3, 4}, {.dtype = float64});
  CHECK(sum_to(x, {3, 1}).to_vector<double>() == std::vector<double>{8, 8, 8});
  CHECK(sum_to(x, {}).item<double>() == 24.0);
  CHECK(sum_to(x, {1, 4}).to_vector<double>() == std::vector<double>{6, 6, 6, 6});
  CHECK_THROWS_WITH_AS(sum_to(x, {5}), doctest::Contains("sum_to"), Error);
  auto b = tensor({1.0, 2.0, 3.0}, {.dtype = float64, .requires_grad = true});
  sum(expand(b, {4, 3}) * 2.0).backward();
  CHECK(b.grad().to_vector<double>() == std::vector<double>{8, 8, 8});
  CHECK_THROWS_WITH_AS(expand(b, {4, 2}), doctest::Contains("[3]"), Error);
}

TEST_CASE("core ops: reshape infers -1 and rejects impossible shapes") {
  auto x = arange(12);
  CHECK(x.reshape({3, -1}).shape() == Shape{3, 4});
  CHECK(x.reshape({-1}).shape() == Shape{12});
  CHECK_THROWS_WITH_AS(x.reshape({5, -1}), doctest::Contains("[5, -1]"), Error);
  CHECK_THROWS_AS(x.reshape({-1, -1}), Error);
  CHECK_THROWS_AS(x.reshape({3, 5}), Error);
  CHECK(zeros({0, 3}).reshape({3, 0}).numel() == 0);
}

TEST_CASE("core ops: kernels mixing 32- and 64-bit lanes give exact results on SIMD-sized inputs") {
  // xtensor's SIMD assignment mishandles operands and results of different widths; these paths
  // (float32 compared into an int64 mask, int64 masks selecting float32, casts) must be exact.
  const std::int64_t n = 1001;
  auto x = linspace(-5, 5, n);  // float32, many values in (-1, 1)
  const auto xv = x.to_vector<float>();
  const auto mask = gt(x, zeros({})).to_vector<std::int64_t>();
  const auto ge_mask = (x >= 0.015).to_vector<std::int64_t>();
  const auto picked = where(x > 0.0, x, zeros({})).to_vector<float>();
  const auto truncated = x.to(int64).to_vector<std::int64_t>();
  const auto widened = x.to(float64).to_vector<double>();
  const auto narrowed = linspace(-5, 5, n, {.dtype = float64}).to(float32).to_vector<float>();
  int wrong = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const float v = xv[i];
    wrong += mask[i] != (v > 0);
    wrong += ge_mask[i] != (v >= 0.015f);
    wrong += picked[i] != (v > 0 ? v : 0.0f);
    wrong += truncated[i] != static_cast<std::int64_t>(v);
    wrong += widened[i] != static_cast<double>(v);
    wrong += narrowed[i] != static_cast<float>(-5.0 + static_cast<double>(i) * (10.0 / (n - 1)));  // linspace's rule
  }
  CHECK(wrong == 0);
  auto ints = arange(n, {.dtype = int64});
  auto sel = where(ints > 500.0, arange(n), zeros({})).to_vector<float>();
  int wrong_sel = 0;
  for (std::int64_t i = 0; i < n; ++i) wrong_sel += sel[static_cast<std::size_t>(i)] != (i > 500 ? float(i) : 0.0f);
  CHECK(wrong_sel == 0);
}
