// cross_entropy and nll_loss: hand-computed (float64) values in PyTorch's formulas for
// weights, ignore_index and label smoothing; the fused gradient p - onehot; stability; identities
// with nll_loss(log_softmax); probability targets; [C] inputs; errors.
#include <doctest/doctest.h>

#include <cmath>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::check_same;
using test::values;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
  test::check_close(t, expected, tol);
}

Tensor labels(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return tensor(v, {n});
}

Tensor leaf(const Tensor& t) { return t.detach().requires_grad_(true); }

// The worked example of these tests: 4 samples, 3 classes, sample 3 ignored by default.
Tensor example_logits(Dtype d = float64) {
  return tensor({{1.0, 2.0, 0.5}, {0.1, -1.0, 0.3}, {2.0, 0.0, -2.0}, {0.5, 0.5, 1.5}}, {.dtype = d});
}
Tensor example_weight(Dtype d = float64) { return tensor({0.2, 1.0, 3.0}, {.dtype = d}); }

}  // namespace

TEST_CASE("cross_entropy: the CS231n scores, by hand") {
  // Scores of three images (cat, car, frog) for classes (cat, car, frog); correct classes 0, 1, 2.
  Tensor s = tensor({{3.2, 5.1, -1.7}, {1.3, 4.9, 2.0}, {2.2, 2.5, -3.1}}, {.dtype = float64});
  Tensor y = labels({0, 1, 2});
  // -log(e^3.2 / (e^3.2 + e^5.1 + e^-1.7)) etc.
  check_close(cross_entropy(s, y, {}, -100, Reduction::none), {2.0403551528001698, 0.07913177829134899, 6.156477201664211});
  CHECK(cross_entropy(s, y).item<double>() == doctest::Approx(2.758654710918577).epsilon(1e-14));
  CHECK(cross_entropy(s, y, {}, -100, Reduction::sum).item<double>() ==
        doctest::Approx(2.0403551528001698 + 0.07913177829134899 + 6.156477201664211).epsilon(1e-14));
  // The notes' single example: scores (-2.85, 0.86, 0.28), correct class 2: loss 1.04.
  Tensor one = tensor({-2.85, 0.86, 0.28}, {.dtype = float64});
  Tensor l = cross_entropy(one, tensor(std::vector<std::int64_t>{2}, {}));
  CHECK(l.dim() == 0);
  CHECK(l.item<double>() == doctest::Approx(1.0401905694301083).epsilon(1e-14));
  // float32 agrees.
  CHECK(cross_entropy(s.to(float32), y).item<float>() == doctest::Approx(2.758654710918577).epsilon(1e-6));
}

TEST_CASE("cross_entropy: the fused gradient is softmax - onehot (/ N for mean)") {
  manual_seed(11);
  for (Reduction r : {Reduction::mean, Reduction::sum}) {
    Tensor x = uniform({5, 7}, -3.0, 3.0, {.dtype = float64, .requires_grad = true});
    Tensor t = labels({0, 6, 3, 3, 1});
    Tensor g = grad({cross_entropy(x, t, {}, -100, r)}, {x})[0];
    auto p = values(softmax(x.detach(), 1));
    const auto tv = t.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < 5; ++i) p[i * 7 + static_cast<std::size_t>(tv[i])] -= 1.0;
    if (r == Reduction::mean)
      for (double& v : p) v /= 5.0;
    check_close(g, p, 1e-14);
  }
  // Per-sample upstream gradients scale rows (reduction none).
  Tensor x = leaf(example_logits());
  Tensor t = labels({0, 2, 1, 1});
  Tensor gy = tensor({1.0, -2.0, 0.5, 0.0}, {.dtype = float64});
  Tensor g = grad({cross_entropy(x, t, {}, -100, Reduction::none)}, {x}, {gy})[0];
  const auto p = values(softmax(x.detach(), 1));
  const std::vector<double> gv = values(gy);
  std::vector<double> expected(12);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      expected[i * 3 + c] = gv[i] * (p[i * 3 + c] - (static_cast<std::int64_t>(c) == t.to_vector<std::int64_t>()[i] ? 1.0 : 0.0));
  check_close(g, expected, 1e-14);
}

