// Softmax-family row kernels. Contiguous rows (the class dim last) run max, sum-of-exp and the
// writes with xsimd batches; a row's tail goes through one padded batch, so even 10-class rows
// need no scalar exp. Other dims iterate over [outer, classes, inner] blocks, vectorised over
// inner. Work is split over rows with the thread pool; small inputs stay on the calling thread.
#include "softmax.h"
#include "intrinsics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <fmt/ranges.h>
#include <xsimd/xsimd.hpp>

#include "../../include/xgrad/dtype.h"
#include "../dispatch.h"
#include "../parallel.h"
#include "simd.h"

namespace xgrad::kernels {

namespace {

using simd::Batch;
using simd::kLanes;
using simd::load_tail;
using simd::store_tail;

// Below this many elements per chunk a thread costs more than it saves.
constexpr std::int64_t kGrainElements = std::int64_t{1} << 15;

std::int64_t grain_rows(std::int64_t row_elements) {
  return std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(1, row_elements));
}

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// Rows in pieces taken from a shared counter (parallel_for_dynamic), so a thread that the OS
// delays (a busy core) does not hold the others up, as one static half each would.
template <class F>
void parallel_rows(std::int64_t n, std::int64_t grain, F fn) {
  const int chunks = parallel::chunks_for(n, grain);
  if (chunks <= 1) {
    if (n > 0) fn(std::int64_t{0}, n);
    return;
  }
  const std::int64_t step = std::max<std::int64_t>(1, std::min(grain, n / (16 * std::int64_t{chunks})));
  parallel::parallel_for_dynamic(n, chunks, step, [&](std::int64_t begin, std::int64_t end, int) { fn(begin, end); });
}

template <class T>
T row_max(const T* x, std::int64_t n) {
  constexpr std::int64_t W = kLanes<T>;
  Batch<T> m(kNegInf<T>);
  std::int64_t k = 0;
  for (; k + W <= n; k += W) m = xsimd::max(m, Batch<T>::load_unaligned(x + k));
  alignas(64) T lanes[W];
  m.store_aligned(lanes);
  T out = kNegInf<T>;
  for (std::int64_t i = 0; i < W; ++i) out = std::max(out, lanes[i]);
  for (; k < n; ++k) out = x[k] > out || std::isnan(x[k]) ? x[k] : out;
  return out;
}

// sum(exp(x - shift)); with Store, exp(x - shift) is also written to out.
template <bool Store, class T>
T sum_exp(const T* x, std::int64_t n, T shift, T* out) {
  constexpr std::int64_t W = kLanes<T>;
  const Batch<T> sh(shift);
  Batch<T> acc(T(0));
  std::int64_t k = 0;
  for (; k + W <= n; k += W) {
    const Batch<T> e = simd::exp(Batch<T>::load_unaligned(x + k) - sh);
    if constexpr (Store) e.store_unaligned(out + k);
    acc += e;
  }
  if (k < n) {
    // Padding with -inf adds exp(-inf) = 0.
    const Batch<T> e = simd::exp(load_tail(x + k, n - k, kNegInf<T>) - sh);
    if constexpr (Store) store_tail(e, out + k, n - k);
    acc += e;
  }
  return xsimd::hadd(acc);
}

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
T row_sum(const T* a, std::int64_t n) {
  constexpr std::int64_t W = kLanes<T>;
  Batch<T> acc(T(0));
  std::int64_t k = 0;
  for (; k + W <= n; k += W) acc += Batch<T>::load_unaligned(a + k);
  T out = xsimd::hadd(acc);
  for (; k < n; ++k) out += a[k];
  return out;
}

// out = a * exp((x - shift) - log_sum) + c * w (w may be null: then + c), vectorised with a
// padded tail.
template <class T>
void scaled_exp(const T* x, std::int64_t n, T shift, T log_sum, T a, T c, const T* w, T* out) {
  constexpr std::int64_t W = kLanes<T>;
  const Batch<T> sh(shift), ls(log_sum), av(a), cv(c);
  std::int64_t k = 0;
  for (; k + W <= n; k += W) {
    const Batch<T> e = av * simd::exp((Batch<T>::load_unaligned(x + k) - sh) - ls);
    const Batch<T> add = w ? cv * Batch<T>::load_unaligned(w + k) : cv;
    (e + add).store_unaligned(out + k);
  }
  if (k < n) {
    const Batch<T> e = av * simd::exp((load_tail(x + k, n - k, shift) - sh) - ls);
    const Batch<T> add = w ? cv * load_tail(w + k, n - k, T(0)) : cv;
    store_tail(e + add, out + k, n - k);
  }
}

// exp in place over a contiguous run.
template <class T>
void exp_inplace(T* p, std::int64_t n) {
  constexpr std::int64_t W = kLanes<T>;
  std::int64_t k = 0;
  for (; k + W <= n; k += W) simd::exp(Batch<T>::load_unaligned(p + k)).store_unaligned(p + k);
  if (k < n) store_tail(simd::exp(load_tail(p + k, n - k, T(0))), p + k, n - k);
}

// ---- narrow rows (fewer classes than lanes): a block of kLanes rows is transposed so that
// each batch holds one class of kLanes rows; max, exp and log then run once per class, not per row.

template <class T>
bool narrow(std::int64_t C) {
  return C < kLanes<T>;
}

// buf[c * W + lane] = x[(row0 + lane) * C + c] for the block's `rows` rows; other lanes get 0.
template <class T>
void gather_block(const T* x, std::int64_t rows, std::int64_t C, T* buf) {
  constexpr std::int64_t W = kLanes<T>;
  if (rows < W) std::fill(buf, buf + C * W, T(0));
  for (std::int64_t lane = 0; lane < rows; ++lane)
    for (std::int64_t c = 0; c < C; ++c) buf[c * W + lane] = x[lane * C + c];
}
template <class T>
void scatter_block(const T* buf, std::int64_t rows, std::int64_t C, T* y) {
  constexpr std::int64_t W = kLanes<T>;
  for (std::int64_t lane = 0; lane < rows; ++lane)
    for (std::int64_t c = 0; c < C; ++c) y[lane * C + c] = buf[c * W + lane];
}

// Per lane: m = max over classes, log_sum = log(sum(exp(x - m))); with Store, buf becomes exp(x - m).
template <bool Store, class T>
void block_logsumexp(T* buf, std::int64_t C, Batch<T>& m, Batch<T>& log_sum) {
  constexpr std::int64_t W = kLanes<T>;
  m = Batch<T>::load_aligned(buf);
  for (std::int64_t c = 1; c < C; ++c) m = xsimd::max(m, Batch<T>::load_aligned(buf + c * W));
  Batch<T> s(T(0));
  for (std::int64_t c = 0; c < C; ++c) {
    const Batch<T> e = simd::exp(Batch<T>::load_aligned(buf + c * W) - m);
    if constexpr (Store) e.store_aligned(buf + c * W);
    s += e;
  }
  log_sum = xsimd::log(s);
}

// Runs fn(first_row, rows_in_block, buf) over blocks of kLanes rows, split over the pool.
template <class T, class F>
void for_row_blocks(std::int64_t rows, std::int64_t C, F fn) {
  constexpr std::int64_t W = kLanes<T>;
  const std::int64_t blocks = (rows + W - 1) / W;
  parallel_rows(blocks, grain_rows(C * W), [&](std::int64_t b0, std::int64_t b1) {
    alignas(64) T buf[W * W];  // C < W classes
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = b * W;
      fn(r0, std::min(W, rows - r0), buf);
    }
  });
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

// Per inner position of one [C, inner] block: m = max over classes, s = sum exp(x - m);
// `tmp` (C * inner, may alias the output) receives exp(x - m).
template <class T>
void block_max_sumexp(const T* xb, std::int64_t C, std::int64_t inner, T* m, T* s, T* tmp) {
  std::fill(m, m + inner, kNegInf<T>);
  std::fill(s, s + inner, T(0));
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t j = 0; j < inner; ++j) m[j] = std::max(m[j], xb[c * inner + j]);
  for (std::int64_t c = 0; c < C; ++c) {
    T* t = tmp + c * inner;
    for (std::int64_t j = 0; j < inner; ++j) t[j] = xb[c * inner + j] - m[j];
    exp_inplace(t, inner);
    for (std::int64_t j = 0; j < inner; ++j) s[j] += t[j];
  }
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

// ---- class-target losses

// Where per-sample losses go: the returned tensor when reduction is none, else scratch.
template <class T>
T* loss_buffer(bool per_sample, std::int64_t n, Dtype dtype, Tensor& per_sample_out, std::vector<T>& scratch) {
  if (per_sample) {
    per_sample_out = make_tensor({n}, dtype);
    return per_sample_out.impl()->data<T>();
  }
  scratch.resize(static_cast<std::size_t>(n));
  return scratch.data();
}

template <class T>
const T* weight_data(const ClassTargets& t) {
  return t.weight.defined() ? t.weight.impl()->template data<T>() : nullptr;
}

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

// sum_c w[c] (x[c] - m) over a contiguous row (w null: all ones).
template <class T>
T shifted_weighted_sum(const T* x, const T* w, std::int64_t n, T m) {
  constexpr std::int64_t W = kLanes<T>;
  const Batch<T> mv(m);
  Batch<T> acc(T(0));
  std::int64_t k = 0;
  for (; k + W <= n; k += W) {
    const Batch<T> d = Batch<T>::load_unaligned(x + k) - mv;
    acc += w ? d * Batch<T>::load_unaligned(w + k) : d;
  }
  T out = xsimd::hadd(acc);
  for (; k < n; ++k) out += (w ? w[k] : T(1)) * (x[k] - m);
  return out;
}

template <class T>
CrossEntropyValues ce_forward(const Tensor& x, const ClassLayout& L, const ClassTargets& t, double eps,
                              bool per_sample) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  CrossEntropyValues out;
  out.stats = make_tensor({2, n}, x.dtype());
  const T* xd = x.impl()->data<T>();
  T* max = out.stats.impl()->data<T>();
  T* log_sum = max + n;
  logsumexp_of_samples(xd, max, log_sum, L);
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const T* w = weight_data<T>(t);
  // Label smoothing needs the total class weight W.
  T weight_total = T(C);
  if (w) weight_total = row_sum(w, C);
  std::vector<T> scratch;
  T* losses = loss_buffer(per_sample, n, x.dtype(), out.per_sample, scratch);
  const T keep = T(1 - eps), spread = T(eps / static_cast<double>(C));
  parallel_rows(n, grain_rows(eps > 0 ? C : 64), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t target = tg[i];
      if (target == t.ignore_index) {
        losses[i] = T(0);
        continue;
      }
      const std::int64_t o = i / inner, j = i % inner;
      const T* xs = xd + o * C * inner + j;  // class c at xs[c * inner]
      const T wt = w ? w[target] : T(1);
      T loss = -keep * wt * ((xs[target * inner] - max[i]) - log_sum[i]);
      if (eps > 0) {
        // -sum_c w_c logp_c = W log_sum - sum_c w_c (x_c - m)
        T weighted_x;
        if (inner == 1) {
          weighted_x = shifted_weighted_sum(xs, w, C, max[i]);
        } else {
          weighted_x = 0;
          for (std::int64_t c = 0; c < C; ++c) weighted_x += (w ? w[c] : T(1)) * (xs[c * inner] - max[i]);
        }
        loss += spread * (weight_total * log_sum[i] - weighted_x);
      }
      losses[i] = loss;
    }
  });
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(losses[i]);
  out.sum = sum;
  return out;
}

