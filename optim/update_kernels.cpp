// GCC 12's AVX-512 headers draw false uninitialised-variable warnings once inlined (GCC bug
// 105593); pragmas act by source location, so silencing them around the include spares our code.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include "update_kernels.h"

#include <xgrad/threads.h>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

namespace xgrad::optim::kernels {
namespace {

template <class T>
using Batch = xsimd::batch<T>;

// Runs body(w, r) over [0, n) in SIMD batches: w holds the batches of the `rw` arrays (written
// back afterwards), r those of the read-only `ro` arrays. The last partial batch goes through
// zero-padded copies, so one body serves every element and padding lanes are never stored.
template <class T, std::size_t W, std::size_t R, class Body>
void zip_serial(std::int64_t n, const std::array<T*, W>& rw, const std::array<const T*, R>& ro, Body& body) {
  constexpr std::int64_t lanes = Batch<T>::size;
  std::array<Batch<T>, W> w;
  std::array<Batch<T>, R> r;
  std::int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (std::size_t k = 0; k < W; ++k) w[k] = Batch<T>::load_unaligned(rw[k] + i);
    for (std::size_t k = 0; k < R; ++k) r[k] = Batch<T>::load_unaligned(ro[k] + i);
    body(w, r);
    for (std::size_t k = 0; k < W; ++k) w[k].store_unaligned(rw[k] + i);
  }
  if (i == n) return;
  const std::int64_t rest = n - i;
  alignas(64) T wt[W ? W : 1][lanes] = {};
  alignas(64) T rt[R ? R : 1][lanes] = {};
  for (std::size_t k = 0; k < W; ++k) {
    for (std::int64_t j = 0; j < rest; ++j) wt[k][j] = rw[k][i + j];
    w[k] = Batch<T>::load_aligned(wt[k]);
  }
  for (std::size_t k = 0; k < R; ++k) {
    for (std::int64_t j = 0; j < rest; ++j) rt[k][j] = ro[k][i + j];
    r[k] = Batch<T>::load_aligned(rt[k]);
  }
  body(w, r);
  for (std::size_t k = 0; k < W; ++k) {
    w[k].store_aligned(wt[k]);
    for (std::int64_t j = 0; j < rest; ++j) rw[k][i + j] = wt[k][j];
  }
}

// zip_serial over xgrad's pool: updates (W > 0) are elementwise, so long tensors split into
// contiguous chunks and every element gets the same arithmetic as on one thread. Reductions
// (W == 0, their bodies accumulate) stay on the calling thread.
template <class T, std::size_t W, std::size_t R, class Body>
void zip_update(std::int64_t n, const std::array<T*, W>& rw, const std::array<const T*, R>& ro, Body&& body) {
  constexpr std::int64_t grain = std::int64_t{1} << 15;  // below this the hand-off costs more than it saves
  if (W == 0 || n < 2 * grain) {
    zip_serial(n, rw, ro, body);
    return;
  }
  xgrad::parallel_for(n, grain, [&](std::int64_t begin, std::int64_t end) {
    std::array<T*, W> w;
    std::array<const T*, R> r;
    for (std::size_t k = 0; k < W; ++k) w[k] = rw[k] + begin;
    for (std::size_t k = 0; k < R; ++k) r[k] = ro[k] + begin;
    zip_serial(end - begin, w, r, body);
  });
}

// The gradient a rule starts from: negated when maximizing, plus the L2 term (grad.add(param, alpha=wd)).
template <class T>
struct EffectiveGrad {
  T sign, weight_decay;
  explicit EffectiveGrad(const GradTerms& t) : sign(t.maximize ? T(-1) : T(1)), weight_decay(T(t.weight_decay)) {}
  Batch<T> operator()(const Batch<T>& g, const Batch<T>& p) const {
    const Batch<T> signed_g = g * Batch<T>(sign);
    return weight_decay == T(0) ? signed_g : signed_g + Batch<T>(weight_decay) * p;
  }
};

// PyTorch's lerp: start + w (end - start) for w < 0.5, else end - (end - start)(1 - w).
template <class T>
Batch<T> lerp(const Batch<T>& start, const Batch<T>& end, T weight) {
  if (weight < T(0.5)) return start + Batch<T>(weight) * (end - start);
  return end - (end - start) * Batch<T>(T(1) - weight);
}

}  // namespace