TEST_CASE("cross_entropy: weights, ignore_index and label smoothing (PyTorch's formulas, by hand)") {
  Tensor x = example_logits();
  Tensor t = labels({0, 2, 1, -100});
  Tensor w = example_weight();
  using R = Reduction;
  // No smoothing.
  check_close(cross_entropy(x, t, {}, -100, R::none), {1.4643687841079451, 0.73776797263718, 2.1429316284998996, 0.0});
  CHECK(cross_entropy(x, t, {}, -100, R::sum).item<double>() == doctest::Approx(4.345068385245025).epsilon(1e-14));
  CHECK(cross_entropy(x, t).item<double>() == doctest::Approx(1.4483561284150082).epsilon(1e-14));
  check_close(cross_entropy(x, t, w, -100, R::none), {0.29287375682158906, 2.21330391791154, 2.1429316284998996, 0.0});
  CHECK(cross_entropy(x, t, w, -100, R::sum).item<double>() == doctest::Approx(4.649109303233029).epsilon(1e-14));
  // Mean divides by the total weight of the counted targets, 0.2 + 3 + 1.
  CHECK(cross_entropy(x, t, w).item<double>() == doctest::Approx(1.1069307864840545).epsilon(1e-14));
  // label_smoothing 0.1: (1 - eps) nll + eps/C * (-sum_c w_c logp_c).
  check_close(cross_entropy(x, t, {}, -100, R::none, 0.1),
              {1.4477021174412785, 0.78776797263718, 2.1429316284998996, 0.0});
  CHECK(cross_entropy(x, t, {}, -100, R::sum, 0.1).item<double>() == doctest::Approx(4.378401718578358).epsilon(1e-14));
  CHECK(cross_entropy(x, t, {}, -100, R::mean, 0.1).item<double>() == doctest::Approx(1.4594672395261192).epsilon(1e-14));
  check_close(cross_entropy(x, t, w, -100, R::none, 0.1),
              {0.48526467758120917, 2.139927708956258, 2.415315560306562, 0.0});
  CHECK(cross_entropy(x, t, w, -100, R::sum, 0.1).item<double>() == doctest::Approx(5.040507946844029).epsilon(1e-14));
  CHECK(cross_entropy(x, t, w, -100, R::mean, 0.1).item<double>() == doctest::Approx(1.2001209397247687).epsilon(1e-14));
  // Another ignore_index value.
  Tensor t2 = labels({0, 2, 1, 2});
  CHECK(cross_entropy(x, t2, w, 2).item<double>() ==
        doctest::Approx((0.29287375682158906 + 2.1429316284998996) / 1.2).epsilon(1e-14));
  // Gradient (weighted, smoothed, mean): (Q p - q) / total weight, zero for the ignored sample.
  Tensor xl = leaf(x);
  Tensor g = grad({cross_entropy(xl, t, w, -100, R::mean, 0.1)}, {xl})[0];
  check_close(g, {-0.02682738557799499, 0.039951623051054916, -0.013124237473059925, 0.2631417439478254,
                  0.08018413633712805, -0.34332588028495337, 0.21305219019489557, -0.19317392580811596,
                  -0.01987826438677966, 0.0, 0.0, 0.0},
              1e-13);
}

TEST_CASE("cross_entropy: every target ignored gives NaN for mean, 0 for sum, zero gradients") {
  Tensor x = leaf(example_logits());
  Tensor t = labels({-100, -100, -100, -100});
  Tensor m = cross_entropy(x, t);
  CHECK(std::isnan(m.item<double>()));
  CHECK(std::isnan(cross_entropy(x, t, {}, -100, Reduction::mean, 0.1).item<double>()));
  CHECK(std::isnan(nll_loss(x, t).item<double>()));
  CHECK(cross_entropy(x, t, {}, -100, Reduction::sum).item<double>() == 0.0);
  Tensor g = grad({m}, {x})[0];
  for (double v : values(g)) CHECK(v == 0.0);
  // An empty batch: mean NaN, sum 0, none empty.
  Tensor e = zeros({0, 3}, {.dtype = float64});
  Tensor et = tensor(std::vector<std::int64_t>{}, {0});
  CHECK(std::isnan(cross_entropy(e, et).item<double>()));
  CHECK(cross_entropy(e, et, {}, -100, Reduction::sum).item<double>() == 0.0);
  CHECK(cross_entropy(e, et, {}, -100, Reduction::none).shape() == Shape{0});
  // No classes: only ignored targets are valid.
  Tensor no_classes = zeros({2, 0}, {.dtype = float64, .requires_grad = true});
  Tensor l0 = cross_entropy(no_classes, labels({-100, -100}), {}, -100, Reduction::sum);
  CHECK(l0.item<double>() == 0.0);
  CHECK(grad({l0}, {no_classes})[0].shape() == Shape{2, 0});
  CHECK_THROWS_WITH_AS(cross_entropy(no_classes, labels({0, -100})),
                       doctest::Contains("target[0] = 0 is out of range for 0 classes"), xgrad::Error);
}