// Per-sample gradient scale s_i.
template <class T>
T sample_scale(const T* gy, bool per_sample, std::int64_t i, T scale) {
  return (per_sample ? gy[i] : gy[0]) * scale;
}

template <class T>
Tensor ce_backward(const Tensor& gy_t, const Tensor& x, const Tensor& stats, const ClassLayout& L,
                   const ClassTargets& t, double eps, double scale_d) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  Tensor dx = make_tensor(x.shape(), x.dtype());
  if (x.numel() == 0) return dx;
  const T* xd = x.impl()->data<T>();
  const T* max = stats.impl()->data<T>();
  const T* log_sum = max + n;
  const T* gy = gy_t.impl()->data<T>();
  const bool per_sample = gy_t.numel() == n && gy_t.dim() > 0;
  T* d = dx.impl()->data<T>();
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const T* w = weight_data<T>(t);
  const T weight_total = w ? row_sum(w, C) : T(C);
  const T keep = T(1 - eps), spread = T(eps / static_cast<double>(C)), scale = T(scale_d);
  if (inner == 1 && narrow<T>(C)) {
    constexpr std::int64_t W = kLanes<T>;
    for_row_blocks<T>(L.outer, C, [=](std::int64_t r0, std::int64_t n, T* buf) {
      // Per lane (row): a = s Q, b = s eps/C; both 0 for an ignored row.
      alignas(64) T a[W] = {}, b[W] = {};
      for (std::int64_t lane = 0; lane < n; ++lane) {
        const std::int64_t target = tg[r0 + lane];
        if (target == t.ignore_index) continue;
        const T s = sample_scale(gy, per_sample, r0 + lane, scale);
        a[lane] = s * (keep * (w ? w[target] : T(1)) + spread * weight_total);
        b[lane] = s * spread;
      }
      gather_block(xd + r0 * C, n, C, buf);
      const Batch<T> m = load_tail(max + r0, n, T(0)), ls = load_tail(log_sum + r0, n, T(0));
      const Batch<T> av = Batch<T>::load_aligned(a), bv = Batch<T>::load_aligned(b);
      for (std::int64_t c = 0; c < C; ++c) {
        const Batch<T> e = av * simd::exp((Batch<T>::load_aligned(buf + c * W) - m) - ls);
        (w ? e - bv * Batch<T>(w[c]) : e - bv).store_aligned(buf + c * W);
      }
      T* dr = d + r0 * C;
      scatter_block(buf, n, C, dr);
      for (std::int64_t lane = 0; lane < n; ++lane) {
        const std::int64_t target = tg[r0 + lane];
        if (target == t.ignore_index) continue;
        dr[lane * C + target] -= sample_scale(gy, per_sample, r0 + lane, scale) * keep * (w ? w[target] : T(1));
      }
    });
    return dx;
  }
  if (inner == 1) {
    parallel_rows(L.outer, grain_rows(C), [=](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        T* dr = d + r * C;
        const std::int64_t target = tg[r];
        if (target == t.ignore_index) {
          std::fill(dr, dr + C, T(0));
          continue;
        }
        const T s = sample_scale(gy, per_sample, r, scale);
        const T wt = w ? w[target] : T(1);
        const T total = keep * wt + spread * weight_total;  // Q_i
        scaled_exp(xd + r * C, C, max[r], log_sum[r], s * total, -s * spread, w, dr);
        dr[target] -= s * keep * wt;
      }
    });
    return dx;
  }
  parallel_rows(L.outer, grain_rows(C * inner), [=](std::int64_t o0, std::int64_t o1) {
    std::vector<T> a(static_cast<std::size_t>(inner)), b(static_cast<std::size_t>(inner));
    for (std::int64_t o = o0; o < o1; ++o) {
      const std::int64_t base = o * C * inner;
      T* db = d + base;
      for (std::int64_t j = 0; j < inner; ++j) {
        const std::int64_t i = o * inner + j;
        const std::int64_t target = tg[i];
        if (target == t.ignore_index) {
          a[j] = b[j] = 0;
          continue;
        }
        const T s = sample_scale(gy, per_sample, i, scale);
        const T wt = w ? w[target] : T(1);
        a[j] = s * (keep * wt + spread * weight_total);
        b[j] = s * spread;
      }
      for (std::int64_t c = 0; c < C; ++c) {
        T* dc = db + c * inner;
        const T* xc = xd + base + c * inner;
        const T* mc = max + o * inner;
        const T* lc = log_sum + o * inner;
        for (std::int64_t j = 0; j < inner; ++j) dc[j] = (xc[j] - mc[j]) - lc[j];
        exp_inplace(dc, inner);
        const T wc = w ? w[c] : T(1);
        for (std::int64_t j = 0; j < inner; ++j) dc[j] = a[j] == T(0) ? T(0) : a[j] * dc[j] - b[j] * wc;
      }
      for (std::int64_t j = 0; j < inner; ++j) {
        const std::int64_t i = o * inner + j;
        const std::int64_t target = tg[i];
        if (target == t.ignore_index) continue;
        const T wt = w ? w[target] : T(1);
        db[target * inner + j] -= sample_scale(gy, per_sample, i, scale) * keep * wt;
      }
    }
  });
  return dx;
}

