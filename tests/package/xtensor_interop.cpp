// A consumer of the opt-in interop header: xtensor in, gradient out, xtensor back.
#include <xgrad/xgrad.h>
#include <xgrad/xtensor.h>

int main() {
  xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
  xgrad::Tensor x = xgrad::tensor(a);
  x.requires_grad_(true);
  (x * x).sum().backward();
  const xt::xarray<double> g = x.grad().to_xarray<double>();
  return g(1, 1) == 8.0 ? 0 : 1;  // d/dx sum(x^2) = 2x
}
