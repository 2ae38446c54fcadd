// Direct convolution, weight and bias gradients (conv_direct.h).
#include "conv_direct_common.h"

#include "../parallel.h"

namespace xgrad::kernels::direct {

namespace {

using namespace detail;

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

}  // namespace

void conv_weight_grad(const float* x, const float* gy, float* w_grad, float* bias_grad, const ConvGeometry& g) {
  const detail::Layout l = layout_of(g);
#if defined(__AVX512F__)
  if (use_avx512()) return weight_grad_impl<Avx512>(x, gy, w_grad, bias_grad, l);
#endif
  weight_grad_impl<Portable>(x, gy, w_grad, bias_grad, l);
}

}  // namespace xgrad::kernels::direct
