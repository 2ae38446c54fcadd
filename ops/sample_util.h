#pragma once
// Private helpers for registry samples (ops/*.cpp): inputs drawn from xgrad's seeded generator.
#include "../core/random.h"
#include "xgrad/ops.h"
#include "xgrad/registry.h"

namespace xgrad::samples {

// A differentiable input with values uniform in [lo, hi).
inline Tensor input(const Shape& shape, Dtype dtype, double lo = -1.0, double hi = 1.0) {
  return uniform(shape, lo, hi, {.dtype = dtype, .requires_grad = true});
}
// Magnitudes in [gap, hi) with random signs: for ops with a kink or a pole at 0 (abs, relu, div).
inline Tensor away_from_zero(const Shape& shape, Dtype dtype, double gap = 0.1, double hi = 1.0) {
  std::vector<double> v = uniform(shape, gap, hi, {.dtype = Dtype::float64}).to_vector<double>();
  for (double& x : v)
    if (random::uniform01() < 0.5) x = -x;
  return tensor(v, shape, {.dtype = dtype, .requires_grad = true});
}
// A constant (non-differentiable) input.
inline Tensor constant(const Shape& shape, Dtype dtype, double lo = -1.0, double hi = 1.0) {
  return uniform(shape, lo, hi, {.dtype = dtype});
}

}  // namespace xgrad::samples
