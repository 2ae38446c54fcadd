// Issue 10, "no crash, hang or silent wrong answer on any argument": the registry's internal ops
// validate their tensors, binary_cross_entropy_with_logits validates its weights in the forward,
// int64 arithmetic wraps and float -> int64 conversions saturate (both defined, see
// core/convert.h), undefined tensors are reported by the op the user called, and
// XGRAD_DISPATCH_FLOAT raises for int64. Run under ASan + UBSan with -fsanitize=float-cast-overflow.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/kernels/elementwise.h"

#include "test_util.h"

using namespace xgrad;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

using test::error_of;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

Tensor ints(const std::vector<std::int64_t>& v) { return tensor(v, Shape{static_cast<std::int64_t>(v.size())}); }

std::int64_t wrapped(std::uint64_t v) { return static_cast<std::int64_t>(v); }

const OpSample& first_sample(const char* op, std::vector<OpSample>& keep) {
  const OpInfo* info = find_op(op);
  REQUIRE(info != nullptr);
  keep = info->samples(Dtype::float64);
  REQUIRE(!keep.empty());
  return keep.front();
}

// The sample's inputs with input i replaced.
TensorList with(const OpSample& s, std::size_t i, Tensor t) {
  TensorList in = s.inputs;
  in[i] = std::move(t);
  return in;
}

}  // namespace

// ---------------------------------------------------------------- 1. internal registry ops

TEST_CASE("hardening: internal pooling ops check their tensors and index values") {
  std::vector<OpSample> keep;
  const OpSample& back = first_sample("max_pool_backward", keep);  // [1,2,4,6] 2x2 tiles
  const Tensor gy = back.inputs[0].detach(), idx = back.inputs[1];
  REQUIRE(gy.shape() == Shape{1, 2, 2, 3});

  auto msg = [&](const TensorList& in) { return error_of([&] { back.call(in); }); };
  std::string m = msg({Tensor(), idx});
  CHECK(starts_with(m, "max_pool_backward: argument 'grad_output' is an undefined tensor"));
  m = msg({zeros({1, 2, 3, 3}, {.dtype = float64}), idx});
  CHECK(starts_with(m, "max_pool_backward: grad_output has shape [1, 2, 3, 3], expected [1, 2, 2, 3]"));
  m = msg({gy, idx.to(float64)});
  CHECK(starts_with(m, "max_pool_backward: indices must be int64, got float64"));
  m = msg({gy, zeros({1, 2, 2, 2}, {.dtype = int64})});
  CHECK(starts_with(m, "max_pool_backward: indices have shape [1, 2, 2, 2], expected [1, 2, 2, 3]"));
  m = msg({gy.to(int64), idx});
  CHECK(starts_with(m, "max_pool_backward: grad_output must be floating"));
  m = msg({gy});
  CHECK(starts_with(m, "max_pool_backward: this sample's call takes 2 tensors, got 1"));

  // Index values: -1 (a window in the padding) is skipped, anything else outside the plane raises.
  std::vector<std::int64_t> v = idx.to_vector<std::int64_t>();
  v[3] = 24;  // a plane has 4 x 6 = 24 elements
  m = msg({gy, tensor(v, idx.shape())});
  CHECK(starts_with(m, "max_pool_backward: index 24 is out of range for an input plane of 24 elements"));
  v[3] = kMin;
  CHECK(starts_with(msg({gy, tensor(v, idx.shape())}), "max_pool_backward: index -9223372036854775808"));
  // Beyond int32: must not wrap onto a position of the window (the float32 AVX-512 path narrows).
  v[3] = (std::int64_t{1} << 32) + idx.to_vector<std::int64_t>()[3];
  CHECK(starts_with(msg({gy, tensor(v, idx.shape())}), "max_pool_backward: index 4294967"));
  CHECK(starts_with(msg({gy.to(float32), tensor(v, idx.shape())}), "max_pool_backward: index 4294967"));

  // An index inside the plane but outside its window: a scatter-add there (the tiled kernels hand
  // such planes to the generic one), for float32 (AVX-512 path) and float64.
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    std::vector<std::int64_t> moved = idx.to_vector<std::int64_t>();
    moved[0] = 23;  // window (0, 0) of plane 0 sends its gradient to the last element
    moved[1] = -1;  // and window (0, 1) nowhere
    const Tensor g = arange(1.0, 13.0, 1.0, {.dtype = d}).reshape({1, 2, 2, 3});
    const std::vector<double> gx = back.call({g, tensor(moved, idx.shape())}).to_vector<double>();
    std::vector<double> expected(48, 0.0);
    const std::vector<double> gv = g.to_vector<double>();
    for (std::size_t j = 0; j < 12; ++j) {
      if (moved[j] < 0) continue;
      expected[(j / 6) * 24 + static_cast<std::size_t>(moved[j])] += gv[j];
    }
    CHECK(gx == expected);
  }

  std::vector<OpSample> keep_gather;
  const OpSample& gather = first_sample("max_pool_gather", keep_gather);
  CHECK(starts_with(error_of([&] { gather.call({Tensor(), gather.inputs[1]}); }),
                    "max_pool_gather: argument 'input' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { gather.call({zeros({1, 2, 4, 5}, {.dtype = float64}), gather.inputs[1]}); }),
                    "max_pool_gather: input has shape [1, 2, 4, 5], which does not fit the pooling's 2 planes of 4x6"));
  std::vector<std::int64_t> gv = gather.inputs[1].to_vector<std::int64_t>();
  gv[5] = -2;
  CHECK(starts_with(error_of([&] { gather.call({gather.inputs[0], tensor(gv, gather.inputs[1].shape())}); }),
                    "max_pool_gather: index -2 is out of range"));

  for (const char* op : {"avg_pool_backward", "adaptive_avg_pool_backward"}) {
    CAPTURE(op);
    std::vector<OpSample> k;
    const OpSample& s = first_sample(op, k);
    CHECK(starts_with(error_of([&] { s.call({Tensor()}); }),
                      std::string(op) + ": argument 'grad_output' is an undefined tensor"));
    CHECK(starts_with(error_of([&] { s.call({zeros({1, 2, 1, 1}, {.dtype = float64})}); }),
                      std::string(op) + ": grad_output has shape [1, 2, 1, 1], expected"));
    CHECK(starts_with(error_of([&] { s.call({zeros(s.inputs[0].shape(), {.dtype = int64})}); }),
                      std::string(op) + ": grad_output must be floating"));
  }
}

