// The Winograd 3x3 convolution kernels (core/kernels/winograd.h) against a direct float64
// convolution: forward (with and without bias), input gradient and weight gradient, for F(2x2,3x3)
// and F(4x4,3x3) at stride 1 and 2, over pads 0/1/2, sizes that are not multiples of the tile, 1x1 outputs,
// N = 1, C = 1, K = 1. Errors are max |got - ref| / max |ref| on N(0,1) data.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/kernels/winograd.h"
#include "xgrad/error.h"
#include "xgrad/threads.h"

#include "test_util.h"

namespace wino = xgrad::kernels::winograd;
using std::int64_t;

namespace {

struct Case {
  int64_t N, C, H, W, K, pad_h, pad_w;
  int stride = 1;
  int64_t Ho() const { return (H + 2 * pad_h - 3) / stride + 1; }
  int64_t Wo() const { return (W + 2 * pad_w - 3) / stride + 1; }
};

using xgrad::test::randn_floats;

// Calls fn(y index, x index, w index) for every product x * w that a direct convolution sums into
// y: y[n,k,i,j] = sum_{c,a,b} x[n,c,i*s+a-ph,j*s+b-pw] w[k,c,a,b], taps in the padding skipped.
template <class Fn>
void for_each_product(const Case& s, Fn fn) {
  const int64_t Ho = s.Ho(), Wo = s.Wo();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j)
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t a = 0; a < 3; ++a)
              for (int64_t b = 0; b < 3; ++b) {
                const int64_t yy = i * s.stride + a - s.pad_h, xx = j * s.stride + b - s.pad_w;
                if (yy < 0 || yy >= s.H || xx < 0 || xx >= s.W) continue;
                fn(((n * s.K + k) * Ho + i) * Wo + j, ((n * s.C + c) * s.H + yy) * s.W + xx,
                   ((k * s.C + c) * 3 + a) * 3 + b);
              }
}

// The three results in double, straight from that sum (+ bias[k] for y).
std::vector<double> ref_forward(const Case& s, const std::vector<float>& x, const std::vector<float>& w,
                                const float* bias) {
  std::vector<double> y(static_cast<std::size_t>(s.N * s.K * s.Ho() * s.Wo()), 0.0);
  if (bias)
    for (std::size_t yi = 0; yi < y.size(); ++yi) y[yi] = bias[yi / static_cast<std::size_t>(s.Ho() * s.Wo()) % s.K];
  for_each_product(s, [&](int64_t yi, int64_t xi, int64_t wi) { y[yi] += double(x[xi]) * double(w[wi]); });
  return y;
}

std::vector<double> ref_backward_input(const Case& s, const std::vector<float>& gy, const std::vector<float>& w) {
  std::vector<double> gx(static_cast<std::size_t>(s.N * s.C * s.H * s.W), 0.0);
  for_each_product(s, [&](int64_t yi, int64_t xi, int64_t wi) { gx[xi] += double(gy[yi]) * double(w[wi]); });
  return gx;
}

std::vector<double> ref_backward_weight(const Case& s, const std::vector<float>& x, const std::vector<float>& gy) {
  std::vector<double> gw(static_cast<std::size_t>(s.K * s.C * 9), 0.0);
  for_each_product(s, [&](int64_t yi, int64_t xi, int64_t wi) { gw[wi] += double(gy[yi]) * double(x[xi]); });
  return gw;
}

