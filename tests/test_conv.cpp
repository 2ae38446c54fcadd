// conv1d, conv2d, conv_transpose1d/2d and the internal weight-gradient ops: the lectures' known
// values and shapes, a naive direct reference (forward and all gradients), the adjoint identity,
// float32 against float64, and error messages.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <cmath>
#include <vector>

#include "../core/parallel.h"
#include "../ops/conv_internal.h"

#include "test_util.h"

using namespace xgrad;

namespace {

constexpr TensorOptions f64{.dtype = Dtype::float64};

void check_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  test::check_close(t, want, tol);
}

double dot(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).to(Dtype::float64).item<double>(); }

// Direct conv2d from the definition, with the gradients of L = <y, gy> by the same formula.
struct NaiveConv {
  std::int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups, OH, OW;
  std::vector<double> x, w, b, y, gy, gx, gw, gb;

  template <class F>
  void each(F f) const {  // f(y index, x index (or -1 in the padding), w index)
    const std::int64_t cg = C / groups, og = O / groups;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t o = 0; o < O; ++o)
        for (std::int64_t oh = 0; oh < OH; ++oh)
          for (std::int64_t ow = 0; ow < OW; ++ow)
            for (std::int64_t c = 0; c < cg; ++c)
              for (std::int64_t i = 0; i < KH; ++i)
                for (std::int64_t j = 0; j < KW; ++j) {
                  const std::int64_t ih = oh * sh - ph + i * dh, iw = ow * sw - pw + j * dw;
                  const std::int64_t ci = (o / og) * cg + c;
                  const std::int64_t yi = ((n * O + o) * OH + oh) * OW + ow;
                  const std::int64_t xi =
                      (ih < 0 || ih >= H || iw < 0 || iw >= W) ? -1 : ((n * C + ci) * H + ih) * W + iw;
                  const std::int64_t wi = ((o * cg + c) * KH + i) * KW + j;
                  f(static_cast<std::size_t>(yi), xi, static_cast<std::size_t>(wi));
                }
  }
  void run() {
    y.assign(static_cast<std::size_t>(N * O * OH * OW), 0.0);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = b[(i / static_cast<std::size_t>(OH * OW)) % O];
    gx.assign(x.size(), 0.0);
    gw.assign(w.size(), 0.0);
    gb.assign(b.size(), 0.0);
    each([&](std::size_t yi, std::int64_t xi, std::size_t wi) {
      if (xi < 0) return;
      const auto xs = static_cast<std::size_t>(xi);
      y[yi] += x[xs] * w[wi];
      gx[xs] += gy[yi] * w[wi];
      gw[wi] += gy[yi] * x[xs];
    });
    for (std::size_t i = 0; i < gy.size(); ++i) gb[(i / static_cast<std::size_t>(OH * OW)) % O] += gy[i];
  }
};

}  // namespace