TEST_CASE("hardening: internal loss and softmax backward ops check their tensors") {
  std::vector<OpSample> k1, k2, k3, k4;
  const OpSample& ce = first_sample("cross_entropy_backward", k1);  // gy 0-d, x [4,5], target [4], no weight
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 2, Tensor())); }),
                    "cross_entropy_backward: argument 'target' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 1, Tensor())); }),
                    "cross_entropy_backward: argument 'input' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 0, Tensor())); }),
                    "cross_entropy_backward: argument 'grad_output' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 2, zeros({4}, {.dtype = float64}))); }),
                    "cross_entropy_backward: class targets must be int64, got float64"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 2, zeros({9}, {.dtype = int64}))); }),
                    "cross_entropy_backward: expected a target of shape [4]"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 2, full({4}, 5, {.dtype = int64}))); }),
                    "cross_entropy_backward: target[0] = 5 is out of range for 5 classes"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 0, zeros({4}, {.dtype = float64}))); }),
                    "cross_entropy_backward: grad_output is float64 [4], expected float64 []"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 3, ones({3}, {.dtype = float64}))); }),
                    "cross_entropy_backward: weight must be a 1-D tensor with one value per class (5)"));
  CHECK(starts_with(error_of([&] { ce.call(with(ce, 1, zeros({4}, {.dtype = float64}))); }),
                    "cross_entropy_backward: the input must be [N, C, ...]"));

  const OpSample& soft = first_sample("cross_entropy_soft_backward", k2);  // x, target [3,4]
  CHECK(starts_with(error_of([&] { soft.call(with(soft, 2, Tensor())); }),
                    "cross_entropy_soft_backward: argument 'target' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { soft.call(with(soft, 2, zeros({3, 5}, {.dtype = float64}))); }),
                    "cross_entropy_soft_backward: class-probability target is float64 [3, 5], expected the "
                    "input's float64 [3, 4]"));

  const OpSample& nll = first_sample("nll_loss_backward", k3);  // gy 0-d, target [4] of a [4,5] input
  CHECK(starts_with(error_of([&] { nll.call(with(nll, 1, Tensor())); }),
                    "nll_loss_backward: argument 'target' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { nll.call(with(nll, 1, zeros({7}, {.dtype = int64}))); }),
                    "nll_loss_backward: target is int64 [7], expected int64 [4]"));
  CHECK(starts_with(error_of([&] { nll.call(with(nll, 1, full({4}, -3, {.dtype = int64}))); }),
                    "nll_loss_backward: target[0] = -3 is out of range"));
  CHECK(starts_with(error_of([&] { nll.call(with(nll, 0, scalar_tensor(1, {.dtype = int64}))); }),
                    "nll_loss_backward: grad_output must be floating"));
  CHECK(starts_with(error_of([&] { nll.call(with(nll, 2, ones({5}, {.dtype = float32}))); }),
                    "nll_loss_backward: weight is float32 [5], expected float64 [5]"));

  const OpSample& sm = first_sample("softmax_backward", k4);
  CHECK(starts_with(error_of([&] { sm.call(with(sm, 1, Tensor())); }),
                    "softmax_backward: argument 'output' is an undefined tensor"));
  CHECK(starts_with(error_of([&] { sm.call({sm.inputs[0].to(int64), sm.inputs[1].to(int64)}); }),
                    "softmax_backward: the output must be floating, got int64"));
}