// max |got - ref| / max |ref|: the error relative to the result's scale.
double relative_error(const std::vector<float>& got, const std::vector<double>& ref) {
  REQUIRE(got.size() == ref.size());
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(double(got[i]) - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return scale > 0 ? err / scale : err;
}

struct Errors {
  double forward, backward_input, backward_weight;
};

Errors run_case(const Case& s, int tile, bool with_bias, unsigned seed) {
  const auto x = randn_floats(static_cast<std::size_t>(s.N * s.C * s.H * s.W), seed);
  const auto w = randn_floats(static_cast<std::size_t>(s.K * s.C * 9), seed + 1);
  const auto gy = randn_floats(static_cast<std::size_t>(s.N * s.K * s.Ho() * s.Wo()), seed + 2);
  const auto bias = randn_floats(static_cast<std::size_t>(s.K), seed + 3);
  const float* b = with_bias ? bias.data() : nullptr;
  // Poisoned outputs: every element must be overwritten.
  std::vector<float> y(gy.size(), NAN), gx(x.size(), NAN), gw(w.size(), NAN);
  wino::conv3x3_forward(x.data(), w.data(), b, y.data(), s.N, s.C, s.H, s.W, s.K, s.pad_h, s.pad_w, tile, s.stride);
  wino::conv3x3_backward_input(gy.data(), w.data(), gx.data(), s.N, s.C, s.H, s.W, s.K, s.pad_h, s.pad_w, tile,
                               s.stride);
  wino::conv3x3_backward_weight(x.data(), gy.data(), gw.data(), s.N, s.C, s.H, s.W, s.K, s.pad_h, s.pad_w, tile,
                                s.stride);
  const Errors e{relative_error(y, ref_forward(s, x, w, b)), relative_error(gx, ref_backward_input(s, gy, w)),
                 relative_error(gw, ref_backward_weight(s, x, gy))};
  if (std::getenv("XGRAD_WINOGRAD_REPORT"))
    std::printf(
        "winograd F(%dx%d) stride %d N=%lld C=%lld %lldx%lld K=%lld pad %lld,%lld: rel err fwd %.2e, dx %.2e, dw %.2e\n",
        tile == 0 ? 4 : tile, tile == 0 ? 4 : tile, s.stride, (long long)s.N, (long long)s.C, (long long)s.H,
        (long long)s.W, (long long)s.K, (long long)s.pad_h, (long long)s.pad_w, e.forward, e.backward_input,
        e.backward_weight);
  return e;
}

// Measured over every case in this file (N(0,1) data, XGRAD_WINOGRAD_REPORT=1 prints them):
// F(2x2) at most 5.2e-7, F(4x4) at most 8.0e-6 (the C >= 64 layers: 1.8e-6..8.0e-6), stride 2 at
// most 2.9e-6;
// F(4x4)'s transform constants (up to 8 and 1/24) amplify rounding ~10x over F(2x2). The bounds
// leave about an order of magnitude of room.
double tolerance(int tile) { return tile == 2 ? 1e-5 : 5e-5; }

// Runs a case and checks all three results against the float64 reference.
void check_case(const Case& s, int tile, bool with_bias, unsigned seed) {
  INFO("tile ", tile, ", stride ", s.stride, ", N=", s.N, " C=", s.C, " ", s.H, "x", s.W, " K=", s.K, " pad ", s.pad_h,
       ",", s.pad_w, ", bias ", with_bias, ", threads ", xgrad::get_num_threads());
  const Errors e = run_case(s, tile, with_bias, seed);
  const int m = tile == 0 ? 4 : tile;
  CHECK(e.forward < tolerance(m));
  CHECK(e.backward_input < tolerance(m));
  CHECK(e.backward_weight < tolerance(m));
}

const Case kCases[] = {
    {2, 3, 7, 9, 4, 1, 1},     // H, W not multiples of either tile
    {1, 5, 8, 8, 6, 0, 0},     // pad 0
    {2, 4, 6, 5, 3, 2, 2},     // pad 2
    {1, 2, 5, 11, 3, 0, 2},    // different pads per side
    {3, 1, 10, 10, 1, 1, 1},   // C = 1, K = 1
    {1, 3, 1, 1, 2, 1, 1},     // 1x1 image -> 1x1 output
    {1, 2, 3, 3, 2, 0, 0},     // 3x3 image, pad 0 -> 1x1 output
    {2, 2, 2, 1, 3, 2, 1},     // tiny, pad 2 -> 4x1 output
    {1, 17, 13, 6, 19, 1, 0},  // channel counts beyond one SIMD register (filter-transform tails)
    {5, 8, 14, 14, 8, 1, 1},   // several blocks of tiles
};

}  // namespace

TEST_CASE("winograd forward, input gradient and weight gradient match a float64 direct convolution") {
  for (int tile : {2, 4}) {
    for (const Case& s : kCases) {
      for (bool with_bias : {false, true}) check_case(s, tile, with_bias, 7);
    }
  }
}

