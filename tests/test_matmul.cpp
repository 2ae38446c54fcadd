// matmul, matmul_transposed and linear: values, shapes, gradients by hand, double backward,
// the registry samples under gradcheck, and error messages.
#include <doctest/doctest.h>

#include <xgrad/gradcheck.h>
#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

// A naive reference for op(a) · op(b) with broadcast batch dims, in double.
std::vector<double> reference_product(const Tensor& a, bool ta, const Tensor& b, bool tb, Shape& out_shape) {
  const Shape sa = a.shape(), sb = b.shape();
  const std::int64_t m = ta ? sa.back() : sa[sa.size() - 2], k = ta ? sa[sa.size() - 2] : sa.back();
  const std::int64_t n = tb ? sb[sb.size() - 2] : sb.back();
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const Shape batch = broadcast_shapes(ba, bb, "reference");
  out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> out(static_cast<std::size_t>(numel_of(out_shape)), 0.0);
  const std::int64_t batches = numel_of(batch);
  for (std::int64_t i = 0; i < batches; ++i) {
    // Batch index -> offsets into a and b (broadcast dims read index 0).
    std::int64_t rest = i, off_a = 0, off_b = 0, mul_a = m * k, mul_b = k * n;
    for (std::size_t d = batch.size(); d-- > 0;) {
      const std::int64_t idx = rest % batch[d];
      rest /= batch[d];
      const std::size_t lead_a = batch.size() - ba.size(), lead_b = batch.size() - bb.size();
      if (d >= lead_a) {
        const std::int64_t size = ba[d - lead_a];
        off_a += (size == 1 ? 0 : idx) * mul_a;
        mul_a *= size;
      }
      if (d >= lead_b) {
        const std::int64_t size = bb[d - lead_b];
        off_b += (size == 1 ? 0 : idx) * mul_b;
        mul_b *= size;
      }
    }
    for (std::int64_t r = 0; r < m; ++r)
      for (std::int64_t c = 0; c < n; ++c) {
        double s = 0;
        for (std::int64_t j = 0; j < k; ++j) {
          const double x = va[static_cast<std::size_t>(off_a + (ta ? j * m + r : r * k + j))];
          const double y = vb[static_cast<std::size_t>(off_b + (tb ? c * k + j : j * n + c))];
          s += x * y;
        }
        out[static_cast<std::size_t>(i * m * n + r * n + c)] = s;
      }
  }
  return out;
}

using test::check_close;

}  // namespace

TEST_CASE("matmul: 2-D known values and gradients by hand") {
  for (Dtype d : {float32, float64}) {
    auto a = tensor({{1, 2}, {3, 4}}, {.dtype = d, .requires_grad = true});
    auto b = tensor({{5, 6}, {7, 8}}, {.dtype = d, .requires_grad = true});
    auto y = matmul(a, b);
    CHECK(y.shape() == Shape{2, 2});
    CHECK(y.dtype() == d);
    CHECK(y.to_vector<double>() == std::vector<double>{19, 22, 43, 50});
    CHECK(y.grad_fn_name() == "matmul");
    // dY = [[1,2],[3,4]]: dA = dY B^T = [[17,23],[39,53]], dB = A^T dY = [[10,14],[14,20]].
    y.backward(tensor({{1, 2}, {3, 4}}, {.dtype = d}));
    CHECK(a.grad().to_vector<double>() == std::vector<double>{17, 23, 39, 53});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{10, 14, 14, 20});
  }
}

