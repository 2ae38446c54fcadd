// In-place writes and buffer ownership: mutable_data() bumps a version that saved tensors check,
// clone() gives a buffer of one's own, and every .grad owns its buffer (PyTorch's semantics).
#include <doctest/doctest.h>

#include <string>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {
using test::error_of;
bool same_buffer(const Tensor& a, const Tensor& b) { return a.data<double>() == b.data<double>(); }
}  // namespace

TEST_CASE("inplace: mutable_data bumps the version, shared by aliases, reads do not") {
  Tensor x = zeros({2, 3}, {.dtype = float64});
  CHECK(x.version() == 0);
  (void)x.data<double>();
  (void)x.to_vector<double>();
  CHECK(x.version() == 0);
  x.mutable_data<double>()[0] = 1.0;
  CHECK(x.version() == 1);
  Tensor r = x.reshape({3, 2});
  Tensor d = x.detach();
  r.mutable_data<double>()[1] = 2.0;
  CHECK(x.version() == 2);
  CHECK(d.version() == 2);
  CHECK(x.clone().version() == 0);  // a new buffer starts over
}

TEST_CASE("inplace: writing a saved input after the forward pass makes backward raise, naming the op") {
  Tensor a = tensor({1.0, 2.0, 3.0}, {.dtype = float64, .requires_grad = true});
  Tensor b = tensor({4.0, 5.0, 6.0}, {.dtype = float64});
  Tensor y = (a * b).sum();  // mul saves b for a's gradient
  b.mutable_data<double>()[0] = 100.0;
  const std::string msg = error_of([&] { y.backward(); });
  CHECK(msg.find("mul") != std::string::npos);
  CHECK(msg.find("modified in place") != std::string::npos);
  CHECK(msg.find("float64 [3]") != std::string::npos);
  CHECK(msg.find("version 1") != std::string::npos);
  CHECK(msg.find("version 0") != std::string::npos);
  CHECK_FALSE(a.grad().defined());  // nothing half-accumulated
}

TEST_CASE("inplace: writing a saved output (exp saves its result) is caught through an alias too") {
  Tensor x = tensor({0.0, 1.0}, {.dtype = float64, .requires_grad = true});
  Tensor y = exp(x);
  Tensor loss = y.sum();
  y.detach().mutable_data<double>()[1] = 0.0;
  const std::string msg = error_of([&] { loss.backward(); });
  CHECK(msg.find("exp") != std::string::npos);
  CHECK(msg.find("its own output") != std::string::npos);
}

TEST_CASE("inplace: writes into tensors no node saved, or into a clone, leave backward intact") {
  Tensor a = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor b = tensor({3.0, 4.0}, {.dtype = float64});
  Tensor y = (a + b).sum();  // add saves nothing
  b.mutable_data<double>()[0] = -1.0;
  Tensor c = tensor({5.0, 6.0}, {.dtype = float64});
  Tensor z = (a * c.clone()).sum();
  c.mutable_data<double>()[0] = 0.0;  // the graph saved the clone, not c
  y.backward();
  z.backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{6.0, 7.0});
}

TEST_CASE("inplace: a parameter updated in place between forward and backward is reported, as in PyTorch") {
  Tensor w = tensor({{1.0, 2.0}, {3.0, 4.0}}, {.dtype = float64, .requires_grad = true});
  Tensor x = tensor({{1.0, 1.0}}, {.dtype = float64, .requires_grad = true});
  Tensor loss = matmul(x, w).sum();
  {
    NoGradGuard no_grad;
    w.mutable_data<double>()[0] -= 0.1;  // an optimizer step taken too early
  }
  CHECK(error_of([&] { loss.backward(); }).find("matmul") != std::string::npos);
}

TEST_CASE("clone: copies values into a new buffer and passes gradients through unchanged") {
  Tensor x = tensor({1.0, -2.0, 3.0}, {.dtype = float64, .requires_grad = true});
  Tensor y = clone(x);
  CHECK_FALSE(same_buffer(x, y));
  CHECK(y.to_vector<double>() == x.to_vector<double>());
  CHECK(y.grad_fn_name() == "clone");
  (y * y).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2.0, -4.0, 6.0});
  Tensor i = tensor(std::vector<std::int64_t>{1, 2}, {2});
  CHECK(i.clone().to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
  CHECK(error_of([] { clone(Tensor()); }).find("clone: argument 'input' is an undefined tensor") != std::string::npos);
}

TEST_CASE("grad ownership: inputs of add get separate .grad buffers") {
  Tensor a = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor b = tensor({3.0, 4.0}, {.dtype = float64, .requires_grad = true});
  (a + b).sum().backward();
  REQUIRE_FALSE(same_buffer(a.grad(), b.grad()));
  Tensor ga = a.grad();
  ga.mutable_data<double>()[0] = 0.0;  // e.g. in-place clipping of one gradient
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1.0, 1.0});
}

TEST_CASE("grad ownership: a seed gradient the caller keeps is copied, a retained gradient too") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor seed = tensor({0.5, 0.25}, {.dtype = float64});
  Tensor y = x + 0.0;
  y.retain_grad();
  Tensor z = y * 1.0;
  z.backward(seed);
  CHECK_FALSE(same_buffer(x.grad(), seed));
  CHECK_FALSE(same_buffer(y.grad(), x.grad()));
  seed.mutable_data<double>()[0] = 9.0;
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0.5, 0.25});
  CHECK(y.grad().to_vector<double>() == std::vector<double>{0.5, 0.25});
  // A leaf seeded directly: its .grad must not be the caller's tensor either.
  Tensor leaf = tensor({1.0}, {.dtype = float64, .requires_grad = true});
  Tensor g = tensor({3.0}, {.dtype = float64});
  leaf.backward(g);
  CHECK_FALSE(same_buffer(leaf.grad(), g));
}

TEST_CASE("grad ownership: a gradient nobody else holds is adopted, not copied") {
  // mul's gradient for x is a fresh tensor: .grad takes it over (no copy per backward).
  Tensor x = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  (x * x).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2.0, 4.0});
  CHECK(x.grad().version() == 0);
  CHECK(x.grad().grad_fn_name().empty());
}

TEST_CASE("grad ownership: under create_graph a shared gradient is copied with its history") {
  Tensor a = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor b = tensor({3.0, 4.0}, {.dtype = float64, .requires_grad = true});
  Tensor c = tensor({5.0, 6.0}, {.dtype = float64, .requires_grad = true});
  // add hands mul's gradient gy * c to both a and b: whichever takes it first gets a copy.
  Tensor y = ((a + b) * c).sum();
  y.backward({}, {.create_graph = true});
  CHECK(a.grad().to_vector<double>() == std::vector<double>{5.0, 6.0});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{5.0, 6.0});
  CHECK_FALSE(same_buffer(a.grad(), b.grad()));
  CHECK((a.grad().grad_fn_name() == "clone" || b.grad().grad_fn_name() == "clone"));
  // Both keep their history: d/dc of sum(a.grad + b.grad) = 2 per element.
  Tensor gc = grad({(a.grad() + b.grad()).sum()}, {c})[0];
  CHECK(gc.to_vector<double>() == std::vector<double>{2.0, 2.0});
  // A .grad with history references its own leaf (as in PyTorch): zero_grad() breaks the cycle.
  for (Tensor* t : {&a, &b, &c}) t->zero_grad();
}
