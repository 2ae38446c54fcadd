// batch_norm and layer_norm: normalised statistics, running statistics after a known step,
// evaluation with running statistics, the fused backward against the op-built one, identities
// and errors.
#include <doctest/doctest.h>

#include <cmath>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::check_same;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-9) {
  test::check_close(t, expected, tol);
}

// Gradients of sum(f(inputs) * v) computed twice: plain backward (the fused kernel) and under
// create_graph (the VJP built from xgrad ops). Both must agree.
void check_fused_backward_matches_ops(const std::function<Tensor(const TensorList&)>& f, const TensorList& inputs) {
  Tensor y = f(inputs);
  const Tensor v = uniform(y.shape(), -1, 1, {.dtype = y.dtype()});
  auto fused = grad({y}, inputs, {v});
  Tensor y2 = f(inputs);
  auto composed = grad({y2}, inputs, {v}, {.create_graph = true});
  REQUIRE(fused.size() == composed.size());
  for (std::size_t i = 0; i < fused.size(); ++i) {
    INFO("input ", i);
    check_same(fused[i], composed[i].detach(), 1e-8);
  }
}

}  // namespace

TEST_CASE("batch_norm: training output has per-channel mean 0 and biased variance 1") {
  manual_seed(1);
  for (const Shape& s : {Shape{64, 3}, Shape{8, 3, 5, 4}}) {
    INFO("shape ", to_string(s));
    const Tensor x = uniform(s, -3, 5, {.dtype = float64});
    const Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
    Dims dims = {0};
    for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
    check_same(mean(y, dims), zeros({3}, {.dtype = float64}), 1e-9);
    for (double v : var(y, dims, 0).to_vector<double>()) CHECK(v == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("batch_norm: running statistics after one training step use the unbiased variance") {
  // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: 2, 4, 6, 8.
  const Tensor x = tensor({{1.0, 2.0}, {2.0, 4.0}, {3.0, 6.0}, {4.0, 8.0}}, {.dtype = float64});
  Tensor rm = zeros({2}, {.dtype = float64});
  Tensor rv = ones({2}, {.dtype = float64});
  const Tensor w = tensor({2.0, 0.5}, {.dtype = float64}), b = tensor({1.0, -1.0}, {.dtype = float64});
  Tensor y = batch_norm(x, rm, rv, w, b, true, 0.1, 0.0);
  check_close(rm, {0.25, 0.5});
  check_close(rv, {0.9 + 0.1 * 5.0 / 3.0, 0.9 + 0.1 * 20.0 / 3.0});
  // y = (x - mean) / sqrt(biased var) * w + b.
  check_close(y, {(1 - 2.5) / std::sqrt(1.25) * 2 + 1, (2 - 5) / std::sqrt(5.0) * 0.5 - 1,
                  (2 - 2.5) / std::sqrt(1.25) * 2 + 1, (4 - 5) / std::sqrt(5.0) * 0.5 - 1,
                  (3 - 2.5) / std::sqrt(1.25) * 2 + 1, (6 - 5) / std::sqrt(5.0) * 0.5 - 1,
                  (4 - 2.5) / std::sqrt(1.25) * 2 + 1, (8 - 5) / std::sqrt(5.0) * 0.5 - 1});
  // float32 running statistics with a float32 input, [N, C, H, W].
  Tensor rm32 = zeros({1}), rv32 = ones({1});
  batch_norm(tensor(std::vector<float>{1, 2, 3, 4}, Shape{1, 1, 2, 2}), rm32, rv32, Tensor(), Tensor(), true, 0.5);
  CHECK(rm32.item<float>() == doctest::Approx(1.25));
  CHECK(rv32.item<float>() == doctest::Approx(0.5 + 0.5 * 5.0 / 3.0));
}

TEST_CASE("batch_norm: evaluation uses the running statistics and leaves them alone") {
  manual_seed(2);
  const Tensor x = uniform({4, 3, 2}, -1, 1, {.dtype = float64});
  const Tensor rm = tensor({0.1, -0.2, 0.3}, {.dtype = float64});
  const Tensor rv = tensor({0.5, 1.0, 2.0}, {.dtype = float64});
  const Tensor w = tensor({1.5, 0.5, -1.0}, {.dtype = float64}), b = tensor({0.0, 1.0, 2.0}, {.dtype = float64});
  const double eps = 1e-3;
  Tensor y = batch_norm(x, rm, rv, w, b, false, 0.1, eps);
  const Shape c{1, 3, 1};
  Tensor expected = (x - reshape(rm, c)) / sqrt(reshape(rv, c) + eps) * reshape(w, c) + reshape(b, c);
  check_same(y, expected, 1e-12);
  check_close(rm, {0.1, -0.2, 0.3});
  check_close(rv, {0.5, 1.0, 2.0});
}

TEST_CASE("batch_norm: the fused backward matches the op-built VJP") {
  manual_seed(3);
  auto w = uniform({3}, 0.5, 1.5, {.dtype = float64, .requires_grad = true});
  auto b = uniform({3}, -1, 1, {.dtype = float64, .requires_grad = true});
  for (const Shape& s : {Shape{5, 3}, Shape{2, 3, 4, 3}}) {
    INFO("shape ", to_string(s));
    auto x = uniform(s, -2, 2, {.dtype = float64, .requires_grad = true});
    check_fused_backward_matches_ops(
        [](const TensorList& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); }, {x, w, b});
    check_fused_backward_matches_ops(
        [](const TensorList& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); }, {x});
  }
  // By hand: each channel of xhat sums to 0, so sum(batch_norm(x)) has a zero gradient in x.
  auto x = uniform({6, 2}, -1, 1, {.dtype = float64, .requires_grad = true});
  const Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  check_same(grad({sum(y)}, {x})[0] + 1.0, ones({6, 2}, {.dtype = float64}), 1e-9);
}

TEST_CASE("batch_norm: errors name the op, the shapes and the rule") {
  CHECK_THROWS_WITH_AS(batch_norm(ones({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("expected more than 1 value per channel when training, got input size [1, 3]"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({4, 3}), Tensor(), Tensor(), ones({4}), Tensor(), true),
                       doctest::Contains("batch_norm: weight has shape [4] but the input [4, 3] has 3 channels"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({4, 3}), zeros({2}), ones({3}), Tensor(), Tensor(), true),
                       doctest::Contains("running_mean has shape [2]"), xgrad::Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({4, 3}), Tensor(), Tensor()),
                       doctest::Contains("running_mean and running_var must be given in evaluation mode"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(batch_norm(ones({4}), zeros({4}), ones({4})),
                       doctest::Contains("expects an input [N, C] or [N, C, ...], got shape [4]"), xgrad::Error);
  // Evaluation with a single value per channel is fine.
  CHECK(batch_norm(ones({1, 3}), zeros({3}), ones({3})).shape() == Shape{1, 3});
}

TEST_CASE("layer_norm: normalises the trailing dims, identities") {
  manual_seed(4);
  const Tensor x = uniform({4, 3, 5}, -2, 3, {.dtype = float64});
  const Tensor y = layer_norm(x, {5}, Tensor(), Tensor(), 0.0);
  check_same(mean(y, {-1}), zeros({4, 3}, {.dtype = float64}), 1e-9);
  for (double v : var(y, {-1}, 0).to_vector<double>()) CHECK(v == doctest::Approx(1.0).epsilon(1e-12));
  const Tensor y2 = layer_norm(x, {3, 5}, Tensor(), Tensor(), 0.0);
  for (double v : var(y2, {1, 2}, 0).to_vector<double>()) CHECK(v == doctest::Approx(1.0).epsilon(1e-12));
  // Unit weight and zero bias change nothing; weight and bias act elementwise afterwards.
  check_same(layer_norm(x, {5}, ones({5}, {.dtype = float64}), zeros({5}, {.dtype = float64}), 0.0), y, 1e-12);
  const Tensor w = uniform({5}, 0.5, 1.5, {.dtype = float64}), b = uniform({5}, -1, 1, {.dtype = float64});
  check_same(layer_norm(x, {5}, w, b, 0.0), y * w + b, 1e-12);
  // Layer norm over the features of [N, D] is batch norm of the transpose [D, N].
  const Tensor m = uniform({3, 6}, -1, 1, {.dtype = float64});
  check_same(layer_norm(m, {6}), batch_norm(m.t(), Tensor(), Tensor(), Tensor(), Tensor(), true).t(), 1e-12);
  // A constant row normalises to 0 (eps keeps it finite).
  check_close(layer_norm(full({2, 4}, 3.0, {.dtype = float64}), {4}), std::vector<double>(8, 0.0));
}

TEST_CASE("layer_norm: the fused backward matches the op-built VJP, double backward") {
  manual_seed(5);
  auto x = uniform({3, 2, 4}, -2, 2, {.dtype = float64, .requires_grad = true});
  auto w = uniform({2, 4}, 0.5, 1.5, {.dtype = float64, .requires_grad = true});
  auto b = uniform({2, 4}, -1, 1, {.dtype = float64, .requires_grad = true});
  check_fused_backward_matches_ops([](const TensorList& in) { return layer_norm(in[0], {2, 4}, in[1], in[2]); },
                                   {x, w, b});
  auto w1 = uniform({4}, 0.5, 1.5, {.dtype = float64, .requires_grad = true});
  check_fused_backward_matches_ops([](const TensorList& in) { return layer_norm(in[0], {4}, in[1]); }, {x, w1});
  auto r = gradgradcheck([](const TensorList& in) { return layer_norm(in[0], {4}, in[1]); }, {x, w1});
  CHECK_MESSAGE(r.passed, r.report());
}

TEST_CASE("layer_norm: errors") {
  CHECK_THROWS_WITH_AS(layer_norm(ones({2, 4}), {3}),
                       doctest::Contains("layer_norm: normalized_shape [3] must match the trailing dims of the input [2, 4]"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(layer_norm(ones({2, 4}), {4}, ones({2})),
                       doctest::Contains("layer_norm: weight has shape [2] but normalized_shape is [4]"), xgrad::Error);
  CHECK_THROWS_WITH_AS(layer_norm(ones({2, 4}), Shape{}), doctest::Contains("at least 1 dim"), xgrad::Error);
}

TEST_CASE("batch_norm and layer_norm: empty inputs give empty outputs and gradients") {
  Tensor x = zeros({0, 3, 2}, {.requires_grad = true});
  Tensor rm = zeros({3}), rv = ones({3});
  Tensor y = batch_norm(x, rm, rv, ones({3}), zeros({3}), true);
  CHECK(y.shape() == Shape{0, 3, 2});
  check_close(rm, {0, 0, 0});  // nothing to average: the running statistics stay
  CHECK(grad({sum(y)}, {x})[0].shape() == Shape{0, 3, 2});
  Tensor z = layer_norm(x, {2});
  CHECK(z.shape() == Shape{0, 3, 2});
  CHECK(grad({sum(z)}, {x})[0].shape() == Shape{0, 3, 2});
}

TEST_CASE("batch_norm and layer_norm: float32 statistics stay accurate with a large offset") {
  manual_seed(6);
  const Tensor x = randn({64, 2, 16, 16}) + 1000.0;
  const Tensor y = batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
  for (double v : var(y.to(float64), {0, 2, 3}, 0).to_vector<double>()) CHECK(v == doctest::Approx(1.0).epsilon(1e-3));
  const Tensor z = layer_norm(randn({4, 4096}) * 0.01 + 500.0, {4096}, Tensor(), Tensor(), 0.0);
  for (double v : var(z.to(float64), {1}, 0).to_vector<double>()) CHECK(v == doctest::Approx(1.0).epsilon(1e-2));
}

TEST_CASE("batch_norm and layer_norm: the same results with 1 and 4 threads") {
  manual_seed(7);
  const int before = get_num_threads();
  const Tensor x = uniform({8, 16, 32, 32}, -1, 1, {.dtype = float64, .requires_grad = true});
  const Tensor gy = uniform(x.shape(), -1, 1, {.dtype = float64});
  const Tensor w = uniform({16}, 0.5, 1.5, {.dtype = float64, .requires_grad = true});
  const Tensor xl = uniform({512, 256}, -1, 1, {.dtype = float64, .requires_grad = true});
  const Tensor wl = uniform({256}, 0.5, 1.5, {.dtype = float64, .requires_grad = true});
  const Tensor gl = uniform(xl.shape(), -1, 1, {.dtype = float64});
  auto run = [&](int threads) {
    set_num_threads(threads);
    TensorList out;
    const Tensor y = batch_norm(x, Tensor(), Tensor(), w, Tensor(), true);
    out.push_back(y);
    for (const Tensor& g : grad({y}, {x, w}, {gy})) out.push_back(g);
    const Tensor z = layer_norm(xl, {256}, wl);
    out.push_back(z);
    for (const Tensor& g : grad({z}, {xl, wl}, {gl})) out.push_back(g);
    return out;
  };
  const TensorList one = run(1), four = run(4);
  set_num_threads(before);
  for (std::size_t i = 0; i < one.size(); ++i) {
    INFO("result ", i);
    CHECK(allclose(four[i], one[i], 1e-12, 1e-12));
  }
}
