#include "reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xoperation.hpp>
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

bool reduces_all(const Tensor& x, const Dims& dims) { return static_cast<std::int64_t>(dims.size()) == x.dim(); }

std::int64_t reduced_count(const Shape& s, const Dims& dims) {
  std::int64_t n = 1;
  for (auto d : dims) n *= s[static_cast<std::size_t>(d)];
  return n;
}

// Runs an xtensor reducer `reduce(expr, axes)` over x's dims into out. Reducing every dim goes
// through the rank-1 view (the SIMD path); the result's element order is out's either way.
template <class T, class R>
void reduce_into(const Tensor& x, const Dims& dims, Tensor& out, R reduce) {
  auto o = flat<T>(out);
  if (reduces_all(x, dims)) {
    auto r = reduce(flat<T>(x), std::vector<std::size_t>{0});
    o(0) = static_cast<T>(r());
  } else {
    auto r = reduce(shaped<T>(x), std::vector<std::size_t>(dims.begin(), dims.end()));
    std::copy(r.begin(), r.end(), o.begin());
  }
}

// True when v should replace the current best: strictly better, or the first NaN (NaN wins).
template <class T>
inline bool beats(T v, T best, bool largest) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(best)) return false;
    if (std::isnan(v)) return true;
  }
  return largest ? v > best : v < best;
}

// x viewed as [outer, n, inner]: the best value and its first index along the middle dim.
// Rows are scanned whole so the inner loop walks contiguous memory. n must be >= 1.
template <class T>
void scan_extreme(const T* x, std::int64_t outer, std::int64_t n, std::int64_t inner, T* values,
                  std::int64_t* indices, bool largest) {
  for (std::int64_t o = 0; o < outer; ++o) {
    const T* block = x + o * n * inner;
    T* best = values + o * inner;
    std::int64_t* at = indices + o * inner;
    std::copy(block, block + inner, best);
    std::fill(at, at + inner, std::int64_t{0});
    for (std::int64_t j = 1; j < n; ++j) {
      const T* row = block + j * inner;
      for (std::int64_t k = 0; k < inner; ++k)
        if (beats(row[k], best[k], largest)) {
          best[k] = row[k];
          at[k] = j;
        }
    }
  }
}

}  // namespace

Tensor sum_dims(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    reduce_into<T>(x, dims, out, [](auto&& e, const std::vector<std::size_t>& axes) {
      return xt::sum(e, axes, xt::evaluation_strategy::immediate);
    });
  });
  return out;
}

Tensor prod_dims(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    reduce_into<T>(x, dims, out, [](auto&& e, const std::vector<std::size_t>& axes) {
      return xt::prod(e, axes, xt::evaluation_strategy::immediate);
    });
  });
  return out;
}

Tensor extreme_all(const Tensor& x, bool largest) {
  Tensor out = make_tensor(Shape{}, x.dtype());
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    auto f = flat<T>(x);
    T m = largest ? xt::amax(f, xt::evaluation_strategy::immediate)()
                  : xt::amin(f, xt::evaluation_strategy::immediate)();
    if constexpr (std::is_floating_point_v<T>) {
      if (xt::any(xt::isnan(f))) m = std::numeric_limits<T>::quiet_NaN();
    }
    out.impl()->data<T>()[0] = m;
  });
  return out;
}

std::pair<Tensor, Tensor> extreme_dim(const Tensor& x, std::int64_t dim, bool keepdim, bool largest) {
  const Shape& s = x.shape();
  const Dims dims = x.dim() == 0 ? Dims{} : Dims{dim};
  const Shape out_shape = reduced_shape(s, dims, keepdim);
  Tensor values = make_tensor(out_shape, x.dtype());
  Tensor indices = make_tensor(out_shape, Dtype::int64);
  if (values.numel() == 0) return {values, indices};
  std::int64_t outer = 1, n = 1, inner = 1;
  for (std::int64_t i = 0; i < x.dim(); ++i) {
    const auto size = s[static_cast<std::size_t>(i)];
    (i < dim ? outer : i == dim ? n : inner) *= size;
  }
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    scan_extreme<T>(x.data<T>(), outer, n, inner, values.mutable_data<T>(), indices.mutable_data<std::int64_t>(),
                    largest);
  });
  return {values, indices};
}

Tensor arg_extreme_all(const Tensor& x, bool largest) {
  Tensor index = make_tensor(Shape{}, Dtype::int64);
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    T best{};
    scan_extreme<T>(x.data<T>(), 1, x.numel(), 1, &best, index.mutable_data<std::int64_t>(), largest);
  });
  return index;
}

