// Margin and regression losses: the CS231n SVM example, values computed by hand in float64 with
// PyTorch's formulas, gradients by hand, reductions, broadcasting and error messages.
#include <doctest/doctest.h>

#include <cmath>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::check_same;
using test::grad_of_sum;

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-9) {
  test::check_close(t, expected, tol);
}

// CS231n: three images (cat, car, frog), one row of class scores each.
Tensor cs231n_scores() {
  return tensor({{3.2, 5.1, -1.7}, {1.3, 4.9, 2.0}, {2.2, 2.5, -3.1}}, {.dtype = float64, .requires_grad = true});
}
Tensor cs231n_targets() { return tensor(std::vector<std::int64_t>{0, 1, 2}, Shape{3}); }

}  // namespace

TEST_CASE("loss: svm_loss on the CS231n example, values and lecture gradient") {
  Tensor s = cs231n_scores();
  check_close(svm_loss(s, cs231n_targets(), 1.0, Reduction::none), {2.9, 0.0, 12.9});
  check_close(svm_loss(s, cs231n_targets(), 1.0, Reduction::sum), {15.8});
  Tensor loss = svm_loss(s, cs231n_targets());
  CHECK(loss.dim() == 0);
  CHECK(loss.item<double>() == doctest::Approx(15.8 / 3));
  CHECK(loss.grad_fn_name() == "svm_loss");
  // dL/ds_j = 1 per violating j, dL/ds_y = -(number of violating j), all / N for the mean.
  check_close(grad_of_sum(loss, s), {-1.0 / 3, 1.0 / 3, 0, 0, 0, 0, 1.0 / 3, 1.0 / 3, -2.0 / 3});
  check_close(grad_of_sum(svm_loss(s, cs231n_targets(), 1.0, Reduction::sum), s), {-1, 1, 0, 0, 0, 0, 1, 1, -2});
}

TEST_CASE("loss: multi_margin_loss is the SVM loss divided by C, with weights and p = 2") {
  Tensor s = cs231n_scores();
  const Tensor y = cs231n_targets();
  check_close(multi_margin_loss(s, y, 1, 1.0, Tensor(), Reduction::none), {2.9 / 3, 0.0, 12.9 / 3});
  check_close(multi_margin_loss(s, y), {15.8 / 9});
  check_close(multi_margin_loss(s, y, 1, 1.0, Tensor(), Reduction::sum), {15.8 / 3});
  check_close(grad_of_sum(multi_margin_loss(s, y), s), {-1.0 / 9, 1.0 / 9, 0, 0, 0, 0, 1.0 / 9, 1.0 / 9, -2.0 / 9});
  // p = 2: squared hinges; row 3: (6.3^2 + 6.6^2) / 3.
  check_close(multi_margin_loss(s, y, 2, 1.0, Tensor(), Reduction::none), {2.9 * 2.9 / 3, 0.0, 83.25 / 3});
  check_close(grad_of_sum(multi_margin_loss(s, y, 2, 1.0, Tensor(), Reduction::sum), s),
              {-5.8 / 3, 5.8 / 3, 0, 0, 0, 0, 12.6 / 3, 13.2 / 3, -25.8 / 3});
  // Class weights scale each sample by weight[target]; the mean still divides by N (PyTorch).
  const Tensor w = tensor({1.0, 2.0, 3.0}, {.dtype = float64});
  check_close(multi_margin_loss(s, y, 1, 1.0, w, Reduction::none), {2.9 / 3, 0.0, 12.9});
  check_close(multi_margin_loss(s, y, 1, 1.0, w), {(2.9 / 3 + 12.9) / 3});
  // A single sample: [C] scores with a 0-d target give a 0-d loss; margin 0.5.
  Tensor one = tensor({3.2, 5.1, -1.7}, {.dtype = float64});
  Tensor l = multi_margin_loss(one, tensor(std::vector<std::int64_t>{0}, Shape{}), 1, 0.5);
  CHECK(l.dim() == 0);
  CHECK(l.item<double>() == doctest::Approx(2.4 / 3));
}

TEST_CASE("loss: margin losses support double backward") {
  Tensor s = cs231n_scores();
  const Tensor y = cs231n_targets();
  for (std::int64_t p : {1, 2}) {
    INFO("p = ", p);
    auto r = gradgradcheck([&](const TensorList& in) { return multi_margin_loss(in[0], y, p); }, {s});
    CHECK_MESSAGE(r.passed, r.report());
  }
  auto r = gradgradcheck([&](const TensorList& in) { return svm_loss(in[0], y, 1.0, Reduction::none); }, {s});
  CHECK_MESSAGE(r.passed, r.report());
}