template <class T>
void fill_smoothed_one_hot(T* q, const ClassLayout& L, const ClassTargets& t, double eps) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const T* w = weight_data<T>(t);
  const T keep = T(1 - eps), spread = T(eps / static_cast<double>(C));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t o = i / inner, j = i % inner, target = tg[i];
    T* qs = q + o * C * inner + j;
    if (target == t.ignore_index) {
      for (std::int64_t c = 0; c < C; ++c) qs[c * inner] = 0;
      continue;
    }
    for (std::int64_t c = 0; c < C; ++c) qs[c * inner] = spread * (w ? w[c] : T(1));
    qs[target * inner] += keep * (w ? w[target] : T(1));
  }
}

template <class T>
NllValues nll_fwd(const Tensor& lp, const ClassLayout& L, const ClassTargets& t, bool per_sample) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  NllValues out;
  if (per_sample) out.per_sample = make_tensor({n}, lp.dtype());
  const T* x = lp.impl()->data<T>();
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const T* w = weight_data<T>(t);
  T* losses = per_sample ? out.per_sample.impl()->data<T>() : nullptr;
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t target = tg[i];
    T loss = 0;
    if (target != t.ignore_index) {
      const std::int64_t o = i / inner, j = i % inner;
      loss = -(w ? w[target] : T(1)) * x[o * C * inner + target * inner + j];
    }
    if (losses) losses[i] = loss;
    sum += static_cast<double>(loss);
  }
  out.sum = sum;
  return out;
}