// Every registry op's first sample, with each input in turn undefined, of another shape or int64:
// a result or an xgrad::Error naming an op, nothing else (ASan and UBSan watch for the rest).
TEST_CASE("hardening: every registry op survives wrong inputs") {
  int errors = 0;
  for (const OpInfo& op : registered_ops()) {
    const std::vector<OpSample> samples = op.samples(Dtype::float32);
    if (samples.empty()) continue;
    const OpSample& s = samples.front();
    for (std::size_t i = 0; i < s.inputs.size(); ++i) {
      const Dtype d = s.inputs[i].defined() ? s.inputs[i].dtype() : Dtype::float32;
      const Shape shape = s.inputs[i].defined() ? s.inputs[i].shape() : Shape{3};
      for (const Tensor& bad : {Tensor(), zeros({7}, {.dtype = d}), zeros({2, 1, 3}, {.dtype = d}),
                                zeros(shape, {.dtype = int64}), zeros(shape, {.dtype = float64})}) {
        CAPTURE(op.name);
        CAPTURE(i);
        try {
          s.call(with(s, i, bad));
        } catch (const Error& e) {
          ++errors;
          const std::string m = e.what();
          CAPTURE(m);
          // Names an op ("op: ..."), never a bare accessor or the dispatch's safety net.
          CHECK(m.find(": ") != std::string::npos);
          CHECK(!starts_with(m, "expected a floating tensor"));
          CHECK(!starts_with(m, "Tensor::"));
        }
      }
    }
  }
  CHECK(errors > 100);
}

// ---------------------------------------------------------------- 2. BCE weights

TEST_CASE("hardening: binary_cross_entropy_with_logits weights must broadcast to the input's shape") {
  const Tensor x = zeros({3, 4}, {.requires_grad = true}), t = ones({3, 4});
  CHECK(starts_with(error_of([&] { binary_cross_entropy_with_logits(x, t, ones({2, 3, 4})); }),
                    "binary_cross_entropy_with_logits: weight of shape [2, 3, 4] must broadcast to the input's "
                    "shape [3, 4] without changing it"));
  CHECK(starts_with(
      error_of([&] { binary_cross_entropy_with_logits(x, t, Tensor(), Reduction::mean, ones({1, 3, 4})); }),
      "binary_cross_entropy_with_logits: pos_weight of shape [1, 3, 4] must broadcast to the input's shape [3, 4]"));
  CHECK(error_of([&] { binary_cross_entropy_with_logits(x, t, ones({5})); })
            .find("binary_cross_entropy_with_logits") != std::string::npos);
  // Shapes that broadcast into the input's still work, through backward.
  Tensor l = binary_cross_entropy_with_logits(x, t, full({4}, 2.0), Reduction::sum, full({3, 1}, 3.0));
  l.backward();
  // d/dx at x = 0, t = 1: w (1 - t) - w c sigmoid(-x) with c = pos_weight: 2 * (0 - 3 * 0.5) = -3
  CHECK(x.grad().shape() == Shape{3, 4});
  for (double g : x.grad().to_vector<double>()) CHECK(g == doctest::Approx(-3.0));
}

// ---------------------------------------------------------------- 3. integers