TEST_CASE("loss: margin loss errors name the op, shapes and the rule") {
  const Tensor s = cs231n_scores();
  CHECK_THROWS_WITH_AS(svm_loss(s, tensor(std::vector<std::int64_t>{0, 5, 1}, Shape{3})),
                       doctest::Contains("svm_loss: target[1] = 5 is out of range for 3 classes"), xgrad::Error);
  CHECK_THROWS_WITH_AS(multi_margin_loss(s, tensor(std::vector<std::int64_t>{0, 1, -1}, Shape{3})),
                       doctest::Contains("target[2] = -1"), xgrad::Error);
  CHECK_THROWS_WITH_AS(svm_loss(s, tensor(std::vector<std::int64_t>{0, 1}, Shape{2})),
                       doctest::Contains("need a target of shape [3], got [2]"), xgrad::Error);
  CHECK_THROWS_WITH_AS(svm_loss(s, tensor({0.0, 1.0, 2.0})), doctest::Contains("int64 class targets"), xgrad::Error);
  CHECK_THROWS_WITH_AS(multi_margin_loss(s, cs231n_targets(), 3), doctest::Contains("p == 1 and p == 2"),
                       xgrad::Error);
  CHECK_THROWS_WITH_AS(multi_margin_loss(s, cs231n_targets(), 1, 1.0, tensor({1.0, 2.0})),
                       doctest::Contains("weight must be a floating [3] tensor"), xgrad::Error);
  CHECK_THROWS_WITH_AS(svm_loss(zeros({2, 3, 4}), zeros({2}, {.dtype = int64})),
                       doctest::Contains("expects scores [N, C] or [C], got shape [2, 3, 4]"), xgrad::Error);
}

TEST_CASE("loss: mse_loss and l1_loss values, reductions and gradients") {
  Tensor x = tensor({1.0, 2.0, 3.0}, {.dtype = float64, .requires_grad = true});
  Tensor t = tensor({1.5, 1.0, 5.0}, {.dtype = float64, .requires_grad = true});
  check_close(mse_loss(x, t, Reduction::none), {0.25, 1.0, 4.0});
  check_close(mse_loss(x, t, Reduction::sum), {5.25});
  check_close(mse_loss(x, t), {1.75});
  check_close(l1_loss(x, t, Reduction::none), {0.5, 1.0, 2.0});
  check_close(l1_loss(x, t, Reduction::sum), {3.5});
  check_close(l1_loss(x, t), {3.5 / 3});
  auto grads = grad({mse_loss(x, t)}, {x, t});
  check_close(grads[0], {-1.0 / 3, 2.0 / 3, -4.0 / 3});
  check_close(grads[1], {1.0 / 3, -2.0 / 3, 4.0 / 3});
  grads = grad({l1_loss(x, t, Reduction::sum)}, {x, t});
  check_close(grads[0], {-1, 1, -1});
  check_close(grads[1], {1, -1, 1});
  CHECK(mse_loss(x, t).grad_fn_name() == "mse_loss");
}

TEST_CASE("loss: mse_loss and l1_loss broadcast input and target") {
  Tensor x = tensor(std::vector<double>{1.0, 2.0}, Shape{2, 1}, {.dtype = float64, .requires_grad = true});
  Tensor t = tensor({0.5, 1.5, 3.0}, {.dtype = float64, .requires_grad = true});  // [3]
  Tensor none = mse_loss(x, t, Reduction::none);
  CHECK(none.shape() == Shape{2, 3});
  check_close(none, {0.25, 0.25, 4, 2.25, 0.25, 1});
  check_close(mse_loss(x, t), {8.0 / 6});
  auto grads = grad({l1_loss(x, t, Reduction::sum)}, {x, t});
  CHECK(grads[0].shape() == Shape{2, 1});
  check_close(grads[0], {-1, 1});
  check_close(grads[1], {-2, 0, 2});
  CHECK_THROWS_WITH_AS(mse_loss(zeros({2, 3}), zeros({4})), doctest::Contains("mse_loss"), xgrad::Error);
  CHECK_THROWS_WITH_AS(l1_loss(zeros({2}, {.dtype = int64}), zeros({2}, {.dtype = int64})),
                       doctest::Contains("l1_loss: expects floating input and target"), xgrad::Error);
}

