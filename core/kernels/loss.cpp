#include "loss.h"
#include "intrinsics.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "../dispatch.h"
#include "../parallel.h"
#include "simd.h"

namespace xgrad::kernels {

namespace {

template <class T>
void margin_rows(const T* s, const std::int64_t* target, std::int64_t n, std::int64_t c, int p, T margin,
                 const std::vector<double>& coef, T* losses, T* active) {
  parallel::parallel_for(n, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(1, c)),
                         [&](std::int64_t i0, std::int64_t i1) {
                           for (std::int64_t i = i0; i < i1; ++i) {
                             const T* row = s + i * c;
                             T* act = active + i * c;
                             const std::int64_t y = target[i];
                             const T shift = margin - row[y];
                             // Two branch-free spans around the target's own column (vectorised).
                             T total = 0;
                             auto span = [&](std::int64_t j0, std::int64_t j1) {
                               for (std::int64_t j = j0; j < j1; ++j) {
                                 const T h = std::max(T(0), shift + row[j]);
                                 act[j] = h > T(0) ? T(1) : T(0);
                                 total += p == 2 ? h * h : h;
                               }
                             };
                             span(0, y);
                             act[y] = T(0);
                             span(y + 1, c);
                             losses[i] = static_cast<T>(coef[static_cast<std::size_t>(i)] * static_cast<double>(total));
                           }
                         });
}

template <class T>
void margin_backward_rows(const T* s, const std::int64_t* target, const T* active, const std::vector<double>& g,
                          std::int64_t n, std::int64_t c, int p, T margin, T* ds) {
  parallel::parallel_for(n, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(1, c)),
                         [&](std::int64_t i0, std::int64_t i1) {
                           for (std::int64_t i = i0; i < i1; ++i) {
                             const T* row = s + i * c;
                             const T* act = active + i * c;
                             T* d = ds + i * c;
                             const std::int64_t y = target[i];
                             const T gi = static_cast<T>(g[static_cast<std::size_t>(i)]);
                             T total = 0;
                             if (p == 1) {
                               for (std::int64_t j = 0; j < c; ++j) {
                                 d[j] = gi * act[j];
                                 total += d[j];
                               }
                             } else {
                               const T shift = margin - row[y];
                               for (std::int64_t j = 0; j < c; ++j) {
                                 d[j] = T(2) * gi * act[j] * (shift + row[j]);
                                 total += d[j];
                               }
                             }
                             d[y] = -total;  // active[y] is 0, so d[y] was 0 in the sum
                           }
                         });
}


// ---- pointwise losses

// Elements per partial sum. Fixed, so the sum's rounding does not depend on the thread count.
constexpr std::int64_t kBlock = 4096;
// Elements per thread chunk at least (8 blocks), for the element-wise gradients too.
constexpr std::int64_t kGrainBlocks = 8;
constexpr std::int64_t kGrainElements = kBlock * kGrainBlocks;

