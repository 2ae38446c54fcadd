// The method spellings users reach for (x.view, x.unsqueeze, x[i], x.item(), ...): each gives the
// free function's values, records the same graph, and names the op in its errors.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;

namespace {
using test::error_of;
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("tensor methods: shape methods match the free functions") {
  const Tensor x = arange(0.0, 6.0, 1.0, {.dtype = float64}).reshape({2, 3});
  CHECK(x.view({3, 2}).shape() == Shape{3, 2});
  CHECK(values(x.view({3, 2})) == values(x));
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 1});
  CHECK(x.unsqueeze(1).squeeze().shape() == Shape{2, 3});
  CHECK(x.unsqueeze(1).squeeze(1).shape() == Shape{2, 3});
  CHECK(x.flatten().shape() == Shape{6});
  CHECK(x.permute({1, 0}).shape() == Shape{3, 2});
  CHECK(values(x.permute({1, 0})) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(x.unsqueeze(0).flatten(1).shape() == Shape{1, 6});
}

TEST_CASE("tensor methods: x[i] selects along dim 0, negative from the end, and differentiates") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {.dtype = float64, .requires_grad = true});
  Tensor m = x.reshape({3, 2});
  CHECK(m[0].shape() == Shape{2});
  CHECK(values(m[1]) == std::vector<double>{3.0, 4.0});
  CHECK(values(m[-1]) == std::vector<double>{5.0, 6.0});
  CHECK(m[2][1].item() == 6.0);
  CHECK(m[2][1].dim() == 0);
  (m[1] * 10.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 10, 10, 0, 0});
  CHECK(error_of([&] { (void)m[3]; }).find("operator[]: index 3 is out of range for dim 0 of size 3") !=
        std::string::npos);
  CHECK(error_of([&] { (void)m[-4]; }).find("index -4 is out of range") != std::string::npos);
  CHECK(error_of([&] { (void)scalar_tensor(1.0)[0]; }).find("a 0-d tensor cannot be indexed") != std::string::npos);
}

TEST_CASE("tensor methods: math and reductions match the free functions") {
  const Tensor x = tensor({-1.0, 0.5, 2.0, 3.0}, {.dtype = float64});
  CHECK(values(x.relu()) == values(relu(x)));
  CHECK(values(x.exp()) == values(exp(x)));
  CHECK(values(x.abs()) == std::vector<double>{1.0, 0.5, 2.0, 3.0});
  CHECK(values(x.neg()) == std::vector<double>{1.0, -0.5, -2.0, -3.0});
  CHECK(values(x.pow(2.0)) == std::vector<double>{1.0, 0.25, 4.0, 9.0});
  CHECK(values(x.abs().pow(x.abs())) == values(pow(abs(x), abs(x))));
  CHECK(values(x.abs().log()) == values(log(abs(x))));
  CHECK(values(x.abs().sqrt()) == values(sqrt(abs(x))));
  CHECK(values(x.sigmoid()) == values(sigmoid(x)));
  CHECK(values(x.tanh()) == values(tanh(x)));
  CHECK(values(x.softmax(0)) == values(softmax(x, 0)));
  CHECK(values(x.log_softmax(0)) == values(log_softmax(x, 0)));
  CHECK(x.sum().item() == 4.5);
  CHECK(x.mean().item() == 1.125);
  CHECK(x.max().item() == 3.0);
  CHECK(x.min().item() == -1.0);
  CHECK(x.argmax().item<std::int64_t>() == 3);
  CHECK(x.argmin().item<std::int64_t>() == 0);
  const Tensor m = x.reshape({2, 2});
  CHECK(values(m.argmax(1)) == std::vector<double>{1, 1});
  CHECK(m.argmax(1, true).shape() == Shape{2, 1});
  CHECK(values(m.argmin(0)) == std::vector<double>{0, 0});
  CHECK(values(m.sum({0})) == std::vector<double>{1.0, 3.5});
  CHECK(m.mean({1}, true).shape() == Shape{2, 1});
  CHECK(error_of([&] { (void)m.argmax(2); }).find("argmax") != std::string::npos);
}

TEST_CASE("tensor methods: item() without a type gives a double for every dtype") {
  CHECK(scalar_tensor(2.5).item() == 2.5);  // float32
  CHECK(scalar_tensor(-0.125, {.dtype = float64}).item() == -0.125);
  CHECK(full({1}, 7.0, {.dtype = int64}).item() == 7.0);
  CHECK(error_of([] { (void)zeros({2}).item(); }).find("item: only one-element tensors") != std::string::npos);
}
