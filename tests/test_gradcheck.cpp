// gradcheck / gradgradcheck as a product feature: they pass on correct gradients, fail (and
// say where) on wrong ones, in every mode, and reject bad uses with xgrad::Error.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <memory>
#include <sstream>
#include <type_traits>

using namespace xgrad;

namespace {

// y = x * x with a deliberately wrong VJP (dy * x instead of 2 dy x).
Tensor wrong_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * x;
  }
  record(y, "wrong_square", {x}, {x}, [](Node& n, const Tensor& gy) -> TensorList { return {gy * n.saved(0)}; });
  return y;
}

// y = x * x with a correct first derivative computed on detached tensors: its own gradient
// (the second derivative) is lost.
Tensor detached_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * x;
  }
  record(y, "detached_square", {x}, {x},
         [](Node& n, const Tensor& gy) -> TensorList { return {gy * (2.0 * n.saved(0).detach())}; });
  return y;
}

// out = 2 a, but the VJP also sends a gradient to b, which does not influence the output.
Tensor leaky_double(const Tensor& a, const Tensor& b) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = a * 2.0;
  }
  record(y, "leaky_double", {a, b}, {}, [](Node&, const Tensor& gy) -> TensorList { return {gy * 2.0, gy}; });
  return y;
}

Tensor f64(std::initializer_list<std::initializer_list<double>> v) {
  return tensor(v, {.dtype = Dtype::float64, .requires_grad = true});
}

}  // namespace

TEST_CASE("gradcheck passes on correct functions") {
  manual_seed(1);
  auto x = uniform({3, 4}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto y = uniform({4}, -1, 1, {.dtype = float64, .requires_grad = true});

  auto r = gradcheck([](const TensorList& in) { return in[0] * in[0]; }, {x});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 12 * 12);
  CHECK(r.num_failed == 0);
  CHECK(r.max_abs_error < 1e-8);

  // broadcasting [3,4] x [4]
  r = gradcheck([](const TensorList& in) { return in[0] * in[1]; }, {x, y});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 12 * 12 + 12 * 4);

  CHECK(gradcheck([](const TensorList& in) { return exp(in[0]); }, {x}));
  CHECK(gradcheck([](const TensorList& in) { return sum(in[0] * in[1]); }, {x, y}));
  CHECK(gradcheck([](const TensorList& in) { return in[0] / (in[1] * in[1] + 1.0); }, {x, y}));

  // several outputs
  auto multi = [](const TensorList& in) { return TensorList{in[0] + in[1], exp(in[1]).sum()}; };
  r = gradcheck(multi, {x, y});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 12 * 12 + 12 * 4 + 1 * 12 + 1 * 4);
}

TEST_CASE("gradcheck: identity, views and outputs that alias the input") {
  static_assert(!std::is_convertible_v<GradcheckResult, bool>, "operator bool is explicit");
  auto x = f64({{1.0, -2.0, 3.0}, {0.5, 0.25, -1.5}});
  auto r = gradcheck([](const TensorList& in) { return in[0]; }, {x});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 36);
  r = gradcheck([](const TensorList& in) { return TensorList{in[0].reshape({3, 2}), in[0].t()}; }, {x});
  CHECK_MESSAGE(r, r.report());
  // a constant (floating) output: its numeric Jacobian must be zero, and it is
  r = gradcheck([](const TensorList& in) { return TensorList{in[0] * 2.0, ones({2})}; }, {x});
  CHECK_MESSAGE(r, r.report());
  // an output that silently drops the gradient is caught
  r = gradcheck([](const TensorList& in) { return in[0].detach() * 2.0; }, {x});
  CHECK_FALSE(r);
  CHECK(r.analytic == 0.0);
  CHECK(r.numeric == doctest::Approx(2.0));
}

