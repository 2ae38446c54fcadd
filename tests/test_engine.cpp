#include <doctest/doctest.h>

#include <xgrad/xgrad.h>

using namespace xgrad;

TEST_CASE("lecture circuit f = (x + y) z") {
  auto x = scalar_tensor(-2.0, {.requires_grad = true});
  auto y = scalar_tensor(5.0, {.requires_grad = true});
  auto z = scalar_tensor(-4.0, {.requires_grad = true});
  auto q = x + y;
  auto f = q * z;
  CHECK(f.item<double>() == -12.0);
  f.backward();
  CHECK(x.grad().item<double>() == -4.0);
  CHECK(y.grad().item<double>() == -4.0);
  CHECK(z.grad().item<double>() == 3.0);
}