TEST_CASE("cross_entropy: stable for logits of +-1e4") {
  for (Dtype d : {float32, float64}) {
    Tensor x = tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 1e4 - 2.0}}, {.dtype = d, .requires_grad = true});
    Tensor t = labels({1, 2});
    Tensor l = cross_entropy(x, t, {}, -100, Reduction::none);
    const double tol = d == float32 ? 4e-6 : 1e-14;
    // Equal to the shifted logits' losses: 2e4 and 2 + log(1 + e^-2).
    check_close(l, {20000.0, 2.0 + std::log1p(std::exp(-2.0))}, tol);
    Tensor g = grad({sum(l)}, {x})[0];
    const double e2 = std::exp(-2.0) / (1 + std::exp(-2.0));
    check_close(g, {1.0, -1.0, 0.0, 0.0, 1 - e2, e2 - 1}, tol);
  }
}

TEST_CASE("cross_entropy: equals nll_loss(log_softmax(x)) in value and gradient") {
  manual_seed(5);
  Tensor w = uniform({4}, 0.5, 2.0, {.dtype = float64});
  struct Case {
    Shape shape;
    std::vector<std::int64_t> target;
    Shape target_shape;
  };
  for (const Case& c : {Case{{3, 4}, {1, 3, 0}, {3}}, Case{{2, 4, 3}, {0, 3, -100, 1, 1, 2}, {2, 3}}}) {
    for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
      for (bool weighted : {false, true}) {
        INFO("shape ", to_string(c.shape), " reduction ", static_cast<int>(r), " weighted ", weighted);
        Tensor x = uniform(c.shape, -2.0, 2.0, {.dtype = float64, .requires_grad = true});
        Tensor t = tensor(c.target, c.target_shape);
        Tensor wt = weighted ? w : Tensor();
        Tensor a = cross_entropy(x, t, wt, -100, r);
        Tensor b = nll_loss(log_softmax(x, 1), t, wt, -100, r);
        check_same(a, b, 1e-13);
        Tensor gy = ones_like(a);
        check_same(grad({a}, {x}, {gy})[0], grad({b}, {x}, {gy})[0], 1e-13);
      }
    }
  }
}

TEST_CASE("cross_entropy: double backward is the softmax Hessian (diag(p) - p p^T) / N") {
  Tensor x = tensor({{0.2, -0.4, 1.1}, {0.0, 0.5, -0.5}}, {.dtype = float64, .requires_grad = true});
  Tensor t = labels({2, 0});
  Tensor g = grad({cross_entropy(x, t)}, {x}, {}, {.create_graph = true})[0];
  CHECK(g.grad_fn_name() == "cross_entropy_backward");
  Tensor v = tensor({{1.0, 0.0, -1.0}, {0.5, 0.5, 2.0}}, {.dtype = float64});
  Tensor hv = grad({sum(mul(g, v))}, {x})[0];
  const auto p = values(softmax(x.detach(), 1));
  const auto vv = values(v);
  std::vector<double> expected(6);
  for (std::size_t i = 0; i < 2; ++i) {
    double pv = 0;
    for (std::size_t c = 0; c < 3; ++c) pv += p[i * 3 + c] * vv[i * 3 + c];
    for (std::size_t c = 0; c < 3; ++c) expected[i * 3 + c] = p[i * 3 + c] * (vv[i * 3 + c] - pv) / 2.0;
  }
  check_close(hv, expected, 1e-13);
  // Through label smoothing, weights and ignore_index too.
  Tensor w = tensor({0.5, 1.5, 2.0}, {.dtype = float64});
  auto f = [&](const TensorList& in) { return cross_entropy(in[0], labels({2, -100}), w, -100, Reduction::mean, 0.2); };
  CHECK(gradgradcheck(f, {x}).passed);
  auto h = [&](const TensorList& in) { return nll_loss(in[0], labels({2, 1}), w, -100, Reduction::none); };
  CHECK(gradgradcheck(h, {x}).passed);
}