TEST_CASE("conv: an impulse correlated with a filter gives the flipped filter (lecture)") {
  const std::vector<double> filter{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<double> flipped{9, 8, 7, 6, 5, 4, 3, 2, 1};
  const Tensor w = tensor(filter, {1, 1, 3, 3}, f64);
  SUBCASE("5x5 impulse, no padding") {
    Tensor x = zeros({1, 1, 5, 5}, f64);
    x.mutable_data<double>()[12] = 1;
    const Tensor y = conv2d(x, w);
    CHECK(y.shape() == Shape{1, 1, 3, 3});
    check_values(y, flipped);
  }
  SUBCASE("3x3 impulse, padding 1") {
    Tensor x = zeros({1, 1, 3, 3}, f64);
    x.mutable_data<double>()[4] = 1;
    const Tensor y = conv2d(x, w, Tensor(), 1, 1);
    check_values(y, flipped);
  }
  SUBCASE("float32, unbatched") {
    Tensor x = zeros({1, 5, 5});
    x.mutable_data<float>()[12] = 1;
    const Tensor y = conv2d(x, w.to(Dtype::float32));
    CHECK(y.shape() == Shape{1, 3, 3});
    check_values(y, flipped);
  }
}

TEST_CASE("conv: lecture shapes and parameter counts") {
  SUBCASE("3x32x32 with ten 5x5 filters, stride 1, pad 2 -> 10x32x32, 760 parameters") {
    const Tensor x = randn({1, 3, 32, 32});
    const Tensor w = randn({10, 3, 5, 5}), b = randn({10});
    CHECK(conv2d(x, w, b, 1, 2).shape() == Shape{1, 10, 32, 32});
    CHECK(w.numel() + b.numel() == 760);
  }
  SUBCASE("7x7 input, 3x3 filter") {
    const Tensor x = randn({1, 1, 7, 7}), w = randn({1, 1, 3, 3});
    CHECK(conv2d(x, w).shape() == Shape{1, 1, 5, 5});
    CHECK(conv2d(x, w, Tensor(), 2).shape() == Shape{1, 1, 3, 3});
    CHECK(conv2d(x, w, Tensor(), 1, 1).shape() == Shape{1, 1, 7, 7});
    CHECK(conv2d(x, w, Tensor(), 3).shape() == Shape{1, 1, 2, 2});
    CHECK(conv2d(x, w, Tensor(), 1, "same").shape() == Shape{1, 1, 7, 7});
    CHECK(conv2d(x, w, Tensor(), 1, "valid").shape() == Shape{1, 1, 5, 5});
  }
  SUBCASE("stacking 6x3x5x5 then 10x6x3x3 on 3x32x32") {
    const Tensor x = randn({2, 3, 32, 32});
    const Tensor h = conv2d(x, randn({6, 3, 5, 5}), randn({6}));
    CHECK(h.shape() == Shape{2, 6, 28, 28});
    CHECK(conv2d(h, randn({10, 6, 3, 3}), randn({10})).shape() == Shape{2, 10, 26, 26});
  }
  SUBCASE("MNIST-1D: [100,1,40] -> [100,15,19] -> [100,15,9] -> [100,15,4]") {
    const Tensor x = randn({100, 1, 40});
    const Tensor h1 = conv1d(x, randn({15, 1, 3}), randn({15}), 2);
    CHECK(h1.shape() == Shape{100, 15, 19});
    const Tensor h2 = conv1d(h1, randn({15, 15, 3}), randn({15}), 2);
    CHECK(h2.shape() == Shape{100, 15, 9});
    CHECK(conv1d(h2, randn({15, 15, 3}), randn({15}), 2).shape() == Shape{100, 15, 4});
  }
  SUBCASE("transposed output sizes") {
    const Tensor x = randn({1, 2, 4, 5});
    CHECK(conv_transpose2d(x, randn({2, 3, 3, 3}), Tensor(), 2, 1, 1).shape() == Shape{1, 3, 8, 10});
    CHECK(conv_transpose1d(randn({2, 7}), randn({2, 4, 3}), Tensor(), 3, 0, 2).shape() == Shape{4, 23});
  }
}

TEST_CASE("conv: 3x3 box filter of 1/9 on constant blocks") {
  // Left half 0, right half 9, in a 4x6 image: the output mixes the blocks only at the seam.
  std::vector<double> img(24);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c) img[static_cast<std::size_t>(r * 6 + c)] = c < 3 ? 0.0 : 9.0;
  const Tensor x = tensor(img, {1, 1, 4, 6}, f64);
  const Tensor box = full({1, 1, 3, 3}, 1.0 / 9.0, f64);
  const Tensor y = conv2d(x, box);
  CHECK(y.shape() == Shape{1, 1, 2, 4});
  check_values(y, {0, 3, 6, 9, 0, 3, 6, 9});
  // With zero padding the corners see 4 of 9 pixels.
  const Tensor yp = conv2d(x, box, Tensor(), 1, 1);
  CHECK(yp.at<double>({0, 0, 0, 5}) == doctest::Approx(4.0));
  CHECK(yp.at<double>({0, 0, 1, 5}) == doctest::Approx(6.0));
  CHECK(yp.at<double>({0, 0, 1, 0}) == doctest::Approx(0.0));
}

