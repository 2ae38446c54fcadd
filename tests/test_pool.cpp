// Pooling: known values (the lectures' example, PyTorch's divisor and ceil_mode rules worked by
// hand), gradients by hand, ties and NaN, agreement with a naive reference on tensors big enough
// for the fast paths and the thread pool, and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>

#include <xgrad/threads.h>
#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::grad_of;
using test::leaf;
using test::values;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  test::check_close(t, expected, tol);
}

// The lectures' slice.
const std::vector<double> kLecture = {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4};

// A naive reference of max / average pooling on [P, H, W] planes (PyTorch's definitions).
struct Ref {
  std::int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
  bool ceil_mode = false, count_include_pad = true;
};
std::int64_t ref_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d, bool ceil) {
  const double v = static_cast<double>(in + 2 * p - d * (k - 1) - 1) / static_cast<double>(s);
  std::int64_t o = static_cast<std::int64_t>(ceil ? std::ceil(v) : std::floor(v)) + 1;
  if (ceil && (o - 1) * s >= in + p) --o;
  return o;
}
std::vector<double> ref_pool(const std::vector<double>& x, std::int64_t planes, std::int64_t H, std::int64_t W,
                             const Ref& r, bool is_max) {
  const std::int64_t OH = ref_out(H, r.kh, r.sh, r.ph, r.dh, r.ceil_mode);
  const std::int64_t OW = ref_out(W, r.kw, r.sw, r.pw, r.dw, r.ceil_mode);
  std::vector<double> y;
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        double best = -INFINITY, sum = 0;
        std::int64_t inside = 0, padded = 0;
        for (std::int64_t i = 0; i < r.kh; ++i)
          for (std::int64_t j = 0; j < r.kw; ++j) {
            const std::int64_t ih = oh * r.sh - r.ph + i * r.dh, iw = ow * r.sw - r.pw + j * r.dw;
            if (ih < H + r.ph && iw < W + r.pw) ++padded;
            if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
            const double v = x[static_cast<std::size_t>((p * H + ih) * W + iw)];
            best = std::max(best, v);
            sum += v;
            ++inside;
          }
        y.push_back(is_max ? best : sum / static_cast<double>(r.count_include_pad ? padded : inside));
      }
  return y;
}

}  // namespace

TEST_CASE("pool: max_pool2d on the lectures' example, values, indices and gradient") {
  Tensor x = leaf(kLecture, {1, 1, 4, 4});
  Tensor y = max_pool2d(x, 2, 2);
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  check_close(y, {6, 8, 3, 4});
  CHECK(y.grad_fn_name() == "max_pool2d");
  auto [y2, indices] = max_pool2d_with_indices(x, 2);
  CHECK(indices.dtype() == Dtype::int64);
  CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 7, 8, 15});
  check_close(y2, {6, 8, 3, 4});
  // The gradient of ones lands exactly on 6, 8, 3 and 4.
  check_close(grad_of(x, [](const Tensor& t) { return max_pool2d(t, 2); }),
              {0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1});
  // Unbatched [C, H, W] gives the same.
  check_close(max_pool2d(reshape(x, {1, 4, 4}), 2), {6, 8, 3, 4});
}

TEST_CASE("pool: max pooling ties send the gradient to the first maximum") {
  for (Dtype d : {float32, float64}) {  // float32 2x2 and 1x2 windows take the SIMD path
    INFO(dtype_name(d));
    // One 2x2 window of equal values: index 0.
    Tensor x = leaf({1, 1, 1, 1}, {1, 1, 2, 2}, d);
    CHECK(max_pool2d_with_indices(x, 2).second.to_vector<std::int64_t>() == std::vector<std::int64_t>{0});
    check_close(grad_of(x, [](const Tensor& t) { return max_pool2d(t, 2); }), {1, 0, 0, 0});
    // Ties at (0, 1) and (1, 0): the first in row-major order wins; likewise (0, 0) and (1, 1),
    // and (1, 0) and (1, 1).
    Tensor x2 = leaf({0, 2, 3, 0, 0, 0, 2, 1, 1, 3, 4, 4}, {1, 2, 6}, d);
    CHECK(max_pool2d_with_indices(x2, 2).second.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 10});
    check_close(grad_of(x2, [](const Tensor& t) { return max_pool2d(t, 2); }), {0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0});
    // 1-D windows of 2.
    Tensor x1 = leaf({5, 5, 1, 2, 7, 7}, {1, 6}, d);
    check_close(grad_of(x1, [](const Tensor& t) { return max_pool1d(t, 2); }), {1, 0, 0, 1, 1, 0});
    // Overlapping windows (the generic path): each window picks its own first maximum.
    Tensor x3 = leaf({5, 5, 5, 5, 5, 5}, {1, 1, 2, 3}, d);
    CHECK(max_pool2d_with_indices(x3, 2, 1).second.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
    check_close(grad_of(x3, [](const Tensor& t) { return max_pool2d(t, 2, 1); }), {1, 1, 0, 0, 0, 0});
    // 1-D windows of 3.
    Tensor x4 = leaf({3, 3, 1, 2, 2, 0}, {1, 1, 6}, d);
    check_close(grad_of(x4, [](const Tensor& t) { return max_pool1d(t, 3); }), {1, 0, 0, 1, 0, 0});
  }
}

