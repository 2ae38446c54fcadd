#include "conv_direct.h"
#include "intrinsics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "../parallel.h"
#include "scratch.h"
#include "xgrad/error.h"

namespace xgrad::kernels::direct {

namespace {

using int64 = std::int64_t;
constexpr int kLanes = 16;

// ---- vector backends: 16 float lanes, masked loads (zero fill) and stores -----------------------
// xsimd 8 has no masked loads or stores, which every row's last run of columns needs, so the
// kernels are written against this small interface.

// Plain loops: any target, and the reference for the AVX-512 path in the tests.
struct Portable {
  struct V {
    float v[kLanes];
  };
  static V zero() { return set1(0.0f); }
  static V set1(float a) {
    V r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = a;
    return r;
  }
  static V maskz_load(std::uint32_t m, const float* p) {
    V r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = (m >> i) & 1u ? p[i] : 0.0f;
    return r;
  }
  static V load(const float* p) {
    V r;
    std::memcpy(r.v, p, sizeof r.v);
    return r;
  }
  static void store(float* p, V a) { std::memcpy(p, a.v, sizeof a.v); }
  static void mask_store(float* p, std::uint32_t m, V a) {
    for (int i = 0; i < kLanes; ++i)
      if ((m >> i) & 1u) p[i] = a.v[i];
  }
  static V fmadd(V a, V b, V c) {
    for (int i = 0; i < kLanes; ++i) c.v[i] += a.v[i] * b.v[i];
    return c;
  }
  static V add(V a, V b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i];
    return a;
  }
  static void prefetch(const float*) {}
  static float reduce(V a) {
    float s = 0.0f;
    for (int i = 0; i < kLanes; ++i) s += a.v[i];
    return s;
  }
};

#if defined(__AVX512F__)
struct Avx512 {
  using V = __m512;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V maskz_load(std::uint32_t m, const float* p) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V a) { _mm512_storeu_ps(p, a); }
  static void mask_store(float* p, std::uint32_t m, V a) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), a); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float reduce(V a) {  // not _mm512_reduce_add_ps: GCC 12's header warns falsely in it
    alignas(64) float lanes[kLanes];
    _mm512_store_ps(lanes, a);
    float s = 0.0f;
    for (float v : lanes) s += v;
    return s;
  }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};
#endif

std::atomic<bool> g_force_portable{false};

// ---- geometry -----------------------------------------------------------------------------------

// The input as the kernels see it: padded so that output (oh, ow) and tap (c, i, j) read
// padded[c][oh + i][ow + j], with Hp = OH + KH - 1 rows and Wp = OW + KW - 1 columns. The input
// gradient is accumulated in the same layout. `slack` zero floats follow, for the unmasked
// loads of a row's last run.
struct Layout {
  int64 N, C, H, W, K, OH, OW, KH, KW, ph, pw;
  int64 Hp, Wp, T;  // T = C * KH * KW taps
  int64 plane() const { return OH * OW; }
  int64 padded_plane() const { return Hp * Wp; }
  static constexpr int64 slack = 2 * kLanes;
  int64 padded_size() const { return C * Hp * Wp + slack; }
};

Layout layout_of(const ConvGeometry& g) {
  XGRAD_CHECK(g.groups == 1 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1,
              "conv (direct): needs groups 1, stride 1 and dilation 1, got groups {}, stride ({}, {}), dilation "
              "({}, {})",
              g.groups, g.stride_h, g.stride_w, g.dilation_h, g.dilation_w);
  XGRAD_CHECK(g.pad_h >= 0 && g.pad_w >= 0 && g.kernel_h >= 1 && g.kernel_w >= 1,
              "conv (direct): bad geometry: kernel ({}, {}), padding ({}, {})", g.kernel_h, g.kernel_w, g.pad_h,
              g.pad_w);
  Layout l{g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.out_h, g.out_w, g.kernel_h, g.kernel_w,
           g.pad_h, g.pad_w, 0, 0, 0};
  l.Hp = l.OH + l.KH - 1;
  l.Wp = l.OW + l.KW - 1;
  l.T = l.C * l.KH * l.KW;
  return l;
}