TEST_CASE("hardening: int64 arithmetic wraps modulo 2^64") {
  CHECK((ints({kMax}) + ints({1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin});
  CHECK((ints({kMax, 5}) + 1.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin, 6});
  CHECK((ints({kMin}) - ints({1})).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMax});
  CHECK(neg(ints({kMin, 3})).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin, -3});
  CHECK(abs(ints({kMin, -3, 4})).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin, 3, 4});
  const std::int64_t big = 3037000500;  // big^2 > INT64_MAX
  const std::int64_t big_squared = wrapped(std::uint64_t{3037000500} * 3037000500u);
  CHECK((ints({big}) * ints({big})).item<std::int64_t>() == big_squared);
  // Broadcasting (the shaped path) and SIMD-sized inputs (vector bodies and scalar tails).
  const Tensor column = tensor(std::vector<std::int64_t>{kMax, kMin}, Shape{2, 1});
  CHECK(add(column, ints({1, 2, 3})).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMin, kMin + 1, kMin + 2, kMin + 1, kMin + 2, kMin + 3});
  const Tensor many = full({37}, static_cast<double>(big), {.dtype = int64});
  for (std::int64_t v : (many * many).to_vector<std::int64_t>()) CHECK(v == big_squared);

  // Reductions: sum over everything and over a dim, prod.
  CHECK(sum(ints({kMax, 1})).item<std::int64_t>() == kMin);
  const Tensor maxes = tensor(std::vector<std::int64_t>(37, kMax), Shape{37});
  CHECK(sum(maxes).item<std::int64_t>() == wrapped(37 * static_cast<std::uint64_t>(kMax)));
  CHECK(sum(tensor(std::vector<std::int64_t>(6, kMax), Shape{2, 3}), {1}).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>(2, wrapped(3 * static_cast<std::uint64_t>(kMax))));
  CHECK(prod(ints({big, big, 7})).item<std::int64_t>() == wrapped(std::uint64_t{3037000500} * 3037000500u * 7u));
  CHECK(prod(ints({big, big, 7}), 0).item<std::int64_t>() == wrapped(std::uint64_t{3037000500} * 3037000500u * 7u));

  // index_add and scatter_add.
  CHECK(index_add(ints({kMax, 0}), 0, ints({0, 0}), ints({1, 1})).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMin + 1, 0});
  CHECK(scatter_add(ints({kMax, 0}), 0, ints({0}), ints({1})).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMin, 0});

  // Integer powers by squaring, wrapping; exponents beyond int64 promote to float32 (PyTorch: a
  // float exponent gives a float result).
  std::uint64_t three_41 = 1;
  for (int i = 0; i < 41; ++i) three_41 *= 3;
  CHECK(pow(ints({3}), 41.0).item<std::int64_t>() == wrapped(three_41));
  CHECK(pow(ints({3, 2}), ints({41, 64})).to_vector<std::int64_t>() == std::vector<std::int64_t>{wrapped(three_41), 0});
  CHECK(pow(ints({-1}), 1e30).dtype() == Dtype::float32);
  CHECK(pow(ints({-1}), 1e30).item<double>() == 1.0);

  // Integer division (no public op divides integers: div is true division): the kernel raises on a
  // zero divisor and wraps INT64_MIN / -1.
  CHECK((ints({7}) / ints({0})).dtype() == Dtype::float32);
  CHECK(starts_with(error_of([&] { kernels::binary(kernels::Binary::div, ints({7, 1}), ints({1, 0}), "div"); }),
                    "div: integer division by zero"));
  CHECK(kernels::binary(kernels::Binary::div, ints({kMin, -7, 7}), ints({-1, 2, -2}), "div").to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMin, -3, -3});

  // randint draws integers exactly, over the whole int64 range too.
  const std::int64_t low = (std::int64_t{1} << 62) + 1;
  for (std::int64_t v : randint(low, low + 3, {2000}).to_vector<std::int64_t>()) CHECK((v >= low && v < low + 3));
  CHECK(randint(kMin, kMax, {100}).numel() == 100);
}

