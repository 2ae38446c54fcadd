// The direct float32 convolution kernels (core/kernels/conv_direct.h) against a naive float64
// convolution: forward (with and without bias), input gradient, weight and bias gradient, over
// C_in 1..4, kernels 1x1, 3x3, 5x5, 3x5, asymmetric paddings 0..kernel-1 (pad before + explicit
// output size), widths 1, 5, 28, 33 and batches 1 and 7; on the AVX-512 path and the portable
// one; bitwise the same at 1 and 2 threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/conv_direct.h"
#include "xgrad/error.h"
#include "xgrad/threads.h"

#include "test_util.h"

namespace direct = xgrad::kernels::direct;
using xgrad::kernels::ConvGeometry;
using std::int64_t;

namespace {

using xgrad::test::randn_floats;

// Geometry of a stride-1 conv with padding (before, after) per dim: the output size is explicit.
ConvGeometry geometry(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t KH, int64_t KW, int64_t ph0,
                      int64_t ph1, int64_t pw0, int64_t pw1) {
  ConvGeometry g;
  g.batch = N;
  g.in_channels = C;
  g.in_h = H;
  g.in_w = W;
  g.out_channels = K;
  g.kernel_h = KH;
  g.kernel_w = KW;
  g.pad_h = ph0;
  g.pad_w = pw0;
  g.out_h = H + ph0 + ph1 - KH + 1;
  g.out_w = W + pw0 + pw1 - KW + 1;
  return g;
}

int64_t x_size(const ConvGeometry& g) { return g.batch * g.in_channels * g.in_h * g.in_w; }
int64_t y_size(const ConvGeometry& g) { return g.batch * g.out_channels * g.out_h * g.out_w; }
int64_t w_size(const ConvGeometry& g) { return g.out_channels * g.in_channels * g.kernel_h * g.kernel_w; }

// Calls f(n, k, c, oh, ow, i, j, x index, y index, w index) for every product of the conv.
template <class F>
void each_product(const ConvGeometry& g, F f) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t k = 0; k < g.out_channels; ++k)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow)
          for (int64_t c = 0; c < g.in_channels; ++c)
            for (int64_t i = 0; i < g.kernel_h; ++i)
              for (int64_t j = 0; j < g.kernel_w; ++j) {
                const int64_t ih = oh + i - g.pad_h, iw = ow + j - g.pad_w;
                if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) continue;
                f(((n * g.in_channels + c) * g.in_h + ih) * g.in_w + iw,
                  ((n * g.out_channels + k) * g.out_h + oh) * g.out_w + ow,
                  ((k * g.in_channels + c) * g.kernel_h + i) * g.kernel_w + j);
              }
}

struct Reference {
  std::vector<double> y, gx, gw, gb;
};

Reference reference(const ConvGeometry& g, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& b, const std::vector<float>& gy) {
  Reference r{std::vector<double>(static_cast<std::size_t>(y_size(g))),
              std::vector<double>(static_cast<std::size_t>(x_size(g))),
              std::vector<double>(static_cast<std::size_t>(w_size(g))),
              std::vector<double>(static_cast<std::size_t>(g.out_channels))};
  const int64_t plane = g.out_h * g.out_w;
  for (int64_t i = 0; i < y_size(g); ++i) {
    const int64_t k = (i / plane) % g.out_channels;
    r.y[static_cast<std::size_t>(i)] = b.empty() ? 0.0 : b[static_cast<std::size_t>(k)];
    r.gb[static_cast<std::size_t>(k)] += gy[static_cast<std::size_t>(i)];
  }
  each_product(g, [&](int64_t xi, int64_t yi, int64_t wi) {
    const auto xs = static_cast<std::size_t>(xi), ys = static_cast<std::size_t>(yi), ws = static_cast<std::size_t>(wi);
    r.y[ys] += double(x[xs]) * double(w[ws]);
    r.gx[xs] += double(gy[ys]) * double(w[ws]);
    r.gw[ws] += double(gy[ys]) * double(x[xs]);
  });
  return r;
}

// max |got - ref| / (1 + max |ref|)
double error(const std::vector<float>& got, const std::vector<double>& ref) {
  double err = 0.0, scale = 1.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(double(got[i]) - ref[i]));
    scale = std::max(scale, 1.0 + std::abs(ref[i]));
  }
  return err / scale;
}

std::string describe(const ConvGeometry& g, int64_t ph1, int64_t pw1, bool bias) {
  return "N " + std::to_string(g.batch) + " C " + std::to_string(g.in_channels) + " HxW " + std::to_string(g.in_h) +
         "x" + std::to_string(g.in_w) + " K " + std::to_string(g.out_channels) + " kernel " +
         std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + " pad h " + std::to_string(g.pad_h) + "/" +
         std::to_string(ph1) + " w " + std::to_string(g.pad_w) + "/" + std::to_string(pw1) +
         (bias ? " bias" : " no bias");
}

