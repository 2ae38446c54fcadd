// Reductions over all or some dims, with keepdim.
#include <algorithm>
#include <functional>
#include <string>

#include "../core/arg_checks.h"
#include "../core/kernels/reduce.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kSum{"sum", 1, "dx = expand(dy, x.shape)"};
constexpr OpDecl kMean{"mean", 1, "dx = expand(dy, x.shape) / count"};
constexpr OpDecl kProd{"prod", 1, "dx = dy * prod(x) / x (zeros: dy * product of the other elements)"};
constexpr OpDecl kMax{"max", 1, "max(x): dx = dy * (x == y) / count(x == y); max(x, dim): dy to argmax"};
constexpr OpDecl kMin{"min", 1, "min(x): dx = dy * (x == y) / count(x == y); min(x, dim): dy to argmin"};
constexpr OpDecl kVar{"var", 1, "dx = dy * 2 (x - mean(x)) / (N - correction)"};
constexpr OpDecl kStd{"std", 1, "dx = dy * (x - mean(x)) / ((N - correction) * y)"};
constexpr OpDecl kLogsumexp{"logsumexp", 1, "dx = dy * exp(x - y)"};

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

// Sample input: the values (k - numel/2) * step for k = 0..numel-1 in a random order, so every
// slice has a unique max and min and a spread of at least `step`.
Tensor distinct_values(const Shape& shape, Dtype dtype, double step) {
  const auto n = static_cast<std::size_t>(numel_of(shape));
  std::vector<double> v(n);
  for (std::size_t k = 0; k < n; ++k) v[k] = (static_cast<double>(k) - static_cast<double>(n) / 2) * step;
  for (std::size_t k = n; k > 1; --k) std::swap(v[k - 1], v[random::next_u64() % k]);
  return tensor(v, shape, {.dtype = dtype, .requires_grad = true});
}

std::int64_t reduced_count(const Shape& in, const Dims& dims) {
  std::int64_t n = 1;
  for (auto d : dims) n *= in[static_cast<std::size_t>(d)];
  return n;
}
}  // namespace

Tensor sum(const Tensor& x0, const Dims& dims0, bool keepdim) {
  check_defined("sum", {{x0, "input"}});
  const Tensor x = x0.dtype() == boolean ? to_dtype(x0, int64) : x0;  // PyTorch counts a mask in int64
  const Dims dims = normalize_dims(dims0, x.dim(), "sum");
  Tensor y = kernels::sum_dims(x, dims, keepdim);
  const Shape kept = kept_shape(x.shape(), dims);
  record(y, kSum, {x}, {}, [kept](Node& n, const Tensor& gy) -> TensorList {
    return {expand(reshape(gy, kept), n.next_edges()[0].shape)};
  });
  return y;
}

Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const Dims& dims0, bool keepdim) {
  check_defined("mean", {{x, "input"}});
  XGRAD_CHECK(is_floating(x.dtype()), "mean: expects a floating tensor, got {}", dtype_name(x.dtype()));
  const Dims dims = normalize_dims(dims0, x.dim(), "mean");
  const auto count = static_cast<double>(reduced_count(x.shape(), dims));
  // The mean of nothing is NaN, as in PyTorch.
  return mul(sum(x, dims, keepdim), scalar_like(count == 0 ? NAN : 1.0 / count, x));
}

Tensor mean(const Tensor& x) { return mean(x, {}, false); }

// ---- prod