TEST_CASE("hardening: float to int64 conversions: NaN -> 0, out of range saturates, else truncates") {
  const std::vector<double> values = {NAN, INFINITY, -INFINITY, 1e30, -1e30, 0x1p63, -0x1p63, 2.9, -2.9, 0.0};
  const std::vector<std::int64_t> expected = {0, kMax, kMin, kMax, kMin, kMax, kMin, 2, -2, 0};
  for (Dtype d : {Dtype::float32, Dtype::float64}) {
    CAPTURE(dtype_name(d));
    const Tensor x = tensor(values, Shape{static_cast<std::int64_t>(values.size())}, {.dtype = d});
    CHECK(x.to(int64).to_vector<std::int64_t>() == expected);
    CHECK(x.to_vector<std::int64_t>() == expected);
    for (std::size_t i = 0; i < values.size(); ++i) {
      CHECK(x.at<std::int64_t>({static_cast<std::int64_t>(i)}) == expected[i]);
      CHECK(scalar_tensor(values[i], {.dtype = d}).item<std::int64_t>() == expected[i]);
    }
    // SIMD-sized: vector bodies and tails agree with the rule.
    std::vector<double> many;
    std::vector<std::int64_t> many_expected;
    for (int r = 0; r < 7; ++r) {
      many.insert(many.end(), values.begin(), values.end());
      many_expected.insert(many_expected.end(), expected.begin(), expected.end());
    }
    CHECK(tensor(many, Shape{70}, {.dtype = d}).to(int64).to_vector<std::int64_t>() == many_expected);
  }
  // The largest float below 2^63 converts exactly.
  CHECK(tensor({0x1.fffffffffffffp62}, {.dtype = float64}).to(int64).item<std::int64_t>() == 0x7ffffffffffffc00);
  // Factories and int64 tensors built from doubles.
  CHECK(full({3}, NAN, {.dtype = int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>(3, 0));
  CHECK(full({2}, 1e30, {.dtype = int64}).to_vector<std::int64_t>() == std::vector<std::int64_t>(2, kMax));
  CHECK(tensor({1e30, NAN, -1e30, 5.5}, {.dtype = int64}).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMax, 0, kMin, 5});
  CHECK(pad(ints({1}), {1, 1}, 1e30).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMax, 1, kMax});
  // A scalar int64 cannot hold makes the operation float32, as PyTorch's float scalars do.
  const Tensor sum_big = ints({1, 2}) + 1e30;
  CHECK(sum_big.dtype() == Dtype::float32);
  CHECK(sum_big.to_vector<double>()[0] == doctest::Approx(1e30));
  CHECK((ints({1, kMax}) > 1e30).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0});
  CHECK((ints({1, kMax}) < INFINITY).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1});
  CHECK((ints({1, 2}) * NAN).dtype() == Dtype::float32);
  CHECK(clamp(ints({kMin, 0, kMax}), -1e30, 1e30).to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin, 0, kMax});
}

// ---------------------------------------------------------------- 4. messages name the op