TEST_CASE("cross_entropy: class-probability targets, differentiable in both") {
  Tensor x = leaf(example_logits());
  Tensor p = tensor({{0.2, 0.3, 0.5}, {1.0, 0.0, 0.0}, {0.1, 0.8, 0.1}, {0.3, 0.3, 0.4}}, {.dtype = float64,
                                                                                          .requires_grad = true});
  Tensor lp = log_softmax(x.detach(), 1);
  // -sum_c p_c logp_c per sample, mean over 4 samples.
  std::vector<double> per(4, 0.0);
  const auto lv = values(lp), pv = values(p);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t c = 0; c < 3; ++c) per[i] -= pv[i * 3 + c] * lv[i * 3 + c];
  check_close(cross_entropy(x, p, {}, -100, Reduction::none), per, 1e-14);
  Tensor m = cross_entropy(x, p);
  CHECK(m.item<double>() == doctest::Approx((per[0] + per[1] + per[2] + per[3]) / 4).epsilon(1e-14));
  auto gs = grad({m}, {x, p});
  // d/dp = -logp / N; d/dx = (softmax * sum(p) - p) / N.
  std::vector<double> gp(12), gx(12);
  const auto sv = values(softmax(x.detach(), 1));
  for (std::size_t k = 0; k < 12; ++k) {
    gp[k] = -lv[k] / 4;
    gx[k] = (sv[k] - pv[k]) / 4;  // each row of p sums to 1
  }
  check_close(gs[1], gp, 1e-13);
  check_close(gs[0], gx, 1e-13);
  // Label smoothing turns p into p (1 - eps) + eps / C; weights scale classes; mean divides by N.
  Tensor w = example_weight();
  Tensor ps = add(mul(p.detach(), scalar_tensor(0.9, {.dtype = float64})), scalar_tensor(0.1 / 3, {.dtype = float64}));
  Tensor expected = mul(neg(sum(mul(mul(lp, ps), reshape(w, {1, 3})))), scalar_tensor(0.25, {.dtype = float64}));
  CHECK(cross_entropy(x, p, w, -100, Reduction::mean, 0.1).item<double>() ==
        doctest::Approx(expected.item<double>()).epsilon(1e-14));
  // A [C] input with a [C] probability target gives a 0-d loss.
  Tensor one = cross_entropy(tensor({1.0, 2.0}, {.dtype = float64}), tensor({0.25, 0.75}, {.dtype = float64}));
  CHECK(one.dim() == 0);
  CHECK(one.item<double>() == doctest::Approx(0.25 * std::log1p(std::exp(1.0)) + 0.75 * std::log1p(std::exp(-1.0))).epsilon(1e-14));
}

TEST_CASE("nll_loss: gathers -w[t] logp[t] and scatters the gradient") {
  Tensor lp = leaf(log_softmax(example_logits(), 1));
  Tensor t = labels({0, 2, 1, -100});
  Tensor w = example_weight();
  const auto v = values(lp);
  check_close(nll_loss(lp, t, {}, -100, Reduction::none), {-v[0], -v[5], -v[7], 0.0}, 1e-14);
  CHECK(nll_loss(lp, t, w).item<double>() ==
        doctest::Approx((-0.2 * v[0] - 3.0 * v[5] - 1.0 * v[7]) / 4.2).epsilon(1e-14));
  CHECK(nll_loss(lp, t, w, -100, Reduction::sum).item<double>() ==
        doctest::Approx(-0.2 * v[0] - 3.0 * v[5] - 1.0 * v[7]).epsilon(1e-14));
  Tensor g = grad({nll_loss(lp, t, w)}, {lp})[0];
  check_close(g, {-0.2 / 4.2, 0, 0, 0, 0, -3.0 / 4.2, 0, -1.0 / 4.2, 0, 0, 0, 0}, 1e-14);
  // Spatial input [N, C, d] with target [N, d].
  Tensor x3 = tensor({{{-1.0, -2.0}, {-0.5, -0.1}}}, {.dtype = float64});
  check_close(nll_loss(x3, tensor(std::vector<std::int64_t>{1, 0}, {1, 2}), {}, -100, Reduction::none), {0.5, 2.0}, 1e-14);
  // [C] input, 0-d target.
  Tensor l = nll_loss(tensor({-1.0, -0.3}, {.dtype = float64}), tensor(std::vector<std::int64_t>{1}, {}));
  CHECK(l.dim() == 0);
  CHECK(l.item<double>() == doctest::Approx(0.3));
  CHECK(nll_loss(lp, t).grad_fn_name() == "nll_loss");
}