TEST_CASE("pool: max pooling propagates NaN (the last NaN of a window, as PyTorch's CPU kernel)") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (Dtype d : {float32, float64}) {
    Tensor x = tensor(std::vector<double>{nan, 1, 3, 0, 2, nan, 1, 3}, {1, 2, 4}, {.dtype = d});
    auto [y, indices] = max_pool2d_with_indices(x, 2);  // tiled path
    auto v = values(y);
    CHECK(std::isnan(v[0]));
    CHECK(v[1] == 3);
    CHECK(indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 2});  // NaN at 0 and 5; 3 tied at 2 and 7
    auto [y1, indices1] = max_pool2d_with_indices(x, 2, 1);  // generic path
    CHECK(std::isnan(values(y1)[0]));
    CHECK(indices1.to_vector<std::int64_t>()[0] == 5);
  }
}

TEST_CASE("pool: max pooling padding is -inf and the ceil_mode window must start inside") {
  // All-negative input with padding 1: padded positions never win.
  Tensor x = tensor(std::vector<double>{-5, -4, -3, -2, -1}, {1, 1, 5}, {.dtype = float64});
  check_close(max_pool1d(x, 2, 2, 1), {-5, -3, -1});
  // Length 5, kernel 2, stride 2, padding 1, ceil_mode: ceil((5 + 2 - 1 - 1) / 2) + 1 = 4 windows,
  // but the 4th would start at 6 - 1 = 5, past the input, so PyTorch keeps 3.
  CHECK(max_pool1d(x, 2, 2, 1, 1, true).shape() == Shape{1, 1, 3});
  // Length 5, kernel 2, stride 2, ceil_mode: 3 windows, the last one [4, 5] clipped to one element.
  check_close(max_pool1d(x, 2, 2, 0, 1, true), {-4, -2, -1});
  // Dilation 2: taps {0, 2}, {2, 4}.
  check_close(max_pool1d(x, 2, 2, 0, 2), {-3, -1});
}

TEST_CASE("pool: avg_pool2d values, count_include_pad, divisor_override and gradients") {
  Tensor x = leaf({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {1, 1, 4, 4});
  check_close(avg_pool2d(x, 2), {2.5, 4.5, 10.5, 12.5});
  check_close(avg_pool2d(x, 2, std::nullopt, 0, false, true, 3), {10.0 / 3, 18.0 / 3, 42.0 / 3, 50.0 / 3});
  check_close(grad_of(x, [](const Tensor& t) { return avg_pool2d(t, 2); }), std::vector<double>(16, 0.25));

  // Ones [3, 3], kernel 2, stride 2, padding 1: windows of 1, 2, 2 and 4 input elements.
  Tensor o = leaf(std::vector<double>(9, 1.0), {1, 1, 3, 3});
  check_close(avg_pool2d(o, 2, 2, 1), {0.25, 0.5, 0.5, 1.0});                // divisor 4 (padding counted)
  check_close(avg_pool2d(o, 2, 2, 1, false, false), {1.0, 1.0, 1.0, 1.0});  // divisor = elements inside
  check_close(grad_of(o, [](const Tensor& t) { return avg_pool2d(t, 2, 2, 1); }), std::vector<double>(9, 0.25));
  check_close(grad_of(o, [](const Tensor& t) { return avg_pool2d(t, 2, 2, 1, false, false); }),
              {1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.5, 0.25, 0.25});
}

TEST_CASE("pool: avg_pool1d ceil_mode never counts positions past input + padding") {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {1, 1, 6});
  // Kernel 3, stride 2, padding 1: floor gives 3 windows, ceil 4; the 4th covers [5, 8) of which
  // only [5, 7) is input + padding: divisor 2 with count_include_pad, 1 without.
  check_close(avg_pool1d(x, 3, 2, 1), {1, 3, 5});
  check_close(avg_pool1d(x, 3, 2, 1, true), {1, 3, 5, 3});
  check_close(avg_pool1d(x, 3, 2, 1, true, false), {1.5, 3, 5, 6});
  check_close(grad_of(x, [](const Tensor& t) { return avg_pool1d(t, 3, 2, 1, true); }),
              {1.0 / 3, 2.0 / 3, 1.0 / 3, 2.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5});
  // Kernel 2, ceil_mode, no padding: the last window [4, 6) holds one element of 5 and divides by 1.
  Tensor x5 = tensor(std::vector<double>{1, 2, 3, 4, 5}, {1, 1, 5}, {.dtype = float64});
  check_close(avg_pool1d(x5, 2, 2, 0, true), {1.5, 3.5, 5});
  // Unbatched [C, L].
  check_close(avg_pool1d(reshape(x5, {1, 5}), 2), {1.5, 3.5});
}