TEST_CASE("winograd default tile is F(4x4) and matches with 1 and 2 threads") {
  const Case s{4, 16, 12, 12, 16, 1, 1};
  const int saved = xgrad::get_num_threads();
  for (int threads : {1, 2}) {
    xgrad::set_num_threads(threads);
    check_case(s, 0, true, 11);
  }
  xgrad::set_num_threads(saved);
}

TEST_CASE("winograd blocks of tile rows (large images, or fewer images than threads) match too") {
  const Case cases[] = {{1, 3, 70, 67, 5, 1, 1}, {2, 2, 41, 90, 3, 0, 2}, {1, 17, 20, 20, 18, 1, 1}};
  const int saved = xgrad::get_num_threads();
  for (int threads : {1, 2}) {
    xgrad::set_num_threads(threads);
    for (int tile : {2, 4}) {
      for (const Case& s : cases) check_case(s, tile, true, 13);
    }
  }
  xgrad::set_num_threads(saved);
}

// Stride 2: the identity-in-the-odd-phase, F(4,2)-in-the-even-phase transforms (81 frequencies).
// Sizes odd and even (an input row or column no output reads gets a zero gradient), every pad,
// partial tiles, channel tails, N = 1 at 2 threads (one block), several images per block.
TEST_CASE("winograd stride 2 matches a float64 direct convolution, 1 and 2 threads") {
  const Case cases[] = {
      {2, 3, 16, 16, 5, 1, 1, 2},     // 8x8 output: whole tiles
      {1, 4, 15, 17, 6, 1, 1, 2},     // 8x9 output: partial tiles; odd sizes
      {2, 5, 16, 15, 3, 0, 0, 2},     // pad 0: the last row of an even H is read by no output
      {1, 2, 9, 12, 4, 2, 2, 2},      // pad 2
      {1, 3, 7, 10, 2, 0, 2, 2},      // pads differ per side
      {3, 1, 3, 3, 1, 0, 0, 2},       // 1x1 output, C = K = 1
      {1, 17, 11, 9, 19, 1, 0, 2},    // channel counts past one SIMD register
      {32, 16, 16, 16, 24, 1, 1, 2},  // several images per block
      {1, 8, 40, 33, 8, 1, 1, 2},     // many tiles in one image
  };
  const int saved = xgrad::get_num_threads();
  for (int threads : {1, 2}) {
    xgrad::set_num_threads(threads);
    for (const Case& s : cases)
      for (bool with_bias : {false, true}) check_case(s, 0, with_bias, 17);
  }
  xgrad::set_num_threads(saved);
}

TEST_CASE("winograd on N = 0 writes a zero weight gradient") {
  const Case s{0, 2, 5, 5, 3, 1, 1};
  std::vector<float> x, gy, w(2 * 3 * 9, 1.0f), gw(w.size(), NAN);
  wino::conv3x3_backward_weight(x.data(), gy.data(), gw.data(), s.N, s.C, s.H, s.W, s.K, s.pad_h, s.pad_w);
  for (float v : gw) CHECK(v == 0.0f);
}

TEST_CASE("winograd hand-computed example: ones (*) ones, pad 1, with bias") {
  // Each output counts the in-image taps: 4 at corners, 6 on edges, 9 in the middle, per channel.
  const std::vector<float> x(2 * 3 * 3, 1.0f), w(2 * 9, 1.0f), bias{0.5f};
  const float expected[9] = {8.5f, 12.5f, 8.5f, 12.5f, 18.5f, 12.5f, 8.5f, 12.5f, 8.5f};
  for (int tile : {2, 4}) {
    std::vector<float> y(9, NAN), gx(x.size(), NAN), gw(w.size(), NAN);
    wino::conv3x3_forward(x.data(), w.data(), bias.data(), y.data(), 1, 2, 3, 3, 1, 1, 1, tile);
    for (int i = 0; i < 9; ++i) CHECK(y[i] == doctest::Approx(expected[i]).epsilon(1e-6));
    // With gy = 1 both gradients count taps too: gx like y without bias, gw[a][b] = taps hitting the image.
    const std::vector<float> gy(9, 1.0f);
    wino::conv3x3_backward_input(gy.data(), w.data(), gx.data(), 1, 2, 3, 3, 1, 1, 1, tile);
    wino::conv3x3_backward_weight(x.data(), gy.data(), gw.data(), 1, 2, 3, 3, 1, 1, 1, tile);
    const float taps[9] = {4, 6, 4, 6, 9, 6, 4, 6, 4};
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 9; ++i) {
        CHECK(gx[c * 9 + i] == doctest::Approx(taps[i]).epsilon(1e-6));
        CHECK(gw[c * 9 + i] == doctest::Approx(taps[i]).epsilon(1e-6));
      }
  }
}