TEST_CASE("cross_entropy: spatial inputs [N, C, d1, d2] with classes in dim 1") {
  manual_seed(9);
  Tensor x = uniform({2, 3, 2, 2}, -2.0, 2.0, {.dtype = float64});
  Tensor t = tensor(std::vector<std::int64_t>{0, 1, 2, 0, 2, 2, 1, -100}, {2, 2, 2});
  // The same as moving the classes last and flattening to [8, 3].
  Tensor flat = reshape(permute(x, {0, 2, 3, 1}), {8, 3});
  Tensor tf = reshape(t, {8});
  check_same(cross_entropy(x, t, {}, -100, Reduction::none), reshape(cross_entropy(flat, tf, {}, -100, Reduction::none), {2, 2, 2}),
             1e-13);
  CHECK(cross_entropy(x, t, {}, -100, Reduction::mean, 0.1).item<double>() ==
        doctest::Approx(cross_entropy(flat, tf, {}, -100, Reduction::mean, 0.1).item<double>()).epsilon(1e-13));
}

TEST_CASE("cross_entropy: errors name the op, the shapes and the rule") {
  Tensor x = zeros({4, 10});
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3, 10})),
                       doctest::Contains("cross_entropy: target[3] = 10 is out of range for 10 classes [0, 10)"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({-1, 2, 3, 1})),
                       doctest::Contains("cross_entropy: target[0] = -1 is out of range"), xgrad::Error);
  CHECK_THROWS_WITH_AS(nll_loss(x, labels({1, 12, 3, 1})),
                       doctest::Contains("nll_loss: target[1] = 12 is out of range for 10 classes"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({2, 3, 2}), tensor(std::vector<std::int64_t>{0, 1, 2, 3}, {2, 2})),
                       doctest::Contains("target[1, 1] = 3"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3})),
                       doctest::Contains("cross_entropy: expected a target of shape [4] (the input [4, 10]"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({4, 10}, {.dtype = float64})),
                       doctest::Contains("must have the input's dtype float32, got float64"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, tensor(std::vector<std::int64_t>(40, 0), {4, 10})),
                       doctest::Contains("must be floating, got int64"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({4})), doctest::Contains("class targets must be int64, got float32"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3, 4}), ones({9})),
                       doctest::Contains("weight must be a 1-D tensor with one value per class (10), got shape [9]"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3, 4}), ones({10}, {.dtype = float64})),
                       doctest::Contains("weight has dtype float64 but the input has float32"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(tensor(std::vector<std::int64_t>{1, 2}, {1, 2}), labels({0})),
                       doctest::Contains("cross_entropy: expects floating logits, got int64"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(scalar_tensor(1.0), tensor(std::vector<std::int64_t>{0}, {})),
                       doctest::Contains("got a 0-d tensor"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(zeros({3}), labels({0})),
                       doctest::Contains("a [C] input (shape [3]) takes a 0-d class target, got shape [1]"), xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, softmax(zeros({4, 10}), 1), {}, 2),
                       doctest::Contains("ignore_index (2) is not supported for class-probability targets"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3, 4}), {}, -100, Reduction::mean, 1.5),
                       doctest::Contains("label_smoothing must be between 0.0 and 1.0"), xgrad::Error);
  CHECK_THROWS_WITH_AS(nll_loss(tensor(std::vector<std::int64_t>{1, 2}, {1, 2}), labels({0})),
                       doctest::Contains("nll_loss: expects floating input, got int64"), xgrad::Error);
}

