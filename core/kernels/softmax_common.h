#pragma once
// Private to softmax.cpp, cross_entropy.cpp and cross_entropy_soft.cpp: the row and block
// helpers (max, sum of exp, narrow-row transposes, the pool split) and the loss buffers they share.
#include "intrinsics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "../parallel.h"
#include "simd.h"
#include "softmax.h"

namespace xgrad::kernels::softmax_detail {

using simd::Batch;
using simd::kLanes;
using simd::load_tail;
using simd::store_tail;

// Below this many elements per chunk a thread costs more than it saves.
inline constexpr std::int64_t kGrainElements = std::int64_t{1} << 15;

inline std::int64_t grain_rows(std::int64_t row_elements) {
  return std::max<std::int64_t>(1, kGrainElements / std::max<std::int64_t>(1, row_elements));
}

template <class T>
inline constexpr T kNegInf = -std::numeric_limits<T>::infinity();

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

// Per sample: the max m over classes and log(sum(exp(x - m))); log_softmax = (x - m) - log_sum.
// Defined in softmax.cpp for float and double.
template <class T>
void logsumexp_of_samples(const T* x, T* max, T* log_sum, const ClassLayout& L);

// ---- the class-target losses

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

// Per-sample gradient scale s_i.
template <class T>
T sample_scale(const T* gy, bool per_sample, std::int64_t i, T scale) {
  return (per_sample ? gy[i] : gy[0]) * scale;
}

}  // namespace xgrad::kernels::softmax_detail