template <class T>
void sgd(std::int64_t n, T* param, const T* grad, T* momentum_buffer, const SgdRule& rule) {
  const EffectiveGrad<T> effective(rule.grad);
  const Batch<T> neg_lr(T(-rule.lr));
  if (!momentum_buffer) {
    zip_update<T, 1, 1>(n, {param}, {grad}, [&](auto& w, const auto& r) {
      w[0] = w[0] + neg_lr * effective(r[0], w[0]);
    });
    return;
  }
  const Batch<T> momentum(T(rule.momentum)), keep(T(1 - rule.dampening));
  const bool first = rule.first, nesterov = rule.nesterov;
  zip_update<T, 2, 1>(n, {param, momentum_buffer}, {grad}, [&](auto& w, const auto& r) {
    auto& [p, buf] = w;
    const Batch<T> g = effective(r[0], p);
    buf = first ? g : buf * momentum + keep * g;
    p = p + neg_lr * (nesterov ? g + momentum * buf : buf);
  });
}

template <class T>
void adagrad(std::int64_t n, T* param, const T* grad, T* sum, const AdagradRule& rule) {
  const EffectiveGrad<T> effective(rule.grad);
  const Batch<T> neg_clr(T(-rule.clr)), eps(T(rule.eps));
  zip_update<T, 2, 1>(n, {param, sum}, {grad}, [&](auto& w, const auto& r) {
    auto& [p, s] = w;
    const Batch<T> g = effective(r[0], p);
    s = s + g * g;
    p = p + neg_clr * (g / (xsimd::sqrt(s) + eps));
  });
}

template <class T>
void rmsprop(std::int64_t n, T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
             const RmspropRule& rule) {
  const EffectiveGrad<T> effective(rule.grad);
  const Batch<T> alpha(T(rule.alpha)), one_minus_alpha(T(1 - rule.alpha)), eps(T(rule.eps)),
      neg_lr(T(-rule.lr)), momentum(T(rule.momentum));
  const T avg_weight = T(1 - rule.alpha);
  // The four variants (centered or not, momentum or not) share one body; an absent buffer gets a
  // dummy slot that is neither read nor meaningful.
  auto update = [&](Batch<T>& p, Batch<T>& v, Batch<T>* m, Batch<T>* b, const Batch<T>& raw_grad) {
    const Batch<T> g = effective(raw_grad, p);
    v = v * alpha + one_minus_alpha * g * g;
    Batch<T> avg;
    if (m) {
      *m = lerp(*m, g, avg_weight);
      avg = xsimd::sqrt(v - *m * *m) + eps;
    } else {
      avg = xsimd::sqrt(v) + eps;
    }
    if (b) {
      *b = *b * momentum + g / avg;
      p = p + neg_lr * *b;
    } else {
      p = p + neg_lr * (g / avg);
    }
  };
  if (grad_avg && momentum_buffer)
    zip_update<T, 4, 1>(n, {param, square_avg, grad_avg, momentum_buffer}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], &w[2], &w[3], r[0]); });
  else if (grad_avg)
    zip_update<T, 3, 1>(n, {param, square_avg, grad_avg}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], &w[2], nullptr, r[0]); });
  else if (momentum_buffer)
    zip_update<T, 3, 1>(n, {param, square_avg, momentum_buffer}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], nullptr, &w[2], r[0]); });
  else
    zip_update<T, 2, 1>(n, {param, square_avg}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], nullptr, nullptr, r[0]); });
}

template <class T>
void adam(std::int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
          const AdamRule& rule) {
  const EffectiveGrad<T> effective(rule.grad);
  const T avg_weight = T(1 - rule.beta1);
  const bool decay = rule.decay_factor != 1;
  const Batch<T> decay_factor(T(rule.decay_factor)), beta2(T(rule.beta2)), one_minus_beta2(T(1 - rule.beta2)),
      eps(T(rule.eps)), neg_step_size(T(-rule.step_size)), bias_correction2_sqrt(T(rule.bias_correction2_sqrt));
  auto update = [&](Batch<T>& p, Batch<T>& m, Batch<T>& v, Batch<T>* v_max, const Batch<T>& raw_grad) {
    if (decay) p = p * decay_factor;  // AdamW: param.mul_(1 - lr * weight_decay) comes first
    const Batch<T> g = effective(raw_grad, p);
    m = lerp(m, g, avg_weight);
    v = v * beta2 + one_minus_beta2 * g * g;
    Batch<T> second = v;
    if (v_max) second = *v_max = xsimd::max(*v_max, v);
    const Batch<T> denom = xsimd::sqrt(second) / bias_correction2_sqrt + eps;
    p = p + neg_step_size * (m / denom);
  };
  if (max_exp_avg_sq)
    zip_update<T, 4, 1>(n, {param, exp_avg, exp_avg_sq, max_exp_avg_sq}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], w[2], &w[3], r[0]); });
  else
    zip_update<T, 3, 1>(n, {param, exp_avg, exp_avg_sq}, {grad},
                        [&](auto& w, const auto& r) { update(w[0], w[1], w[2], nullptr, r[0]); });
}