TEST_CASE("cross_entropy: narrow and wide rows (vector paths) agree with the composition") {
  manual_seed(21);
  for (Dtype d : {float32, float64}) {
    for (std::int64_t c : {3, 10, 16, 37}) {
      for (double eps : {0.0, 0.1}) {
        INFO(dtype_name(d), " classes ", c, " eps ", eps);
        Tensor x = uniform({19, c}, -4.0, 4.0, {.dtype = float64, .requires_grad = true});
        Tensor t = randint(0, c, {19});
        t.mutable_data<std::int64_t>()[4] = -100;
        Tensor w = uniform({c}, 0.5, 2.0, {.dtype = float64});
        // float64 reference by the composition of ops (PyTorch's label-smoothing formula).
        Tensor lp = log_softmax(x, 1);
        Tensor valid = ne(t, scalar_tensor(-100, {.dtype = Dtype::int64})).to(float64);
        Tensor safe_t = tensor(t.to_vector<std::int64_t>(), {19});
        safe_t.mutable_data<std::int64_t>()[4] = 0;
        Tensor nll = nll_loss(lp, t, w, -100, Reduction::none);
        Tensor smooth = mul(neg(sum(mul(lp, reshape(w, {1, c})), {1})), valid);
        Tensor denom = sum(mul(index_select(w, 0, safe_t), valid));
        Tensor ref_mean = div(add(mul(sum(nll), scalar_tensor(1 - eps, {.dtype = float64})),
                                  mul(sum(smooth), scalar_tensor(eps / static_cast<double>(c), {.dtype = float64}))),
                              denom);
        Tensor ref_g = grad({ref_mean}, {x})[0];
        Tensor xd = x.detach().to(d).requires_grad_(true);
        Tensor l = cross_entropy(xd, t, w.to(d), -100, Reduction::mean, eps);
        const double tol = d == float32 ? 2e-5 : 1e-12;
        CHECK(l.item<double>() == doctest::Approx(ref_mean.item<double>()).epsilon(tol));
        Tensor g = grad({l}, {xd})[0];
        const auto gv = values(g), rv = values(ref_g);
        for (std::size_t k = 0; k < gv.size(); ++k) CHECK(gv[k] == doctest::Approx(rv[k]).epsilon(tol).scale(1.0));
      }
    }
  }
}

TEST_CASE("cross_entropy: one and two threads give identical values and gradients") {
  const int saved = get_num_threads();
  manual_seed(33);
  // Big enough to be split over the pool: narrow rows, wide rows and a spatial input.
  struct Case {
    Shape shape;
    Shape target_shape;
  };
  for (const Case& c : {Case{{5000, 10}, {5000}}, Case{{300, 300}, {300}}, Case{{40, 30, 50}, {40, 50}}}) {
    INFO("shape ", to_string(c.shape));
    Tensor x = uniform(c.shape, -3.0, 3.0, {.requires_grad = true});
    Tensor t = randint(0, c.shape[1], c.target_shape);
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      Tensor l = cross_entropy(x, t, {}, -100, Reduction::mean, 0.1);
      Tensor g = grad({l}, {x})[0];
      Tensor y = softmax(x, 1);
      Tensor gy = grad({y}, {x}, {y})[0];
      Tensor ly = log_softmax(x, -1);
      auto v = values(l);
      for (const Tensor& r : {g, y, gy, ly}) {
        auto rv = values(r);
        v.insert(v.end(), rv.begin(), rv.end());
      }
      results.push_back(v);
    }
    CHECK(results[0] == results[1]);
  }
  set_num_threads(saved);
}

// ---- class-probability targets: one fused op