TEST_CASE("hardening: an undefined tensor is reported by the op the user called") {
  const Tensor u, x = ones({2, 3}), i = zeros({2}, {.dtype = int64});
  struct Case {
    const char* op;
    std::function<void()> call;
  };
  const std::vector<Case> cases = {
      {"add", [&] { add(u, x); }},
      {"mul", [&] { mul(x, u); }},
      {"mul", [&] { (void)(0.1 * u); }},  // lr * p.grad() with no gradient
      {"sub", [&] { (void)(u - 1.0); }},
      {"div", [&] { (void)(2.0 / u); }},
      {"pow", [&] { pow(u, 2.0); }},
      {"maximum", [&] { maximum(u, x); }},
      {"where", [&] { where(u, x, x); }},
      {"neg", [&] { (void)(-u); }},
      {"exp", [&] { exp(u); }},
      {"relu", [&] { relu(u); }},
      {"leaky_relu", [&] { leaky_relu(u); }},
      {"clamp", [&] { clamp(u, 0.0, 1.0); }},
      {"lt", [&] { (void)(u < 1.0); }},
      {"eq", [&] { eq(x, u); }},
      {"allclose", [&] { allclose(u, x); }},
      {"sum", [&] { sum(u); }},
      {"sum", [&] { u.sum(); }},
      {"mean", [&] { mean(u, {0}); }},
      {"prod", [&] { prod(u); }},
      {"max", [&] { max(u); }},
      {"min", [&] { min(u, 0); }},
      {"var", [&] { var(u); }},
      {"std", [&] { xgrad::std(u); }},
      {"logsumexp", [&] { logsumexp(u, {0}); }},
      {"argmax", [&] { argmax(u); }},
      {"argmin", [&] { argmin(u, 0); }},
      {"matmul", [&] { matmul(u, x); }},
      {"linear", [&] { linear(x, u); }},
      {"matmul_transposed", [&] { matmul_transposed(u, false, x, true); }},
      {"reshape", [&] { reshape(u, {6}); }},
      {"reshape", [&] { u.reshape({6}); }},
      {"flatten", [&] { flatten(u); }},
      {"squeeze", [&] { squeeze(u); }},
      {"unsqueeze", [&] { unsqueeze(u, 0); }},
      {"transpose", [&] { transpose(u, 0, 1); }},
      {"t", [&] { u.t(); }},
      {"permute", [&] { permute(u, {1, 0}); }},
      {"expand", [&] { expand(u, {2, 3}); }},
      {"broadcast_to", [&] { broadcast_to(u, {2, 3}); }},
      {"sum_to", [&] { sum_to(u, {3}); }},
      {"to", [&] { u.to(float64); }},
      {"to_dtype", [&] { to_dtype(u, float64); }},
      {"clone", [&] { clone(u); }},
      {"slice", [&] { slice(u, 0, 0, 1); }},
      {"narrow", [&] { narrow(u, 0, 0, 1); }},
      {"index_select", [&] { index_select(x, 0, u); }},
      {"index_add", [&] { index_add(x, 0, i, u); }},
      {"gather", [&] { gather(u, 0, i); }},
      {"scatter_add", [&] { scatter_add(x, 0, u, x); }},
      {"cat", [&] { cat({x, u}); }},
      {"stack", [&] { stack({u}); }},
      {"split", [&] { split(u, 1); }},
      {"chunk", [&] { chunk(u, 2); }},
      {"pad", [&] { pad(u, {1, 1}); }},
      {"conv2d", [&] { conv2d(u, ones({1, 1, 1, 1})); }},
      {"conv1d", [&] { conv1d(ones({1, 1, 3}), u); }},
      {"conv_transpose2d", [&] { conv_transpose2d(u, ones({1, 1, 1, 1})); }},
      {"max_pool2d", [&] { max_pool2d(u, 2); }},
      {"avg_pool1d", [&] { avg_pool1d(u, 2); }},
      {"adaptive_avg_pool2d", [&] { adaptive_avg_pool2d(u, 1); }},
      {"softmax", [&] { softmax(u, 0); }},
      {"log_softmax", [&] { log_softmax(u, 0); }},
      {"cross_entropy", [&] { cross_entropy(u, i); }},
      {"cross_entropy", [&] { cross_entropy(x, u); }},
      {"nll_loss", [&] { nll_loss(u, i); }},
      {"multi_margin_loss", [&] { multi_margin_loss(u, i); }},
      {"svm_loss", [&] { svm_loss(x, u); }},
      {"mse_loss", [&] { mse_loss(u, x); }},
      {"l1_loss", [&] { l1_loss(x, u); }},
      {"binary_cross_entropy_with_logits", [&] { binary_cross_entropy_with_logits(u, x); }},
      {"hinge_embedding_loss", [&] { hinge_embedding_loss(u, x); }},
      {"dropout", [&] { dropout(u); }},
      {"batch_norm", [&] { batch_norm(u, Tensor(), Tensor(), Tensor(), Tensor(), true); }},
      {"layer_norm", [&] { layer_norm(u, {3}); }},
      {"result_type", [&] { result_type(u, x); }},
      {"scalar_like", [&] { scalar_like(1.0, u); }},
      {"zeros_like", [&] { zeros_like(u); }},
      {"ones_like", [&] { ones_like(u); }},
      {"full_like", [&] { full_like(u, 2.0); }},
  };
  for (const Case& c : cases) {
    const std::string m = error_of(c.call);
    CAPTURE(m);
    CHECK_MESSAGE(starts_with(m, std::string(c.op) + ": "), c.op);
    CHECK(m.find("undefined") != std::string::npos);
  }
  // Tensor's own accessors name themselves as methods.
  CHECK(starts_with(error_of([&] { (void)u.numel(); }), "Tensor::numel(): called on an undefined tensor"));
  CHECK(starts_with(error_of([&] { (void)u.dtype(); }), "Tensor::dtype(): called on an undefined tensor"));
  CHECK(starts_with(error_of([&] { (void)u.shape(); }), "Tensor::shape(): called on an undefined tensor"));
  CHECK(starts_with(error_of([&] { (void)u.item<float>(); }), "Tensor::item(): called on an undefined tensor"));
}