TEST_CASE("matmul: 1-D operands follow PyTorch (dot, prepend and append a dim)") {
  auto u = tensor({1, 2, 3}, {.dtype = float64, .requires_grad = true});
  auto v = tensor({4, 5, 6}, {.dtype = float64, .requires_grad = true});
  auto dot = matmul(u, v);
  CHECK(dot.dim() == 0);
  CHECK(dot.item<double>() == 32.0);
  dot.backward();
  CHECK(u.grad().to_vector<double>() == std::vector<double>{4, 5, 6});
  CHECK(v.grad().to_vector<double>() == std::vector<double>{1, 2, 3});

  auto m = tensor({{1, 2}, {3, 4}});
  auto ones2 = tensor({1, 1});
  auto mv = matmul(m, ones2);
  CHECK(mv.shape() == Shape{2});
  CHECK(mv.to_vector<float>() == std::vector<float>{3, 7});
  auto vm = matmul(ones2, m);
  CHECK(vm.shape() == Shape{2});
  CHECK(vm.to_vector<float>() == std::vector<float>{4, 6});

  // Batched with a vector on either side.
  manual_seed(3);
  auto x = randn({2, 3, 4}, {.dtype = float64});
  auto w = randn({4}, {.dtype = float64});
  auto xw = matmul(x, w);
  CHECK(xw.shape() == Shape{2, 3});
  Shape s;
  check_close(xw.to_vector<double>(), reference_product(x, false, reshape(w, {4, 1}), false, s), 1e-12);
  auto r = randn({3}, {.dtype = float64});
  auto rx = matmul(r, x);
  CHECK(rx.shape() == Shape{2, 4});
  check_close(rx.to_vector<double>(), reference_product(reshape(r, {1, 3}), false, x, false, s), 1e-12);
}

TEST_CASE("matmul: batched and broadcast batch dims match a naive reference") {
  manual_seed(7);
  struct Case {
    Shape a, b, out;
  };
  const std::vector<Case> cases = {
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},          // folded into one GEMM
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},       // batch loop
      {{2, 1, 3, 4}, {3, 4, 2}, {2, 3, 3, 2}},  // broadcast both ways
      {{3, 4}, {2, 4, 5}, {2, 3, 5}},          // 2-D a, batched b
      {{1, 3, 4}, {4, 2}, {1, 3, 2}},
      {{2, 3, 4}, {1, 4, 2}, {2, 3, 2}},       // b's batch of size 1
  };
  for (Dtype d : {float32, float64}) {
    for (const auto& c : cases) {
      CAPTURE(to_string(c.a));
      CAPTURE(to_string(c.b));
      auto a = randn(c.a, {.dtype = d}), b = randn(c.b, {.dtype = d});
      auto y = matmul(a, b);
      CHECK(y.shape() == c.out);
      Shape s;
      check_close(y.to_vector<double>(), reference_product(a, false, b, false, s), d == float32 ? 1e-5 : 1e-12);
    }
  }
}

TEST_CASE("matmul: zero-size dims (K = 0 gives zeros, empty batches and rows)") {
  auto a = ones({2, 0}, {.requires_grad = true});
  auto b = ones({0, 3}, {.requires_grad = true});
  auto y = matmul(a, b);
  CHECK(y.shape() == Shape{2, 3});
  CHECK(y.to_vector<float>() == std::vector<float>(6, 0.0f));
  y.sum().backward();
  CHECK(a.grad().shape() == Shape{2, 0});
  CHECK(b.grad().shape() == Shape{0, 3});

  CHECK(matmul(ones({0, 2, 3}), ones({3, 4})).shape() == Shape{0, 2, 4});
  CHECK(matmul(ones({2, 0, 3}), ones({2, 3, 4})).shape() == Shape{2, 0, 4});
  CHECK(matmul(ones({0}), ones({0})).item<float>() == 0.0f);
  CHECK(matmul(ones({3, 4}), ones({4, 0})).shape() == Shape{3, 0});
}

TEST_CASE("matmul_transposed equals matmul of explicit transposes, values and gradients") {
  manual_seed(11);
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  const std::vector<Case> cases = {
      {{3, 2}, {3, 4}, true, false},       {{2, 3}, {4, 3}, false, true},
      {{3, 2}, {4, 3}, true, true},        {{2, 2, 3}, {4, 3}, false, true},
      {{2, 1, 3, 2}, {3, 3, 2}, true, false}, {{3, 2}, {2, 4, 3}, true, true},
      {{2, 3, 2}, {2, 2, 4}, false, false}, {{2, 3, 2}, {1, 4, 3}, true, true},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.a));
    CAPTURE(to_string(c.b));
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    auto a = randn(c.a, {.dtype = float64, .requires_grad = true});
    auto b = randn(c.b, {.dtype = float64, .requires_grad = true});
    auto fast = matmul_transposed(a, c.ta, b, c.tb);
    auto slow = matmul(c.ta ? transpose(a, -2, -1) : a, c.tb ? transpose(b, -2, -1) : b);
    REQUIRE(fast.shape() == slow.shape());
    check_close(fast.to_vector<double>(), slow.to_vector<double>(), 1e-12);
    auto gy = randn(fast.shape(), {.dtype = float64});
    auto g_fast = grad({fast}, {a, b}, {gy});
    auto g_slow = grad({slow}, {a, b}, {gy});
    check_close(g_fast[0].to_vector<double>(), g_slow[0].to_vector<double>(), 1e-12);
    check_close(g_fast[1].to_vector<double>(), g_slow[1].to_vector<double>(), 1e-12);
  }
}