TEST_CASE("winograd worthwhile: enough channels and pixels") {
  CHECK(wino::worthwhile(64, 32, 14, 14, 64));
  CHECK(wino::worthwhile(8, 256, 14, 14, 256));
  CHECK_FALSE(wino::worthwhile(64, 1, 28, 28, 32));  // C = 1: 16x channel padding
  CHECK_FALSE(wino::worthwhile(8, 256, 2, 2, 256));  // a 4x4 tile would be mostly padding
  CHECK(wino::worthwhile(32, 64, 16, 16, 128, 2));
  CHECK(wino::worthwhile(2, 64, 112, 112, 128, 2));
  CHECK_FALSE(wino::worthwhile(2, 64, 224, 224, 128, 2));  // whole-image blocks of 48 MiB
  CHECK_FALSE(wino::worthwhile(2, 64, 6, 6, 128, 2));
  CHECK_FALSE(wino::worthwhile(2, 64, 16, 16, 128, 3));
}

TEST_CASE("winograd rejects bad sizes, pads and tiles") {
  std::vector<float> buf(1000, 0.0f);
  const float* p = buf.data();
  float* q = buf.data();
  CHECK_THROWS_WITH_AS(wino::conv3x3_forward(p, p, nullptr, q, 1, 1, 5, 5, 1, 3, 1),
                       doctest::Contains("padding must be 0, 1 or 2"), xgrad::Error);
  CHECK_THROWS_WITH_AS(wino::conv3x3_forward(p, p, nullptr, q, 1, 1, 2, 5, 1, 0, 0),
                       doctest::Contains("smaller than the 3x3 kernel"), xgrad::Error);
  CHECK_THROWS_WITH_AS(wino::conv3x3_backward_weight(p, p, q, 1, 0, 5, 5, 1, 1, 1),
                       doctest::Contains("winograd conv3x3_backward_weight"), xgrad::Error);
  CHECK_THROWS_WITH_AS(wino::conv3x3_backward_input(p, p, q, 1, 1, 5, 5, 1, 1, 1, 3),
                       doctest::Contains("tile must be 0 (default), 2 or 4"), xgrad::Error);
  CHECK_THROWS_WITH_AS(wino::conv3x3_forward(p, p, nullptr, q, 1, 1, 5, 5, 1, 1, 1, 0, 3),
                       doctest::Contains("stride must be 1 or 2, got 3"), xgrad::Error);
  CHECK_THROWS_WITH_AS(wino::conv3x3_forward(p, p, nullptr, q, 1, 1, 5, 5, 1, 1, 1, 2, 2),
                       doctest::Contains("stride 2 has 4x4 tiles only"), xgrad::Error);
}

// Error report on larger layers (set XGRAD_WINOGRAD_REPORT=1 to print): the numbers quoted above.
TEST_CASE("winograd error on realistic layers stays within float32 tolerance") {
  // The last: transformed filters past 4 MiB (F(4x4)), written with streaming stores.
  const Case cases[] = {{2, 64, 14, 14, 64, 1, 1}, {1, 256, 14, 14, 32, 1, 1}, {1, 192, 6, 7, 200, 1, 0}};
  for (int tile : {2, 4})
    for (const Case& s : cases) check_case(s, tile, true, 3);
  // Stride 2: the bench_conv layer (one image of it), and one past 4 MiB of transformed filters.
  for (const Case& s : {Case{2, 64, 16, 16, 128, 1, 1, 2}, Case{1, 192, 14, 14, 200, 1, 1, 2}}) check_case(s, 0, true, 3);
}