template <class T>
void nll_bwd(const Tensor& gy_t, T* d, const ClassLayout& L, const ClassTargets& t, double scale_d) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  const T* gy = gy_t.impl()->data<T>();
  const bool per_sample = gy_t.numel() == n && gy_t.dim() > 0;
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const T* w = weight_data<T>(t);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t target = tg[i];
    if (target == t.ignore_index) continue;
    const std::int64_t o = i / inner, j = i % inner;
    d[o * C * inner + target * inner + j] = -(w ? w[target] : T(1)) * sample_scale(gy, per_sample, i, T(scale_d));
  }
}

// ---- class-probability targets: t' = keep t + spread (keep = 1 - eps, spread = eps / C)

// w_c over a batch (ones when w is null); a padded tail reads 0 beyond the row so that padded
// lanes carry no weight.
template <class T>
Batch<T> weight_batch(const T* w, std::int64_t k, std::int64_t left) {
  constexpr std::int64_t W = kLanes<T>;
  if (left >= W) return w ? Batch<T>::load_unaligned(w + k) : Batch<T>(T(1));
  if (w) return load_tail(w + k, left, T(0));
  alignas(64) T ones[W];
  std::fill(ones, ones + W, T(1));
  return load_tail(ones, left, T(0));
}

// Over a contiguous row: Q = sum_c w_c t'_c and D = sum_c w_c t'_c ((x_c - m) - ls).
template <class T>
void soft_row_sums(const T* x, const T* t, const T* w, std::int64_t n, T m, T ls, T keep, T spread, T& mass,
                   T& dot_logp) {
  constexpr std::int64_t W = kLanes<T>;
  const Batch<T> mv(m), lv(ls), kv(keep), sv(spread);
  Batch<T> q(T(0)), d(T(0));
  for (std::int64_t k = 0; k < n; k += W) {
    const std::int64_t left = n - k;
    const bool full = left >= W;
    const Batch<T> xv = full ? Batch<T>::load_unaligned(x + k) : load_tail(x + k, left, m);
    const Batch<T> tv = full ? Batch<T>::load_unaligned(t + k) : load_tail(t + k, left, T(0));
    const Batch<T> wt = weight_batch(w, k, left) * (kv * tv + sv);
    q += wt;
    d += wt * ((xv - mv) - lv);
  }
  mass = xsimd::hadd(q);
  dot_logp = xsimd::hadd(d);
}

