// Shape ops that reorder or relabel dims: permute, transpose, flatten, squeeze, unsqueeze
// (reshape and expand live in core_ops.cpp).
#include <numeric>

#include "../core/arg_checks.h"
#include "../core/kernels/layout.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kPermute{"permute", 1, "dx = permute(dy, inverse(perm))"};
constexpr OpDecl kFlatten{"flatten", 1, "dx = reshape(dy, x.shape)"};
constexpr OpDecl kSqueeze{"squeeze", 1, "dx = reshape(dy, x.shape)"};
constexpr OpDecl kUnsqueeze{"unsqueeze", 1, "dx = reshape(dy, x.shape)"};

Tensor permute(const Tensor& x, const Dims& dims) {
  check_defined("permute", {{x, "input"}});
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
  record(y, kPermute, {x}, {}, [inverse](Node&, const Tensor& gy) -> TensorList { return {permute(gy, inverse)}; });
  return y;
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", {{x, "input"}});
  const std::int64_t n = x.dim();
  const std::int64_t a = wrap_dim(dim0, n, "transpose"), b = wrap_dim(dim1, n, "transpose");
  if (n < 2 || a == b) return x;
  Dims perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<std::size_t>(a)], perm[static_cast<std::size_t>(b)]);
  return permute(x, perm);
}

namespace {
// A reshape recorded under the op's own name: same storage, no copy.
Tensor relabel(const Tensor& x, const Shape& shape, const OpDecl& op) {
  Tensor y = alias_with_shape(x, shape);
  record(y, op, {x}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reshape(gy, n.next_edges()[0].shape)};
  });
  return y;
}
}  // namespace

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  XGRAD_CHECK(x.defined(), "flatten: the input is an undefined tensor");
  const std::int64_t n = x.dim();
  const std::int64_t start = wrap_dim(start_dim, n, "flatten"), end = wrap_dim(end_dim, n, "flatten");
  XGRAD_CHECK(start <= end, "flatten: start_dim {} comes after end_dim {} (tensor of shape {})", start_dim, end_dim,
              to_string(x.shape()));
  if (n == 0) return relabel(x, {1}, kFlatten);  // a 0-d tensor flattens to one element, as in PyTorch
  Shape out;
  std::int64_t merged = 1;
  for (std::int64_t d = 0; d < n; ++d) {
    const std::int64_t size = x.shape()[static_cast<std::size_t>(d)];
    if (d < start || d > end) {
      out.push_back(size);
    } else {
      merged *= size;
      if (d == end) out.push_back(merged);
    }
  }
  return relabel(x, out, kFlatten);
}

Tensor squeeze(const Tensor& x) {
  XGRAD_CHECK(x.defined(), "squeeze: the input is an undefined tensor");
  Shape out;
  for (auto size : x.shape())
    if (size != 1) out.push_back(size);
  return relabel(x, out, kSqueeze);
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  XGRAD_CHECK(x.defined(), "squeeze: the input is an undefined tensor");
  const std::int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  Shape out = x.shape();
  if (x.dim() > 0 && out[static_cast<std::size_t>(d)] == 1) out.erase(static_cast<std::size_t>(d));  // else a no-op
  return relabel(x, out, kSqueeze);
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  XGRAD_CHECK(x.defined(), "unsqueeze: the input is an undefined tensor");
  const std::int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");  // the new dim may go after the last one
  Shape out = x.shape();
  out.insert(static_cast<std::size_t>(d), 1);
  return relabel(x, out, kUnsqueeze);
}

void register_shape_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kPermute, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3,4] (2,0,1)", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return permute(in[0], {2, 0, 1}); }},
                     {"[3,4] transpose", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return transpose(in[0], 0, 1); }},
                     {"[2,0,3] negative dims (-1,-3,-2)", {samples::input({2, 0, 3}, d)},
                      [](const TensorList& in) { return permute(in[0], {-1, -3, -2}); }},
                 };
               }}));
  r.push_back(declared(kFlatten, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3,4] all", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return flatten(in[0]); }},
                     {"[2,3,1,2] dims 1..-2", {samples::input({2, 3, 1, 2}, d)},
                      [](const TensorList& in) { return flatten(in[0], 1, -2); }},
                     {"0-d -> [1]", {samples::input({}, d)}, [](const TensorList& in) { return flatten(in[0]); }},
                     {"[2,0,3] dims 0..1", {samples::input({2, 0, 3}, d)},
                      [](const TensorList& in) { return flatten(in[0], 0, 1); }},
                 };
               }}));
  r.push_back(declared(kSqueeze, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[1,3,1,2] all", {samples::input({1, 3, 1, 2}, d)},
                      [](const TensorList& in) { return squeeze(in[0]); }},
                     {"[3,1,2] dim -2", {samples::input({3, 1, 2}, d)},
                      [](const TensorList& in) { return squeeze(in[0], -2); }},
                     {"[3,2] dim 0 (not 1: no-op)", {samples::input({3, 2}, d)},
                      [](const TensorList& in) { return squeeze(in[0], 0); }},
                     {"0-d", {samples::input({}, d)}, [](const TensorList& in) { return squeeze(in[0], 0); }},
                     {"[1,0,1] all", {samples::input({1, 0, 1}, d)},
                      [](const TensorList& in) { return squeeze(in[0]); }},
                 };
               }}));
  r.push_back(declared(kUnsqueeze, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] dim 1", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return unsqueeze(in[0], 1); }},
                     {"[3,4] dim -1 (appended)", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return unsqueeze(in[0], -1); }},
                     {"0-d dim 0", {samples::input({}, d)}, [](const TensorList& in) { return unsqueeze(in[0], 0); }},
                     {"[0,2] dim 2", {samples::input({0, 2}, d)},
                      [](const TensorList& in) { return unsqueeze(in[0], 2); }},
                 };
               }}));
}

}  // namespace xgrad
