// Cross entropy with class-index targets (label smoothing, class weights, ignore_index) and the
// nll loss: forward, backward and the smoothed one-hot their double backward needs.
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

}  // namespace

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

}  // namespace xgrad::kernels