TEST_CASE("loss: binary_cross_entropy_with_logits values and gradients") {
  Tensor x = tensor({0.5, -1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor t = tensor({1.0, 0.0, 0.5}, {.dtype = float64, .requires_grad = true});
  const std::vector<double> l = {0.4740769841801067, 0.3132616875182228, 1.1269280110429725};
  check_close(binary_cross_entropy_with_logits(x, t, Tensor(), Reduction::none), l);
  check_close(binary_cross_entropy_with_logits(x, t, Tensor(), Reduction::sum), {1.914266682741302});
  Tensor mean_loss = binary_cross_entropy_with_logits(x, t);
  check_close(mean_loss, {0.6380888942471007});
  auto grads = grad({mean_loss}, {x, t});
  check_close(grads[0], {-0.1258468895993818, 0.08964714045666504, 0.12693235932596078});  // (sigmoid(x) - t) / 3
  check_close(grads[1], {-0.5 / 3, 1.0 / 3, -2.0 / 3});                                  // -x / 3
  // weight and pos_weight: w [(1 - t) x + (1 + (pw - 1) t) softplus(-x)].
  const Tensor w = tensor({1.0, 0.5, 2.0}, {.dtype = float64});
  const Tensor pw = tensor({2.0, 3.0, 0.5}, {.dtype = float64});
  Tensor weighted = binary_cross_entropy_with_logits(x, t, w, Reduction::none, pw);
  check_close(weighted, {0.9481539683602134, 0.1566308437591114, 2.190392016564459});
  grads = grad({sum(weighted)}, {x, t});
  check_close(grads[0], {-0.7550813375962908, 0.13447071068499755, 0.8211956169668237});
  check_close(grads[1], {-0.025923015819893314, 1.8132616875182228, -4.126928011042972});
}

TEST_CASE("loss: binary_cross_entropy_with_logits is finite for logits +-1e4") {
  Tensor x = tensor({1e4, -1e4, 1e4, -1e4}, {.dtype = float64, .requires_grad = true});
  const Tensor t = tensor({0.0, 1.0, 1.0, 0.0}, {.dtype = float64});
  Tensor l = binary_cross_entropy_with_logits(x, t, Tensor(), Reduction::none);
  check_close(l, {1e4, 1e4, 0, 0});
  check_close(grad_of_sum(l, x), {1, -1, 0, 0});
  Tensor x32 = tensor({1e4, -1e4}, {.requires_grad = true});
  Tensor l32 = binary_cross_entropy_with_logits(x32, tensor({0.0, 1.0}), tensor({1.0, 1.0}), Reduction::sum,
                                                tensor({3.0, 3.0}));
  CHECK(l32.item<float>() == doctest::Approx(4e4));
  for (double g : grad_of_sum(l32, x32).to_vector<double>()) CHECK(std::isfinite(g));
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(zeros({2, 3}), zeros({3})),
                       doctest::Contains("target size [3] must be the same as input size [2, 3]"), xgrad::Error);
}

TEST_CASE("loss: hinge_embedding_loss values and gradient") {
  Tensor x = tensor({0.3, -0.5, 2.0, 0.4}, {.dtype = float64, .requires_grad = true});
  const Tensor t = tensor({1.0, -1.0, -1.0, 1.0}, {.dtype = float64});
  check_close(hinge_embedding_loss(x, t, 1.0, Reduction::none), {0.3, 1.5, 0.0, 0.4});
  check_close(hinge_embedding_loss(x, t, 1.0, Reduction::sum), {2.2});
  check_close(hinge_embedding_loss(x, t), {0.55});
  check_close(hinge_embedding_loss(x, t, 2.5, Reduction::none), {0.3, 3.0, 0.5, 0.4});
  check_close(grad_of_sum(hinge_embedding_loss(x, t, 1.0, Reduction::sum), x), {1, -1, 0, 1});
  // int64 targets work too.
  check_close(hinge_embedding_loss(x, tensor(std::vector<std::int64_t>{1, -1, -1, 1}, Shape{4})), {0.55});
}

TEST_CASE("loss: empty batches give 0 (sum) or NaN (mean), as in PyTorch") {
  Tensor s = zeros({0, 3}, {.dtype = float64, .requires_grad = true});
  const Tensor y = zeros({0}, {.dtype = int64});
  CHECK(svm_loss(s, y, 1.0, Reduction::sum).item<double>() == 0.0);
  CHECK(std::isnan(multi_margin_loss(s, y).item<double>()));
  CHECK(grad({svm_loss(s, y, 1.0, Reduction::sum)}, {s})[0].shape() == Shape{0, 3});
  Tensor x = zeros({0}, {.dtype = float64, .requires_grad = true});
  CHECK(std::isnan(mse_loss(x, x.detach()).item<double>()));
  CHECK(l1_loss(x, x.detach(), Reduction::sum).item<double>() == 0.0);
  CHECK(grad({mse_loss(x, x.detach(), Reduction::sum)}, {x})[0].shape() == Shape{0});
}

TEST_CASE("loss: the fused margin backward matches the op-built VJP") {
  manual_seed(9);
  Tensor s = uniform({5, 4}, -2, 2, {.dtype = float64, .requires_grad = true});
  const Tensor y = tensor(std::vector<std::int64_t>{0, 3, 1, 1, 2}, Shape{5});
  const Tensor w = tensor({0.5, 1.0, 1.5, 2.0}, {.dtype = float64});
  for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
    for (std::int64_t p : {1, 2}) {
      auto f = [&] { return multi_margin_loss(s, y, p, 0.7, w, red); };
      Tensor out = f();
      const Tensor v = uniform(out.shape(), -1, 1, {.dtype = float64});
      const Tensor fused = grad({out}, {s}, {v})[0];
      const Tensor composed = grad({f()}, {s}, {v}, {.create_graph = true})[0].detach();
      check_close(fused, composed.to_vector<double>(), 1e-12);
    }
  }
}