TEST_CASE("pool: adaptive average pooling windows, global pooling") {
  // 5 -> 3: windows [0, 2), [1, 4), [3, 5).
  Tensor x = leaf({1, 2, 3, 4, 5}, {1, 1, 5});
  check_close(adaptive_avg_pool1d(x, 3), {1.5, 3, 4.5});
  check_close(grad_of(x, [](const Tensor& t) { return adaptive_avg_pool1d(t, 3); }),
              {0.5, 0.5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + 0.5, 0.5});
  // 2-D 5x5 -> 3x3: the same windows on both dims.
  manual_seed(3);
  Tensor x2 = rand({2, 3, 5, 5}, {.dtype = float64});
  Tensor y2 = adaptive_avg_pool2d(x2, 3);
  CHECK(y2.shape() == Shape{2, 3, 3, 3});
  const std::int64_t first[3] = {0, 1, 3}, end[3] = {2, 4, 5};
  for (std::int64_t i = 0; i < 3; ++i)
    for (std::int64_t j = 0; j < 3; ++j) {
      Tensor window = slice(slice(x2, 2, first[i], end[i]), 3, first[j], end[j]);
      CHECK(allclose(slice(slice(y2, 2, i, i + 1), 3, j, j + 1), mean(window, {2, 3}, true)));
    }
  // Global pooling is the mean over H, W; output size = input size is the identity.
  CHECK(allclose(adaptive_avg_pool2d(x2, 1), mean(x2, {2, 3}, true)));
  CHECK(allclose(adaptive_avg_pool2d(x2, {5, 5}), x2));
  CHECK(adaptive_avg_pool2d(reshape(x2, {6, 5, 5}), {2, 4}).shape() == Shape{6, 2, 4});
  // Divisible sizes equal avg_pool2d.
  Tensor x3 = rand({1, 2, 6, 4}, {.dtype = float64});
  CHECK(allclose(adaptive_avg_pool2d(x3, {3, 2}), avg_pool2d(x3, 2)));
}

TEST_CASE("pool: max_pool1d equals max_pool2d on H = 1 and channels pool independently") {
  manual_seed(5);
  Tensor x = randn({2, 3, 9}, {.dtype = float64, .requires_grad = true});
  Tensor y1 = max_pool1d(x, 3, 2, 1);
  Tensor y2 = max_pool2d(reshape(x, {2, 3, 1, 9}), {1, 3}, Int2{1, 2}, {0, 1});
  CHECK(equal(y1, reshape(y2, y1.shape())));
  Tensor g1 = grad_of(x, [](const Tensor& t) { return max_pool1d(t, 3, 2, 1); });
  Tensor g2 = grad_of(x, [](const Tensor& t) {
    return max_pool2d(reshape(t, {2, 3, 1, 9}), {1, 3}, Int2{1, 2}, {0, 1});
  });
  CHECK(equal(g1, g2));
  CHECK(allclose(avg_pool1d(x, 3, 2, 1), reshape(avg_pool2d(reshape(x, {2, 3, 1, 9}), {1, 3}, Int2{1, 2}, {0, 1}),
                                                  {2, 3, 5})));

  Tensor z = randn({2, 3, 6, 6}, {.dtype = float64});
  Tensor pooled = max_pool2d(z, 3, 2, 1);
  Tensor averaged = avg_pool2d(z, 3, 2, 1);
  for (std::int64_t c = 0; c < 3; ++c) {
    CHECK(equal(narrow(pooled, 1, c, 1), max_pool2d(narrow(z, 1, c, 1), 3, 2, 1)));
    CHECK(allclose(narrow(averaged, 1, c, 1), avg_pool2d(narrow(z, 1, c, 1), 3, 2, 1)));
  }
}

