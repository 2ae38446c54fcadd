#include "layout.h"

#include <xtensor/xmanipulation.hpp>

#include "../dispatch.h"
#include "xt.h"

namespace xgrad::kernels {

Tensor permute_copy(const Tensor& x, const Dims& perm) {
  Shape out_shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.shape()[static_cast<std::size_t>(perm[i])];
  Tensor out = make_tensor(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  std::vector<std::size_t> p(perm.begin(), perm.end());
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    auto o = shaped<T>(out);
    xt::noalias(o) = xt::transpose(shaped<T>(x), p);
  });
  return out;
}

}  // namespace xgrad::kernels