// ---- the fused pointwise kernels (operands of one shape) against the op-built formulas

namespace {

Tensor f64(const Tensor& t) { return t.detach().to(float64); }

// The old composite forms, in float64 with xgrad ops (softplus(-x) exactly: relu(-x) + log(1 + e^-|x|)).
Tensor composite_mse(const Tensor& x, const Tensor& t, Reduction r) {
  const Tensor d = sub(x, t);
  const Tensor l = mul(d, d);
  return r == Reduction::none ? l : r == Reduction::sum ? sum(l) : mean(l);
}
Tensor composite_l1(const Tensor& x, const Tensor& t, Reduction r) {
  const Tensor l = abs(sub(x, t));
  return r == Reduction::none ? l : r == Reduction::sum ? sum(l) : mean(l);
}
Tensor composite_bce(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw, Reduction r) {
  const Tensor one = scalar_like(1.0, x);
  const Tensor sp = add(relu(neg(x)), log(add(one, exp(neg(abs(x))))));
  const Tensor c = pw.defined() ? add(one, mul(sub(pw, one), t)) : one;
  Tensor l = add(mul(sub(one, t), x), mul(c, sp));
  if (w.defined()) l = mul(l, w);
  return r == Reduction::none ? l : r == Reduction::sum ? sum(l) : mean(l);
}

}  // namespace