Tensor var_dims(const Tensor& x, const Dims& dims, std::int64_t correction, bool keepdim, bool take_sqrt) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  const std::int64_t count = reduced_count(x.shape(), dims);
  // PyTorch divides by max(0, count - correction): too few elements give inf or NaN.
  const double divisor = static_cast<double>(std::max<std::int64_t>(0, count - correction));
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    auto o = flat<T>(out);
    const T inv_count = count == 0 ? std::numeric_limits<T>::quiet_NaN() : T(1) / static_cast<T>(count);
    // Two passes (mean, then squared deviations): accurate where E[x^2] - E[x]^2 cancels.
    if (reduces_all(x, dims)) {
      auto f = flat<T>(x);
      const T mean = static_cast<T>(xt::sum(f, xt::evaluation_strategy::immediate)()) * inv_count;
      o(0) = static_cast<T>(xt::sum(xt::square(f - mean), xt::evaluation_strategy::immediate)());
    } else {
      const std::vector<std::size_t> axes(dims.begin(), dims.end());
      auto sx = shaped<T>(x);
      xt::xarray<T> mean = xt::sum(sx, axes, xt::keep_dims | xt::evaluation_strategy::immediate);
      mean *= inv_count;
      xt::xarray<T> ss = xt::sum(xt::square(sx - mean), axes, xt::evaluation_strategy::immediate);
      std::copy(ss.begin(), ss.end(), o.begin());
    }
    o /= static_cast<T>(divisor);
    if (take_sqrt) o = xt::sqrt(o);
  });
  return out;
}

Tensor logsumexp_dims(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    auto o = flat<T>(out);
    if (reduced_count(x.shape(), dims) == 0) {
      o.fill(-std::numeric_limits<T>::infinity());  // log of an empty sum
    } else if (reduces_all(x, dims)) {
      auto f = flat<T>(x);
      T m = xt::amax(f, xt::evaluation_strategy::immediate)();
      if (std::isinf(m)) m = 0;  // all -inf, or an inf: shifting by it would give NaN
      o(0) = std::log(static_cast<T>(xt::sum(xt::exp(f - m), xt::evaluation_strategy::immediate)())) + m;
    } else {
      const std::vector<std::size_t> axes(dims.begin(), dims.end());
      auto sx = shaped<T>(x);
      xt::xarray<T> m = xt::amax(sx, axes, xt::keep_dims | xt::evaluation_strategy::immediate);
      m = xt::where(xt::isinf(m), T(0), m);
      xt::xarray<T> s = xt::sum(xt::exp(sx - m), axes, xt::evaluation_strategy::immediate);
      // s (reduced) and m (kept dims) list the same slices in the same order.
      auto mf = xt::adapt(m.data(), m.size(), xt::no_ownership(), std::array<std::size_t, 1>{m.size()});
      auto sf = xt::adapt(s.data(), s.size(), xt::no_ownership(), std::array<std::size_t, 1>{s.size()});
      xt::noalias(o) = xt::log(sf) + mf;
    }
  });
  return out;
}

Tensor equal_mask(const Tensor& x, const Tensor& value, Dtype dtype) {
  Tensor out = make_tensor(x.shape(), dtype);
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), S, {
    XGRAD_DISPATCH_FLOAT(dtype, D, {
      if (value.numel() == 1) {
        auto o = flat<D>(out);
        xt::noalias(o) = xt::cast<D>(xt::equal(flat<S>(x), value.data<S>()[0]));
      } else {
        auto o = shaped<D>(out);
        xt::noalias(o) = xt::cast<D>(xt::equal(shaped<S>(x), shaped<S>(value)));
      }
    });
  });
  return out;
}

Tensor one_hot_along(const Tensor& index, std::int64_t dim, const Shape& shape, Dtype dtype) {
  Tensor out = make_tensor(shape, dtype);
  if (out.numel() == 0) return out;
  std::vector<std::size_t> position_shape(shape.size(), 1);
  if (!shape.empty()) position_shape[static_cast<std::size_t>(dim)] = static_cast<std::size_t>(shape[dim]);
  const auto n = shape.empty() ? std::int64_t{1} : shape[static_cast<std::size_t>(dim)];
  xt::xarray<std::int64_t> positions = xt::arange<std::int64_t>(n);
  positions.reshape(position_shape);
  XGRAD_DISPATCH_FLOAT(dtype, D, {
    auto o = shaped<D>(out);
    xt::noalias(o) = xt::cast<D>(xt::equal(positions, shaped<std::int64_t>(index)));
  });
  return out;
}

std::int64_t count_equal(const Tensor& x, double value) {
  std::int64_t n = 0;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    const T* p = x.data<T>();
    n = std::count(p, p + x.numel(), static_cast<T>(value));
  });
  return n;
}

}  // namespace xgrad::kernels