namespace {
// Above this many elements the exact zero-aware prod gradient (an [n, n] copy per slice) is too
// big, and a formula that is exact to first order takes over.
constexpr std::int64_t kExactProdGradLimit = std::int64_t{1} << 22;

// d prod(x along dim) / dx_i: the product of the other elements of x_i's slice, computed without
// dividing so that zeros are handled. Each slice is copied n times with its own element set to 1
// and reduced by prod, which is differentiable again (exact double backward with zeros too).
Tensor prod_of_others(const Tensor& x, std::int64_t dim) {
  const Shape& s = x.shape();
  const std::int64_t n = s[static_cast<std::size_t>(dim)];
  const auto d = static_cast<std::size_t>(dim);
  if (x.numel() * n <= kExactProdGradLimit) {
    Shape one_row = s, rows = s;
    one_row.insert(d, 1);
    rows.insert(d, n);
    Tensor copies = expand(reshape(x, one_row), rows);  // copies[.., i, j, ..] = x[.., j, ..]
    Shape eye_shape(s.size() - d + 1, 1);
    eye_shape[0] = n;
    eye_shape[1] = n;
    Tensor diagonal = reshape(eye(n, {.dtype = x.dtype()}), eye_shape);
    Tensor others = add(mul(copies, 1.0 - diagonal), diagonal);
    return prod(others, dim + 1, false);
  }
  // Zeros replaced by 1: with no zero in the slice the others' product is p / x_i; with one zero
  // it is p at the zero and 0 elsewhere; with more it is 0. Exact for the first derivative only.
  const Tensor is_zero = kernels::equal_mask(x, scalar_tensor(0.0, {.dtype = x.dtype()}), x.dtype());
  const Tensor nonzero_x = add(mul(x, 1.0 - is_zero), is_zero);
  const Tensor p = prod(nonzero_x, dim, true);
  const Tensor zeros_in_slice = kernels::sum_dims(is_zero, {dim}, true);
  const Tensor no_zero = kernels::equal_mask(zeros_in_slice, scalar_tensor(0.0, {.dtype = x.dtype()}), x.dtype());
  const Tensor one_zero =
      mul(kernels::equal_mask(zeros_in_slice, scalar_tensor(1.0, {.dtype = x.dtype()}), x.dtype()), is_zero);
  return add(mul(no_zero, div(p, nonzero_x)), mul(one_zero, p));
}

// dims: every dim of x, or one dim.
Tensor prod_impl(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor y = kernels::prod_dims(x, dims, keepdim);
  const Shape kept = kept_shape(x.shape(), dims);
  const bool all = static_cast<std::int64_t>(dims.size()) == x.dim();
  const std::int64_t dim = all ? 0 : dims[0];
  record(y, kProd, {x}, {x, y}, [kept, all, dim](Node& n, const Tensor& gy) -> TensorList {
    const Tensor x = n.saved(0);
    const Tensor g = reshape(gy, kept);
    if (kernels::count_equal(x, 0.0) == 0) return {div(mul(g, reshape(n.saved(1), kept)), x)};
    if (!all) return {mul(g, prod_of_others(x, dim))};
    return {reshape(mul(reshape(g, {1}), prod_of_others(reshape(x, {-1}), 0)), x.shape())};
  });
  return y;
}
}  // namespace

namespace {
// Reductions of a bool mask run on its 0/1 values in int64 (sum and prod return int64, as in PyTorch).
Tensor as_int_if_bool(const Tensor& x) { return x.dtype() == boolean ? to_dtype(x, int64) : x; }
}  // namespace

Tensor prod(const Tensor& x) {
  check_defined("prod", {{x, "input"}});
  return prod_impl(as_int_if_bool(x), normalize_dims({}, x.dim(), "prod"), false);
}

Tensor prod(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("prod", {{x, "input"}});
  return prod_impl(as_int_if_bool(x), normalize_dims({dim}, x.dim(), "prod"), keepdim);
}

// ---- max / min

