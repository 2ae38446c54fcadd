// Shape ops that reorder or relabel dims: permute, transpose (reshape and expand live in core_ops.cpp).
#include <numeric>

#include "../core/kernels/layout.h"
#include "sample_util.h"

namespace xgrad {

Tensor permute(const Tensor& x, const Dims& dims) {
  const std::int64_t n = x.dim();
  XGRAD_CHECK(static_cast<std::int64_t>(dims.size()) == n,
              "permute: {} dims given for a tensor of shape {} ({} dims)", dims.size(), to_string(x.shape()), n);
  Dims perm(dims.size());
  std::vector<bool> used(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim(dims[i], n, "permute");
    XGRAD_CHECK(!used[static_cast<std::size_t>(perm[i])], "permute: dim {} appears twice in {}", perm[i],
                to_string(Shape(dims)));
    used[static_cast<std::size_t>(perm[i])] = true;
  }
  Dims inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
  bool identity = true;
  for (std::size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<std::int64_t>(i);
  if (identity) return x;
  Tensor y = kernels::permute_copy(x, perm);
  record(y, "permute", {x}, {}, [inverse](Node&, const Tensor& gy) -> TensorList { return {permute(gy, inverse)}; });
  return y;
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  const std::int64_t n = x.dim();
  const std::int64_t a = wrap_dim(dim0, n, "transpose"), b = wrap_dim(dim1, n, "transpose");
  if (n < 2 || a == b) return x;
  Dims perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<std::size_t>(a)], perm[static_cast<std::size_t>(b)]);
  return permute(x, perm);
}

void register_shape_ops(std::vector<OpInfo>& r) {
  r.push_back({.name = "permute",
               .arity = 1,
               .differentiable = {true},
               .formula = "dx = permute(dy, inverse(perm))",
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3,4] (2,0,1)", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return permute(in[0], {2, 0, 1}); }},
                     {"[3,4] transpose", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return transpose(in[0], 0, 1); }},
                     {"[2,0,3] negative dims (-1,-3,-2)", {samples::input({2, 0, 3}, d)},
                      [](const TensorList& in) { return permute(in[0], {-1, -3, -2}); }},
                 };
               }});
}

}  // namespace xgrad