// Offset of tap t = (c*KH + i)*KW + j in the padded layout.
std::vector<int64> tap_offsets(const Layout& l) {
  std::vector<int64> taps(static_cast<std::size_t>(l.T));
  for (int64 c = 0; c < l.C; ++c)
    for (int64 i = 0; i < l.KH; ++i)
      for (int64 j = 0; j < l.KW; ++j) taps[static_cast<std::size_t>((c * l.KH + i) * l.KW + j)] = c * l.padded_plane() + i * l.Wp + j;
  return taps;
}

// One run of up to 16 output columns of one row: its offset in an output plane, in the padded
// layout, and its lanes.
struct Run {
  int64 out, padded;
  std::uint32_t mask;
};

std::vector<Run> runs_of(const Layout& l) {
  std::vector<Run> runs;
  runs.reserve(static_cast<std::size_t>(l.OH * ((l.OW + kLanes - 1) / kLanes)));
  for (int64 oh = 0; oh < l.OH; ++oh)
    for (int64 ow = 0; ow < l.OW; ow += kLanes) {
      const int64 n = std::min<int64>(kLanes, l.OW - ow);
      runs.push_back({oh * l.OW + ow, oh * l.Wp + ow, n == kLanes ? 0xFFFFu : (1u << n) - 1u});
    }
  return runs;
}

// The padded columns [lo, hi) that hold input columns (iw = t - pw in [0, W)).
std::pair<int64, int64> valid_columns(const Layout& l) {
  const int64 lo = std::min(l.pw, l.Wp), hi = std::clamp(l.pw + l.W, lo, l.Wp);
  return {lo, hi};
}

// padded[c][r][t] = x[c][r - ph][t - pw], 0 outside the input; the slack is zeroed too.
void pad_image(const float* x, const Layout& l, float* padded) {
  const auto [lo, hi] = valid_columns(l);
  for (int64 c = 0; c < l.C; ++c)
    for (int64 r = 0; r < l.Hp; ++r) {
      float* dst = padded + c * l.padded_plane() + r * l.Wp;
      const int64 ih = r - l.ph;
      if (ih < 0 || ih >= l.H) {
        std::fill(dst, dst + l.Wp, 0.0f);
        continue;
      }
      std::fill(dst, dst + lo, 0.0f);
      std::copy(x + (c * l.H + ih) * l.W + (lo - l.pw), x + (c * l.H + ih) * l.W + (hi - l.pw), dst + lo);
      std::fill(dst + hi, dst + l.Wp, 0.0f);
    }
  std::fill(padded + l.C * l.padded_plane(), padded + l.padded_size(), 0.0f);
}

// x[c][ih][iw] = padded[c][ih + ph][iw + pw], 0 where the padded layout has no such entry (input
// rows or columns no output reads).
void crop_image(const float* padded, const Layout& l, float* x) {
  const int64 w_valid = std::clamp(l.Wp - l.pw, int64{0}, l.W);
  for (int64 c = 0; c < l.C; ++c)
    for (int64 ih = 0; ih < l.H; ++ih) {
      float* dst = x + (c * l.H + ih) * l.W;
      const int64 r = ih + l.ph;
      if (r >= l.Hp) {
        std::fill(dst, dst + l.W, 0.0f);
        continue;
      }
      const float* src = padded + c * l.padded_plane() + r * l.Wp + l.pw;
      std::copy(src, src + w_valid, dst);
      std::fill(dst + w_valid, dst + l.W, 0.0f);
    }
}

// Padded images and accumulators (slot 0), the input gradient's padded image (1), partials (2).
struct DirectScratch;
float* scratch(std::size_t n, int slot) { return thread_scratch<float, DirectScratch, 3>(n, slot); }

// Images per chunk so a chunk has about 2^20 multiply-adds: tiny convs stay on one thread.
int64 grain_images(const Layout& l) {
  const int64 macs = std::max<int64>(1, l.K * l.T * l.plane());
  return std::max<int64>(1, (int64{1} << 20) / macs);
}

// Calls table[(a-1)*B + (b-1)] for compile-time block sizes a in [1, A], b in [1, B].
template <auto Make, int A, int B, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  return std::array{Make.template operator()<static_cast<int>(I) / B + 1, static_cast<int>(I) % B + 1>()...};
}

