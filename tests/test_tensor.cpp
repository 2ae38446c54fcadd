// Tensor handles, factories, element access and printing.
#include <doctest/doctest.h>

#include <sstream>

#include <xgrad/xgrad.h>

using namespace xgrad;

TEST_CASE("tensor: factories give the right shapes, dtypes and values") {
  auto z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dim() == 2);
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == float32);
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(ones({4}, {.dtype = float64}).to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(full({2}, 7.0, {.dtype = int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 7});
  CHECK(arange(5).to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25, {.dtype = float64}).to_vector<double>() == std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(arange(5, 0, -2, {.dtype = int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 3, 1});
  CHECK(linspace(0, 1, 5, {.dtype = float64}).to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(eye(2, 3).to_vector<float>() == std::vector<float>{1, 0, 0, 0, 1, 0});
  auto s = scalar_tensor(3.5);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item<float>() == 3.5f);
  CHECK(zeros({0, 4}).numel() == 0);
}

TEST_CASE("tensor: bad factory arguments raise xgrad::Error") {
  CHECK_THROWS_AS(zeros({2, -1}), Error);
  CHECK_THROWS_AS(arange(0, 5, 0), Error);
  CHECK_THROWS_AS(arange(0, 5, -1), Error);
  CHECK_THROWS_AS(linspace(0, 1, -1), Error);
  CHECK_THROWS_AS(randint(3, 3, {2}), Error);
  CHECK_THROWS_AS(randn({2}, {.dtype = int64}), Error);
  CHECK_THROWS_WITH_AS(tensor({{1, 2}, {3}}), doctest::Contains("ragged"), Error);
  CHECK_THROWS_WITH_AS(tensor(std::vector<double>{1, 2, 3}, {2, 2}), doctest::Contains("[2, 2]"), Error);
}

TEST_CASE("tensor: random draws are reproducible with manual_seed and well distributed") {
  manual_seed(42);
  auto a = randn({1000});
  auto u = rand({1000});
  auto r = randint(-3, 4, {1000});
  manual_seed(42);
  CHECK(randn({1000}).to_vector<float>() == a.to_vector<float>());
  CHECK(rand({1000}).to_vector<float>() == u.to_vector<float>());
  CHECK(randint(-3, 4, {1000}).to_vector<std::int64_t>() == r.to_vector<std::int64_t>());
  double m = 0, v = 0;
  for (float x : a.to_vector<float>()) m += x;
  m /= 1000;
  for (float x : a.to_vector<float>()) v += (x - m) * (x - m);
  v /= 999;
  CHECK(std::abs(m) < 0.15);
  CHECK(std::abs(v - 1.0) < 0.15);
  for (float x : u.to_vector<float>()) CHECK((x >= 0.0f && x < 1.0f));
  for (auto x : r.to_vector<std::int64_t>()) CHECK((x >= -3 && x < 4));
  CHECK(r.dtype() == int64);
}

TEST_CASE("tensor: values from nested lists, vectors, element access, dtype conversion") {
  auto t = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at<float>({1, 2}) == 6.0f);
  CHECK(t.at<float>({-1, 0}) == 4.0f);
  CHECK_THROWS_AS(t.at<float>({2, 0}), Error);
  CHECK_THROWS_AS(t.at<float>({0}), Error);
  auto cube = tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, {.dtype = int64});
  CHECK(cube.shape() == Shape{2, 2, 2});
  CHECK(cube.at<std::int64_t>({1, 0, 1}) == 6);
  auto d = t.to(float64);
  CHECK(d.dtype() == float64);
  CHECK(d.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(t.to(int64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(tensor({2.7, -2.7}).to(int64).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -2});
  CHECK_THROWS_AS(t.item<float>(), Error);
  CHECK_THROWS_AS(t.data<double>(), Error);
  CHECK(t.data<float>()[4] == 5.0f);
  std::int64_t big = (std::int64_t{1} << 53) + 1;
  CHECK(tensor(std::vector<std::int64_t>{big}, {1}).item<std::int64_t>() == big);
}

TEST_CASE("tensor: a handle is cheap and shares storage") {
  auto a = zeros({3});
  Tensor b = a;
  CHECK(b.is_same(a));
  b.mutable_data<float>()[1] = 5.0f;
  CHECK(a.at<float>({1}) == 5.0f);
  auto r = a.reshape({1, 3});
  CHECK(r.data<float>() == a.data<float>());
  CHECK_FALSE(Tensor().defined());
  CHECK_THROWS_AS(Tensor().shape(), Error);
}

TEST_CASE("tensor: to(dtype) is differentiable between float dtypes") {
  auto x = scalar_tensor(2.0, {.requires_grad = true});
  auto y = x.to(float64) * 3.0;
  y.backward();
  CHECK(x.grad().dtype() == float32);
  CHECK(x.grad().item<float>() == 3.0f);
  CHECK_FALSE(x.to(int64).requires_grad());
}

TEST_CASE("tensor: printing shows values, shape, dtype and grad_fn") {
  auto t = tensor({{1, 2}, {3, 4}});
  const std::string s = fmt::format("{}", t);
  CHECK(s == "tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)");
  auto x = tensor({0.5, -1.25}, {.dtype = float64, .requires_grad = true});
  CHECK(fmt::format("{}", x) == "tensor([ 0.5000, -1.2500], shape=[2], dtype=float64, requires_grad=true)");
  CHECK(fmt::format("{}", x * 2.0).find("grad_fn=<mul>") != std::string::npos);
  CHECK(fmt::format("{}", scalar_tensor(3, {.dtype = int64})) == "tensor(3, shape=[], dtype=int64)");
  std::ostringstream os;
  os << zeros({0});
  CHECK(os.str() == "tensor([], shape=[0], dtype=float32)");
  auto big = fmt::format("{}", arange(2000));
  CHECK(big.find("...") != std::string::npos);
  CHECK(fmt::format("{}", Tensor()) == "tensor(undefined)");
}
