#include "normalization.h"
#include "intrinsics.h"

#include <algorithm>
#include <cmath>

#include <xsimd/xsimd.hpp>

#include "../dispatch.h"
#include "../parallel.h"

namespace xgrad::kernels {

namespace {

// Work per parallel chunk, in elements: below this a chunk is not worth a thread.
constexpr std::int64_t kChunkElements = 32768;

std::int64_t grain_for(std::int64_t items, std::int64_t elements_per_item) {
  return std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(1, elements_per_item));
}

// Sums over contiguous spans with xsimd batches (GCC does not vectorise a floating reduction
// without -ffast-math). Batches are flushed to float64 every block so float32 sums of long rows
// stay accurate. `vec(i)` gives the batch of terms at i, `one(i)` a single term.
constexpr std::int64_t kFlush = 4096;

template <class T>
using Batch = xsimd::batch<T>;

template <class T, class V, class S>
double accumulate_span(std::int64_t n, V vec, S one) {
  constexpr auto w = static_cast<std::int64_t>(Batch<T>::size);
  double total = 0;
  std::int64_t i = 0;
  while (i + 2 * w <= n) {
    const std::int64_t block_end = std::min(n, i + kFlush);
    Batch<T> a0(T(0)), a1(T(0));
    for (; i + 2 * w <= block_end; i += 2 * w) {
      a0 += vec(i);
      a1 += vec(i + w);
    }
    total += static_cast<double>(xsimd::hadd(a0 + a1));
  }
  for (; i < n; ++i) total += static_cast<double>(one(i));
  return total;
}

template <class T>
double span_sum(const T* p, std::int64_t n) {
  return accumulate_span<T>(
      n, [p](std::int64_t i) { return Batch<T>::load_unaligned(p + i); }, [p](std::int64_t i) { return p[i]; });
}

template <class T>
double span_centered_squares(const T* p, std::int64_t n, T mean) {
  return accumulate_span<T>(
      n,
      [p, mean](std::int64_t i) {
        const Batch<T> d = Batch<T>::load_unaligned(p + i) - Batch<T>(mean);
        return d * d;
      },
      [p, mean](std::int64_t i) { return (p[i] - mean) * (p[i] - mean); });
}

template <class T>
double span_dot_centered(const T* g, const T* p, std::int64_t n, T mean) {
  return accumulate_span<T>(
      n,
      [g, p, mean](std::int64_t i) {
        return Batch<T>::load_unaligned(g + i) * (Batch<T>::load_unaligned(p + i) - Batch<T>(mean));
      },
      [g, p, mean](std::int64_t i) { return g[i] * (p[i] - mean); });
}

template <class T>
void moments_impl(const T* x, std::int64_t outer, std::int64_t channels, std::int64_t inner, ChannelMoments& m) {
  const double count = static_cast<double>(outer * inner);
  if (inner == 1) {
    // [N, C]: accumulate whole rows at once (vectorised over channels).
    parallel::parallel_for(channels, grain_for(channels, outer), [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t n = 0; n < outer; ++n) {
        const T* row = x + n * channels;
        for (std::int64_t c = c0; c < c1; ++c) m.mean[c] += static_cast<double>(row[c]);
      }
      for (std::int64_t c = c0; c < c1; ++c) m.mean[c] /= count;
      for (std::int64_t n = 0; n < outer; ++n) {
        const T* row = x + n * channels;
        for (std::int64_t c = c0; c < c1; ++c) {
          const double d = static_cast<double>(row[c]) - m.mean[c];
          m.var[c] += d * d;
        }
      }
      for (std::int64_t c = c0; c < c1; ++c) m.var[c] /= count;
    });
    return;
  }
  parallel::parallel_for(channels, grain_for(channels, outer * inner), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (std::int64_t n = 0; n < outer; ++n) s += span_sum(x + (n * channels + c) * inner, inner);
      const double mean = s / count;
      double sq = 0;
      for (std::int64_t n = 0; n < outer; ++n)
        sq += span_centered_squares(x + (n * channels + c) * inner, inner, static_cast<T>(mean));
      m.mean[c] = mean;
      m.var[c] = sq / count;
    }
  });
}