// One contiguous row of the gradient: dx = s (Q exp(lp) - w t'), dt = -s keep w lp, lp = (x - m) - ls.
template <class T>
void soft_row_backward(const T* x, const T* t, const T* w, std::int64_t n, T m, T ls, T keep, T spread, T s,
                       T* dx, T* dt) {
  constexpr std::int64_t W = kLanes<T>;
  T mass = 0, unused = 0;
  if (dx) soft_row_sums(x, t, w, n, m, ls, keep, spread, mass, unused);
  const Batch<T> mv(m), lv(ls), kv(keep), sv(spread), sq(s * mass), sb(s), dtk(-s * keep);
  for (std::int64_t k = 0; k < n; k += W) {
    const std::int64_t left = n - k;
    const bool full = left >= W;
    const Batch<T> xv = full ? Batch<T>::load_unaligned(x + k) : load_tail(x + k, left, m);
    const Batch<T> tv = full ? Batch<T>::load_unaligned(t + k) : load_tail(t + k, left, T(0));
    const Batch<T> wv = weight_batch(w, k, left);
    const Batch<T> lp = (xv - mv) - lv;
    if (dx) {
      const Batch<T> g = sq * simd::exp(lp) - sb * (wv * (kv * tv + sv));
      full ? g.store_unaligned(dx + k) : store_tail(g, dx + k, left);
    }
    if (dt) {
      const Batch<T> g = dtk * wv * lp;
      full ? g.store_unaligned(dt + k) : store_tail(g, dt + k, left);
    }
  }
}

