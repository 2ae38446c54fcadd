// Softmax and log_softmax, forward and backward, and the per-sample log-sum-exp the losses use.
// Contiguous rows (the class dim last) run max, sum-of-exp and the
// writes with xsimd batches; a row's tail goes through one padded batch, so even 10-class rows
// need no scalar exp. Other dims iterate over [outer, classes, inner] blocks, vectorised over
// inner. Work is split over rows with the thread pool; small inputs stay on the calling thread.
#include "softmax.h"
#include "intrinsics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../dispatch.h"
#include "softmax_common.h"

namespace xgrad::kernels {

namespace softmax_detail {

// Per sample: the max m over classes and log(sum(exp(x - m))); log_softmax = (x - m) - log_sum.
template <class T>
void logsumexp_of_samples(const T* x, T* max, T* log_sum, const ClassLayout& L) {
  const std::int64_t C = L.classes, inner = L.inner;
  if (C == 0) {  // no classes: log(0); only ignored targets can reach here
    std::fill(max, max + L.samples(), kNegInf<T>);
    std::fill(log_sum, log_sum + L.samples(), kNegInf<T>);
    return;
  }
  if (inner == 1 && narrow<T>(C)) {
    for_row_blocks<T>(L.outer, C, [=](std::int64_t r0, std::int64_t n, T* buf) {
      gather_block(x + r0 * C, n, C, buf);
      Batch<T> m, ls;
      block_logsumexp<false>(buf, C, m, ls);
      store_tail(m, max + r0, n);
      store_tail(ls, log_sum + r0, n);
    });
    return;
  }
  if (inner == 1) {
    parallel_rows(L.outer, grain_rows(C), [=](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        max[r] = row_max(xr, C);
        log_sum[r] = std::log(sum_exp<false>(xr, C, max[r], static_cast<T*>(nullptr)));
      }
    });
    return;
  }
  parallel_rows(L.outer, grain_rows(C * inner), [=](std::int64_t o0, std::int64_t o1) {
    std::vector<T> tmp(static_cast<std::size_t>(C * inner));
    for (std::int64_t o = o0; o < o1; ++o) {
      T* s = log_sum + o * inner;
      block_max_sumexp(x + o * C * inner, C, inner, max + o * inner, s, tmp.data());
      for (std::int64_t j = 0; j < inner; ++j) s[j] = std::log(s[j]);
    }
  });
}

template void logsumexp_of_samples<float>(const float*, float*, float*, const ClassLayout&);
template void logsumexp_of_samples<double>(const double*, double*, double*, const ClassLayout&);

}  // namespace softmax_detail

namespace {

using namespace softmax_detail;

template <class T>
T dot(const T* a, const T* b, std::int64_t n) {
  constexpr std::int64_t W = kLanes<T>;
  Batch<T> acc(T(0));
  std::int64_t k = 0;
  for (; k + W <= n; k += W) acc += Batch<T>::load_unaligned(a + k) * Batch<T>::load_unaligned(b + k);
  T out = xsimd::hadd(acc);
  for (; k < n; ++k) out += a[k] * b[k];
  return out;
}

template <class T>
void softmax_narrow(const T* x, T* y, std::int64_t rows, std::int64_t C, bool log) {
  constexpr std::int64_t W = kLanes<T>;
  for_row_blocks<T>(rows, C, [=](std::int64_t r0, std::int64_t n, T* buf) {
    gather_block(x + r0 * C, n, C, buf);
    Batch<T> m, ls;
    if (log) {
      block_logsumexp<false>(buf, C, m, ls);
      for (std::int64_t c = 0; c < C; ++c)
        ((Batch<T>::load_aligned(buf + c * W) - m) - ls).store_aligned(buf + c * W);
    } else {
      block_logsumexp<true>(buf, C, m, ls);
      const Batch<T> inv = simd::exp(-ls);
      for (std::int64_t c = 0; c < C; ++c) (Batch<T>::load_aligned(buf + c * W) * inv).store_aligned(buf + c * W);
    }
    scatter_block(buf, n, C, y + r0 * C);
  });
}

template <class T>
void softmax_backward_narrow(const T* gy, const T* y, T* dx, std::int64_t rows, std::int64_t C, bool log) {
  constexpr std::int64_t W = kLanes<T>;
  for_row_blocks<T>(rows, C, [=](std::int64_t r0, std::int64_t n, T* buf) {
    alignas(64) T ybuf[W * W];
    gather_block(gy + r0 * C, n, C, buf);
    gather_block(y + r0 * C, n, C, ybuf);
    Batch<T> s(T(0));
    for (std::int64_t c = 0; c < C; ++c) {
      const Batch<T> g = Batch<T>::load_aligned(buf + c * W);
      s += log ? g : g * Batch<T>::load_aligned(ybuf + c * W);
    }
    for (std::int64_t c = 0; c < C; ++c) {
      const Batch<T> g = Batch<T>::load_aligned(buf + c * W), yv = Batch<T>::load_aligned(ybuf + c * W);
      (log ? g - simd::exp(yv) * s : yv * (g - s)).store_aligned(buf + c * W);
    }
    scatter_block(buf, n, C, dx + r0 * C);
  });
}

// ---- softmax forward

template <class T>
void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t C, bool log) {
  if (narrow<T>(C)) return softmax_narrow(x, y, rows, C, log);
  parallel_rows(rows, grain_rows(C), [=](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * C;
      T* yr = y + r * C;
      const T m = row_max(xr, C);
      if (log) {
        // (x - m) - log(s), not x - (m + log(s)): exact shifted logits keep float32 precise.
        const T ls = std::log(sum_exp<false>(xr, C, m, static_cast<T*>(nullptr)));
        for (std::int64_t k = 0; k < C; ++k) yr[k] = (xr[k] - m) - ls;
      } else {
        const T inv = T(1) / sum_exp<true>(xr, C, m, yr);
        for (std::int64_t k = 0; k < C; ++k) yr[k] *= inv;
      }
    }
  });
}