namespace {

// The old composition, in float64 with xgrad ops: -sum_c w_c t'_c log_softmax(x)_c, t' = t (1 - eps) + eps / C,
// summed per sample (none), over everything (sum) or divided by the number of samples (mean).
Tensor composite_soft_ce(const Tensor& x, const Tensor& t, const Tensor& w, Reduction r, double eps) {
  const std::int64_t cd = x.dim() == 1 ? 0 : 1, classes = x.size(cd);
  Tensor tp = add(mul(t, scalar_tensor(1 - eps, {.dtype = float64})),
                  scalar_tensor(eps / static_cast<double>(classes), {.dtype = float64}));
  Tensor terms = mul(log_softmax(x, cd), tp);
  if (w.defined()) {
    Shape ws(static_cast<std::size_t>(x.dim()), 1);
    ws[static_cast<std::size_t>(cd)] = classes;
    terms = mul(terms, reshape(w, ws));
  }
  if (r == Reduction::none) return neg(sum(terms, {cd}));
  const Tensor total = neg(sum(terms));
  if (r == Reduction::sum) return total;
  return mul(total, scalar_tensor(static_cast<double>(classes) / static_cast<double>(x.numel()), {.dtype = float64}));
}

Tensor random_probabilities(const Shape& shape, Dtype d) {
  return softmax(uniform(shape, -2.0, 2.0, {.dtype = float64}), shape.size() == 1 ? 0 : 1).to(d).requires_grad_(true);
}

}  // namespace