TEST_CASE("conv: conv2d matches a naive direct reference (forward and all gradients)") {
  manual_seed(7);
  const std::vector<std::pair<std::int64_t, std::int64_t>> strides{{1, 1}, {1, 2}, {2, 1}, {3, 2}};
  const std::vector<std::pair<std::int64_t, std::int64_t>> pads{{0, 0}, {1, 1}, {2, 0}, {1, 2}};
  const std::vector<std::pair<std::int64_t, std::int64_t>> dilations{{1, 1}, {2, 1}, {1, 2}};
  const std::vector<std::pair<std::int64_t, std::int64_t>> kernels{{3, 3}, {3, 2}};
  // 7x6 outputs run several images per GEMM, 17x16 ones (>= 256 positions at stride 1) one each.
  for (auto [in_h, in_w] : std::vector<std::pair<std::int64_t, std::int64_t>>{{7, 6}, {17, 16}})
    for (std::int64_t groups : {1, 2})
      for (auto [sh, sw] : strides)
        for (auto [ph, pw] : pads)
          for (auto [dh, dw] : dilations)
            for (auto [kh, kw] : kernels) {
              NaiveConv c{};
              c.N = 3, c.C = 4, c.H = in_h, c.W = in_w, c.O = 4, c.KH = kh, c.KW = kw;
              c.sh = sh, c.sw = sw, c.ph = ph, c.pw = pw, c.dh = dh, c.dw = dw, c.groups = groups;
              c.OH = (c.H + 2 * c.ph - c.dh * (c.KH - 1) - 1) / c.sh + 1;
              c.OW = (c.W + 2 * c.pw - c.dw * (c.KW - 1) - 1) / c.sw + 1;
              INFO("input ", in_h, "x", in_w, " groups ", groups, " kernel (", kh, ",", kw, ") stride (", c.sh, ",",
                   c.sw, ") pad (", c.ph, ",", c.pw, ") dilation (", c.dh, ",", c.dw, ")");
              Tensor x = randn({c.N, c.C, c.H, c.W}, {.dtype = Dtype::float64, .requires_grad = true});
              Tensor w = randn({c.O, c.C / groups, c.KH, c.KW}, {.dtype = Dtype::float64, .requires_grad = true});
              Tensor b = randn({c.O}, {.dtype = Dtype::float64, .requires_grad = true});
              const Tensor gy = randn({c.N, c.O, c.OH, c.OW}, f64);
              c.x = x.to_vector<double>(), c.w = w.to_vector<double>(), c.b = b.to_vector<double>();
              c.gy = gy.to_vector<double>();
              c.run();
              const Tensor y = conv2d(x, w, b, Int2(c.sh, c.sw), ConvPadding(c.ph, c.pw), Int2(c.dh, c.dw), groups);
              REQUIRE(y.shape() == Shape{c.N, c.O, c.OH, c.OW});
              check_values(y, c.y, 1e-10);
              sum(mul(y, gy)).backward();
              check_values(x.grad(), c.gx, 1e-10);
              check_values(w.grad(), c.gw, 1e-10);
              check_values(b.grad(), c.gb, 1e-10);
            }
}

TEST_CASE("conv: 'same' padding puts the odd extra on the far side, as PyTorch") {
  // Kernel 2 (total padding 1): the right/bottom gets it, so y[i] = x[i] w0 + x[i+1] w1.
  const Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, f64).reshape({1, 1, 4});
  const Tensor w = tensor({10.0, 1.0}, f64).reshape({1, 1, 2});
  check_values(conv1d(x, w, Tensor(), 1, "same"), {12, 23, 34, 40});
  // 2-D, kernel 2x2: the same on both dims.
  const Tensor x2 = tensor({{1.0, 2.0}, {3.0, 4.0}}, f64).reshape({1, 1, 2, 2});
  const Tensor w2 = ones({1, 1, 2, 2}, f64);
  check_values(conv2d(x2, w2, Tensor(), 1, "same"), {10, 6, 7, 4});
}