template <class T>
void softmax_strided(const T* x, T* y, const ClassLayout& L, bool log) {
  const std::int64_t C = L.classes, inner = L.inner;
  parallel_rows(L.outer, grain_rows(C * inner), [=](std::int64_t o0, std::int64_t o1) {
    std::vector<T> m(static_cast<std::size_t>(inner)), s(static_cast<std::size_t>(inner));
    for (std::int64_t o = o0; o < o1; ++o) {
      const T* xb = x + o * C * inner;
      T* yb = y + o * C * inner;
      block_max_sumexp(xb, C, inner, m.data(), s.data(), yb);
      if (log) {
        for (std::int64_t j = 0; j < inner; ++j) s[j] = std::log(s[j]);
        for (std::int64_t c = 0; c < C; ++c)
          for (std::int64_t j = 0; j < inner; ++j) yb[c * inner + j] = (xb[c * inner + j] - m[j]) - s[j];
      } else {
        for (std::int64_t j = 0; j < inner; ++j) s[j] = T(1) / s[j];
        for (std::int64_t c = 0; c < C; ++c)
          for (std::int64_t j = 0; j < inner; ++j) yb[c * inner + j] *= s[j];
      }
    }
  });
}

// ---- softmax backward

template <class T>
void softmax_backward_rows(const T* gy, const T* y, T* dx, std::int64_t rows, std::int64_t C, bool log) {
  if (narrow<T>(C)) return softmax_backward_narrow(gy, y, dx, rows, C, log);
  parallel_rows(rows, grain_rows(C), [=](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* g = gy + r * C;
      const T* yr = y + r * C;
      T* d = dx + r * C;
      if (log) {
        // dx = gy - exp(y) * sum(gy)
        scaled_exp(yr, C, T(0), T(0), -row_sum(g, C), T(0), static_cast<const T*>(nullptr), d);
        for (std::int64_t k = 0; k < C; ++k) d[k] += g[k];
      } else {
        const T s = dot(g, yr, C);
        for (std::int64_t k = 0; k < C; ++k) d[k] = yr[k] * (g[k] - s);
      }
    }
  });
}

template <class T>
void softmax_backward_strided(const T* gy, const T* y, T* dx, const ClassLayout& L, bool log) {
  const std::int64_t C = L.classes, inner = L.inner;
  parallel_rows(L.outer, grain_rows(C * inner), [=](std::int64_t o0, std::int64_t o1) {
    std::vector<T> s(static_cast<std::size_t>(inner));
    for (std::int64_t o = o0; o < o1; ++o) {
      const std::int64_t base = o * C * inner;
      const T* g = gy + base;
      const T* yb = y + base;
      T* d = dx + base;
      std::fill(s.begin(), s.end(), T(0));
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t j = 0; j < inner; ++j)
          s[j] += log ? g[c * inner + j] : g[c * inner + j] * yb[c * inner + j];
      if (log) {
        std::copy(yb, yb + C * inner, d);
        exp_inplace(d, C * inner);
        for (std::int64_t c = 0; c < C; ++c)
          for (std::int64_t j = 0; j < inner; ++j) d[c * inner + j] = g[c * inner + j] - d[c * inner + j] * s[j];
      } else {
        for (std::int64_t c = 0; c < C; ++c)
          for (std::int64_t j = 0; j < inner; ++j)
            d[c * inner + j] = yb[c * inner + j] * (g[c * inner + j] - s[j]);
      }
    }
  });
}

}  // namespace

ClassLayout layout_along(const Shape& shape, std::int64_t dim) {
  ClassLayout L;
  if (shape.empty()) return L;
  const auto d = static_cast<std::size_t>(dim);
  for (std::size_t k = 0; k < d; ++k) L.outer *= shape[k];
  L.classes = shape[d];
  for (std::size_t k = d + 1; k < shape.size(); ++k) L.inner *= shape[k];
  return L;
}

Tensor softmax_forward(const Tensor& x, const ClassLayout& L, bool log) {
  Tensor y = make_tensor(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    if (L.inner == 1)
      softmax_rows(x.impl()->data<T>(), y.impl()->data<T>(), L.outer, L.classes, log);
    else
      softmax_strided(x.impl()->data<T>(), y.impl()->data<T>(), L, log);
  });
  return y;
}

Tensor softmax_backward(const Tensor& gy, const Tensor& y, const ClassLayout& L, bool log) {
  Tensor dx = make_tensor(y.shape(), y.dtype());
  if (y.numel() == 0) return dx;
  XGRAD_DISPATCH_FLOAT(y.dtype(), T, {
    if (L.inner == 1)
      softmax_backward_rows(gy.impl()->data<T>(), y.impl()->data<T>(), dx.impl()->data<T>(), L.outer, L.classes, log);
    else
      softmax_backward_strided(gy.impl()->data<T>(), y.impl()->data<T>(), dx.impl()->data<T>(), L, log);
  });
  return dx;
}

}  // namespace xgrad::kernels
