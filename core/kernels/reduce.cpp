#include "reduce.h"

#include <xtensor/xreducer.hpp>

#include "../dispatch.h"
#include "xt.h"

namespace xgrad::kernels {

namespace {
Shape reduced_shape(const Shape& s, const Dims& dims, bool keepdim) {
  Shape out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool reduced = std::find(dims.begin(), dims.end(), static_cast<std::int64_t>(i)) != dims.end();
    if (!reduced)
      out.push_back(s[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}
}  // namespace

Tensor sum_dims(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    auto o = flat<T>(out);
    if (static_cast<std::int64_t>(dims.size()) == x.dim()) {
      o(0) = xt::sum(flat<T>(x), xt::evaluation_strategy::immediate)();
    } else {
      std::vector<std::size_t> axes(dims.begin(), dims.end());
      auto r = xt::sum(shaped<T>(x), axes, xt::evaluation_strategy::immediate);
      std::copy(r.begin(), r.end(), o.begin());
    }
  });
  return out;
}

}  // namespace xgrad::kernels