TEST_CASE("hardening: messages name the op and its shapes") {
  CHECK(starts_with(error_of([] { broadcast_to(ones({2}), {3}); }), "broadcast_to: "));
  const std::string m = error_of([] { gather(ones({2, 3}), 1, tensor(std::vector<std::int64_t>{0, 5}, Shape{2, 1})); });
  CHECK(starts_with(m, "gather: "));
  CHECK(m.find("[2, 3]") != std::string::npos);  // the input's shape
  CHECK(m.find("[2, 1]") != std::string::npos);  // the index's shape
}

// ---------------------------------------------------------------- 5. XGRAD_DISPATCH_FLOAT

TEST_CASE("hardening: XGRAD_DISPATCH_FLOAT raises for int64, float-only ops name themselves first") {
  int ran = 0;
  auto dispatch = [&](Dtype d) { XGRAD_DISPATCH_FLOAT(d, T, ran += sizeof(T)); };
  dispatch(Dtype::float32);
  dispatch(Dtype::float64);
  CHECK(ran == 12);
  CHECK(error_of([&] { dispatch(Dtype::int64); }) == "expected a floating tensor (float32 or float64), got int64");
  const Tensor i = ones({2, 4, 4}, {.dtype = int64});
  CHECK(starts_with(error_of([&] { max_pool2d(i, 2); }), "max_pool2d: "));
  CHECK(starts_with(error_of([&] { softmax(i, 0); }), "softmax: "));
  CHECK(starts_with(error_of([&] { exp(i); }), "exp: "));
  CHECK(starts_with(error_of([&] { layer_norm(i, {4}); }), "layer_norm: "));
}

// xsimd's float64 exponentials convert round(x / ln 2) to int64: undefined for NaN, +-inf and
// huge |x| (the sanitizer build traps it). Every exp-based op must give std::'s values there.
TEST_CASE("hardening: exp-based ops on NaN, infinite and huge float64 values match the scalar functions") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> v = {nan, inf, -inf, 1e300, -1e300, 710.0, -746.0, 0.5, -2.0, 1e20, 3.0, -1e19,
                                 0.0, 40.0, -40.0, 7.0, 1.0};  // 17 values: two batches and a tail
  const Tensor x = tensor(v, {static_cast<std::int64_t>(v.size())}, {.dtype = Dtype::float64});
  auto same = [](const std::vector<double>& got, const std::vector<double>& want, const std::string& op) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO(op, " at ", i);
      if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
      else if (std::isinf(want[i])) CHECK(got[i] == want[i]);
      else CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
    }
  };
  auto expected = [&](auto f) {
    std::vector<double> out;
    for (double e : v) out.push_back(f(e));
    return out;
  };
  same(exp(x).to_vector<double>(), expected([](double e) { return std::exp(e); }), "exp");
  same(tanh(x).to_vector<double>(), expected([](double e) { return std::tanh(e); }), "tanh");
  same(sigmoid(x).to_vector<double>(), expected([](double e) { return 1 / (1 + std::exp(-e)); }), "sigmoid");
  same(elu(x).to_vector<double>(), expected([](double e) { return e > 0 ? e : std::expm1(e); }), "elu");
  same(pow(x, 2.5).to_vector<double>(), expected([](double e) { return std::pow(e, 2.5); }), "pow 2.5");
  same(pow(x, 1e30).to_vector<double>(), expected([](double e) { return std::pow(e, 1e30); }), "pow 1e30");
  same(pow(x, x).to_vector<double>(), expected([](double e) { return std::pow(e, e); }), "pow x^x");
  // Reductions and the softmax family: a NaN anywhere makes the row NaN, as in PyTorch.
  CHECK(std::isnan(logsumexp(x, {0}).item<double>()));
  CHECK(std::isnan(softmax(x, 0).to_vector<double>()[3]));
  const Tensor finite = tensor({-1e300, 710.0, -746.0, 0.5}, {.dtype = Dtype::float64});
  same(softmax(finite, 0).to_vector<double>(), {0.0, 1.0, 0.0, 0.0}, "softmax");
  same(log_softmax(finite, 0).to_vector<double>(), {-1e300, 0.0, -1456.0, -709.5}, "log_softmax");
  CHECK(logsumexp(finite, {0}).item<double>() == doctest::Approx(710.0));
}