// ---- forward ------------------------------------------------------------------------------------
// A block of KB output channels x NV runs: acc[q][p] = bias + sum over taps of w[k0+q][t] *
// padded[run p + tap t]. Each padded vector loaded serves KB channels. `wblock` is [T][KB].
constexpr int kForwardChannels = 6, kForwardRuns = 4;

template <class B, int KB, int NV>
void forward_block(const float* padded, const int64* taps, int64 T, const float* wblock, const float* bias,
                   const Run* runs, float* y, int64 plane) {
  using V = typename B::V;
  V acc[KB][NV];
  const float* base[NV];
#pragma GCC unroll 16
  for (int p = 0; p < NV; ++p) base[p] = padded + runs[p].padded;
#pragma GCC unroll 16
  for (int q = 0; q < KB; ++q) {
    const V b = bias ? B::set1(bias[q]) : B::zero();
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) acc[q][p] = b;
  }
  for (int64 t = 0; t < T; ++t) {
    const int64 o = taps[t];
    V xv[NV];
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) xv[p] = B::load(base[p] + o);
    const float* wt = wblock + t * KB;
#pragma GCC unroll 16
    for (int q = 0; q < KB; ++q) {
      const V wv = B::set1(wt[q]);
#pragma GCC unroll 16
      for (int p = 0; p < NV; ++p) acc[q][p] = B::fmadd(wv, xv[p], acc[q][p]);
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < KB; ++q)
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) B::mask_store(y + q * plane + runs[p].out, runs[p].mask, acc[q][p]);
}

template <class B>
struct ForwardTable {
  using Fn = void (*)(const float*, const int64*, int64, const float*, const float*, const Run*, float*, int64);
  static constexpr auto make = []<int KB, int NV>() -> Fn { return &forward_block<B, KB, NV>; };
  static constexpr auto table =
      make_table<make, kForwardChannels, kForwardRuns>(std::make_index_sequence<kForwardChannels * kForwardRuns>{});
};

template <class B>
void forward_impl(const float* x, const float* w, const float* bias, float* y, const Layout& l) {
  const int64 plane = l.plane(), T = l.T;
  if (l.N == 0 || l.K == 0 || plane == 0) return;
  const std::vector<int64> taps = tap_offsets(l);
  const std::vector<Run> runs = runs_of(l);
  const int64 nruns = static_cast<int64>(runs.size());
  // The weights of each block of channels as [T][KB], so a tap's weights are adjacent.
  std::vector<float> wpacked(static_cast<std::size_t>(l.K * T));
  for (int64 k0 = 0; k0 < l.K; k0 += kForwardChannels) {
    const int64 kb = std::min<int64>(kForwardChannels, l.K - k0);
    for (int64 t = 0; t < T; ++t)
      for (int64 q = 0; q < kb; ++q) wpacked[static_cast<std::size_t>(k0 * T + t * kb + q)] = w[(k0 + q) * T + t];
  }
  const auto& table = ForwardTable<B>::table;
  parallel::parallel_for(l.N, grain_images(l), [&](int64 n0, int64 n1) {
    float* padded = scratch(static_cast<std::size_t>(l.padded_size()), 0);
    for (int64 n = n0; n < n1; ++n) {
      pad_image(x + n * l.C * l.H * l.W, l, padded);
      float* yn = y + n * l.K * plane;
      for (int64 k0 = 0; k0 < l.K; k0 += kForwardChannels) {
        const int64 kb = std::min<int64>(kForwardChannels, l.K - k0);
        for (int64 p0 = 0; p0 < nruns; p0 += kForwardRuns) {
          const int64 nv = std::min<int64>(kForwardRuns, nruns - p0);
          table[static_cast<std::size_t>((kb - 1) * kForwardRuns + nv - 1)](
              padded, taps.data(), T, wpacked.data() + k0 * T, bias ? bias + k0 : nullptr, runs.data() + p0,
              yn + k0 * plane, plane);
        }
      }
    }
  });
}

// ---- input gradient -----------------------------------------------------------------------------
// For NV runs and a block of TB taps: z[t][p] = sum_k w[k][t] gy[k][run p], then padded_gx[run p +
// tap t] += z[t][p]. Each gy vector loaded serves TB taps. `w` points at tap t0 of channel 0
// (row stride T).
// Blocks of up to 9 taps x 4 runs are instantiated; a conv with at most 9 taps takes them all
// in one block of 2 runs (one pass over gy), larger ones blocks of 5 taps x 4 runs.
constexpr int kInputTaps = 9, kInputRuns = 4;

