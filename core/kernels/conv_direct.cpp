// The direct convolution's geometry (the padded layout) and its dispatch rule; the kernels of
// each direction are in conv_direct_forward/_input_grad/_weight_grad.cpp.
#include "conv_direct_common.h"

#include <atomic>

#include "xgrad/error.h"

namespace xgrad::kernels::direct {

namespace detail {

namespace {
std::atomic<bool> g_force_portable{false};
}  // namespace

bool use_avx512() { return !g_force_portable.load(std::memory_order_relaxed); }

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

std::vector<int64> tap_offsets(const Layout& l) {
  std::vector<int64> taps(static_cast<std::size_t>(l.T));
  for (int64 c = 0; c < l.C; ++c)
    for (int64 i = 0; i < l.KH; ++i)
      for (int64 j = 0; j < l.KW; ++j) taps[static_cast<std::size_t>((c * l.KH + i) * l.KW + j)] = c * l.padded_plane() + i * l.Wp + j;
  return taps;
}

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

}  // namespace detail

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

namespace testing {
void force_portable(bool on) { detail::g_force_portable.store(on, std::memory_order_relaxed); }
}  // namespace testing

}  // namespace xgrad::kernels::direct