TEST_CASE("conv: conv1d equals conv2d with height 1") {
  const Tensor x = randn({3, 4, 9}, f64), w = randn({6, 2, 3}, f64), b = randn({6}, f64);
  const Tensor y1 = conv1d(x, w, b, 2, 1, 2, 2);
  const Tensor y2 =
      conv2d(x.reshape({3, 4, 1, 9}), w.reshape({6, 2, 1, 3}), b, Int2(1, 2), ConvPadding(0, 1), Int2(1, 2), 2);
  CHECK(y1.shape() == Shape{3, 6, 4});
  check_values(y1, y2.to_vector<double>());
}

TEST_CASE("conv: conv_transpose2d is the adjoint of conv2d") {
  // x [2,4,7,6], w [6,2,3,3], groups 2, stride 2, pad 1: y is [2,6,4,3]; output_padding (0, 1)
  // brings the transposed output back to 7x6.
  const Tensor x = randn({2, 4, 7, 6}, f64), w = randn({6, 2, 3, 3}, f64);
  const Tensor y = conv2d(x, w, Tensor(), 2, 1, 1, 2);
  REQUIRE(y.shape() == Shape{2, 6, 4, 3});
  const Tensor r = randn(y.shape(), f64);
  const Tensor xt = conv_transpose2d(r, w, Tensor(), 2, 1, Int2(0, 1), 2);
  REQUIRE(xt.shape() == x.shape());
  CHECK(dot(y, r) == doctest::Approx(dot(x, xt)).epsilon(1e-12));
  // 1-D, with dilation.
  const Tensor x1 = randn({2, 3, 11}, f64), w1 = randn({4, 3, 3}, f64);
  const Tensor y1 = conv1d(x1, w1, Tensor(), 2, 2, 2);
  const Tensor r1 = randn(y1.shape(), f64);
  const Tensor xt1 = conv_transpose1d(r1, w1, Tensor(), 2, 2, 0, 1, 2);
  REQUIRE(xt1.shape() == x1.shape());
  CHECK(dot(y1, r1) == doctest::Approx(dot(x1, xt1)).epsilon(1e-12));
}

TEST_CASE("conv: the weight-gradient op equals autograd's weight gradient and double backward runs") {
  Tensor x = randn({2, 3, 5, 5}, {.dtype = Dtype::float64, .requires_grad = true});
  Tensor w = randn({4, 3, 3, 3}, {.dtype = Dtype::float64, .requires_grad = true});
  const Tensor y = conv2d(x, w, Tensor(), 2, 1);
  const Tensor gy = randn(y.shape(), f64);
  const TensorList g = grad({sum(mul(y, gy))}, {w}, {}, {.create_graph = true});
  check_values(g[0], conv2d_weight_grad(x, gy, w.shape(), 2, 1).to_vector<double>());
  // d/dx <dL/dw, v> = conv_transpose(gy, v).
  const Tensor v = randn(w.shape(), f64);
  sum(mul(g[0], v)).backward();
  check_values(x.grad(), conv_transpose2d(gy, v, Tensor(), 2, 1, 0).to_vector<double>(), 1e-10);
}

TEST_CASE("conv: float32 matches float64") {
  const Tensor x = randn({4, 6, 9, 8}, f64), w = randn({8, 3, 3, 3}, f64), b = randn({8}, f64);
  const Tensor y64 = conv2d(x, w, b, Int2(1, 2), 1, 1, 2);
  const Tensor y32 = conv2d(x.to(Dtype::float32), w.to(Dtype::float32), b.to(Dtype::float32), Int2(1, 2), 1, 1, 2);
  CHECK(y32.dtype() == Dtype::float32);
  const auto a = y32.to_vector<double>(), e = y64.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - e[i]) / std::max(1.0, std::abs(e[i])));
  CHECK(worst < 1e-5);
}