template <class T>
void affine_impl(const T* x, T* y, const std::vector<double>& scale, const std::vector<double>& shift,
                 std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  const std::int64_t planes = outer * channels;
  if (inner == 1) {
    std::vector<T> sc(scale.begin(), scale.end()), sh(shift.begin(), shift.end());
    parallel::parallel_for(outer, grain_for(outer, channels), [&](std::int64_t n0, std::int64_t n1) {
      for (std::int64_t n = n0; n < n1; ++n) {
        const T* xr = x + n * channels;
        T* yr = y + n * channels;
        for (std::int64_t c = 0; c < channels; ++c) yr[c] = xr[c] * sc[c] + sh[c];
      }
    });
    return;
  }
  parallel::parallel_for(planes, grain_for(planes, inner), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const auto c = static_cast<std::size_t>(p % channels);
      const T a = static_cast<T>(scale[c]), b = static_cast<T>(shift[c]);
      const T* xr = x + p * inner;
      T* yr = y + p * inner;
      for (std::int64_t i = 0; i < inner; ++i) yr[i] = xr[i] * a + b;
    }
  });
}

template <class T>
NormGrads bn_backward_impl(const Tensor& gy_t, const Tensor& x_t, const double* mean, const double* invstd,
                           const Tensor& weight, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                           bool need_dx, bool need_dw, bool need_db) {
  const T* gy = gy_t.impl()->data<T>();
  const T* x = x_t.impl()->data<T>();
  const Dtype dt = x_t.dtype();
  const auto cs = static_cast<std::size_t>(channels);
  std::vector<double> sum_g(cs, 0.0), sum_gxc(cs, 0.0);  // sum(gy), sum(gy (x - mean))
  std::vector<double> w(cs, 1.0);
  if (weight.defined()) {
    const T* wp = weight.impl()->data<T>();
    for (std::size_t c = 0; c < cs; ++c) w[c] = static_cast<double>(wp[c]);
  }
  if (inner == 1) {
    for (std::int64_t n = 0; n < outer; ++n) {
      const T* g = gy + n * channels;
      const T* xr = x + n * channels;
      for (std::int64_t c = 0; c < channels; ++c) {
        sum_g[c] += static_cast<double>(g[c]);
        sum_gxc[c] += static_cast<double>(g[c]) * (static_cast<double>(xr[c]) - mean[c]);
      }
    }
  } else {
    parallel::parallel_for(channels, grain_for(channels, outer * inner), [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c)
        for (std::int64_t n = 0; n < outer; ++n) {
          const std::int64_t off = (n * channels + c) * inner;
          sum_g[c] += span_sum(gy + off, inner);
          sum_gxc[c] += span_dot_centered(gy + off, x + off, inner, static_cast<T>(mean[c]));
        }
    });
  }
  NormGrads out;
  if (need_dw) {
    out.dweight = make_tensor({channels}, dt);
    T* dw = out.dweight.impl()->data<T>();
    for (std::size_t c = 0; c < cs; ++c) dw[c] = static_cast<T>(sum_gxc[c] * invstd[c]);
  }
  if (need_db) {
    out.dbias = make_tensor({channels}, dt);
    T* db = out.dbias.impl()->data<T>();
    for (std::size_t c = 0; c < cs; ++c) db[c] = static_cast<T>(sum_g[c]);
  }
  if (need_dx) {
    // dx = a gy + b x + k per channel, with a = w invstd, b = -w invstd^3 sum_gxc / M and
    // k = -a sum_g / M - b mean.
    const double count = static_cast<double>(outer * inner);
    std::vector<T> a(cs), b(cs), k(cs);
    for (std::size_t c = 0; c < cs; ++c) {
      const double ac = w[c] * invstd[c];
      const double bc = -ac * invstd[c] * invstd[c] * sum_gxc[c] / count;
      a[c] = static_cast<T>(ac);
      b[c] = static_cast<T>(bc);
      k[c] = static_cast<T>(-ac * sum_g[c] / count - bc * mean[c]);
    }
    out.dx = make_tensor(x_t.shape(), dt);
    T* dx = out.dx.impl()->data<T>();
    const std::int64_t planes = outer * channels;
    parallel::parallel_for(planes, grain_for(planes, inner), [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p) {
        const auto c = static_cast<std::size_t>(p % channels);
        const T ac = a[c], bc = b[c], kc = k[c];
        const T* g = gy + p * inner;
        const T* xr = x + p * inner;
        T* d = dx + p * inner;
        for (std::int64_t i = 0; i < inner; ++i) d[i] = ac * g[i] + bc * xr[i] + kc;
      }
    });
  }
  return out;
}