namespace {
Tensor extreme_all_op(const Tensor& x, bool largest, const OpDecl& decl) {
  const char* name = decl.name;
  check_defined(name, {{x, "input"}});
  XGRAD_CHECK(x.numel() > 0,
              "{}(): Expected reduction dim to be specified for input.numel() == 0 (input shape {}); "
              "pass a dim",
              name, to_string(x.shape()));
  Tensor y = kernels::extreme_all(x, largest);
  record(y, decl, {x}, {x, y}, [](Node& n, const Tensor& gy) -> TensorList {
    // Tied extremes share the gradient evenly, as PyTorch's max() does.
    const Tensor x = n.saved(0), y = n.saved(1);
    const Tensor mask = kernels::equal_mask(x, y, x.dtype());
    const auto ties = static_cast<double>(kernels::count_equal(mask, 1.0));
    return {mul(gy, mul(mask, scalar_like(1.0 / ties, mask)))};
  });
  return y;
}

Tensor extreme_dim_op(const Tensor& x, std::int64_t dim0, bool keepdim, bool largest, const OpDecl& decl) {
  const char* name = decl.name;
  check_defined(name, {{x, "input"}});
  const std::int64_t dim = wrap_dim(dim0, x.dim(), name);
  XGRAD_CHECK(x.dim() == 0 || x.size(dim) != 0,
              "{}(): Expected reduction dim {} to have non-zero size (input shape {})", name, dim,
              to_string(x.shape()));
  auto [values, indices] = kernels::extreme_dim(x, dim, keepdim, largest);
  const Shape kept = x.dim() == 0 ? Shape{} : kept_shape(x.shape(), {dim});
  const Tensor kept_indices = alias_with_shape(indices, kept);
  record(values, decl, {x}, {kept_indices}, [dim, kept](Node& n, const Tensor& gy) -> TensorList {
    // The whole gradient goes to the selected index: a one-hot mask along dim, so the gradient
    // of this gradient (w.r.t. gy) is the matching gather.
    const Edge& in = n.next_edges()[0];
    const Tensor one_hot = kernels::one_hot_along(n.saved(0), dim, in.shape, in.dtype);
    return {mul(reshape(gy, kept), one_hot)};
  });
  return values;
}

Tensor arg_extreme_all_op(const Tensor& x, bool largest, const char* name) {
  check_defined(name, {{x, "input"}});
  XGRAD_CHECK(x.numel() > 0,
              "{}(): Expected reduction dim to be specified for input.numel() == 0 (input shape {}); "
              "pass a dim",
              name, to_string(x.shape()));
  return kernels::arg_extreme_all(x, largest);
}

Tensor arg_extreme_dim_op(const Tensor& x, std::int64_t dim0, bool keepdim, bool largest, const char* name) {
  check_defined(name, {{x, "input"}});
  const std::int64_t dim = wrap_dim(dim0, x.dim(), name);
  XGRAD_CHECK(x.dim() == 0 || x.size(dim) != 0,
              "{}(): Expected reduction dim {} to have non-zero size (input shape {})", name, dim,
              to_string(x.shape()));
  return kernels::extreme_dim(x, dim, keepdim, largest).second;
}
}  // namespace

namespace {
// max / min of a mask: found on its int64 0/1 values, returned as bool (PyTorch keeps the dtype).
Tensor back_to(Dtype d, const Tensor& y) { return d == boolean ? to_dtype(y, boolean) : y; }
}  // namespace

Tensor max(const Tensor& x) {
  check_defined("max", {{x, "input"}});
  return back_to(x.dtype(), extreme_all_op(as_int_if_bool(x), true, kMax));
}
Tensor min(const Tensor& x) {
  check_defined("min", {{x, "input"}});
  return back_to(x.dtype(), extreme_all_op(as_int_if_bool(x), false, kMin));
}
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("max", {{x, "input"}});
  return back_to(x.dtype(), extreme_dim_op(as_int_if_bool(x), dim, keepdim, true, kMax));
}
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("min", {{x, "input"}});
  return back_to(x.dtype(), extreme_dim_op(as_int_if_bool(x), dim, keepdim, false, kMin));
}
Tensor argmax(const Tensor& x) {
  check_defined("argmax", {{x, "input"}});
  return arg_extreme_all_op(as_int_if_bool(x), true, "argmax");
}
Tensor argmin(const Tensor& x) {
  check_defined("argmin", {{x, "input"}});
  return arg_extreme_all_op(as_int_if_bool(x), false, "argmin");
}
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("argmax", {{x, "input"}});
  return arg_extreme_dim_op(as_int_if_bool(x), dim, keepdim, true, "argmax");
}
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("argmin", {{x, "input"}});
  return arg_extreme_dim_op(as_int_if_bool(x), dim, keepdim, false, "argmin");
}

// ---- var / std