// Eight float64 accumulators in a fixed order: the loop vectorises (convert + add) and the
// result is deterministic.
template <class T>
double sum_as_double(const T* v, std::int64_t n) {
  double acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += static_cast<double>(v[i + k]);
  for (int k = 0; i < n; ++i, ++k) acc[k] += static_cast<double>(v[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Runs losses(begin, count, out) over n elements in blocks of kBlock, split over the pool; out is
// `kept` + begin when the per-element losses are kept, else a block of scratch. Returns the
// float64 sum of all losses when want_sum.
template <class T, class F>
double blocked_losses(std::int64_t n, T* kept, bool want_sum, F losses) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(want_sum ? blocks : 0));
  parallel::parallel_for(blocks, kGrainBlocks, [&](std::int64_t b0, std::int64_t b1) {
    alignas(64) T scratch[kBlock];
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t begin = b * kBlock, count = std::min(kBlock, n - begin);
      T* out = kept ? kept + begin : scratch;
      losses(begin, count, out);
      if (want_sum) partial[static_cast<std::size_t>(b)] = sum_as_double(out, count);
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

template <bool Squared, class T>
void regression_losses(const T* x, const T* t, std::int64_t n, T* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T d = x[i] - t[i];
    out[i] = Squared ? d * d : std::abs(d);
  }
}

// The slope of the loss in x: 2 (x - t), or sign(x - t) (0 at 0, like sign).
template <bool Squared, class T>
T regression_slope(T d) {
  if constexpr (Squared) return T(2) * d;
  return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
}

template <bool Squared, class T>
void regression_grads(const T* x, const T* t, const T* gy, bool per_element, T scale, std::int64_t n, T* dx, T* dt) {
  const T g0 = gy[0] * scale;
  // The first wanted output gets g * slope (negated for dt); dt = -dx then follows while hot.
  T* first = dx ? dx : dt;
  const T sign = dx ? T(1) : T(-1);
  parallel::parallel_for(n, kGrainElements, [&](std::int64_t i0, std::int64_t i1) {
    if (per_element) {
      for (std::int64_t i = i0; i < i1; ++i) first[i] = sign * (gy[i] * scale) * regression_slope<Squared>(x[i] - t[i]);
    } else {
      const T gs = sign * g0;
      for (std::int64_t i = i0; i < i1; ++i) first[i] = gs * regression_slope<Squared>(x[i] - t[i]);
    }
    if (dx && dt)
      for (std::int64_t i = i0; i < i1; ++i) dt[i] = -dx[i];
  });
}

using simd::Batch;
using simd::kLanes;
using simd::load_at;
using simd::store_at;

// softplus(-x) = max(-x, 0) + log1p(exp(-|x|)), given e = exp(-|x|).
template <class T>
Batch<T> softplus_neg(const Batch<T>& x, const Batch<T>& e) {
  return xsimd::max(-x, Batch<T>(T(0))) + xsimd::log1p(e);
}

template <class T>
void bce_losses(const T* x, const T* t, const T* w, const T* pw, std::int64_t n, T* out) {
  const Batch<T> one(T(1));
  for (std::int64_t k = 0; k < n; k += kLanes<T>) {
    const std::int64_t left = n - k;
    const Batch<T> xv = load_at(x + k, left, T(0)), tv = load_at(t + k, left, T(0));
    const Batch<T> sp = softplus_neg(xv, simd::exp(-xsimd::abs(xv)));
    const Batch<T> c = pw ? one + (load_at(pw + k, left, T(1)) - one) * tv : one;
    Batch<T> l = (one - tv) * xv + c * sp;
    if (w) l *= load_at(w + k, left, T(0));
    store_at(l, out + k, left);
  }
}

template <class T>
void bce_grads(const T* x, const T* t, const T* w, const T* pw, const T* gy, bool per_element, T scale,
               std::int64_t n, T* dx, T* dt, T* dw, T* dpw) {
  const Batch<T> one(T(1)), zero(T(0)), sv(scale), g0(gy[0] * scale);
  parallel::parallel_for(n, kGrainElements, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t k = i0; k < i1; k += kLanes<T>) {
      const std::int64_t left = i1 - k;
      const Batch<T> xv = load_at(x + k, left, T(0)), tv = load_at(t + k, left, T(0));
      const Batch<T> g = per_element ? load_at(gy + k, left, T(0)) * sv : g0;
      const Batch<T> e = simd::exp(-xsimd::abs(xv));
      const Batch<T> sp = softplus_neg(xv, e);
      const Batch<T> pwv = pw ? load_at(pw + k, left, T(1)) : one;
      const Batch<T> c = one + (pwv - one) * tv;
      const Batch<T> gw = w ? g * load_at(w + k, left, T(0)) : g;
      if (dx) {
        // sigmoid(-x) from e = exp(-|x|) without overflow.
        const Batch<T> sig_neg = xsimd::select(xv >= zero, e, one) / (one + e);
        store_at(gw * ((one - tv) - c * sig_neg), dx + k, left);
      }
      if (dt) store_at(gw * ((pwv - one) * sp - xv), dt + k, left);
      if (dw) store_at(g * ((one - tv) * xv + c * sp), dw + k, left);
      if (dpw) store_at(gw * tv * sp, dpw + k, left);
    }
  });
}

}  // namespace

Tensor multiclass_margin_backward(const Tensor& scores, const std::int64_t* target, const Tensor& active,
                                  const std::vector<double>& g, int p, double margin) {
  const std::int64_t n = active.size(0), c = active.size(1);
  Tensor ds = make_tensor({n, c}, scores.dtype());
  XGRAD_DISPATCH_FLOAT(scores.dtype(), T,
                       margin_backward_rows<T>(scores.impl()->data<T>(), target, active.impl()->data<T>(), g, n, c,
                                               p, static_cast<T>(margin), ds.impl()->data<T>()));
  return ds;
}

