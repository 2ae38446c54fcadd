// nn layers: each equals its functional op, PyTorch's initialisation and nn::init formulas,
// BatchNorm's running statistics, Dropout's modes, losses, the gelu op, and their repr strings.
#include <doctest/doctest.h>
#include <xgrad/nn.h>
#include <xgrad/xgrad.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

double max_abs(const Tensor& t) { return t.abs().max().item(); }

// Sample standard deviation about the known mean 0.
double std_about_zero(const Tensor& t) { return std::sqrt((t.to(float64) * t.to(float64)).mean().item()); }

void check_identical(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  CHECK(a.dtype() == b.dtype());
  CHECK(a.to_vector<double>() == b.to_vector<double>());
}

}  // namespace

TEST_CASE("nn: every layer's output equals its functional op") {
  manual_seed(10);
  const Tensor x1 = randn({2, 4, 9});
  const Tensor x2 = randn({2, 4, 7, 6});

  nn::Linear fc(9, 5);
  check_identical(fc(x1), linear(x1, fc.weight, fc.bias));
  nn::Linear no_bias(9, 5, {.bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  check_identical(no_bias(x1), linear(x1, no_bias.weight));

  nn::Conv1d c1(4, 6, 3, {.stride = 2, .padding = 1, .dilation = 1, .groups = 2});
  CHECK(c1.weight.shape() == Shape{6, 2, 3});
  check_identical(c1(x1), conv1d(x1, c1.weight, c1.bias, 2, 1, 1, 2));
  nn::Conv1d same(4, 4, 3, {.padding = "same"});
  CHECK(same(x1).shape() == Shape{2, 4, 9});
  nn::Conv2d c2(4, 8, {3, 2}, {.stride = {1, 2}, .padding = {1, 0}, .dilation = 2});
  CHECK(c2.weight.shape() == Shape{8, 4, 3, 2});
  check_identical(c2(x2), conv2d(x2, c2.weight, c2.bias, {1, 2}, {1, 0}, 2, 1));
  nn::ConvTranspose1d t1(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  CHECK(t1.weight.shape() == Shape{4, 3, 3});
  check_identical(t1(x1), conv_transpose1d(x1, t1.weight, t1.bias, 2, 1, 1, 2));
  nn::ConvTranspose2d t2(4, 3, 3, {.stride = 2, .bias = false, .dilation = {1, 2}});
  check_identical(t2(x2), conv_transpose2d(x2, t2.weight, Tensor(), 2, 0, 0, 1, {1, 2}));

  check_identical(nn::MaxPool1d(3, {.stride = 2, .padding = 1})(x1), max_pool1d(x1, 3, 2, 1));
  check_identical(nn::MaxPool2d(2)(x2), max_pool2d(x2, 2));
  check_identical(nn::MaxPool2d({3, 2}, {.stride = 1, .dilation = {1, 2}, .ceil_mode = true})(x2),
                  max_pool2d(x2, {3, 2}, Int2(1), 0, {1, 2}, true));
  check_identical(nn::AvgPool1d(2)(x1), avg_pool1d(x1, 2));
  check_identical(nn::AvgPool2d(3, {.stride = 2, .padding = 1, .count_include_pad = false})(x2),
                  avg_pool2d(x2, 3, Int2(2), 1, false, false));
  check_identical(nn::AvgPool2d(2, {.divisor_override = 3})(x2), avg_pool2d(x2, 2, std::nullopt, 0, false, true, 3));
  check_identical(nn::AdaptiveAvgPool1d(4)(x1), adaptive_avg_pool1d(x1, 4));
  check_identical(nn::AdaptiveAvgPool2d({3, 2})(x2), adaptive_avg_pool2d(x2, {3, 2}));

  check_identical(nn::ReLU()(x1), relu(x1));
  check_identical(nn::LeakyReLU(0.2)(x1), leaky_relu(x1, 0.2));
  check_identical(nn::ELU(0.5)(x1), elu(x1, 0.5));
  check_identical(nn::GELU()(x1), gelu(x1));
  check_identical(nn::GELU("tanh")(x1), gelu(x1, "tanh"));
  check_identical(nn::Sigmoid()(x1), sigmoid(x1));
  check_identical(nn::Tanh()(x1), tanh(x1));
  check_identical(nn::Softmax(1)(x1), softmax(x1, 1));
  check_identical(nn::LogSoftmax(-1)(x1), log_softmax(x1, -1));
  check_identical(nn::Flatten()(x2), reshape(x2, {2, 4 * 7 * 6}));
  check_identical(nn::Flatten(0, 2)(x2), reshape(x2, {2 * 4 * 7, 6}));
  CHECK(nn::Identity()(x1).is_same(x1));

  nn::LayerNorm ln({7, 6});
  {
    NoGradGuard no_grad;
    ln.weight.normal_();
    ln.bias.normal_();
  }
  check_identical(ln(x2), layer_norm(x2, {7, 6}, ln.weight, ln.bias));
  nn::LayerNorm plain({6}, {.elementwise_affine = false});
  CHECK(plain.parameters().empty());
  check_identical(plain(x2), layer_norm(x2, {6}));

  // Losses.
  const Tensor logits = randn({5, 3});
  const Tensor labels = tensor(std::vector<std::int64_t>{0, 2, 1, 1, 0}, {5});
  const Tensor w = tensor({1.0, 2.0, 0.5});
  check_identical(nn::CrossEntropyLoss()(logits, labels), cross_entropy(logits, labels));
  check_identical(
      nn::CrossEntropyLoss({.weight = w, .ignore_index = 2, .reduction = Reduction::sum, .label_smoothing = 0.1})(
          logits, labels),
      cross_entropy(logits, labels, w, 2, Reduction::sum, 0.1));
  const Tensor logp = log_softmax(logits, 1);
  check_identical(nn::NLLLoss({.weight = w})(logp, labels), nll_loss(logp, labels, w));
  check_identical(nn::MultiMarginLoss({.p = 2, .margin = 0.5})(logits, labels),
                  multi_margin_loss(logits, labels, 2, 0.5));
  check_identical(nn::SVMLoss({.margin = 2.0})(logits, labels), svm_loss(logits, labels, 2.0));
  const Tensor target = randn({5, 3});
  check_identical(nn::MSELoss()(logits, target), mse_loss(logits, target));
  check_identical(nn::L1Loss({.reduction = Reduction::none})(logits, target), l1_loss(logits, target, Reduction::none));
  const Tensor probs = rand({5, 3});
  check_identical(nn::BCEWithLogitsLoss({.pos_weight = w})(logits, probs),
                  binary_cross_entropy_with_logits(logits, probs, Tensor(), Reduction::mean, w));

  // Class weights are buffers, as in PyTorch.
  nn::CrossEntropyLoss weighted({.weight = w});
  CHECK(weighted.state_dict().keys() == std::vector<std::string>{"weight"});
  CHECK(nn::CrossEntropyLoss().state_dict().empty());
  CHECK(nn::BCEWithLogitsLoss({.weight = w, .pos_weight = w}).state_dict().keys() ==
        std::vector<std::string>{"weight", "pos_weight"});
  nn::MSELoss mse;
  CHECK(contains(test::error_of([&] { mse(logits); }), "MSELoss: cannot be called with one input"));
  CHECK(contains(test::error_of([] { nn::MultiMarginLoss({.p = 3}); }), "only p == 1 and p == 2"));
}

TEST_CASE("nn: pooling, normalisation, dropout, activation and loss layers print PyTorch's repr") {
  CHECK(nn::MaxPool1d(2).repr() == "MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(nn::MaxPool2d(2).repr() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  CHECK(nn::MaxPool2d({3, 2}, {.stride = 1, .ceil_mode = true}).repr() ==
        "MaxPool2d(kernel_size=(3, 2), stride=1, padding=0, dilation=1, ceil_mode=True)");
  CHECK(nn::AvgPool1d(3, {.stride = 2}).repr() == "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(0,))");
  CHECK(nn::AvgPool2d(2).repr() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  CHECK(nn::AdaptiveAvgPool1d(4).repr() == "AdaptiveAvgPool1d(output_size=4)");
  CHECK(nn::AdaptiveAvgPool2d(1).repr() == "AdaptiveAvgPool2d(output_size=1)");
  CHECK(nn::AdaptiveAvgPool2d({5, 7}).repr() == "AdaptiveAvgPool2d(output_size=(5, 7))");
  CHECK(nn::BatchNorm1d(15).repr() ==
        "BatchNorm1d(15, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  CHECK(nn::BatchNorm2d(8, {.eps = 1e-3, .momentum = std::nullopt, .affine = false}).repr() ==
        "BatchNorm2d(8, eps=0.001, momentum=None, affine=False, track_running_stats=True)");
  CHECK(nn::LayerNorm({10}).repr() == "LayerNorm((10,), eps=1e-05, elementwise_affine=True)");
  CHECK(nn::LayerNorm({4, 5}, {.elementwise_affine = false}).repr() ==
        "LayerNorm((4, 5), eps=1e-05, elementwise_affine=False)");
  CHECK(nn::Dropout().repr() == "Dropout(p=0.5, inplace=False)");
  CHECK(nn::Dropout(0.25).repr() == "Dropout(p=0.25, inplace=False)");
  CHECK(nn::GELU().repr() == "GELU(approximate='none')");
  CHECK(nn::GELU("tanh").repr() == "GELU(approximate='tanh')");
  CHECK(nn::ELU(2).repr() == "ELU(alpha=2.0)");
  CHECK(nn::LeakyReLU(0.2).repr() == "LeakyReLU(negative_slope=0.2)");
  CHECK(nn::CrossEntropyLoss().repr() == "CrossEntropyLoss()");
  CHECK(nn::NLLLoss().repr() == "NLLLoss()");
  CHECK(nn::MultiMarginLoss().repr() == "MultiMarginLoss()");
  CHECK(nn::MSELoss().repr() == "MSELoss()");
  CHECK(nn::L1Loss().repr() == "L1Loss()");
  CHECK(nn::BCEWithLogitsLoss().repr() == "BCEWithLogitsLoss()");
  CHECK(nn::SVMLoss().repr() == "SVMLoss()");

  // A small CNN as PyTorch prints it.
  nn::Sequential cnn(nn::Conv2d(1, 8, 3, {.padding = 1}), nn::BatchNorm2d(8), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Dropout(0.1), nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Linear(8, 10));
  CHECK(cnn.repr() ==
        "Sequential(\n"
        "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): ReLU()\n"
        "  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (4): Dropout(p=0.1, inplace=False)\n"
        "  (5): AdaptiveAvgPool2d(output_size=1)\n"
        "  (6): Flatten(start_dim=1, end_dim=-1)\n"
        "  (7): Linear(in_features=8, out_features=10, bias=True)\n"
        ")");
  CHECK(cnn.state_dict().keys() ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                 "1.num_batches_tracked", "7.weight", "7.bias"});
  CHECK(cnn(randn({2, 1, 8, 8})).shape() == Shape{2, 10});
}

TEST_CASE("nn: default initialisation uses PyTorch's bounds, fan_in as PyTorch computes it") {
  manual_seed(11);
  struct Case {
    std::string what;
    Tensor weight, bias;
    double fan_in;
  };
  nn::Linear fc(100, 60);
  nn::Conv1d conv1(4, 6, 5);
  nn::Conv2d conv2(8, 30, 3, {.groups = 2});
  nn::ConvTranspose1d tconv1(4, 6, 5, {.groups = 2});  // weight [4, 3, 5]: fan_in 3 * 5
  nn::ConvTranspose2d tconv2(2, 80, 3);                 // weight [2, 80, 3, 3]: fan_in 80 * 9
  const std::vector<Case> cases{{"Linear", fc.weight, fc.bias, 100},
                                {"Conv1d", conv1.weight, conv1.bias, 20},
                                {"Conv2d", conv2.weight, conv2.bias, 36},
                                {"ConvTranspose1d", tconv1.weight, tconv1.bias, 15},
                                {"ConvTranspose2d", tconv2.weight, tconv2.bias, 720}};
  for (const auto& c : cases) {
    INFO(c.what);
    const double bound = 1.0 / std::sqrt(c.fan_in);
    CHECK(max_abs(c.weight) <= bound);
    CHECK(max_abs(c.bias) <= bound);
    CHECK(max_abs(c.weight) > 0.8 * bound);  // spread over the range, not a narrower one
    if (c.weight.numel() >= 1000) CHECK(std_about_zero(c.weight) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  }
  CHECK(tconv1.weight.shape() == Shape{4, 3, 5});

  nn::BatchNorm1d bn(3);
  CHECK(bn.weight.to_vector<double>() == std::vector<double>{1, 1, 1});
  CHECK(bn.bias.to_vector<double>() == std::vector<double>{0, 0, 0});
  nn::LayerNorm ln({2});
  CHECK(ln.weight.to_vector<double>() == std::vector<double>{1, 1});
  CHECK(ln.bias.to_vector<double>() == std::vector<double>{0, 0});
}

TEST_CASE("nn: weights are deterministic under manual_seed and with a Generator") {
  manual_seed(42);
  nn::Linear a(6, 4);
  manual_seed(42);
  nn::Linear b(6, 4);
  CHECK(a.weight.to_vector<double>() == b.weight.to_vector<double>());
  CHECK(a.bias.to_vector<double>() == b.bias.to_vector<double>());
  nn::Linear c(6, 4);  // the stream moved on
  CHECK(a.weight.to_vector<double>() != c.weight.to_vector<double>());

  // A generator of one's own: the same weights whatever default_generator() did in between.
  Generator g1(7), g2(7);
  nn::Conv1d d(2, 3, 3, {.generator = &g1});
  manual_seed(999);
  (void)randn({100});
  nn::Conv1d e(2, 3, 3, {.generator = &g2});
  CHECK(d.weight.to_vector<double>() == e.weight.to_vector<double>());
  CHECK(d.bias.to_vector<double>() == e.bias.to_vector<double>());

  Generator g3(5), g4(5);
  const Tensor w1 = nn::init::kaiming_normal_(empty({4, 5}), {.generator = &g3});
  const Tensor w2 = nn::init::kaiming_normal_(empty({4, 5}), {.generator = &g4});
  CHECK(w1.to_vector<double>() == w2.to_vector<double>());
}

TEST_CASE("nn: init functions follow their formulas") {
  using namespace nn::init;
  CHECK(calculate_gain("linear") == 1.0);
  CHECK(calculate_gain("conv2d") == 1.0);
  CHECK(calculate_gain("sigmoid") == 1.0);
  CHECK(calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(calculate_gain("relu") == doctest::Approx(std::sqrt(2.0)));
  CHECK(calculate_gain("leaky_relu") == doctest::Approx(std::sqrt(2.0 / (1 + 0.01 * 0.01))));
  CHECK(calculate_gain("leaky_relu", 0.2) == doctest::Approx(std::sqrt(2.0 / 1.04)));
  CHECK(calculate_gain("selu") == 0.75);
  CHECK(contains(test::error_of([] { calculate_gain("swish"); }), "unsupported nonlinearity 'swish'"));
  CHECK(calculate_fan_in_and_fan_out(empty({6, 4, 3, 2})) == std::pair<std::int64_t, std::int64_t>{24, 36});

  manual_seed(12);
  // kaiming_uniform_, defaults (a = 0, fan_in, leaky_relu): bound = sqrt(2) * sqrt(3 / 300).
  const Tensor ku = kaiming_uniform_(empty({200, 300}));
  const double ku_bound = std::sqrt(6.0 / 300.0);
  CHECK(max_abs(ku) <= ku_bound);
  CHECK(max_abs(ku) > 0.99 * ku_bound);
  CHECK(std_about_zero(ku) == doctest::Approx(ku_bound / std::sqrt(3.0)).epsilon(0.02));
  // a = sqrt(5) (the layers' default) gives bound 1 / sqrt(fan_in).
  const Tensor k5 = kaiming_uniform_(empty({200, 300}), {.a = std::sqrt(5.0)});
  CHECK(max_abs(k5) <= 1.0 / std::sqrt(300.0));
  CHECK(max_abs(k5) > 0.99 / std::sqrt(300.0));
  // kaiming_normal_, fan_out, relu: std = sqrt(2) / sqrt(200).
  const Tensor kn = kaiming_normal_(empty({200, 300}), {.mode = FanMode::fan_out, .nonlinearity = "relu"});
  CHECK(std_about_zero(kn) == doctest::Approx(0.1).epsilon(0.02));
  CHECK(std::abs(kn.mean().item()) < 0.003);
  // xavier_uniform_, gain 2: bound = 2 sqrt(6 / (200 + 300)).
  const Tensor xu = xavier_uniform_(empty({200, 300}), 2.0);
  const double xu_bound = 2.0 * std::sqrt(6.0 / 500.0);
  CHECK(max_abs(xu) <= xu_bound);
  CHECK(max_abs(xu) > 0.99 * xu_bound);
  // xavier_normal_: std = sqrt(2 / 500); float64 tensors too.
  const Tensor xn = xavier_normal_(empty({300, 200}, {.dtype = float64}));
  CHECK(xn.dtype() == float64);
  CHECK(std_about_zero(xn) == doctest::Approx(std::sqrt(2.0 / 500.0)).epsilon(0.02));
  // Conv weights: fans include the receptive field. [16, 8, 5]: fan_in 40.
  const Tensor kc = kaiming_uniform_(empty({16, 8, 5}), {.nonlinearity = "relu"});
  CHECK(max_abs(kc) <= std::sqrt(2.0) * std::sqrt(3.0 / 40.0));

  const Tensor u = uniform_(empty({20000}), -2.0, 3.0);
  CHECK(u.min().item() >= -2.0);
  CHECK(u.max().item() < 3.0);
  CHECK(std::abs(u.mean().item() - 0.5) < 0.05);  // 5 / sqrt(12 * 20000) = 0.01 per sigma
  const Tensor n = normal_(empty({20000}), 1.0, 0.5);
  CHECK(n.mean().item() == doctest::Approx(1.0).epsilon(0.02));
  CHECK(std::sqrt(((n - 1.0) * (n - 1.0)).mean().item()) == doctest::Approx(0.5).epsilon(0.03));
  CHECK(constant_(empty({3}), 2.5).to_vector<double>() == std::vector<double>{2.5, 2.5, 2.5});
  CHECK(zeros_(ones({2})).to_vector<double>() == std::vector<double>{0, 0});
  CHECK(ones_(zeros({2})).to_vector<double>() == std::vector<double>{1, 1});

  // They write in place without recording, even into a leaf that requires grad with grad mode on.
  Tensor p = zeros({4, 3}, {.requires_grad = true});
  const Tensor same = xavier_uniform_(p);
  CHECK(same.is_same(p));
  CHECK(p.is_leaf());
  CHECK(max_abs(p) > 0.0);

  CHECK(contains(test::error_of([] { kaiming_uniform_(empty({5})); }), "fewer than 2 dims (shape [5])"));
  CHECK(contains(test::error_of([] { xavier_normal_(empty({})); }), "xavier_normal_: fan in and fan out cannot"));
  CHECK(contains(test::error_of([] { calculate_fan_in_and_fan_out(empty({3})); }), "fewer than 2 dims"));
  CHECK(contains(test::error_of([] { normal_(zeros({2}, {.dtype = int64})); }), "normal_: the tensor is int64"));
}

TEST_CASE("nn: BatchNorm's running statistics after two steps equal hand-computed values and eval uses them") {
  nn::BatchNorm1d bn(2);
  CHECK(bn.is_training());
  // Step 1: batch means [2, 4], unbiased variances [2, 8], biased [1, 4].
  const Tensor y1 = bn(tensor({{1.0, 2.0}, {3.0, 6.0}}));
  const double eps = 1e-5;
  test::check_close(y1, {-1 / std::sqrt(1 + eps), -2 / std::sqrt(4 + eps), 1 / std::sqrt(1 + eps),
                         2 / std::sqrt(4 + eps)},
                    1e-6);
  test::check_close(bn.running_mean, {0.2, 0.4}, 1e-6);
  test::check_close(bn.running_var, {0.9 + 0.2, 0.9 + 0.8}, 1e-6);
  // Step 2: means [2, 2], unbiased variances [4, 3].
  bn(tensor({{0.0, 1.0}, {2.0, 1.0}, {4.0, 4.0}}));
  test::check_close(bn.running_mean, {0.9 * 0.2 + 0.2, 0.9 * 0.4 + 0.2}, 1e-6);  // [0.38, 0.56]
  test::check_close(bn.running_var, {0.9 * 1.1 + 0.4, 0.9 * 1.7 + 0.3}, 1e-6);   // [1.39, 1.83]
  CHECK(bn.num_batches_tracked.dtype() == int64);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 2);

  // Evaluation normalises with the running statistics and leaves them alone.
  bn.eval();
  {
    NoGradGuard no_grad;
    bn.weight.fill_(2.0);
    bn.bias.fill_(0.5);
  }
  const Tensor y = bn(tensor({{1.0, 1.0}}));
  test::check_close(y, {2 * (1 - 0.38) / std::sqrt(1.39 + eps) + 0.5, 2 * (1 - 0.56) / std::sqrt(1.83 + eps) + 0.5},
                    1e-6);
  test::check_close(bn.running_mean, {0.38, 0.56}, 1e-6);
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 2);

  // momentum = nullopt: the cumulative average of the batch statistics.
  nn::BatchNorm1d cumulative(2, {.momentum = std::nullopt});
  cumulative(tensor({{1.0, 2.0}, {3.0, 6.0}}));
  cumulative(tensor({{0.0, 1.0}, {2.0, 1.0}, {4.0, 4.0}}));
  test::check_close(cumulative.running_mean, {2.0, 3.0}, 1e-6);
  test::check_close(cumulative.running_var, {3.0, 5.5}, 1e-6);

  // [N, C, L] input: statistics over N and L.
  nn::BatchNorm1d seq(1, {.momentum = 0.5});
  seq(tensor({{{1.0, 3.0}}, {{5.0, 7.0}}}));  // mean 4, unbiased var 20/3
  test::check_close(seq.running_mean, {2.0}, 1e-6);
  test::check_close(seq.running_var, {0.5 + 0.5 * 20.0 / 3.0}, 1e-6);

  // Without running statistics there are no buffers and evaluation uses the batch.
  nn::BatchNorm2d untracked(2, {.track_running_stats = false});
  CHECK(untracked.buffers().empty());
  CHECK(untracked.state_dict().keys() == std::vector<std::string>{"weight", "bias"});
  untracked.eval();
  const Tensor x4 = randn({3, 2, 2, 2});
  check_identical(untracked(x4), batch_norm(x4, Tensor(), Tensor(), untracked.weight, untracked.bias, true));

  // BatchNorm2d in training equals the op with its buffers.
  nn::BatchNorm2d bn2(2);
  const Tensor rm = zeros({2}), rv = ones({2});
  check_identical(bn2(x4), batch_norm(x4, rm, rv, bn2.weight, bn2.bias, true, 0.1, 1e-5));
  CHECK(bn2.running_mean.to_vector<double>() == rm.to_vector<double>());
  CHECK(bn2.running_var.to_vector<double>() == rv.to_vector<double>());

  CHECK(contains(test::error_of([&] { bn2(randn({2, 2, 3})); }), "BatchNorm2d: expected 4D input (got 3D input"));
  CHECK(contains(test::error_of([&] { bn(randn({2, 2, 2, 2})); }), "BatchNorm1d: expected 2D or 3D input (got 4D"));
  CHECK(contains(test::error_of([&] { bn(randn({2, 3})); }), "BatchNorm1d(2): expected 2 channels in dim 1"));

  // to(float64) converts the statistics but keeps the int64 counter.
  bn.to(float64);
  CHECK(bn.running_mean.dtype() == float64);
  CHECK(bn.num_batches_tracked.dtype() == int64);
  CHECK(bn(tensor({{1.0, 1.0}}, {.dtype = float64})).dtype() == float64);
}

TEST_CASE("nn: Dropout is the identity in eval, and its masks follow the seed or the generator") {
  manual_seed(13);
  const Tensor x = randn({64, 32});
  nn::Dropout drop(0.25);
  const Tensor y = drop(x);
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  std::size_t zeroed = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) ++zeroed;
    else CHECK(yv[i] == doctest::Approx(xv[i] / 0.75));
  }
  CHECK(static_cast<double>(zeroed) / xv.size() == doctest::Approx(0.25).epsilon(0.15));
  drop.eval();
  check_identical(drop(x), x);

  Generator g1(3), g2(3);
  nn::Dropout a(0.5, {.generator = &g1}), b(0.5, {.generator = &g2});
  const Tensor ya = a(x);
  manual_seed(77);
  check_identical(b(x), ya);
  CHECK(nn::Dropout(0.0)(x).to_vector<double>() == xv);
  CHECK(contains(test::error_of([] { nn::Dropout(1.5); }), "Dropout: probability has to be between 0 and 1, but got 1.5"));
}

TEST_CASE("nn: gelu matches PyTorch's formulas, with first and second derivatives") {
  const Tensor x = test::leaf({-2.0, -0.5, 0.0, 1.0, 3.0});
  test::check_close(gelu(x), {-0.04550026389635842, -0.15426876936299344, 0.0, 0.8413447460685429, 2.99595030590511},
                    1e-12);
  test::check_close(gelu(x, "tanh"),
                    {-0.04540230591222494, -0.15428599017485606, 0.0, 0.8411919906082768, 2.996362607918227}, 1e-12);
  // d/dx x Phi(x) = Phi(x) + x phi(x); d2/dx2 = phi(x) (2 - x^2).
  const Tensor g = grad({gelu(x).sum()}, {x}, {}, {.create_graph = true})[0];
  test::check_close(g, {-0.08523180107819692, 0.13250487534383712, 0.5, 1.0833154705876864, 1.011945647204184}, 1e-12);
  test::check_close(grad({g.sum()}, {x})[0],
                    {-0.10798193302637613, 0.6161143218375241, 0.7978845608028654, 0.24197072451914337,
                     -0.031022938883566054},
                    1e-10);
  const Tensor gt = grad({gelu(x, "tanh").sum()}, {x})[0];
  test::check_close(gt, {-0.08609925662361825, 0.13263009646535764, 0.5, 1.0829640838457826, 1.0115841666309695},
                    1e-12);
  test::check_close(erf(tensor({0.5, -1.5}, {.dtype = float64})), {0.5204998778130465, -0.9661051464753108}, 1e-14);

  auto fn = [](const TensorList& in) { return TensorList{gelu(in[0], "tanh") * gelu(in[0])}; };
  const Tensor xs = test::leaf({-1.3, -0.2, 0.4, 2.1});
  CHECK(gradcheck(fn, {xs}).passed);
  CHECK(gradgradcheck(fn, {xs}).passed);
  const Tensor f32 = gelu(tensor({1.0f, -1.0f}));  // float32 stays float32
  CHECK(f32.dtype() == float32);
  test::check_close(f32, {0.8413447460685429, -0.15865525393145707}, 1e-6);
  CHECK(contains(test::error_of([] { gelu(ones({1}), "fast"); }), "gelu: approximate must be 'none' or 'tanh', got 'fast'"));
  CHECK(contains(test::error_of([] { nn::GELU("fast"); }), "GELU: approximate must be 'none' or 'tanh'"));
  CHECK(contains(test::error_of([] { gelu(ones({1}, {.dtype = int64})); }), "gelu: expects a floating tensor"));
}