// Runs the three kernels on random data (filled with NaN first: every output must be written)
// and checks them against the float64 reference.
void check_case(const ConvGeometry& g, int64_t ph1, int64_t pw1, bool bias, unsigned seed) {
  const std::vector<float> x = randn_floats(x_size(g), seed), w = randn_floats(w_size(g), seed + 1),
                           gy = randn_floats(y_size(g), seed + 2);
  const std::vector<float> b = bias ? randn_floats(g.out_channels, seed + 3) : std::vector<float>{};
  const Reference r = reference(g, x, w, b, gy);
  const float nan = std::nanf("");
  std::vector<float> y(r.y.size(), nan), gx(r.gx.size(), nan), gw(r.gw.size(), nan), gb(r.gb.size(), nan);
  direct::conv_forward(x.data(), w.data(), bias ? b.data() : nullptr, y.data(), g);
  direct::conv_input_grad(gy.data(), w.data(), gx.data(), g);
  direct::conv_weight_grad(x.data(), gy.data(), gw.data(), bias ? gb.data() : nullptr, g);
  INFO(describe(g, ph1, pw1, bias));
  CHECK(error(y, r.y) < 1e-5);
  CHECK(error(gx, r.gx) < 1e-5);
  CHECK(error(gw, r.gw) < 3e-5);
  if (bias) CHECK(error(gb, r.gb) < 3e-5);
}

// C_in 1..4 x kernels x widths x paddings; batch and bias alternate so every combination of them
// meets every kernel.
void sweep() {
  const int64_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 5}};
  const int64_t widths[] = {1, 5, 28, 33};
  unsigned seed = 1;
  int count = 0;
  for (int64_t C = 1; C <= 4; ++C)
    for (const auto& kern : kernels)
      for (const int64_t W : widths) {
        const int64_t KH = kern[0], KW = kern[1];
        for (int64_t p = 0; p < std::max(KH, KW); ++p) {
          // Before-padding p, after-padding cycling through the other values, clipped to k-1.
          const int64_t ph0 = std::min(p, KH - 1), ph1 = (KH - 1 - p + C) % KH;
          const int64_t pw0 = std::min(p, KW - 1), pw1 = (p + C + W) % KW;
          const int64_t H = 3 + (p + W) % 4;
          ConvGeometry g = geometry(1 + 6 * (count % 2), C, H, W, 7, KH, KW, ph0, ph1, pw0, pw1);
          if (g.out_h < 1 || g.out_w < 1) continue;
          check_case(g, ph1, pw1, (count / 2) % 2 == 1, seed);
          seed += 4;
          ++count;
        }
      }
  CHECK(count >= 200);
}

}  // namespace

TEST_CASE("conv_direct matches a float64 convolution over channels, kernels, paddings and widths") {
  sweep();
}

TEST_CASE("conv_direct portable path matches a float64 convolution too") {
  direct::testing::force_portable(true);
  sweep();
  direct::testing::force_portable(false);
}

TEST_CASE("conv_direct first-layer shapes: 1x28x28 -> 32 k3 p1 and 3x32x32 -> 64 k5 p2") {
  check_case(geometry(3, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1), 1, 1, true, 100);
  check_case(geometry(2, 3, 32, 32, 64, 5, 5, 2, 2, 2, 2), 2, 2, true, 200);
  // Padding beyond the kernel and an output smaller than the input's full extent.
  check_case(geometry(2, 2, 9, 17, 5, 3, 3, 4, 0, 5, 1), 0, 1, true, 300);
  check_case(geometry(2, 2, 9, 17, 5, 3, 3, 0, -2, 0, -3), -2, -3, false, 400);
}