namespace {
Tensor var_impl(const Tensor& x, const Dims& dims0, std::int64_t correction, bool keepdim, bool take_sqrt,
                const OpDecl& decl) {
  const char* name = decl.name;
  check_defined(name, {{x, "input"}});
  XGRAD_CHECK(is_floating(x.dtype()), "{}: expects a floating tensor, got {} (input shape {})", name,
              dtype_name(x.dtype()), to_string(x.shape()));
  const Dims dims = normalize_dims(dims0, x.dim(), name);
  Tensor y = kernels::var_dims(x, dims, correction, keepdim, take_sqrt);
  const Shape kept = kept_shape(x.shape(), dims);
  // In double: count - correction overflows int64 for an extreme correction.
  const double divisor =
      std::max(0.0, static_cast<double>(reduced_count(x.shape(), dims)) - static_cast<double>(correction));
  record(y, decl, {x}, {x, y}, [dims, kept, divisor, take_sqrt](Node& n, const Tensor& gy) -> TensorList {
    // var: dx = dy * 2 (x - mean) / divisor; std: the same divided by 2 std.
    const Tensor x = n.saved(0);
    Tensor g = reshape(gy, kept);
    g = take_sqrt ? div(g, mul(reshape(n.saved(1), kept), scalar_like(divisor, x)))
                  : mul(g, scalar_like(2.0 / divisor, x));
    return {mul(g, sub(x, mean(x, dims, true)))};
  });
  return y;
}
}  // namespace

Tensor var(const Tensor& x, const Dims& dims, std::int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, false, kVar);
}

Tensor std(const Tensor& x, const Dims& dims, std::int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, true, kStd);
}

// ---- logsumexp

Tensor logsumexp(const Tensor& x, const Dims& dims0, bool keepdim) {
  check_defined("logsumexp", {{x, "input"}});
  XGRAD_CHECK(is_floating(x.dtype()), "logsumexp: expects a floating tensor, got {} (input shape {})",
              dtype_name(x.dtype()), to_string(x.shape()));
  const Dims dims = normalize_dims(dims0, x.dim(), "logsumexp");
  Tensor y = kernels::logsumexp_dims(x, dims, keepdim);
  const Shape kept = kept_shape(x.shape(), dims);
  record(y, kLogsumexp, {x}, {x, y}, [kept](Node& n, const Tensor& gy) -> TensorList {
    // dx = dy * softmax(x) = dy * exp(x - y)
    return {mul(reshape(gy, kept), exp(sub(n.saved(0), reshape(n.saved(1), kept))))};
  });
  return y;
}