TEST_CASE("loss: fused mse_loss, l1_loss and bce_with_logits equal the composite formulas (float64 reference)") {
  manual_seed(77);
  const char* names[] = {"none", "sum", "mean"};
  for (Dtype d : {float32, float64}) {
    for (const Shape& shape : {Shape{1000}, Shape{3, 5, 7}, Shape{}, Shape{37}}) {
      for (Reduction red : {Reduction::none, Reduction::sum, Reduction::mean}) {
        INFO(dtype_name(d), " shape ", to_string(shape), " reduction ", names[static_cast<int>(red)]);
        const double tol = d == float32 ? 2e-5 : 1e-12;
        Tensor x = uniform(shape, -5.0, 5.0, {.dtype = d, .requires_grad = true});
        Tensor t = uniform(shape, -1.0, 2.0, {.dtype = d, .requires_grad = true});
        Tensor p = uniform(shape, 0.0, 1.0, {.dtype = d, .requires_grad = true});
        Tensor w = uniform(shape, 0.5, 1.5, {.dtype = d, .requires_grad = true});
        Tensor pw = uniform(shape, 0.5, 3.0, {.dtype = d, .requires_grad = true});
        Tensor x64 = f64(x).requires_grad_(true), t64 = f64(t).requires_grad_(true), p64 = f64(p).requires_grad_(true);
        Tensor w64 = f64(w).requires_grad_(true), pw64 = f64(pw).requires_grad_(true);
        struct Case {
          const char* name;
          Tensor fused, reference;
          TensorList inputs, reference_inputs;
        };
        const Case cases[] = {
            {"mse", mse_loss(x, t, red), composite_mse(x64, t64, red), {x, t}, {x64, t64}},
            {"l1", l1_loss(x, t, red), composite_l1(x64, t64, red), {x, t}, {x64, t64}},
            {"bce", binary_cross_entropy_with_logits(x, p, Tensor(), red), composite_bce(x64, p64, {}, {}, red), {x, p},
             {x64, p64}},
            {"bce weighted", binary_cross_entropy_with_logits(x, p, w, red, pw),
             composite_bce(x64, p64, w64, pw64, red), {x, p, w, pw}, {x64, p64, w64, pw64}},
        };
        for (const Case& c : cases) {
          INFO(c.name);
          CHECK(c.fused.grad_fn_name() == (std::string(c.name) == "mse"  ? "mse_loss"
                                           : std::string(c.name) == "l1" ? "l1_loss"
                                                                         : "binary_cross_entropy_with_logits"));
          CHECK(c.fused.dtype() == d);
          check_same(c.fused, c.reference, tol);
          // Plain backward (the fused pass) vs the reference's gradients, and vs the op-built VJP
          // that create_graph runs.
          const Tensor v = uniform(c.fused.shape(), -1.0, 1.0, {.dtype = float64});
          const TensorList fused = grad({c.fused}, c.inputs, {v.to(d)}, {.retain_graph = true});
          const TensorList reference = grad({c.reference}, c.reference_inputs, {v});
          const TensorList op_built = grad({c.fused}, c.inputs, {v.to(d)}, {.create_graph = true});
          for (std::size_t i = 0; i < fused.size(); ++i) {
            INFO("input ", i);
            CHECK(fused[i].dtype() == d);
            check_same(fused[i], reference[i], tol);
            check_same(fused[i], op_built[i].detach(), tol);
          }
        }
      }
    }
  }
}

TEST_CASE("loss: fused float32 losses sum in float64") {
  // 3 * 2^20 equal terms: a float32 running sum would drift by ~1e-3 relative.
  const std::int64_t n = 3 << 20;
  const Tensor x = full({n}, 0.1), t = zeros({n});
  const double term = static_cast<double>(0.1f - 0.0f) * static_cast<double>(0.1f - 0.0f);
  CHECK(mse_loss(x, t, Reduction::sum).item<double>() ==
        doctest::Approx(static_cast<double>(static_cast<float>(term * static_cast<double>(n)))).epsilon(1e-6));
  CHECK(l1_loss(x, t).item<double>() == doctest::Approx(static_cast<double>(0.1f)).epsilon(1e-6));
}

TEST_CASE("loss: fused losses give identical values and gradients on one and two threads") {
  const int saved = get_num_threads();
  manual_seed(5);
  const std::int64_t n = (1 << 20) + 123;
  Tensor x = uniform({n}, -4.0, 4.0, {.requires_grad = true});
  Tensor t = uniform({n}, 0.0, 1.0, {.requires_grad = true});
  Tensor w = uniform({n}, 0.5, 1.5, {.requires_grad = true});
  std::vector<std::vector<double>> results;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<double> v;
    for (Reduction red : {Reduction::sum, Reduction::mean, Reduction::none}) {
      const Tensor losses[] = {mse_loss(x, t, red), l1_loss(x, t, red),
                               binary_cross_entropy_with_logits(x, t, w, red, full_like(w, 2.0))};
      for (const Tensor& l : losses) {
        const Tensor up = red == Reduction::none ? full_like(l, 0.5) : scalar_like(0.5, l);
        TensorList all = {l};
        for (const Tensor& g : grad({l}, {x, t, w}, {up}, {.allow_unused = true})) all.push_back(g);
        for (const Tensor& r : all) {
          if (!r.defined()) continue;
          if (r.numel() == 1) {
            v.push_back(r.item<double>());
          } else {
            const auto rv = r.to_vector<double>();
            v.push_back(rv.front());
            v.push_back(rv[rv.size() / 2]);
            v.push_back(rv.back());
            double s = 0;
            for (double e : rv) s += e;
            v.push_back(s);
          }
        }
      }
    }
    results.push_back(v);
  }
  CHECK(results[0] == results[1]);
  set_num_threads(saved);
}