TEST_CASE("conv_direct gives bitwise the same results at 1 and 2 threads") {
  const ConvGeometry g = geometry(9, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x = randn_floats(x_size(g), 7), w = randn_floats(w_size(g), 8), b = randn_floats(g.out_channels, 9),
                           gy = randn_floats(y_size(g), 10);
  const int saved = xgrad::get_num_threads();
  std::vector<float> out[2];
  for (int threads = 1; threads <= 2; ++threads) {
    xgrad::set_num_threads(threads);
    std::vector<float> y(static_cast<std::size_t>(y_size(g))), gx(static_cast<std::size_t>(x_size(g))),
        gw(static_cast<std::size_t>(w_size(g))), gb(static_cast<std::size_t>(g.out_channels));
    direct::conv_forward(x.data(), w.data(), b.data(), y.data(), g);
    direct::conv_input_grad(gy.data(), w.data(), gx.data(), g);
    direct::conv_weight_grad(x.data(), gy.data(), gw.data(), gb.data(), g);
    auto& o = out[threads - 1];
    for (const auto* v : {&y, &gx, &gw, &gb}) o.insert(o.end(), v->begin(), v->end());
  }
  xgrad::set_num_threads(saved);
  CHECK(out[0] == out[1]);
}

TEST_CASE("conv_direct hand-computed example: ones (*) ones, 3x3 pad 1, with bias") {
  // y = (number of in-range taps) + 0.5; dx = number of outputs each input feeds (the same
  // counts); dw[i][j] = number of in-range positions for tap (i, j); db = 16.
  const ConvGeometry g = geometry(1, 1, 4, 4, 1, 3, 3, 1, 1, 1, 1);
  const std::vector<float> x(16, 1.0f), w(9, 1.0f), b{0.5f}, gy(16, 1.0f);
  std::vector<float> y(16), gx(16), gw(9), gb(1);
  direct::conv_forward(x.data(), w.data(), b.data(), y.data(), g);
  direct::conv_input_grad(gy.data(), w.data(), gx.data(), g);
  direct::conv_weight_grad(x.data(), gy.data(), gw.data(), gb.data(), g);
  const std::vector<float> counts{4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4};
  for (std::size_t i = 0; i < 16; ++i) {
    CHECK(y[i] == counts[i] + 0.5f);
    CHECK(gx[i] == counts[i]);
  }
  CHECK(gw == std::vector<float>{9, 12, 9, 12, 16, 12, 9, 12, 9});
  CHECK(gb[0] == 16.0f);
}

TEST_CASE("conv_direct degenerate sizes: empty batch, no input channels") {
  ConvGeometry g = geometry(0, 1, 5, 5, 3, 3, 3, 1, 1, 1, 1);
  std::vector<float> gw(27, 1.0f), gb(3, 1.0f);
  direct::conv_weight_grad(nullptr, nullptr, gw.data(), gb.data(), g);
  CHECK(gw == std::vector<float>(27, 0.0f));
  CHECK(gb == std::vector<float>(3, 0.0f));
  // C_in = 0: the output is the bias, the bias gradient still sums gy.
  g = geometry(2, 0, 2, 3, 2, 1, 1, 0, 0, 0, 0);
  const std::vector<float> b{1.5f, -2.0f}, gy(24, 0.25f);
  std::vector<float> y(24, 0.0f), db(2);
  direct::conv_forward(nullptr, nullptr, b.data(), y.data(), g);
  for (std::size_t i = 0; i < 24; ++i) CHECK(y[i] == (i % 12 < 6 ? 1.5f : -2.0f));
  direct::conv_weight_grad(nullptr, gy.data(), nullptr, db.data(), g);
  CHECK(db == std::vector<float>{3.0f, 3.0f});
}

TEST_CASE("conv_direct rejects strides, dilations and groups") {
  ConvGeometry g = geometry(1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1);
  g.stride_w = 2;
  std::vector<float> buf(1000);
  CHECK_THROWS_WITH_AS(direct::conv_forward(buf.data(), buf.data(), nullptr, buf.data(), g),
                       doctest::Contains("stride (1, 2)"), xgrad::Error);
  g.stride_w = 1;
  g.groups = 2;
  CHECK_THROWS_WITH_AS(direct::conv_input_grad(buf.data(), buf.data(), buf.data(), g), doctest::Contains("groups 2"),
                       xgrad::Error);
  g.groups = 1;
  g.dilation_h = 2;
  CHECK_THROWS_WITH_AS(direct::conv_weight_grad(buf.data(), buf.data(), buf.data(), nullptr, g),
                       doctest::Contains("dilation (2, 1)"), xgrad::Error);
  CHECK_FALSE(direct::worthwhile(g));
}

TEST_CASE("conv_direct worthwhile: few input channels, kernel area, wide rows") {
#if defined(__AVX512F__)
  CHECK(direct::worthwhile(geometry(32, 3, 32, 32, 64, 5, 5, 2, 2, 2, 2)));
  CHECK(direct::worthwhile(geometry(32, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1)));
  CHECK(direct::worthwhile(geometry(64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1)));
  CHECK_FALSE(direct::worthwhile(geometry(64, 2, 14, 14, 16, 1, 1, 0, 0, 0, 0)));  // 1x1: C*KH*KW < 9
  CHECK_FALSE(direct::worthwhile(geometry(64, 8, 28, 28, 32, 3, 3, 1, 1, 1, 1)));  // C_in > 4
  CHECK_FALSE(direct::worthwhile(geometry(64, 4, 8, 8, 128, 3, 3, 1, 1, 1, 1)));   // 8-wide rows
#endif
}
