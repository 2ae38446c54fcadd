// Direct convolution, forward (conv_direct.h).
#include "conv_direct_common.h"

#include "../parallel.h"

namespace xgrad::kernels::direct {

namespace {

using namespace detail;

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

}  // namespace

void conv_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g) {
  const detail::Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return forward_impl<Avx512>(x, w, bias, y, l);
#endif
  forward_impl<Portable>(x, w, bias, y, l);
}

}  // namespace xgrad::kernels::direct