template <class T>
void adadelta(std::int64_t n, T* param, const T* grad, T* square_avg, T* acc_delta, const AdadeltaRule& rule) {
  const EffectiveGrad<T> effective(rule.grad);
  const Batch<T> rho(T(rule.rho)), one_minus_rho(T(1 - rule.rho)), eps(T(rule.eps)), neg_lr(T(-rule.lr));
  zip_update<T, 3, 1>(n, {param, square_avg, acc_delta}, {grad}, [&](auto& w, const auto& r) {
    auto& [p, v, u] = w;
    const Batch<T> g = effective(r[0], p);
    v = v * rho + one_minus_rho * g * g;
    const Batch<T> delta = xsimd::sqrt(u + eps) / xsimd::sqrt(v + eps) * g;
    u = u * rho + one_minus_rho * delta * delta;
    p = p + neg_lr * delta;
  });
}

// Norms: lanes accumulate in T over blocks of 4096 elements, each block's total is added in double
// (float32 sums of 400k squares would otherwise lose digits).
template <class T>
double sum_abs_pow(std::int64_t n, const T* x, double p) {
  constexpr std::int64_t block = 4096;
  const Batch<T> exponent(static_cast<T>(p));
  double total = 0;
  for (std::int64_t start = 0; start < n; start += block) {
    Batch<T> acc(T(0));
    const std::int64_t stop = std::min(n, start + block);
    auto term = [&](const Batch<T>& v) {
      const Batch<T> a = xsimd::abs(v);
      if (p == 2) return v * v;
      if (p == 1) return a;
      return xsimd::pow(a, exponent);
    };
    std::array<T*, 0> none{};
    zip_update<T, 0, 1>(stop - start, none, {x + start}, [&](auto&, const auto& r) { acc += term(r[0]); });
    // Padding lanes of the last batch are zeros: |0|^p adds 0 for p > 0.
    total += static_cast<double>(xsimd::hadd(acc));
  }
  return total;
}

template <class T>
double max_abs(std::int64_t n, const T* x) {
  Batch<T> acc(T(0));
  bool nan = false;
  std::array<T*, 0> none{};
  zip_update<T, 0, 1>(n, none, {x}, [&](auto&, const auto& r) {
    acc = xsimd::max(acc, xsimd::abs(r[0]));
    nan = nan || xsimd::any(xsimd::isnan(r[0]));
  });
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  alignas(64) T lanes[Batch<T>::size];
  acc.store_aligned(lanes);
  return static_cast<double>(*std::max_element(lanes, lanes + Batch<T>::size));
}

#define XGRAD_OPTIM_INSTANTIATE(T)                                                                          \
  template void sgd<T>(std::int64_t, T*, const T*, T*, const SgdRule&);                                     \
  template void adagrad<T>(std::int64_t, T*, const T*, T*, const AdagradRule&);                             \
  template void rmsprop<T>(std::int64_t, T*, const T*, T*, T*, T*, const RmspropRule&);                     \
  template void adam<T>(std::int64_t, T*, const T*, T*, T*, T*, const AdamRule&);                           \
  template void adadelta<T>(std::int64_t, T*, const T*, T*, T*, const AdadeltaRule&);                       \
  template double sum_abs_pow<T>(std::int64_t, const T*, double);                                           \
  template double max_abs<T>(std::int64_t, const T*);
XGRAD_OPTIM_INSTANTIATE(float)
XGRAD_OPTIM_INSTANTIATE(double)
#undef XGRAD_OPTIM_INSTANTIATE

}  // namespace xgrad::optim::kernels
