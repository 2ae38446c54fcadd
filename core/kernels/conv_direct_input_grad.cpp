// Direct convolution, input gradient (conv_direct.h).
#include "conv_direct_common.h"

#include "../parallel.h"

namespace xgrad::kernels::direct {

namespace {

using namespace detail;

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

}  // namespace

void conv_input_grad(const float* gy, const float* w, float* x_grad, const ConvGeometry& g) {
  const detail::Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return input_grad_impl<Avx512>(gy, w, x_grad, l);
#endif
  input_grad_impl<Portable>(gy, w, x_grad, l);
}

}  // namespace xgrad::kernels::direct