template <class B, int TB, int NV>
void input_block(const float* gy, int64 plane, int64 K, const float* w, int64 T, const int64* taps, const Run* runs,
                 float* padded_gx, bool prefetch) {
  using V = typename B::V;
  V acc[TB][NV];
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t)
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) acc[t][p] = B::zero();
  // gy is read as K concurrent streams, more than the hardware prefetcher follows: fetch the
  // next group's lines of each plane while this group computes.
  const int64 ahead = runs[NV - 1].out + kLanes;
  for (int64 k = 0; k < K; ++k) {
    if (prefetch)
#pragma GCC unroll 4
      for (int u = 0; u < 4; ++u) B::prefetch(gy + k * plane + ahead + u * kLanes);
    V g[NV];
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) g[p] = B::maskz_load(runs[p].mask, gy + k * plane + runs[p].out);
    const float* wk = w + k * T;
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) {
      const V wv = B::set1(wk[t]);
#pragma GCC unroll 16
      for (int p = 0; p < NV; ++p) acc[t][p] = B::fmadd(wv, g[p], acc[t][p]);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t)
#pragma GCC unroll 16
    for (int p = 0; p < NV; ++p) {
      float* d = padded_gx + runs[p].padded + taps[t];
      B::mask_store(d, runs[p].mask, B::add(B::maskz_load(runs[p].mask, d), acc[t][p]));
    }
}

template <class B>
struct InputTable {
  using Fn = void (*)(const float*, int64, int64, const float*, int64, const int64*, const Run*, float*, bool);
  static constexpr auto make = []<int TB, int NV>() -> Fn { return &input_block<B, TB, NV>; };
  static constexpr auto table =
      make_table<make, kInputTaps, kInputRuns>(std::make_index_sequence<kInputTaps * kInputRuns>{});
};

// [begin, end) of block b when n items are split into `blocks` near-equal blocks.
std::pair<int64, int64> split(int64 n, int64 blocks, int64 b) { return {n * b / blocks, n * (b + 1) / blocks}; }

template <class B>
void input_grad_impl(const float* gy, const float* w, float* gx, const Layout& l) {
  const int64 plane = l.plane(), T = l.T, image = l.C * l.H * l.W;
  if (l.N == 0 || image == 0) return;
  if (l.K == 0 || plane == 0 || T == 0) {
    std::fill(gx, gx + l.N * image, 0.0f);
    return;
  }
  const std::vector<int64> taps = tap_offsets(l);
  const std::vector<Run> runs = runs_of(l);
  const int64 nruns = static_cast<int64>(runs.size());
  const bool one_block = T <= kInputTaps;
  const int64 block_taps = one_block ? T : 5, group_runs = one_block ? 2 : 4;
  const int64 tap_blocks = (T + block_taps - 1) / block_taps;
  const auto& table = InputTable<B>::table;
  parallel::parallel_for(l.N, grain_images(l), [&](int64 n0, int64 n1) {
    float* padded = scratch(static_cast<std::size_t>(l.padded_size()), 1);
    for (int64 n = n0; n < n1; ++n) {
      std::fill(padded, padded + l.padded_size(), 0.0f);
      const float* gyn = gy + n * l.K * plane;
      for (int64 p0 = 0; p0 < nruns; p0 += group_runs) {
        const int64 nv = std::min<int64>(group_runs, nruns - p0);
        for (int64 b = 0; b < tap_blocks; ++b) {
          const auto [t0, t1] = split(T, tap_blocks, b);
          table[static_cast<std::size_t>((t1 - t0 - 1) * kInputRuns + nv - 1)](
              gyn, plane, l.K, w + t0, T, taps.data() + t0, runs.data() + p0, padded, b == 0 && p0 + nv < nruns);
        }
      }
      crop_image(padded, l, gx + n * image);
    }
  });
}