void register_reduce_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kSum, {
               .differentiable = {true},
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
               }}));
  r.push_back(declared(kMean, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] all", {samples::input({3, 4}, d)}, [](const TensorList& in) { return mean(in[0]); }},
                     {"[2,3,4] dim 1 keepdim", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return mean(in[0], {1}, true); }},
                 };
               }}));

  using Call = std::function<Tensor(const TensorList&)>;
  // One sample per (description, input, call).
  auto one = [](std::string desc, Tensor x, Call call) { return OpSample{std::move(desc), {std::move(x)}, call}; };

  r.push_back(declared(kProd, {
               .differentiable = {true},
               .samples = [one](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::away_from_zero(s, d, 0.5, 1.5); };
                 return std::vector<OpSample>{
                     one("[3,4] all", x({3, 4}), [](const TensorList& in) { return prod(in[0]); }),
                     one("[2,3,4] dim 1", x({2, 3, 4}), [](const TensorList& in) { return prod(in[0], 1); }),
                     one("[2,3,4] dim -1 keepdim", x({2, 3, 4}),
                         [](const TensorList& in) { return prod(in[0], -1, true); }),
                     one("[3,1] dim 1 (size-1)", x({3, 1}), [](const TensorList& in) { return prod(in[0], 1); }),
                     one("0-d all", x({}), [](const TensorList& in) { return prod(in[0]); }),
                     one("0-d dim -1 keepdim", x({}), [](const TensorList& in) { return prod(in[0], -1, true); }),
                     one("[0,3] dim 0 (empty slices give 1)", x({0, 3}),
                         [](const TensorList& in) { return prod(in[0], 0); }),
                     one("[2,0] dim 0", x({2, 0}), [](const TensorList& in) { return prod(in[0], 0); }),
                 };
               }}));

  // max and min share samples: distinct values (a unique extreme per slice, margin 0.2).
  auto add_extreme = [&](const OpDecl& op, Tensor (*all)(const Tensor&),
                         Tensor (*along)(const Tensor&, std::int64_t, bool)) {
    r.push_back(declared(op, {.differentiable = {true},
                 .samples = [=](Dtype d) {
                   auto x = [d](const Shape& s) { return distinct_values(s, d, 0.2); };
                   return std::vector<OpSample>{
                       one("[3,4] all", x({3, 4}), [=](const TensorList& in) { return all(in[0]); }),
                       one("[2,3,4] dim 1", x({2, 3, 4}), [=](const TensorList& in) { return along(in[0], 1, false); }),
                       one("[2,3,4] dim -1 keepdim", x({2, 3, 4}),
                           [=](const TensorList& in) { return along(in[0], -1, true); }),
                       one("[4,1] dim 1 (size-1)", x({4, 1}), [=](const TensorList& in) { return along(in[0], 1, false); }),
                       one("[3,4] dim 0", x({3, 4}), [=](const TensorList& in) { return along(in[0], 0, false); }),
                       one("0-d all", x({}), [=](const TensorList& in) { return all(in[0]); }),
                       one("0-d dim 0", x({}), [=](const TensorList& in) { return along(in[0], 0, false); }),
                       one("[0,3] dim 1 (empty kept dim)", x({0, 3}),
                           [=](const TensorList& in) { return along(in[0], 1, false); }),
                   };
                 }}));
  };
  add_extreme(kMax, max, max);
  add_extreme(kMin, min, min);

  // var and std: distinct values keep every slice's spread (and std) well away from 0.
  auto add_spread = [&](const OpDecl& op, Tensor (*fn)(const Tensor&, const Dims&, std::int64_t, bool)) {
    r.push_back(declared(op, {.differentiable = {true},
                 .samples = [=](Dtype d) {
                   auto x = [d](const Shape& s) { return distinct_values(s, d, 0.2); };
                   return std::vector<OpSample>{
                       one("[3,4] all", x({3, 4}), [=](const TensorList& in) { return fn(in[0], {}, 1, false); }),
                       one("[2,3,4] dims (0,2)", x({2, 3, 4}),
                           [=](const TensorList& in) { return fn(in[0], {0, 2}, 1, false); }),
                       one("[2,3,4] dim -1 keepdim", x({2, 3, 4}),
                           [=](const TensorList& in) { return fn(in[0], {-1}, 1, true); }),
                       one("[3,4] dim -2 correction 0", x({3, 4}),
                           [=](const TensorList& in) { return fn(in[0], {-2}, 0, false); }),
                       one("[2,5] dim 1 correction 2", x({2, 5}),
                           [=](const TensorList& in) { return fn(in[0], {1}, 2, false); }),
                       one("[0,3] dim 1 (empty kept dim)", x({0, 3}),
                           [=](const TensorList& in) { return fn(in[0], {1}, 1, false); }),
                   };
                 }}));
  };
  add_spread(kVar, var);
  add_spread(kStd, std);

  r.push_back(declared(kLogsumexp, {
               .differentiable = {true},
               .samples = [one](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d, -2.0, 2.0); };
                 return std::vector<OpSample>{
                     one("[3,4] dim 1", x({3, 4}), [](const TensorList& in) { return logsumexp(in[0], {1}); }),
                     one("[2,3,4] dims (0,2)", x({2, 3, 4}),
                         [](const TensorList& in) { return logsumexp(in[0], {0, 2}); }),
                     one("[2,3,4] dim -1 keepdim", x({2, 3, 4}),
                         [](const TensorList& in) { return logsumexp(in[0], {-1}, true); }),
                     one("[3,4] all dims", x({3, 4}), [](const TensorList& in) { return logsumexp(in[0], {}); }),
                     one("0-d dim 0", x({}), [](const TensorList& in) { return logsumexp(in[0], {0}); }),
                     one("[0,3] dim 1 (empty kept dim)", x({0, 3}),
                         [](const TensorList& in) { return logsumexp(in[0], {1}); }),
                 };
               }}));
}

}  // namespace xgrad
