#include "reduce.h"
#include "intrinsics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xoperation.hpp>
#include <xtensor/xreducer.hpp>

#include "../convert.h"
#include "../dispatch.h"
#include "simd.h"
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

enum class Fold { sum, prod, max, min };

// src viewed as [outer, n, inner] with static rank, folded over the middle dim into dst
// ([outer, inner]). Static ranks matter: under C++20, xtensor 0.24 types an immediate reduction
// of a dynamic-rank expression as a rank-4 xtensor, which corrupts memory.
template <class T>
void fold_middle(const T* src, std::size_t outer, std::size_t n, std::size_t inner, T* dst, Fold f) {
  if (n == 0) {  // an empty slice: the fold's identity (max/min are rejected before)
    std::fill(dst, dst + outer * inner, f == Fold::prod ? T(1) : T(0));
    return;
  }
  auto in = xt::adapt(src, outer * n * inner, xt::no_ownership(), std::array<std::size_t, 3>{outer, n, inner});
  auto out = xt::adapt(dst, outer * inner, xt::no_ownership(), std::array<std::size_t, 2>{outer, inner});
  constexpr std::array<std::size_t, 1> middle{1};
  constexpr auto now = xt::evaluation_strategy::immediate;
  switch (f) {
    case Fold::sum: xt::noalias(out) = xt::sum(in, middle, now); break;
    case Fold::prod: xt::noalias(out) = xt::prod(in, middle, now); break;
    case Fold::max: xt::noalias(out) = xt::amax(in, middle, now); break;
    case Fold::min: xt::noalias(out) = xt::amin(in, middle, now); break;
  }
}

// Folds the given dims of a row-major buffer of `shape`, one run of adjacent dims at a time
// (last run first). The result lists the slices in row-major order of the remaining dims.
template <class T>
std::vector<T> fold_dims(const T* data, const Shape& shape, const Dims& dims, Fold f) {
  std::vector<std::size_t> s(shape.begin(), shape.end());
  if (dims.empty()) return std::vector<T>(data, data + numel_of(shape));
  std::vector<T> current;
  const T* src = data;
  std::size_t end = dims.size();
  while (end > 0) {
    std::size_t begin = end - 1;
    while (begin > 0 && dims[begin - 1] == dims[begin] - 1) --begin;
    const auto first = static_cast<std::size_t>(dims[begin]), last = static_cast<std::size_t>(dims[end - 1]);
    std::size_t outer = 1, n = 1, inner = 1;
    for (std::size_t i = 0; i < s.size(); ++i) (i < first ? outer : i <= last ? n : inner) *= s[i];
    std::vector<T> next(outer * inner);
    if (!next.empty()) fold_middle<T>(src, outer, n, inner, next.data(), f);
    current = std::move(next);
    src = current.data();
    for (std::size_t i = first; i <= last; ++i) s[i] = 1;
    end = begin;
  }
  return current;
}

// Sum or product (not max/min: those compare signed) of dims of x into out (any keepdim: the
// element order is the same). int64 folds in uint64
// (wrapping_t): an int64 sum or product that overflows wraps modulo 2^64, as PyTorch's.
template <class T>
void fold_into(const Tensor& x, const Dims& dims, Tensor& out, Fold f) {
  using W = wrapping_t<T>;
  const W* src = x.impl()->data<W>();
  W* dst = out.impl()->data<W>();
  if (reduces_all(x, dims)) {
    // One run over the flat buffer: a [1, numel, 1] fold.
    fold_middle<W>(src, 1, static_cast<std::size_t>(x.numel()), 1, dst, f);
    return;
  }
  const std::vector<W> r = fold_dims<W>(src, x.shape(), dims, f);
  std::copy(r.begin(), r.end(), dst);
}

// x's shape with the reduced dims set to 1.
std::vector<std::size_t> kept_xt_shape(const Shape& s, const Dims& dims) {
  std::vector<std::size_t> k(s.begin(), s.end());
  for (auto d : dims) k[static_cast<std::size_t>(d)] = 1;
  return k;
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
    fold_into<T>(x, dims, out, Fold::sum);
  });
  return out;
}

Tensor prod_dims(const Tensor& x, const Dims& dims, bool keepdim) {
  Tensor out = make_tensor(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    fold_into<T>(x, dims, out, Fold::prod);
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
  // In double: count - correction overflows int64 for an extreme correction.
  const double divisor = std::max(0.0, static_cast<double>(count) - static_cast<double>(correction));
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    auto o = flat<T>(out);
    const T inv_count = count == 0 ? std::numeric_limits<T>::quiet_NaN() : T(1) / static_cast<T>(count);
    // Two passes (mean, then squared deviations): accurate where E[x^2] - E[x]^2 cancels.
    if (reduces_all(x, dims)) {
      auto f = flat<T>(x);
      const T mean = static_cast<T>(xt::sum(f, xt::evaluation_strategy::immediate)()) * inv_count;
      o(0) = static_cast<T>(xt::sum(xt::square(f - mean), xt::evaluation_strategy::immediate)());
    } else {
      std::vector<T> mean = fold_dims<T>(x.data<T>(), x.shape(), dims, Fold::sum);
      auto mean_kept = xt::adapt(mean.data(), mean.size(), xt::no_ownership(), kept_xt_shape(x.shape(), dims));
      mean_kept *= inv_count;
      std::vector<T> deviations(static_cast<std::size_t>(x.numel()));
      auto dev = xt::adapt(deviations.data(), deviations.size(), xt::no_ownership(), xt_shape(x.shape()));
      xt::noalias(dev) = xt::square(shaped<T>(x) - mean_kept);
      const std::vector<T> ss = fold_dims<T>(deviations.data(), x.shape(), dims, Fold::sum);
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
      std::vector<T> shifted(static_cast<std::size_t>(x.numel()));
      auto e = xt::adapt(shifted.data(), shifted.size(), xt::no_ownership(), std::array<std::size_t, 1>{shifted.size()});
      xt::noalias(e) = f - m;
      simd::map(shifted.data(), shifted.data(), x.numel(), T(0), [](const auto& v) { return simd::exp(v); });
      o(0) = std::log(static_cast<T>(xt::sum(e, xt::evaluation_strategy::immediate)())) + m;
    } else {
      std::vector<T> m = fold_dims<T>(x.data<T>(), x.shape(), dims, Fold::max);
      auto m_kept = xt::adapt(m.data(), m.size(), xt::no_ownership(), kept_xt_shape(x.shape(), dims));
      m_kept = xt::where(xt::isinf(m_kept), T(0), m_kept);
      std::vector<T> shifted(static_cast<std::size_t>(x.numel()));
      auto e = xt::adapt(shifted.data(), shifted.size(), xt::no_ownership(), xt_shape(x.shape()));
      xt::noalias(e) = shaped<T>(x) - m_kept;
      simd::map(shifted.data(), shifted.data(), x.numel(), T(0), [](const auto& v) { return simd::exp(v); });
      const std::vector<T> s = fold_dims<T>(shifted.data(), x.shape(), dims, Fold::sum);
      for (std::size_t k = 0; k < s.size(); ++k) o(k) = std::log(s[k]) + m[k];
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
    // An integer tensor holds no fractional or out-of-range value (and converting one is undefined).
    if (std::is_floating_point_v<T> || is_int64_value(value)) n = std::count(p, p + x.numel(), static_cast<T>(value));
  });
  return n;
}

}  // namespace xgrad::kernels