template <class T>
CrossEntropyValues soft_ce_forward(const Tensor& x, const Tensor& target, const Tensor& weight, const ClassLayout& L,
                                   double eps, bool per_sample) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  CrossEntropyValues out;
  out.stats = make_tensor({2, n}, x.dtype());
  const T* xd = x.impl()->data<T>();
  const T* td = target.impl()->data<T>();
  const T* w = weight.defined() ? weight.impl()->data<T>() : nullptr;
  T* max = out.stats.impl()->data<T>();
  T* log_sum = max + n;
  // Wide contiguous rows get max, log-sum-exp and the loss in one pass while the row is in cache;
  // narrow and strided layouts take the statistics from the blocked kernel first.
  const bool fused_rows = inner == 1 && !narrow<T>(C);
  if (!fused_rows) logsumexp_of_samples(xd, max, log_sum, L);
  std::vector<T> scratch;
  T* losses = loss_buffer(per_sample, n, x.dtype(), out.per_sample, scratch);
  const T keep = T(1 - eps), spread = C > 0 ? T(eps / static_cast<double>(C)) : T(0);
  if (inner == 1) {
    parallel_rows(L.outer, grain_rows(C), [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* xr = xd + r * C;
        if (fused_rows) {
          max[r] = row_max(xr, C);
          log_sum[r] = std::log(sum_exp<false>(xr, C, max[r], static_cast<T*>(nullptr)));
        }
        T mass, dot_logp;
        soft_row_sums(xr, td + r * C, w, C, max[r], log_sum[r], keep, spread, mass, dot_logp);
        losses[r] = T(0) - dot_logp;
      }
    });
  } else {
    parallel_rows(L.outer, grain_rows(C * inner), [&](std::int64_t o0, std::int64_t o1) {
      std::vector<T> acc(static_cast<std::size_t>(inner));
      for (std::int64_t o = o0; o < o1; ++o) {
        const T* m = max + o * inner;
        const T* ls = log_sum + o * inner;
        std::fill(acc.begin(), acc.end(), T(0));
        for (std::int64_t c = 0; c < C; ++c) {
          const T* xc = xd + (o * C + c) * inner;
          const T* tc = td + (o * C + c) * inner;
          const T wc = w ? w[c] : T(1);
          for (std::int64_t j = 0; j < inner; ++j) acc[j] += wc * (keep * tc[j] + spread) * ((xc[j] - m[j]) - ls[j]);
        }
        for (std::int64_t j = 0; j < inner; ++j) losses[o * inner + j] = T(0) - acc[j];
      }
    });
  }
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += static_cast<double>(losses[i]);
  out.sum = sum;
  return out;
}