TEST_CASE("cross_entropy: class-probability targets are one fused op equal to the composition") {
  manual_seed(41);
  const char* names[] = {"none", "sum", "mean"};
  for (Dtype d : {float32, float64}) {
    // Narrow rows, wide rows with a tail, spatial [N, C, d1, d2], one sample [C].
    for (const Shape& shape : {Shape{7, 3}, Shape{5, 37}, Shape{3, 4, 2, 3}, Shape{2, 19, 5}, Shape{6}}) {
      for (double eps : {0.0, 0.15}) {
        for (bool weighted : {false, true}) {
          for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
            INFO(dtype_name(d), " shape ", to_string(shape), " eps ", eps, " weighted ", weighted, " reduction ",
                 names[static_cast<int>(red)]);
            const std::int64_t classes = shape.size() == 1 ? shape[0] : shape[1];
            const double tol = d == float32 ? 3e-5 : 1e-12;
            Tensor x = uniform(shape, -4.0, 4.0, {.dtype = d, .requires_grad = true});
            Tensor t = random_probabilities(shape, d);
            const Tensor w = weighted ? uniform({classes}, 0.5, 2.0, {.dtype = d}) : Tensor();
            Tensor x64 = x.detach().to(float64).requires_grad_(true), t64 = t.detach().to(float64).requires_grad_(true);
            const Tensor w64 = weighted ? w.to(float64) : Tensor();
            Tensor l = cross_entropy(x, t, w, -100, red, eps);
            Tensor ref = composite_soft_ce(x64, t64, w64, red, eps);
            if (shape.size() > 1 || red != Reduction::none) CHECK(l.grad_fn_name() == "cross_entropy");
            REQUIRE(l.shape() == ref.shape());
            check_close(l, values(ref), tol);
            const Tensor v = uniform(l.shape(), -1.0, 1.0, {.dtype = float64});
            // Plain backward (one fused pass), the create_graph backward (the recorded backward op and
            // ops), and the composition's gradients all agree.
            const TensorList fused = grad({l}, {x, t}, {v.to(d)}, {.retain_graph = true});
            const TensorList graph = grad({l}, {x, t}, {v.to(d)}, {.create_graph = true});
            const TensorList reference = grad({ref}, {x64, t64}, {v});
            if (shape.size() > 1) CHECK(graph[0].grad_fn_name() == "cross_entropy_soft_backward");
            for (std::size_t i = 0; i < 2; ++i) {
              INFO("gradient ", i);
              check_same(fused[i], reference[i], tol);
              check_same(graph[i].detach(), reference[i], tol);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("cross_entropy: probability targets' double backward equals the composition's") {
  manual_seed(43);
  for (const Shape& shape : {Shape{4, 5}, Shape{2, 3, 4}}) {
    INFO("shape ", to_string(shape));
    Tensor x = uniform(shape, -2.0, 2.0, {.dtype = float64, .requires_grad = true});
    Tensor t = random_probabilities(shape, float64);
    const Tensor w = uniform({shape[1]}, 0.5, 2.0, {.dtype = float64});
    const Tensor u = uniform(shape, -1.0, 1.0, {.dtype = float64});
    auto hvp = [&](bool fused) {
      Tensor l = fused ? cross_entropy(x, t, w, -100, Reduction::mean, 0.1)
                       : composite_soft_ce(x, t, w, Reduction::mean, 0.1);
      const TensorList g = grad({l}, {x, t}, {}, {.create_graph = true});
      // d/d(x, t) of <grad_x, u> + <grad_t, u>
      return grad({add(sum(mul(g[0], u)), sum(mul(g[1], u)))}, {x, t});
    };
    const TensorList a = hvp(true), b = hvp(false);
    check_same(a[0], b[0], 1e-12);
    check_same(a[1], b[1], 1e-12);
  }
}

TEST_CASE("cross_entropy: probability targets stay finite for logits of +-1e4") {
  for (Dtype d : {float32, float64}) {
    Tensor x = tensor({{1e4, -1e4, 0.0}, {-1e4, 1e4, 1e4}}, {.dtype = d, .requires_grad = true});
    Tensor t = tensor({{0.5, 0.25, 0.25}, {0.0, 0.5, 0.5}}, {.dtype = d, .requires_grad = true});
    Tensor l = cross_entropy(x, t, {}, -100, Reduction::none);
    // Row 0: 0.25 * 2e4 + 0.25 * 1e4; row 1: log 2 (two equal maxima).
    check_close(l, {7500.0, std::log(2.0)}, d == float32 ? 1e-6 : 1e-12);
    for (const Tensor& g : grad({sum(l)}, {x, t}))
      for (double e : values(g)) CHECK(std::isfinite(e));
  }
}

TEST_CASE("cross_entropy: probability targets give identical results on one and two threads") {
  const int saved = get_num_threads();
  manual_seed(47);
  for (const Shape& shape : {Shape{5000, 10}, Shape{300, 300}, Shape{40, 30, 50}}) {
    INFO("shape ", to_string(shape));
    Tensor x = uniform(shape, -3.0, 3.0, {.requires_grad = true});
    Tensor t = softmax(uniform(shape, -1.0, 1.0), 1).detach().requires_grad_(true);
    const Tensor w = uniform({shape[1]}, 0.5, 2.0);
    std::vector<std::vector<double>> results;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      std::vector<double> v;
      for (Reduction red : {Reduction::mean, Reduction::none}) {
        Tensor l = cross_entropy(x, t, w, -100, red, 0.1);
        const Tensor up = red == Reduction::none ? full_like(l, 0.5) : scalar_like(1.0, l);
        TensorList all = {l};
        for (const Tensor& g : grad({l}, {x, t}, {up})) all.push_back(g);
        for (const Tensor& r : all) {
          auto rv = values(r);
          v.insert(v.end(), rv.begin(), rv.end());
        }
      }
      results.push_back(v);
    }
    CHECK(results[0] == results[1]);
  }
  set_num_threads(saved);
}

TEST_CASE("cross_entropy: probability targets differentiate the class weights (as PyTorch)") {
  manual_seed(53);
  for (const Shape& shape : {Shape{5, 4}, Shape{2, 3, 4}, Shape{3, 20}}) {
    for (Reduction red : {Reduction::none, Reduction::mean}) {
      INFO("shape ", to_string(shape));
      Tensor x = uniform(shape, -2.0, 2.0, {.dtype = float64, .requires_grad = true});
      Tensor t = random_probabilities(shape, float64);
      Tensor w = uniform({shape[1]}, 0.5, 2.0, {.dtype = float64, .requires_grad = true});
      Tensor l = cross_entropy(x, t, w, -100, red, 0.1);
      Tensor ref = composite_soft_ce(x, t, w, red, 0.1);
      const Tensor v = uniform(l.shape(), -1.0, 1.0, {.dtype = float64});
      const TensorList plain = grad({l}, {x, t, w}, {v}, {.retain_graph = true});
      const TensorList graph = grad({l}, {x, t, w}, {v}, {.create_graph = true});
      const TensorList expected = grad({ref}, {x, t, w}, {v});
      for (std::size_t i = 0; i < 3; ++i) {
        check_same(plain[i], expected[i], 1e-12);
        check_same(graph[i].detach(), expected[i], 1e-12);
      }
    }
  }
}