TEST_CASE("matmul: gradients by hand for a batched product with a shared B") {
  // Y[i] = A[i] B, L = sum(Y): dA[i] = ones B^T (row sums of B), dB = sum_i A[i]^T ones.
  auto a = tensor({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, {.dtype = float64, .requires_grad = true});
  auto b = tensor({{1, -1, 2}, {0, 3, 1}}, {.dtype = float64, .requires_grad = true});
  matmul(a, b).sum().backward();
  CHECK(a.grad().shape() == Shape{2, 2, 2});
  CHECK(a.grad().to_vector<double>() == std::vector<double>{2, 4, 2, 4, 2, 4, 2, 4});
  // Column sums of A over all batches: col 0 = 1+3+5+7 = 16, col 1 = 2+4+6+8 = 20.
  CHECK(b.grad().to_vector<double>() == std::vector<double>{16, 16, 16, 20, 20, 20});
}

TEST_CASE("matmul: double backward") {
  // g = dL/dA with L = sum(A B) is ones · B^T; sum(g) = M * sum(B), so d sum(g) / dB = M everywhere.
  auto a = tensor({{1, 2}, {3, 4}, {5, 6}}, {.dtype = float64, .requires_grad = true});
  auto b = tensor({{1, 2}, {3, 4}}, {.dtype = float64, .requires_grad = true});
  auto ga = grad({matmul(a, b).sum()}, {a}, {}, {.create_graph = true})[0];
  CHECK(ga.to_vector<double>() == std::vector<double>{3, 7, 3, 7, 3, 7});
  ga.sum().backward();
  CHECK(b.grad().to_vector<double>() == std::vector<double>{3, 3, 3, 3});

  manual_seed(5);
  auto x = randn({2, 3, 4}, {.dtype = float64, .requires_grad = true});
  auto w = randn({4, 2}, {.dtype = float64, .requires_grad = true});
  CHECK(gradgradcheck([](const TensorList& in) { return matmul(in[0], in[1]); }, {x, w}));
}

TEST_CASE("matmul, matmul_transposed, linear: every registry sample passes gradcheck and gradgradcheck") {
  for (const char* name : {"matmul", "matmul_transposed", "linear"}) {
    const OpInfo* info = find_op(name);
    REQUIRE(info != nullptr);
    manual_seed(1);
    for (const OpSample& s : info->samples(float64)) {
      CAPTURE(name);
      CAPTURE(s.description);
      auto fn = [&](const TensorList& in) { return s.call(in); };
      auto r = gradcheck(ScalarOutputFunction(fn), s.inputs);
      CHECK_MESSAGE(r.passed, r.report());
      auto rr = gradgradcheck(ScalarOutputFunction(fn), s.inputs);
      CHECK_MESSAGE(rr.passed, rr.report());
    }
    // float32 samples run too.
    for (const OpSample& s : info->samples(float32)) CHECK(s.call(s.inputs).dtype() == float32);
  }
}

TEST_CASE("matmul: errors name the op, the shapes and the rule") {
  CHECK_THROWS_WITH_AS(matmul(ones({2, 3}), ones({4, 5})),
                       doctest::Contains("matmul: cannot multiply [2, 3] by [4, 5]: the inner dimensions 3 and 4 differ"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(ones({3}), ones({4})), doctest::Contains("inner dimensions 3 and 4 differ"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 3}), ones({4})), doctest::Contains("[2, 3] by [4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(scalar_tensor(1), ones({3})), doctest::Contains("at least 1 dim"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({3}), scalar_tensor(1)), doctest::Contains("matmul"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 3, 4}), ones({3, 4, 5})),
                       doctest::Contains("the batch dims [2] and [3] do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 2}, {.dtype = int64}), ones({2, 2}, {.dtype = int64})),
                       doctest::Contains("matmul: expects float32 or float64 operands, got int64"), Error);
  CHECK_THROWS_WITH_AS(matmul(ones({2, 2}), ones({2, 2}, {.dtype = float64})),
                       doctest::Contains("same dtype, got float32 [2, 2] and float64 [2, 2]"), Error);
  CHECK_THROWS_WITH_AS(matmul(Tensor(), ones({2})), doctest::Contains("undefined"), Error);
  CHECK_THROWS_WITH_AS(matmul_transposed(ones({3, 2}), true, ones({2, 4}), false),
                       doctest::Contains("[3, 2]^T by [2, 4]: the inner dimensions 3 and 2 differ"), Error);
  CHECK_THROWS_WITH_AS(matmul_transposed(ones({3}), false, ones({3, 4}), false),
                       doctest::Contains("at least 2 dims"), Error);
}

TEST_CASE("linear: x W^T + b for 1-D and N-D inputs, with and without bias") {
  auto x = tensor({1, 2});
  auto w = tensor({{1, 0}, {0, 1}, {1, 1}});
  auto b = tensor({0.5, 0.5, 0.5});
  auto y = linear(x, w, b);
  CHECK(y.shape() == Shape{3});
  CHECK(y.to_vector<float>() == std::vector<float>{1.5, 2.5, 3.5});
  CHECK(linear(x, w).to_vector<float>() == std::vector<float>{1, 2, 3});

  manual_seed(2);
  auto x3 = randn({2, 4, 3}, {.dtype = float64});
  auto w3 = randn({5, 3}, {.dtype = float64});
  auto b3 = randn({5}, {.dtype = float64});
  auto y3 = linear(x3, w3, b3);
  CHECK(y3.shape() == Shape{2, 4, 5});
  check_close(y3.to_vector<double>(), (matmul(x3, transpose(w3, 0, 1)) + b3).to_vector<double>(), 1e-12);
  CHECK(linear(ones({0, 3}), ones({5, 3})).shape() == Shape{0, 5});
}

TEST_CASE("linear: gradients by hand") {
  // y = x W^T + b with x [2,2], W [3,2], L = sum(y): dx = ones W (column sums of W per row),
  // dW = ones^T x (column sums of x per output), db = 2 (rows) per output.
  auto x = tensor({{1, 2}, {3, 4}}, {.dtype = float64, .requires_grad = true});
  auto w = tensor({{1, 0}, {0, 1}, {1, 1}}, {.dtype = float64, .requires_grad = true});
  auto b = tensor({0, 0, 0}, {.dtype = float64, .requires_grad = true});
  linear(x, w, b).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2, 2});
  CHECK(w.grad().to_vector<double>() == std::vector<double>{4, 6, 4, 6, 4, 6});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
}

TEST_CASE("linear: errors name linear and the shapes") {
  CHECK_THROWS_WITH_AS(linear(ones({4}), ones({3, 5})),
                       doctest::Contains("linear: input shape [4] has 4 features in its last dim but weight shape [3, 5] expects in_features = 5"),
                       Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 3}), ones({3})), doctest::Contains("linear: weight must be 2-D"), Error);
  CHECK_THROWS_WITH_AS(linear(scalar_tensor(1), ones({3, 1})), doctest::Contains("linear"), Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 3}), ones({4, 3}), ones({5})),
                       doctest::Contains("linear: bias shape [5] does not broadcast to the output shape [2, 4]"), Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 3}), ones({4, 3}, {.dtype = float64})), doctest::Contains("linear"), Error);
  CHECK_THROWS_WITH_AS(linear(ones({2, 3}, {.dtype = int64}), ones({4, 3}, {.dtype = int64})),
                       doctest::Contains("linear: expects float32 or float64"), Error);
}