template <class T>
void soft_ce_backward(const Tensor& gy_t, const Tensor& x, const Tensor& target, const Tensor& weight,
                      const Tensor& stats, const ClassLayout& L, double eps, double scale_d, T* dx, T* dt) {
  const std::int64_t C = L.classes, inner = L.inner, n = L.samples();
  if (x.numel() == 0) return;
  const T* xd = x.impl()->data<T>();
  const T* td = target.impl()->data<T>();
  const T* w = weight.defined() ? weight.impl()->data<T>() : nullptr;
  const T* max = stats.impl()->data<T>();
  const T* log_sum = max + n;
  const T* gy = gy_t.impl()->data<T>();
  const bool per_sample = gy_t.numel() == n && gy_t.dim() > 0;
  const T keep = T(1 - eps), spread = T(eps / static_cast<double>(C)), scale = T(scale_d);
  if (inner == 1) {
    parallel_rows(L.outer, grain_rows(C), [=](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r)
        soft_row_backward(xd + r * C, td + r * C, w, C, max[r], log_sum[r], keep, spread,
                          sample_scale(gy, per_sample, r, scale), dx ? dx + r * C : nullptr,
                          dt ? dt + r * C : nullptr);
    });
    return;
  }
  parallel_rows(L.outer, grain_rows(C * inner), [=](std::int64_t o0, std::int64_t o1) {
    std::vector<T> mass(static_cast<std::size_t>(inner)), s(static_cast<std::size_t>(inner));
    std::vector<T> lp(static_cast<std::size_t>(inner));
    for (std::int64_t o = o0; o < o1; ++o) {
      const T* m = max + o * inner;
      const T* ls = log_sum + o * inner;
      for (std::int64_t j = 0; j < inner; ++j) s[j] = sample_scale(gy, per_sample, o * inner + j, scale);
      if (dx) {
        std::fill(mass.begin(), mass.end(), T(0));
        for (std::int64_t c = 0; c < C; ++c) {
          const T* tc = td + (o * C + c) * inner;
          const T wc = w ? w[c] : T(1);
          for (std::int64_t j = 0; j < inner; ++j) mass[j] += wc * (keep * tc[j] + spread);
        }
      }
      for (std::int64_t c = 0; c < C; ++c) {
        const std::int64_t base = (o * C + c) * inner;
        const T* xc = xd + base;
        const T* tc = td + base;
        const T wc = w ? w[c] : T(1);
        for (std::int64_t j = 0; j < inner; ++j) lp[j] = (xc[j] - m[j]) - ls[j];
        if (dt)
          for (std::int64_t j = 0; j < inner; ++j) dt[base + j] = -s[j] * keep * wc * lp[j];
        if (dx) {
          T* dc = dx + base;
          std::copy(lp.begin(), lp.end(), dc);
          exp_inplace(dc, inner);
          for (std::int64_t j = 0; j < inner; ++j) dc[j] = s[j] * (mass[j] * dc[j] - wc * (keep * tc[j] + spread));
        }
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

double check_class_targets(const ClassTargets& t, const Shape& target_shape, std::int64_t classes, const char* op) {
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const std::int64_t n = t.target.numel();
  double total = 0;
  const bool has_weight = t.weight.defined();
  const float* w32 = has_weight && t.weight.dtype() == Dtype::float32 ? t.weight.impl()->data<float>() : nullptr;
  const double* w64 = has_weight && t.weight.dtype() == Dtype::float64 ? t.weight.impl()->data<double>() : nullptr;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t v = tg[i];
    if (v == t.ignore_index) continue;
    if (v < 0 || v >= classes) [[unlikely]] {
      // Name the position as a multi-index of the target.
      std::vector<std::int64_t> idx(target_shape.size());
      std::int64_t rest = i;
      for (std::size_t k = target_shape.size(); k-- > 0;) {
        idx[k] = rest % target_shape[k];
        rest /= target_shape[k];
      }
      throw Error(fmt::format("{}: target[{}] = {} is out of range for {} classes [0, {}) (target shape {}, "
                              "ignore_index {})",
                              op, fmt::join(idx, ", "), v, classes, classes, to_string(target_shape),
                              t.ignore_index));
    }
    total += w32 ? static_cast<double>(w32[v]) : w64 ? w64[v] : 1.0;
  }
  return total;
}

CrossEntropyValues cross_entropy_forward(const Tensor& x, const ClassLayout& L, const ClassTargets& t,
                                         double label_smoothing, bool per_sample) {
  CrossEntropyValues out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, { out = ce_forward<T>(x, L, t, label_smoothing, per_sample); });
  return out;
}

Tensor cross_entropy_backward(const Tensor& gy, const Tensor& x, const Tensor& stats, const ClassLayout& L,
                              const ClassTargets& t, double label_smoothing, double scale) {
  Tensor dx;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, { dx = ce_backward<T>(gy, x, stats, L, t, label_smoothing, scale); });
  return dx;
}

Tensor smoothed_one_hot(const Shape& shape, Dtype dtype, const ClassLayout& L, const ClassTargets& t,
                        double label_smoothing) {
  Tensor q = make_tensor(shape, dtype);
  XGRAD_DISPATCH_FLOAT(dtype, T, { fill_smoothed_one_hot(q.impl()->data<T>(), L, t, label_smoothing); });
  return q;
}

NllValues nll_forward(const Tensor& log_probs, const ClassLayout& L, const ClassTargets& t, bool per_sample) {
  NllValues out;
  XGRAD_DISPATCH_FLOAT(log_probs.dtype(), T, { out = nll_fwd<T>(log_probs, L, t, per_sample); });
  return out;
}

Tensor nll_backward(const Tensor& gy, const Shape& shape, const ClassLayout& L, const ClassTargets& t, double scale) {
  Tensor dx = make_tensor(shape, gy.dtype());
  XGRAD_DISPATCH_FLOAT(gy.dtype(), T, {
    std::fill(dx.impl()->data<T>(), dx.impl()->data<T>() + dx.numel(), T(0));
    nll_bwd(gy, dx.impl()->data<T>(), L, t, scale);
  });
  return dx;
}

CrossEntropyValues soft_cross_entropy_forward(const Tensor& x, const Tensor& target, const Tensor& weight,
                                              const ClassLayout& L, double label_smoothing, bool per_sample) {
  CrossEntropyValues out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, { out = soft_ce_forward<T>(x, target, weight, L, label_smoothing, per_sample); });
  return out;
}

void soft_cross_entropy_backward(const Tensor& gy, const Tensor& x, const Tensor& target, const Tensor& weight,
                                 const Tensor& stats, const ClassLayout& L, double label_smoothing, double scale,
                                 Tensor* dx, Tensor* dtarget) {
  if (dx) *dx = make_tensor(x.shape(), x.dtype());
  if (dtarget) *dtarget = make_tensor(x.shape(), x.dtype());
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    soft_ce_backward<T>(gy, x, target, weight, stats, L, label_smoothing, scale,
                        dx ? dx->impl()->data<T>() : nullptr, dtarget ? dtarget->impl()->data<T>() : nullptr);
  });
}

}  // namespace xgrad::kernels