TEST_CASE("pool: fast and generic paths agree with a naive reference, on one and two threads") {
  const int saved_threads = get_num_threads();
  manual_seed(11);
  struct Case {
    Ref r;
    std::int64_t H, W;
  };
  const Case cases[] = {
      {{2, 2, 2, 2, 0, 0}, 28, 28},                    // tiles
      {{3, 3, 3, 3, 0, 0}, 29, 31},                    // 3x3 tiles, leftover rows and columns
      {{2, 2, 2, 2, 0, 0}, 5, 35},                     // 2x2 tiles: 16 + 1 windows a row, leftovers
      {{1, 2, 1, 2, 0, 0}, 1, 57},                     // 1-D tiles
      {{3, 3, 2, 2, 1, 1}, 28, 28},                    // overlapping with padding
      {{3, 3, 3, 3, 1, 1}, 29, 31},                    // stride 3 with padding (no tiles)
      {{2, 2, 1, 1, 1, 1}, 9, 40},                     // stride 1, 41 outputs a row
      {{2, 3, 2, 1, 1, 1, 2, 1, true, false}, 27, 26},  // dilation, ceil_mode (max only)
      {{3, 2, 2, 2, 1, 1, 1, 1, true, false}, 27, 26},  // ceil_mode, count_include_pad=false
  };
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Dtype d : {float32, float64}) {
      for (const Case& c : cases) {
        const Ref& r = c.r;
        INFO("threads ", threads, " ", dtype_name(d), " kernel ", r.kh, "x", r.kw, " H ", c.H, " W ", c.W);
        Tensor x = randn({8, 16, c.H, c.W}, {.dtype = d, .requires_grad = true});
        const auto xv = values(x);
        Tensor ym = max_pool2d(x, {r.kh, r.kw}, Int2{r.sh, r.sw}, {r.ph, r.pw}, {r.dh, r.dw}, r.ceil_mode);
        CHECK(values(ym) == ref_pool(xv, 128, c.H, c.W, r, true));
        if (r.dh == 1 && r.dw == 1) {
          Tensor ya = avg_pool2d(x, {r.kh, r.kw}, Int2{r.sh, r.sw}, {r.ph, r.pw}, r.ceil_mode, r.count_include_pad);
          const auto ref = ref_pool(xv, 128, c.H, c.W, r, false);
          const auto got = values(ya);
          REQUIRE(got.size() == ref.size());
          for (std::size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-5));
        }
        // The gradient of sum(y * w) puts w at each window's argmax: sums match and gx is w or 0
        // at the chosen positions (no ties in random data).
        Tensor w = randn(ym.shape(), {.dtype = d});
        Tensor gx = grad_of(x, [&](const Tensor& t) {
          return max_pool2d(t, {r.kh, r.kw}, Int2{r.sh, r.sw}, {r.ph, r.pw}, {r.dh, r.dw}, r.ceil_mode);
        }, w);
        auto [unused, idx] = max_pool2d_with_indices(x, {r.kh, r.kw}, Int2{r.sh, r.sw}, {r.ph, r.pw}, {r.dh, r.dw},
                                                     r.ceil_mode);
        const auto iv = idx.to_vector<std::int64_t>();
        const auto wv = values(w);
        std::vector<double> expect(xv.size(), 0.0);
        const std::int64_t out_plane = ym.size(2) * ym.size(3);
        for (std::size_t j = 0; j < iv.size(); ++j)
          expect[static_cast<std::size_t>(static_cast<std::int64_t>(j) / out_plane * c.H * c.W + iv[j])] += wv[j];
        const auto gv = values(gx);
        for (std::size_t i = 0; i < gv.size(); ++i) CHECK(gv[i] == doctest::Approx(expect[i]).epsilon(1e-5));
      }
    }
  }
  set_num_threads(saved_threads);
}

TEST_CASE("pool: big index tensors (written around the cache) match pooling image by image") {
  manual_seed(13);
  Tensor x = randn({32, 64, 16, 16});  // 131072 windows: 1 MB of int64 indices
  for (int config = 0; config < 2; ++config) {
    auto pool = [config](const Tensor& t) {
      return config == 0 ? max_pool2d_with_indices(t, 2) : max_pool2d_with_indices(t, 3, 2, 1);
    };
    auto [y, indices] = pool(x);
    for (std::int64_t n = 0; n < 32; n += 7) {
      INFO("config ", config, " image ", n);
      auto [y1, indices1] = pool(narrow(x, 0, n, 1));
      CHECK(equal(narrow(y, 0, n, 1), y1));
      CHECK(equal(narrow(indices, 0, n, 1), indices1));
    }
  }
}