template <class T>
void ln_forward_impl(const T* x, const T* w, const T* b, T* y, double* mean, double* invstd, std::int64_t rows,
                     std::int64_t d, double eps) {
  parallel::parallel_for(rows, grain_for(rows, d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      T* yr = y + r * d;
      const double mu = span_sum(xr, d) / static_cast<double>(d);
      const double var = span_centered_squares(xr, d, static_cast<T>(mu)) / static_cast<double>(d);
      const double is = 1.0 / std::sqrt(var + eps);
      mean[r] = mu;
      invstd[r] = is;
      const T m = static_cast<T>(mu), s = static_cast<T>(is);
      if (w && b)
        for (std::int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * s * w[i] + b[i];
      else if (w)
        for (std::int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * s * w[i];
      else if (b)
        for (std::int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * s + b[i];
      else
        for (std::int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * s;
    }
  });
}

template <class T>
NormGrads ln_backward_impl(const Tensor& gy_t, const Tensor& x_t, const double* mean, const double* invstd,
                           const Tensor& weight, std::int64_t rows, std::int64_t d, bool need_dx, bool need_dw,
                           bool need_db) {
  const T* gy = gy_t.impl()->data<T>();
  const T* x = x_t.impl()->data<T>();
  const T* w = weight.defined() ? weight.impl()->data<T>() : nullptr;
  const Dtype dt = x_t.dtype();
  NormGrads out;
  if (need_dx) {
    out.dx = make_tensor(x_t.shape(), dt);
    T* dx = out.dx.impl()->data<T>();
    parallel::parallel_for(rows, grain_for(rows, d), [&](std::int64_t r0, std::int64_t r1) {
      std::vector<T> g(static_cast<std::size_t>(d));  // gy * weight for one row; one buffer per chunk
      for (std::int64_t r = r0; r < r1; ++r) {
        const T* gr = gy + r * d;
        const T* xr = x + r * d;
        if (w)
          for (std::int64_t i = 0; i < d; ++i) g[i] = gr[i] * w[i];
        else
          std::copy(gr, gr + d, g.begin());
        const T m = static_cast<T>(mean[r]);
        const double sum_g = span_sum(g.data(), d);
        const double sum_gxc = span_dot_centered(g.data(), xr, d, m);
        // dx = is g + b x + k, with b = -is^3 sum_gxc / D and k = -is sum_g / D - b mean.
        const double is = invstd[r];
        const double bd = -is * is * is * sum_gxc / static_cast<double>(d);
        const T a = static_cast<T>(is), bb = static_cast<T>(bd);
        const T k = static_cast<T>(-is * sum_g / static_cast<double>(d) - bd * mean[r]);
        T* dr = dx + r * d;
        for (std::int64_t i = 0; i < d; ++i) dr[i] = a * g[i] + bb * xr[i] + k;
      }
    });
  }
  if (need_dw || need_db) {
    // Column sums over rows, split over columns so that each output is written by one chunk.
    std::vector<double> dw(need_dw ? static_cast<std::size_t>(d) : 0, 0.0);
    std::vector<double> db(need_db ? static_cast<std::size_t>(d) : 0, 0.0);
    parallel::parallel_for(d, grain_for(d, rows), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t r = 0; r < rows; ++r) {
        const T* gr = gy + r * d;
        const T* xr = x + r * d;
        const double m = mean[r], is = invstd[r];
        if (need_dw)
          for (std::int64_t i = i0; i < i1; ++i)
            dw[i] += static_cast<double>(gr[i]) * ((static_cast<double>(xr[i]) - m) * is);
        if (need_db)
          for (std::int64_t i = i0; i < i1; ++i) db[i] += static_cast<double>(gr[i]);
      }
    });
    auto to_tensor = [&](const std::vector<double>& v) {
      Tensor t = make_tensor({d}, dt);
      T* p = t.impl()->data<T>();
      for (std::int64_t i = 0; i < d; ++i) p[i] = static_cast<T>(v[i]);
      return t;
    };
    if (need_dw) out.dweight = to_tensor(dw);
    if (need_db) out.dbias = to_tensor(db);
  }
  return out;
}

// MurmurHash3's 32-bit finaliser (a bijection). Two keyed rounds over the element index make a
// counter-based generator: element i of a mask is a pure function of (key, i), and the loop
// vectorises (32-bit multiplies).
inline std::uint32_t fmix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bU;
  h ^= h >> 13;
  h *= 0xc2b2ae35U;
  h ^= h >> 16;
  return h;
}

}  // namespace