TEST_CASE("gradcheck checks only inputs that require grad and passes the others through") {
  auto x = f64({{1.0, 2.0}, {3.0, 4.0}});
  auto c = tensor({{0.5, 0.25}, {2.0, 1.0}}, {.dtype = float64});  // constant
  auto idx = tensor(std::vector<std::int64_t>{1, 0}, {2});         // int64 passes untouched
  Dtype seen_idx_dtype = Dtype::float32;
  auto fn = [&](const TensorList& in) {
    seen_idx_dtype = in[2].dtype();
    return in[0] * in[1];
  };
  auto r = gradcheck(fn, {x, c, idx});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 4 * 4);  // only x
  CHECK(seen_idx_dtype == Dtype::int64);
}

TEST_CASE("gradcheck: float32 inputs are checked through a float64 copy") {
  manual_seed(2);
  auto x = uniform({2, 3}, -1, 1, {.requires_grad = true});
  REQUIRE(x.dtype() == float32);
  const auto before = x.to_vector<float>();
  Dtype seen = Dtype::float32;
  auto r = gradcheck(
      [&](const TensorList& in) {
        seen = in[0].dtype();
        return tanh(in[0]) * in[0];
      },
      {x});
  CHECK_MESSAGE(r, r.report());
  CHECK(seen == float64);
  CHECK(x.dtype() == float32);
  CHECK(x.to_vector<float>() == before);  // the caller's tensor is never perturbed
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("gradcheck fails on a wrong VJP and says where") {
  auto x = f64({{0.5, -1.0}, {2.0, 0.25}});
  auto r = gradcheck([](const TensorList& in) { return wrong_square(in[0]); }, {x});
  CHECK_FALSE(r);
  CHECK_FALSE(r.passed);
  // The Jacobian is diagonal: the 4 diagonal entries are wrong (x instead of 2x).
  CHECK(r.num_checked == 16);
  CHECK(r.num_failed == 4);
  // Worst entry: x = 2 at [1, 0]: analytic 2, numeric 4.
  CHECK(r.input_index == 0);
  CHECK(r.output_index == 0);
  CHECK(r.flat_index == 2);
  CHECK(r.element == std::vector<std::int64_t>{1, 0});
  CHECK(r.output_flat_index == 2);
  CHECK(r.analytic == doctest::Approx(2.0));
  CHECK(r.numeric == doctest::Approx(4.0));
  CHECK(r.max_abs_error == doctest::Approx(2.0));
  CHECK(r.max_rel_error == doctest::Approx(1.0 / 3.0));  // |x - 2x| / (|x| + |2x|)

  const std::string rep = r.report();
  INFO(rep);
  CHECK(rep.find("FAILED") != std::string::npos);
  CHECK(rep.find("input 0") != std::string::npos);
  CHECK(rep.find("element [1, 0]") != std::string::npos);
  CHECK(rep.find("analytic 2 ") != std::string::npos);
  CHECK(rep.find("numeric 4") != std::string::npos);
  CHECK(rep.find("4 of 16") != std::string::npos);

  // fmt and ostream print the same report
  CHECK(fmt::format("{}", r) == rep);
  std::ostringstream os;
  os << r;
  CHECK(os.str() == rep);
}

TEST_CASE("gradcheck fast and sparse modes detect the same bug") {
  auto x = f64({{0.5, -1.0}, {2.0, 0.25}});
  auto fn = [](const TensorList& in) { return wrong_square(in[0]); };
  auto good = [](const TensorList& in) { return in[0] * in[0]; };

  auto fast = gradcheck(fn, {x}, {.mode = GradcheckMode::fast});
  CHECK_FALSE(fast);
  CHECK(fast.mode == GradcheckMode::fast);
  // the slow fallback localises the element
  CHECK(fast.flat_index == 2);
  CHECK(fast.element == std::vector<std::int64_t>{1, 0});
  CHECK(fast.report().find("fast mode: v^T J u") != std::string::npos);
  CHECK(gradcheck(good, {x}, {.mode = GradcheckMode::fast}));

  auto sparse = gradcheck(fn, {x}, {.mode = GradcheckMode::sparse, .sparse_k = 2});
  CHECK_FALSE(sparse);
  CHECK(sparse.num_checked == 2);
  CHECK(sparse.input_index == 0);
  CHECK(sparse.flat_index >= 0);
  CHECK(sparse.report().find("projected on a random v") != std::string::npos);
  CHECK(gradcheck(good, {x}, {.mode = GradcheckMode::sparse, .sparse_k = 2}));
}

TEST_CASE("gradcheck modes are reproducible for a fixed seed") {
  manual_seed(3);
  auto x = uniform({5, 7}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto fn = [](const TensorList& in) { return wrong_square(in[0]); };
  for (auto mode : {GradcheckMode::fast, GradcheckMode::sparse}) {
    CAPTURE(to_string(mode));
    auto a = gradcheck(fn, {x}, {.mode = mode, .sparse_k = 4, .seed = 42});
    manual_seed(99);  // xgrad's generator does not affect gradcheck's
    auto b = gradcheck(fn, {x}, {.mode = mode, .sparse_k = 4, .seed = 42});
    CHECK(a.report() == b.report());
    CHECK(a.flat_index == b.flat_index);
  }
}

TEST_CASE("gradcheck sparse mode handles big tensors") {
  manual_seed(4);
  auto x = uniform({100, 100}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto r = gradcheck([](const TensorList& in) { return exp(in[0]).sum(); }, {x},
                     {.mode = GradcheckMode::sparse, .sparse_k = 8});
  CHECK_MESSAGE(r, r.report());
  CHECK(r.num_checked == 8);
  auto bad = gradcheck([](const TensorList& in) { return wrong_square(in[0]).sum(); }, {x},
                       {.mode = GradcheckMode::sparse, .sparse_k = 8});
  CHECK_FALSE(bad);
  CHECK(bad.num_failed == 8);
}

TEST_CASE("gradcheck: inputs that do not influence the output") {
  auto a = f64({{1.0, 2.0}});
  auto b = f64({{3.0, 4.0}});
  // b unused: its undefined gradient counts as zero, which is right
  auto r = gradcheck([](const TensorList& in) { return in[0] * 2.0; }, {a, b});
  CHECK_MESSAGE(r, r.report());
  // a VJP that sends a gradient to b is caught
  r = gradcheck([](const TensorList& in) { return leaky_double(in[0], in[1]); }, {a, b});
  CHECK_FALSE(r);
  CHECK(r.input_index == 1);
  CHECK(r.analytic == doctest::Approx(1.0));
  CHECK(r.numeric == doctest::Approx(0.0));
  for (auto mode : {GradcheckMode::fast, GradcheckMode::sparse}) {
    CAPTURE(to_string(mode));
    r = gradcheck([](const TensorList& in) { return leaky_double(in[0], in[1]); }, {a, b}, {.mode = mode});
    CHECK_FALSE(r);
    CHECK(r.input_index == 1);
  }
}

TEST_CASE("gradcheck raise_on_failure throws the report") {
  auto x = f64({{0.5, 2.0}});
  auto fn = [](const TensorList& in) { return wrong_square(in[0]); };
  CHECK_THROWS_WITH_AS(gradcheck(fn, {x}, {.raise_on_failure = true}), doctest::Contains("gradcheck FAILED"), Error);
  CHECK_NOTHROW(gradcheck([](const TensorList& in) { return in[0] * in[0]; }, {x}, {.raise_on_failure = true}));
}

TEST_CASE("gradcheck single-output overload and tolerance options") {
  auto x = f64({{0.5, 2.0}});
  std::function<Tensor(const TensorList&)> single = [](const TensorList& in) { return in[0] * in[0] * in[0]; };
  CHECK(gradcheck(single, {x}));
  // a huge tolerance hides the wrong gradient
  CHECK(gradcheck([](const TensorList& in) { return wrong_square(in[0]); }, {x}, {.atol = 10.0}));
}

TEST_CASE("gradcheck rejects bad uses") {
  auto x = f64({{1.0, 2.0}});
  auto c = tensor({1.0, 2.0}, {.dtype = float64});
  auto id = [](const TensorList& in) { return in[0] * 1.0; };
  CHECK_THROWS_WITH_AS(gradcheck(id, {c}), doctest::Contains("no input requires grad"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(id, TensorList{}), doctest::Contains("no input requires grad"), Error);
  CHECK_THROWS_WITH_AS(gradcheck([](const TensorList&) { return Tensor(); }, {x}),
                       doctest::Contains("undefined output 0"), Error);
  CHECK_THROWS_WITH_AS(gradcheck([](const TensorList&) { return TensorList{}; }, {x}), doctest::Contains("no outputs"),
                       Error);
  // output shape depends on the call count
  auto calls = std::make_shared<int>(0);
  auto shifty = [calls](const TensorList& in) { return ++*calls == 1 ? in[0] * 1.0 : in[0].sum(); };
  CHECK_THROWS_WITH_AS(gradcheck(shifty, {x}), doctest::Contains("had shape [1, 2] at first"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(id, {x}, {.eps = 0.0}), doctest::Contains("eps"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(id, {x}, {.mode = GradcheckMode::sparse, .sparse_k = 0}),
                       doctest::Contains("sparse_k"), Error);
  CHECK_THROWS_WITH_AS(gradcheck(DifferentiableFunction(), {x}), doctest::Contains("fn is empty"), Error);
}

TEST_CASE("gradgradcheck passes on smooth functions") {
  manual_seed(5);
  auto x = uniform({2, 3}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto y = uniform({3}, -1, 1, {.dtype = float64, .requires_grad = true});
  auto r = gradgradcheck([](const TensorList& in) { return in[0] * in[0] * in[0]; }, {x});
  CHECK_MESSAGE(r, r.report());
  // inputs (x) and v: 6 + 6 elements; outputs: the gradient of x (6)
  CHECK(r.num_checked == 6 * 12);
  r = gradgradcheck([](const TensorList& in) { return exp(in[0]) * in[1]; }, {x, y});
  CHECK_MESSAGE(r, r.report());
  // linear in x: its second derivative is zero (undefined gradients count as zero)
  r = gradgradcheck([](const TensorList& in) { return (in[0] * 3.0).sum(); }, {x});
  CHECK_MESSAGE(r, r.report());
  for (auto mode : {GradcheckMode::fast, GradcheckMode::sparse}) {
    r = gradgradcheck([](const TensorList& in) { return in[0] * in[0] * in[0]; }, {x}, {.mode = mode});
    CHECK_MESSAGE(r, r.report());
  }
}

TEST_CASE("gradgradcheck fails when the VJP is not itself differentiable") {
  auto x = f64({{0.5, -1.0, 2.0}});
  auto fn = [](const TensorList& in) { return detached_square(in[0]); };
  CHECK_MESSAGE(gradcheck(fn, {x}), "the first derivative is right");
  auto r = gradgradcheck(fn, {x});
  CHECK_FALSE(r);
  // d/dx of v * 2x is 2v numerically, 0 analytically
  CHECK(r.input_index == 0);
  CHECK(r.analytic == 0.0);
  CHECK(r.numeric != doctest::Approx(0.0));
  CHECK(r.second_order);
  CHECK(r.report().find("gradgradcheck FAILED") != std::string::npos);
  CHECK(r.report().find("grad_outputs v") != std::string::npos);
  CHECK_FALSE(gradgradcheck(fn, {x}, {.mode = GradcheckMode::fast}));
  CHECK_THROWS_AS(gradgradcheck(fn, {x}, {.raise_on_failure = true}), Error);
}

TEST_CASE("gradgradcheck rejects bad uses") {
  auto x = f64({{1.0, 2.0}});
  CHECK_THROWS_WITH_AS(
      gradgradcheck([](const TensorList& in) { return in[0] * 2.0; }, {tensor({1.0}, {.dtype = float64})}),
      doctest::Contains("no input requires grad"), Error);
  CHECK_THROWS_WITH_AS(gradgradcheck([](const TensorList& in) { return in[0].detach(); }, {x}),
                       doctest::Contains("no output of fn requires grad"), Error);
}
