#include "loss.h"

#include <algorithm>

#include "../dispatch.h"
#include "../parallel.h"

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

}  // namespace xgrad::kernels