TEST_CASE("pool: double backward of max pooling gathers with the saved indices") {
  Tensor x = leaf(kLecture, {1, 1, 4, 4});
  Tensor y = max_pool2d(x, 2);
  Tensor gy = tensor(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2}, {.dtype = float64, .requires_grad = true});
  Tensor gx = grad({y}, {x}, {gy}, {.create_graph = true})[0];
  CHECK(gx.grad_fn_name() == "max_pool_backward");
  // d/dgy of sum(gx * v) = v gathered at the indices 5, 7, 8, 15.
  std::vector<double> v(16);
  for (std::size_t i = 0; i < 16; ++i) v[i] = static_cast<double>(i) * 10;
  Tensor ggy = grad({gx}, {gy}, {tensor(v, {1, 1, 4, 4}, {.dtype = float64})})[0];
  check_close(ggy, {50, 70, 80, 150});
  // Average pooling: the adjoint of the adjoint is the pooling itself.
  Tensor z = leaf(kLecture, {1, 1, 4, 4});
  Tensor gz = grad({avg_pool2d(z, 2)}, {z}, {gy}, {.create_graph = true})[0];
  CHECK(gz.grad_fn_name() == "avg_pool_backward");
  Tensor back = grad({gz}, {gy}, {tensor(v, {1, 1, 4, 4}, {.dtype = float64})})[0];
  check_close(back, {25, 45, 105, 125});
}

TEST_CASE("pool: empty batch") {
  Tensor x = zeros({0, 2, 4, 4});
  CHECK(max_pool2d(x, 2).shape() == Shape{0, 2, 2, 2});
  CHECK(avg_pool2d(x, 2).shape() == Shape{0, 2, 2, 2});
  CHECK(adaptive_avg_pool2d(x, 3).shape() == Shape{0, 2, 3, 3});
}

TEST_CASE("pool: errors name the op, the shapes and the rule") {
  Tensor x4 = zeros({1, 1, 4, 4});
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({4, 4}), 2), doctest::Contains("max_pool2d: expected a 3-D [C, H, W] or 4-D"),
                       Error);
  CHECK_THROWS_WITH_AS(
      max_pool1d(x4, 2),
      doctest::Contains("max_pool1d: expected a 2-D [C, L] or 3-D [N, C, L] input, got shape [1, 1, 4, 4]"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(zeros({1, 0, 4, 4}), 2), doctest::Contains("non-zero size"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x4, 0),
                       doctest::Contains("max_pool2d: kernel_size must be greater than zero, got (0, 0)"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x4, 2, Int2{1, 0}), doctest::Contains("stride must be greater than zero, got (1, 0)"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool1d(zeros({1, 4}), 2, 1, 0, 0),
                       doctest::Contains("max_pool1d: dilation must be greater than zero, got 0"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x4, 3, 1, 2),
                       doctest::Contains("padding (2, 2) must be at most half of kernel_size (3, 3)"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 4, 2}), {1, 3}, 1),
                       doctest::Contains("max_pool2d: the output width would be 0"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 4, 2}), {1, 3}, 1),
                       doctest::Contains("floor((2 + 2*0 - 1*(3-1) - 1)/1) + 1 = 0"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 2, 4}), {2, 2}, 1, 0, {2, 1}),
                       doctest::Contains("the output height would be 0"), Error);
  CHECK_THROWS_WITH_AS(avg_pool1d(zeros({1, 2}), 3), doctest::Contains("avg_pool1d: the output length would be 0"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 4, 4}, {.dtype = Dtype::int64}), 2),
                       doctest::Contains("max_pool2d: expects a floating input (float32 or float64), got int64"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(zeros({1, 1, 4, 4}, {.dtype = Dtype::int64}), 2),
                       doctest::Contains("adaptive_avg_pool2d: expects a floating input"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x4, {2, 0}),
                       doctest::Contains("adaptive_avg_pool2d: output_size must be greater than zero, got (2, 0)"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool1d(zeros({2, 4}), 0),
                       doctest::Contains("adaptive_avg_pool1d: output_size must be greater than zero, got 0"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x4, 2, std::nullopt, 0, false, true, 0),
                       doctest::Contains("avg_pool2d: divisor_override must be non-zero"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor(), 2), doctest::Contains("undefined"), Error);
}
