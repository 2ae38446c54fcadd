// Cross entropy with class-probability targets (soft labels): one fused pass per sample for the
// forward, and one for the gradients of both the logits and the targets.
#include "softmax.h"
#include "intrinsics.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../dispatch.h"
#include "softmax_common.h"

namespace xgrad::kernels {

namespace {

using namespace softmax_detail;

// ---- class-probability targets: t' = keep t + spread (keep = 1 - eps, spread = eps / C)

// w_c over a batch (ones when w is null); a padded tail reads 0 beyond the row so that padded
// lanes carry no weight.
template <class T>
Batch<T> weight_batch(const T* w, std::int64_t k, std::int64_t left) {
  constexpr std::int64_t W = kLanes<T>;
  if (w) return simd::load_at(w + k, left, T(0));
  if (left >= W) return Batch<T>(T(1));
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
    const Batch<T> xv = simd::load_at(x + k, left, m);
    const Batch<T> tv = simd::load_at(t + k, left, T(0));
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
    const Batch<T> xv = simd::load_at(x + k, left, m);
    const Batch<T> tv = simd::load_at(t + k, left, T(0));
    const Batch<T> wv = weight_batch(w, k, left);
    const Batch<T> lp = (xv - mv) - lv;
    if (dx) {
      const Batch<T> g = sq * simd::exp(lp) - sb * (wv * (kv * tv + sv));
      simd::store_at(g, dx + k, left);
    }
    if (dt) {
      const Batch<T> g = dtk * wv * lp;
      simd::store_at(g, dt + k, left);
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