ChannelMoments channel_moments(const Tensor& x, std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  ChannelMoments m;
  m.mean.assign(static_cast<std::size_t>(channels), 0.0);
  m.var.assign(static_cast<std::size_t>(channels), 0.0);
  if (outer * inner == 0) return m;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, moments_impl<T>(x.impl()->data<T>(), outer, channels, inner, m));
  return m;
}

Tensor channel_affine(const Tensor& x, const std::vector<double>& scale, const std::vector<double>& shift,
                      std::int64_t outer, std::int64_t channels, std::int64_t inner) {
  Tensor y = make_tensor(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T,
                       affine_impl<T>(x.impl()->data<T>(), y.impl()->data<T>(), scale, shift, outer, channels, inner));
  return y;
}

NormGrads batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                              const Tensor& weight, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                              bool need_dx, bool need_dweight, bool need_dbias) {
  NormGrads out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T,
                       out = bn_backward_impl<T>(gy, x, mean.impl()->data<double>(), invstd.impl()->data<double>(),
                                                 weight, outer, channels, inner, need_dx, need_dweight, need_dbias));
  return out;
}

LayerNormForward layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t rows,
                                    std::int64_t d, double eps) {
  LayerNormForward out{make_tensor(x.shape(), x.dtype()), make_tensor({rows}, Dtype::float64),
                       make_tensor({rows}, Dtype::float64)};
  if (x.numel() == 0) return out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T,
                       ln_forward_impl<T>(x.impl()->data<T>(), weight.defined() ? weight.impl()->data<T>() : nullptr,
                                          bias.defined() ? bias.impl()->data<T>() : nullptr, out.y.impl()->data<T>(),
                                          out.mean.impl()->data<double>(), out.invstd.impl()->data<double>(), rows,
                                          d, eps));
  return out;
}

NormGrads layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                              const Tensor& weight, std::int64_t rows, std::int64_t d, bool need_dx,
                              bool need_dweight, bool need_dbias) {
  NormGrads out;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T,
                       out = ln_backward_impl<T>(gy, x, mean.impl()->data<double>(), invstd.impl()->data<double>(),
                                                 weight, rows, d, need_dx, need_dweight, need_dbias));
  return out;
}

Tensor dropout_mask(const Shape& shape, Dtype dtype, double p, std::uint64_t key) {
  Tensor mask = make_tensor(shape, dtype);
  const std::int64_t n = mask.numel();
  // Keep element i when its 32-bit hash is >= p 2^32 (probability 1 - p, to 2^-32).
  const auto threshold = static_cast<std::uint64_t>(std::ceil(p * 0x1.0p32));
  const double scale = 1.0 / (1.0 - p);
  XGRAD_DISPATCH_FLOAT(dtype, T, {
    T* out = mask.impl()->data<T>();
    const T kept = threshold > 0xffffffffULL ? T(0) : static_cast<T>(scale);
    const auto cut = static_cast<std::uint32_t>(std::min<std::uint64_t>(threshold, 0xffffffffULL));
    parallel::parallel_for(n, kChunkElements, [&](std::int64_t i0, std::int64_t i1) {
      // Indices past 2^32 fold their high half into the first key.
      for (std::int64_t block = i0 >> 32; block <= (i1 - 1) >> 32; ++block) {
        const auto k1 = static_cast<std::uint32_t>(key) ^ fmix32(static_cast<std::uint32_t>(block) * 0x9e3779b9U);
        const auto k2 = static_cast<std::uint32_t>(key >> 32);
        const std::int64_t b0 = std::max(i0, block << 32), b1 = std::min(i1, (block + 1) << 32);
        // Locals and a branch-free select: the mask bits are random, so a branch would mispredict
        // half the time, and captured references would be reloaded every iteration.
        T* const o = out;
        const T kv = kept;
        const std::uint32_t c = cut;
        for (std::int64_t i = b0; i < b1; ++i) {
          const std::uint32_t h = fmix32(fmix32(static_cast<std::uint32_t>(i) ^ k1) + k2);
          o[i] = static_cast<T>(h >= c) * kv;
        }
      }
    });
  });
  return mask;
}

}  // namespace xgrad::kernels