// ---- weight gradient ----------------------------------------------------------------------------
// For KB channels and TB taps, over all runs of one image: acc[q][t] += gy[k0+q][run] *
// padded[run + tap t], lane-wise; then added into the vector accumulators `acc_out` ([K][T] of
// 16 lanes, at (k0, t0); channel stride T*16). Each padded vector loaded serves KB channels.
constexpr int kWeightChannels = 3, kWeightTaps = 9;

template <class B, int KB, int TB>
void weight_block(const float* padded, const int64* taps, const float* gy, int64 plane, const Run* runs, int64 nruns,
                  float* acc_out, int64 channel_stride, bool prefetch) {
  using V = typename B::V;
  V acc[KB][TB];
#pragma GCC unroll 16
  for (int q = 0; q < KB; ++q)
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) acc[q][t] = B::zero();
  int64 o[TB];
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t) o[t] = taps[t];
  for (int64 r = 0; r < nruns; ++r) {
    const std::uint32_t m = runs[r].mask;
    const float* xb = padded + runs[r].padded;
    // Each plane is only a few KB, too short a stream for the hardware prefetcher to get ahead
    // of: fetch the next planes (the next block of channels, contiguous) while these compute.
    if (prefetch)
#pragma GCC unroll 16
      for (int q = 0; q < KB; ++q) B::prefetch(gy + (KB + q) * plane + runs[r].out);
    V g[KB];
#pragma GCC unroll 16
    for (int q = 0; q < KB; ++q) g[q] = B::maskz_load(m, gy + q * plane + runs[r].out);
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) {
      const V xv = B::maskz_load(m, xb + o[t]);
#pragma GCC unroll 16
      for (int q = 0; q < KB; ++q) acc[q][t] = B::fmadd(g[q], xv, acc[q][t]);
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < KB; ++q)
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) {
      float* d = acc_out + q * channel_stride + t * kLanes;
      B::store(d, B::add(B::load(d), acc[q][t]));
    }
}

template <class B>
struct WeightTable {
  using Fn = void (*)(const float*, const int64*, const float*, int64, const Run*, int64, float*, int64, bool);
  static constexpr auto make = []<int KB, int TB>() -> Fn { return &weight_block<B, KB, TB>; };
  static constexpr auto table =
      make_table<make, kWeightChannels, kWeightTaps>(std::make_index_sequence<kWeightChannels * kWeightTaps>{});
};

// acc_out[16] += sum of gy over the runs of one plane, lane-wise.
template <class B>
void bias_block(const float* gy, const Run* runs, int64 nruns, float* acc_out) {
  typename B::V s0 = B::zero(), s1 = B::zero();
  int64 r = 0;
  for (; r + 1 < nruns; r += 2) {
    s0 = B::add(s0, B::maskz_load(runs[r].mask, gy + runs[r].out));
    s1 = B::add(s1, B::maskz_load(runs[r + 1].mask, gy + runs[r + 1].out));
  }
  if (r < nruns) s0 = B::add(s0, B::maskz_load(runs[r].mask, gy + runs[r].out));
  B::store(acc_out, B::add(B::load(acc_out), B::add(s0, s1)));
}

// The batch is summed in a fixed number of slabs (independent of the thread count, so results
// are the same at any thread count): each slab's 16-lane accumulators are reduced to a partial
// gradient, and the partials are added in slab order.
constexpr int64 kMaxSlabs = 16;

