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