MarginLoss multiclass_margin(const Tensor& scores, const std::int64_t* target, std::int64_t n, std::int64_t c,
                             int p, double margin, const std::vector<double>& coef) {
  MarginLoss out{make_tensor({n}, scores.dtype()), make_tensor({n, c}, scores.dtype())};
  XGRAD_DISPATCH_FLOAT(scores.dtype(), T,
                       margin_rows<T>(scores.impl()->data<T>(), target, n, c, p, static_cast<T>(margin), coef,
                                      out.losses.impl()->data<T>(), out.active.impl()->data<T>()));
  return out;
}

Tensor one_hot_rows(const std::int64_t* target, std::int64_t n, std::int64_t c, Dtype dtype) {
  Tensor out = zeros({n, c}, {.dtype = dtype});
  XGRAD_DISPATCH_FLOAT(dtype, T, {
    T* p = out.impl()->data<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i * c + target[i]] = T(1);
  });
  return out;
}

PointwiseLoss regression_forward(const Tensor& x, const Tensor& t, bool squared, bool per_element) {
  PointwiseLoss out;
  if (per_element) out.per_element = make_tensor(x.shape(), x.dtype());
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    const T* xd = x.impl()->data<T>();
    const T* td = t.impl()->data<T>();
    T* kept = per_element ? out.per_element.impl()->data<T>() : nullptr;
    out.sum = blocked_losses<T>(x.numel(), kept, !per_element, [=](std::int64_t begin, std::int64_t count, T* dst) {
      squared ? regression_losses<true>(xd + begin, td + begin, count, dst)
              : regression_losses<false>(xd + begin, td + begin, count, dst);
    });
  });
  return out;
}

void regression_backward(const Tensor& x, const Tensor& t, bool squared, const Tensor& gy, double scale, Tensor* dx,
                         Tensor* dt) {
  if (dx) *dx = make_tensor(x.shape(), x.dtype());
  if (dt) *dt = make_tensor(x.shape(), x.dtype());
  if ((!dx && !dt) || x.numel() == 0) return;
  const bool per_element = gy.dim() > 0;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    const T* xd = x.impl()->data<T>();
    const T* td = t.impl()->data<T>();
    T* dxd = dx ? dx->impl()->data<T>() : nullptr;
    T* dtd = dt ? dt->impl()->data<T>() : nullptr;
    if (squared)
      regression_grads<true>(xd, td, gy.impl()->data<T>(), per_element, T(scale), x.numel(), dxd, dtd);
    else
      regression_grads<false>(xd, td, gy.impl()->data<T>(), per_element, T(scale), x.numel(), dxd, dtd);
  });
}

PointwiseLoss bce_logits_forward(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw,
                                 bool per_element) {
  PointwiseLoss out;
  if (per_element) out.per_element = make_tensor(x.shape(), x.dtype());
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    const T* xd = x.impl()->data<T>();
    const T* td = t.impl()->data<T>();
    const T* wd = w.defined() ? w.impl()->data<T>() : nullptr;
    const T* pwd = pw.defined() ? pw.impl()->data<T>() : nullptr;
    T* kept = per_element ? out.per_element.impl()->data<T>() : nullptr;
    out.sum = blocked_losses<T>(x.numel(), kept, !per_element, [=](std::int64_t begin, std::int64_t count, T* dst) {
      bce_losses(xd + begin, td + begin, wd ? wd + begin : nullptr, pwd ? pwd + begin : nullptr, count, dst);
    });
  });
  return out;
}

void bce_logits_backward(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw, const Tensor& gy,
                         double scale, const BceGrads& out) {
  for (Tensor* o : {out.dx, out.dt, out.dw, out.dpw})
    if (o) *o = make_tensor(x.shape(), x.dtype());
  if (x.numel() == 0) return;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    auto data = [](Tensor* o) { return o ? o->impl()->data<T>() : nullptr; };
    bce_grads<T>(x.impl()->data<T>(), t.impl()->data<T>(), w.defined() ? w.impl()->data<T>() : nullptr,
                 pw.defined() ? pw.impl()->data<T>() : nullptr, gy.impl()->data<T>(), gy.dim() > 0, T(scale),
                 x.numel(), data(out.dx), data(out.dt), data(out.dw), data(out.dpw));
  });
}

}  // namespace xgrad::kernels