template <class B>
void weight_grad_impl(const float* x, const float* gy, float* gw, float* gb, const Layout& l) {
  const int64 plane = l.plane(), T = l.T, K = l.K;
  const int64 wsize = K * T;
  if (l.N == 0 || plane == 0 || K == 0) {
    std::fill(gw, gw + wsize, 0.0f);
    if (gb) std::fill(gb, gb + K, 0.0f);
    return;
  }
  const std::vector<int64> taps = tap_offsets(l);
  const std::vector<Run> runs = runs_of(l);
  const int64 nruns = static_cast<int64>(runs.size());
  const int64 tap_blocks = (T + kWeightTaps - 1) / kWeightTaps;
  const int64 slabs = std::min(l.N, kMaxSlabs);
  const int64 partial_size = wsize + K;  // weights then bias
  // The partials live in the calling thread's scratch: each slab writes its own slice.
  float* partials = scratch(static_cast<std::size_t>(slabs * partial_size), 2);
  const auto& table = WeightTable<B>::table;
  const int64 slab_grain = std::max<int64>(1, grain_images(l) * slabs / l.N);
  parallel::parallel_for(slabs, slab_grain, [&](int64 s0, int64 s1) {
    const int64 acc_size = (wsize + K) * kLanes;
    // Slot 0 is the padded input; the 16-lane accumulators follow it.
    float* padded = scratch(static_cast<std::size_t>(l.padded_size() + acc_size), 0);
    float* acc = padded + l.padded_size();
    float* acc_bias = acc + wsize * kLanes;
    for (int64 s = s0; s < s1; ++s) {
      std::fill(acc, acc + acc_size, 0.0f);
      const auto [n0, n1] = split(l.N, slabs, s);
      for (int64 n = n0; n < n1; ++n) {
        if (T > 0) pad_image(x + n * l.C * l.H * l.W, l, padded);
        const float* gyn = gy + n * K * plane;
        for (int64 k0 = 0; k0 < K; k0 += kWeightChannels) {
          const int64 kb = std::min<int64>(kWeightChannels, K - k0);
          for (int64 b = 0; b < tap_blocks; ++b) {
            const auto [t0, t1] = split(T, tap_blocks, b);
            table[static_cast<std::size_t>((kb - 1) * kWeightTaps + (t1 - t0) - 1)](
                padded, taps.data() + t0, gyn + k0 * plane, plane, runs.data(), nruns, acc + (k0 * T + t0) * kLanes,
                T * kLanes, b == 0);
          }
          if (gb)
            for (int64 q = 0; q < kb; ++q)
              bias_block<B>(gyn + (k0 + q) * plane, runs.data(), nruns, acc_bias + (k0 + q) * kLanes);
        }
      }
      float* part = partials + s * partial_size;
      for (int64 i = 0; i < partial_size; ++i) part[i] = B::reduce(B::load(acc + i * kLanes));
    }
  });
  for (int64 i = 0; i < wsize; ++i) {
    float sum = partials[i];
    for (int64 s = 1; s < slabs; ++s) sum += partials[s * partial_size + i];
    gw[i] = sum;
  }
  if (gb)
    for (int64 k = 0; k < K; ++k) {
      float sum = partials[wsize + k];
      for (int64 s = 1; s < slabs; ++s) sum += partials[s * partial_size + wsize + k];
      gb[k] = sum;
    }
}

#if defined(__AVX512F__)
bool use_avx512() { return !g_force_portable.load(std::memory_order_relaxed); }
#endif

}  // namespace

bool worthwhile(const ConvGeometry& g) {
#if defined(__AVX512F__)
  // Measured, fwd + dx + dw (+ the fused bias gradient) against im2col (+ no bias gradient):
  // 1.0-1.1x for 1-channel 3x3 on 28x28, 1.1-2.6x from C_in*KH*KW = 27 up with rows of 16+
  // outputs; 1x1 kernels and 8-wide rows lose (0.5-0.6x).
  return g.groups == 1 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 &&
         g.in_channels <= 4 && g.kernel_h <= 7 && g.kernel_w <= 7 &&
         g.in_channels * g.kernel_h * g.kernel_w >= 9 && g.out_w >= 16;
#else
  (void)g;
  return false;
#endif
}

void conv_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g) {
  const Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return forward_impl<Avx512>(x, w, bias, y, l);
#endif
  forward_impl<Portable>(x, w, bias, y, l);
}

void conv_input_grad(const float* gy, const float* w, float* x_grad, const ConvGeometry& g) {
  const Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return input_grad_impl<Avx512>(gy, w, x_grad, l);
#endif
  input_grad_impl<Portable>(gy, w, x_grad, l);
}

void conv_weight_grad(const float* x, const float* gy, float* w_grad, float* bias_grad, const ConvGeometry& g) {
  const Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return weight_grad_impl<Avx512>(x, gy, w_grad, bias_grad, l);
#endif
  weight_grad_impl<Portable>(x, gy, w_grad, bias_grad, l);
}

namespace testing {
void force_portable(bool on) { g_force_portable.store(on, std::memory_order_relaxed); }
}  // namespace testing

}  // namespace xgrad::kernels::direct
