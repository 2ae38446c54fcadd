// xtensor interop: xgrad::tensor(xexpression) and Tensor::to_xarray<T>() round trips.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>
#include <xgrad/xtensor.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

using namespace xgrad;

TEST_CASE("xtensor round trip: double") {
  xt::xarray<double> a = {{1.5, -2.0, 3.25}, {4.0, 5.5, -6.75}};
  Tensor t = xgrad::tensor(a);
  CHECK(t.dtype() == float64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at<double>({1, 2}) == -6.75);
  CHECK(t.to_vector<double>() == std::vector<double>{1.5, -2.0, 3.25, 4.0, 5.5, -6.75});
  xt::xarray<double> back = t.to_xarray<double>();
  CHECK(back == a);
  CHECK(back.shape() == a.shape());
}

TEST_CASE("xtensor round trip: float and dtype conversion") {
  xt::xarray<float> a = {{0.5f, 1.0f}, {-2.0f, 8.0f}};
  Tensor t = xgrad::tensor(a);
  CHECK(t.dtype() == float32);
  CHECK(t.to_xarray<float>() == a);
  // converted on the way in and on the way out
  Tensor t64 = xgrad::tensor(a, {.dtype = float64, .requires_grad = true});
  CHECK(t64.dtype() == float64);
  CHECK(t64.requires_grad());
  xt::xarray<double> as_double = t.to_xarray<double>();
  CHECK(as_double(1, 0) == -2.0);
  xt::xarray<std::int64_t> as_int = t.to_xarray<std::int64_t>();
  CHECK(as_int(1, 1) == 8);
  // the result is a plain xt::xarray<T>
  static_assert(std::is_same_v<decltype(t.to_xarray<float>()), xt::xarray<float>>);
}

TEST_CASE("xtensor round trip: int64 and other integer types") {
  xt::xarray<std::int64_t> idx = {3, 1, 4, 1, 5};
  Tensor t = xgrad::tensor(idx);
  CHECK(t.dtype() == int64);
  CHECK(t.shape() == Shape{5});
  CHECK(t.to_xarray<std::int64_t>() == idx);
  xt::xarray<int> small = {{1, 2}, {3, 4}};
  Tensor ti = xgrad::tensor(small);  // int becomes int64
  CHECK(ti.dtype() == int64);
  CHECK(ti.to_xarray<int>() == small);
  // large int64 values survive exactly
  xt::xarray<std::int64_t> big = {(std::int64_t{1} << 62) + 1};
  CHECK(xgrad::tensor(big).to_xarray<std::int64_t>() == big);
}

TEST_CASE("xtensor round trip: 0-d") {
  xt::xarray<double> s = 2.5;
  REQUIRE(s.dimension() == 0);
  Tensor t = xgrad::tensor(s);
  CHECK(t.dim() == 0);
  CHECK(t.numel() == 1);
  CHECK(t.item<double>() == 2.5);
  auto back = scalar_tensor(-1.25, {.dtype = float64}).to_xarray<double>();
  CHECK(back.dimension() == 0);
  CHECK(back() == -1.25);
}

TEST_CASE("xtensor round trip: zero-size") {
  xt::xarray<double> empty = xt::zeros<double>({std::size_t{0}, std::size_t{3}});
  Tensor t = xgrad::tensor(empty);
  CHECK(t.shape() == Shape{0, 3});
  CHECK(t.numel() == 0);
  auto back = zeros({2, 0, 4}, {.dtype = float64}).to_xarray<double>();
  CHECK(back.shape() == std::vector<std::size_t>{2, 0, 4});
  CHECK(back.size() == 0);
}

TEST_CASE("xtensor: non-contiguous views, broadcasts and column-major data") {
  xt::xarray<double> a = xt::arange<double>(12.0);
  a.reshape({3, 4});
  // a strided column view
  Tensor col = xgrad::tensor(xt::view(a, xt::all(), 1));
  CHECK(col.shape() == Shape{3});
  CHECK(col.to_vector<double>() == std::vector<double>{1, 5, 9});
  // a stepped slice of rows and columns
  Tensor sub = xgrad::tensor(xt::view(a, xt::range(0, 3, 2), xt::range(1, 4, 2)));
  CHECK(sub.shape() == Shape{2, 2});
  CHECK(sub.to_vector<double>() == std::vector<double>{1, 3, 9, 11});
  // a transposed view
  Tensor tr = xgrad::tensor(xt::transpose(a));
  CHECK(tr.shape() == Shape{4, 3});
  CHECK(tr.at<double>({3, 2}) == 11.0);
  // a lazy expression with broadcasting
  xt::xarray<double> row = {10.0, 20.0, 30.0, 40.0};
  Tensor sum = xgrad::tensor(a + row);
  CHECK(sum.at<double>({2, 3}) == 51.0);
  // column-major storage is reordered into row-major
  xt::xarray<double, xt::layout_type::column_major> cm = {{1.0, 2.0}, {3.0, 4.0}};
  CHECK(xgrad::tensor(cm).to_vector<double>() == std::vector<double>{1, 2, 3, 4});
  // a fixed-rank xtensor
  xt::xtensor<float, 2> fixed = {{1.0f, 2.0f, 3.0f}};
  Tensor tf = xgrad::tensor(fixed);
  CHECK(tf.shape() == Shape{1, 3});
  CHECK(tf.dtype() == float32);
}

TEST_CASE("xtensor: tensors from xarrays take part in autograd") {
  xt::xarray<double> a = {1.0, 2.0, 3.0};
  Tensor x = xgrad::tensor(a, {.dtype = float64, .requires_grad = true});
  (x * x).sum().backward();
  CHECK(x.grad().to_xarray<double>() == xt::xarray<double>{2.0, 4.0, 6.0});
}