TEST_CASE("conv: zero-size batch and pointwise (1x1) convs") {
  const Tensor y = conv2d(randn({0, 2, 4, 4}), randn({3, 2, 3, 3}), randn({3}));
  CHECK(y.shape() == Shape{0, 3, 2, 2});
  const Tensor x = randn({2, 3, 4, 5}, f64), w = randn({2, 3, 1, 1}, f64);
  const Tensor y1 = conv2d(x, w);
  // A 1x1 conv is a matmul over channels.
  CHECK(y1.at<double>({1, 1, 2, 3}) == doctest::Approx(w.at<double>({1, 0, 0, 0}) * x.at<double>({1, 0, 2, 3}) +
                                                       w.at<double>({1, 1, 0, 0}) * x.at<double>({1, 1, 2, 3}) +
                                                       w.at<double>({1, 2, 0, 0}) * x.at<double>({1, 2, 2, 3})));
}

TEST_CASE("conv: errors name the op, the shapes and the rule") {
  const Tensor x = randn({1, 3, 32, 32});
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 4, 5, 5})),
                       doctest::Contains("conv2d: input [1, 3, 32, 32] has 3 channels but weight [10, 4, 5, 5] "
                                         "expects 4 (C_in/groups = 4, groups = 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 1, 3, 3}), randn({1, 1, 5, 5})),
                       doctest::Contains("conv2d: kernel 5 (dilated 5) is larger than the padded input height 3 + "
                                         "2*0 = 3: H_out = floor((3 + 2*0 - 1*(5-1) - 1)/1) + 1 = -1"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 1, 8, 3}), randn({1, 1, 3, 5})),
                       doctest::Contains("kernel 5 (dilated 5) is larger than the padded input width 3 + 2*0 = 3: "
                                         "W_out = floor((3 + 2*0 - 1*(5-1) - 1)/1) + 1 = -1"),
                       Error);
  CHECK_THROWS_WITH_AS(conv1d(randn({1, 1, 4}), randn({1, 1, 3}), Tensor(), 1, 0, 2),
                       doctest::Contains("kernel 3 (dilated 5) is larger than the padded input length 4 + 2*0 = 4"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({3, 32}), randn({10, 3, 5, 5})), doctest::Contains("conv2d: expected a 3-D"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5})), doctest::Contains("expected a 4-D weight"), Error);
  CHECK_THROWS_WITH_AS(conv1d(randn({1, 3, 10}), randn({4, 3, 3, 3})),
                       doctest::Contains("conv1d: expected a 3-D weight"), Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 4, 8, 8}), randn({6, 2, 3, 3}), Tensor(), 1, 0, 1, 3),
                       doctest::Contains("has 4 channels, not divisible by groups = 3"), Error);
  CHECK_THROWS_WITH_AS(conv2d(randn({1, 4, 8, 8}), randn({5, 2, 3, 3}), Tensor(), 1, 0, 1, 2),
                       doctest::Contains("weight [5, 2, 3, 3] has 5 output channels, not divisible by groups = 2"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}), randn({5})),
                       doctest::Contains("conv2d: bias [5] must be 1-D with one value per output channel (10"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}), Tensor(), 0), doctest::Contains("stride must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}), Tensor(), 1, 0, Int2(1, 0)),
                       doctest::Contains("dilation must be positive"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}), Tensor(), 1, -1),
                       doctest::Contains("padding must be non-negative"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}), Tensor(), 2, "same"),
                       doctest::Contains("padding=\"same\" needs stride 1"), Error);
  CHECK_THROWS_WITH_AS(ConvPadding("full"), doctest::Contains("\"same\", \"valid\""), Error);
  CHECK_THROWS_WITH_AS(conv2d(randint(0, 3, {1, 3, 8, 8}), randn({2, 3, 3, 3})),
                       doctest::Contains("conv2d: expects floating tensors, got input int64"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, randn({10, 3, 5, 5}, f64)),
                       doctest::Contains("input (float32), weight (float64) must have the same dtype"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor()), doctest::Contains("undefined"), Error);
  // Transposed.
  CHECK_THROWS_WITH_AS(conv_transpose2d(randn({1, 3, 4, 4}), randn({4, 2, 3, 3})),
                       doctest::Contains("conv_transpose2d: input [1, 3, 4, 4] has 3 channels but weight [4, 2, 3, 3] "
                                         "expects 4"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(randn({1, 2, 4, 4}), randn({2, 2, 3, 3}), Tensor(), 2, 0, 2),
                       doctest::Contains("output_padding must be smaller than either stride or dilation"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose1d(randn({1, 2, 1}), randn({2, 2, 1}), Tensor(), 1, 1),
                       doctest::Contains("is not positive"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(randn({1, 2, 4, 4}), randn({2, 2, 3, 3}), randn({4})),
                       doctest::Contains("bias [4] must be 1-D with one value per output channel (2"), Error);
  CHECK_THROWS_WITH_AS(conv2d_weight_grad(randn({1, 3, 5, 5}), randn({1, 2, 4, 4}), {2, 3, 3, 3}),
                       doctest::Contains("grad_output [1, 2, 4, 4] must have the conv's output shape [1, 2, 3, 3]"),
                       Error);
}

TEST_CASE("conv: gradients are the same at any thread count and when called from inside a parallel region") {
  const Tensor x = randn({5, 4, 9, 8}, f64), gy = randn({5, 6, 5, 4}, f64), w = randn({6, 2, 3, 3}, f64);
  auto weight_grad = [&] { return conv2d_weight_grad(x, gy, w.shape(), 2, 1, 1, 2).to_vector<double>(); };
  auto input_grad = [&] { return conv_transpose2d(gy, w, Tensor(), 2, 1, Int2(0, 1), 2).to_vector<double>(); };
  const int threads_before = get_num_threads();
  set_num_threads(1);
  const auto w1 = weight_grad(), x1 = input_grad();
  set_num_threads(3);
  check_values(conv2d_weight_grad(x, gy, w.shape(), 2, 1, 1, 2), w1, 1e-12);
  check_values(conv_transpose2d(gy, w, Tensor(), 2, 1, Int2(0, 1), 2), x1, 1e-12);
  // Nested: each outer chunk runs the conv inline, on its own thread's scratch.
  std::vector<std::vector<double>> nested_w(3), nested_x(3);
  parallel::parallel_for(3, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t i = b0; i < b1; ++i) {
      nested_w[static_cast<std::size_t>(i)] = weight_grad();
      nested_x[static_cast<std::size_t>(i)] = input_grad();
    }
  });
  set_num_threads(threads_before);
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(nested_w[i].size() == w1.size());
    for (std::size_t k = 0; k < w1.size(); ++k) CHECK(nested_w[i][k] == doctest::Approx(w1[k]).epsilon(1e-12));
    REQUIRE(nested_x[i].size() == x1.size());
    for (std::size_t k = 0; k < x1.size(); ++k) CHECK(nested_x[i][k] == doctest::Approx(x1[k]).epsilon(1e-12));
  }
}

