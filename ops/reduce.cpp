// Reductions over all or some dims, with keepdim.
#include <algorithm>

#include "../core/kernels/reduce.h"
#include "sample_util.h"

namespace xgrad {

namespace {
// Wraps, sorts and de-duplicates dims; an empty list means every dim.
Dims normalize_dims(const Dims& dims, std::int64_t ndim, const char* op) {
  Dims out;
  if (dims.empty()) {
    for (std::int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (auto d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  XGRAD_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: dim {} appears more than once", op,
              *std::adjacent_find(out.begin(), out.end()));
  if (ndim == 0) out.clear();
  return out;
}

// The shape a keepdim=false result has with the reduced dims restored as size 1.
Shape kept_shape(const Shape& in, const Dims& dims) {
  Shape s = in;
  for (auto d : dims) s[static_cast<std::size_t>(d)] = 1;
  return s;
}

std::int64_t reduced_count(const Shape& in, const Dims& dims) {
  std::int64_t n = 1;
  for (auto d : dims) n *= in[static_cast<std::size_t>(d)];
  return n;
}
}  // namespace

Tensor sum(const Tensor& x, const Dims& dims0, bool keepdim) {
  const Dims dims = normalize_dims(dims0, x.dim(), "sum");
  Tensor y = kernels::sum_dims(x, dims, keepdim);
  const Shape kept = kept_shape(x.shape(), dims);
  record(y, "sum", {x}, {}, [kept](Node& n, const Tensor& gy) -> TensorList {
    return {expand(reshape(gy, kept), n.next_edges()[0].shape)};
  });
  return y;
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const Dims& dims0, bool keepdim) {
  XGRAD_CHECK(is_floating(x.dtype()), "mean: expects a floating tensor, got {}", dtype_name(x.dtype()));
  const Dims dims = normalize_dims(dims0, x.dim(), "mean");
  const auto count = static_cast<double>(reduced_count(x.shape(), dims));
  // The mean of nothing is NaN, as in PyTorch.
  return mul(sum(x, dims, keepdim), scalar_like(count == 0 ? NAN : 1.0 / count, x));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

void register_reduce_ops(std::vector<OpInfo>& r) {
  r.push_back({.name = "sum",
               .arity = 1,
               .differentiable = {true},
               .formula = "dx = expand(dy, x.shape)",
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] all", {samples::input({3, 4}, d)}, [](const TensorList& in) { return sum(in[0]); }},
                     {"[2,3,4] dims (0,2)", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return sum(in[0], {0, 2}); }},
                     {"[2,3,4] dim -1 keepdim", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return sum(in[0], {-1}, true); }},
                     {"0-d", {samples::input({}, d)}, [](const TensorList& in) { return sum(in[0]); }},
                     {"[0,3] dim 0", {samples::input({0, 3}, d)},
                      [](const TensorList& in) { return sum(in[0], {0}); }},
                 };
               }});
  r.push_back({.name = "mean",
               .arity = 1,
               .differentiable = {true},
               .formula = "dx = expand(dy, x.shape) / count",
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] all", {samples::input({3, 4}, d)}, [](const TensorList& in) { return mean(in[0]); }},
                     {"[2,3,4] dim 1 keepdim", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return mean(in[0], {1}, true); }},
                 };
               }});
}

}  // namespace xgrad