TEST_CASE("conv: float32 3x3 convs on the Winograd and direct paths match float64 im2col") {
  // C, K >= 8 and H, W >= 4 (7 for stride 2) route float32 3x3 convs of stride 1 and 2 to Winograd;
  // float64 always runs im2col + GEMM, so comparing the two checks the routing, forward and both
  // gradients.
  manual_seed(11);
  struct Case {
    Shape x;
    std::int64_t k, pad, stride = 1;
  };
  auto close = [](const Tensor& a32, const Tensor& b64) {
    // Relative to the largest magnitude: Winograd's float32 error is ~1e-5 of it.
    const double scale = max(abs(b64)).item<double>();
    const double err = max(abs(a32.to(Dtype::float64) - b64)).item<double>();
    CHECK(err <= 5e-5 * scale);
  };
  // Cases 5-6 have 1-3 input channels and rows of 16+: the direct kernel (conv_direct.h).
  for (const Case& c : {Case{{2, 16, 9, 7}, 12, 1}, Case{{1, 8, 4, 4}, 8, 0}, Case{{3, 9, 6, 11}, 16, 2},
                        Case{{2, 32, 14, 14}, 24, 1}, Case{{3, 1, 20, 18}, 8, 1}, Case{{2, 3, 9, 33}, 5, 2},
                        Case{{2, 16, 16, 16}, 24, 1, 2}, Case{{1, 8, 15, 9}, 8, 0, 2}, Case{{3, 9, 7, 12}, 17, 2, 2}}) {
    INFO("x ", to_string(c.x), " -> ", c.k, " channels, pad ", c.pad, ", stride ", c.stride);
    Tensor x64 = randn(c.x, f64), w64 = randn({c.k, c.x[1], 3, 3}, f64), b64 = randn({c.k}, f64);
    Tensor x32 = x64.to(Dtype::float32), w32 = w64.to(Dtype::float32), b32 = b64.to(Dtype::float32);
    for (Tensor* t : {&x64, &w64, &b64, &x32, &w32, &b32}) t->requires_grad_();
    Tensor y64 = conv2d(x64, w64, b64, c.stride, c.pad), y32 = conv2d(x32, w32, b32, c.stride, c.pad);
    Tensor gy = randn(y64.shape(), f64);
    auto g64 = grad({y64}, {x64, w64, b64}, {gy});
    auto g32 = grad({y32}, {x32, w32, b32}, {gy.to(Dtype::float32)});
    close(y32, y64);
    for (std::size_t i = 0; i < 3; ++i) close(g32[i], g64[i]);
  }
  // A bias-free stride-2 transposed conv runs the strided input gradient as its forward.
  Tensor x64 = randn({2, 16, 8, 7}, f64), w64 = randn({16, 12, 3, 3}, f64);
  Tensor x32 = x64.to(Dtype::float32), w32 = w64.to(Dtype::float32);
  for (Tensor* t : {&x64, &w64, &x32, &w32}) t->requires_grad_();
  Tensor y64 = conv_transpose2d(x64, w64, {}, 2, 1, 1), y32 = conv_transpose2d(x32, w32, {}, 2, 1, 1);
  CHECK(y64.shape() == Shape{2, 12, 16, 14});
  Tensor gy = randn(y64.shape(), f64);
  auto g64 = grad({y64}, {x64, w64}, {gy});
  auto g32 = grad({y32}, {x32, w32}, {gy.to(Dtype::float32)});
  close(y32, y64);
  for (std::size_t i = 0; i < 2; ++i) close(g32[i], g64[i]);
}

TEST_CASE("conv: padding and dilation whose positions leave int64 raise instead of overflowing in the kernel") {
  // Found by the fuzz test (seed 21): the output size is a valid 13, but the kernel's positions
  // o*S - P + k*D wrapped around and the transposed conv read out of bounds.
  const std::int64_t huge = INT64_MAX;
  const std::string e1 = test::error_of([&] {
    conv_transpose1d(randn({1, 1, 4}), randn({1, 1, 3}), {}, 3, huge - 1, 1, 1, huge);
  });
  CHECK(e1.find("conv_transpose1d") != std::string::npos);
  CHECK(e1.find("more than int64 holds") != std::string::npos);
  const std::string e2 = test::error_of([&] { conv1d(randn({1, 1, 4}), randn({1, 1, 2}), {}, 1, huge / 2, huge); });
  CHECK(e2.find("conv1d") != std::string::npos);
  CHECK(e2.find("more than int64 holds") != std::string::npos);
}
