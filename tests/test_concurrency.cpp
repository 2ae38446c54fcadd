// Two user threads training at once: over separate models the results must equal a sequential
// run bit for bit; over shared parameters no gradient may be lost (a leaf's .grad accumulation is
// serialised). Also backward passes through a node two threads share.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kSteps = 150;  // sanitizers run ~10-50x slower; the interleavings are what matter
#else
constexpr int kSteps = 2000;
#endif

struct Mlp {
  Tensor w1, b1, w2, b2;
};

Mlp make_mlp(std::uint64_t seed) {
  manual_seed(seed);
  const TensorOptions p{.dtype = float64, .requires_grad = true};
  return {uniform({16, 8}, -0.3, 0.3, p), uniform({16}, -0.1, 0.1, p), uniform({4, 16}, -0.3, 0.3, p),
          uniform({4}, -0.1, 0.1, p)};
}

struct Batch {
  Tensor x, y;
};

std::vector<Batch> make_batches(std::uint64_t seed, int n) {
  manual_seed(seed);
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back({randn({8, 8}).to(float64), randint(0, 4, {8})});
  return out;
}

Tensor mlp_loss(const Mlp& m, const Batch& b) {
  return cross_entropy(linear(tanh(linear(b.x, m.w1, m.b1)), m.w2, m.b2), b.y);
}

void sgd_step(std::vector<Tensor> params, double lr) {
  NoGradGuard no_grad;
  for (Tensor& p : params) {
    const Tensor g = p.grad();
    double* w = p.mutable_data<double>();
    const double* gd = g.data<double>();
    for (std::int64_t i = 0; i < p.numel(); ++i) w[i] -= lr * gd[i];
    p.zero_grad();
  }
}

void train_mlp(Mlp& m, const std::vector<Batch>& batches) {
  for (int s = 0; s < kSteps; ++s) {
    mlp_loss(m, batches[s % batches.size()]).backward();
    sgd_step({m.w1, m.b1, m.w2, m.b2}, 0.05);
  }
}

struct ConvNet {
  Tensor k1, c1, k2, c2, w;
};

ConvNet make_convnet(std::uint64_t seed) {
  manual_seed(seed);
  const TensorOptions p{.requires_grad = true};  // float32: the paths users train with
  return {uniform({8, 2, 3, 3}, -0.3, 0.3, p), uniform({8}, -0.1, 0.1, p), uniform({8, 8, 3, 3}, -0.2, 0.2, p),
          uniform({8}, -0.1, 0.1, p), uniform({3, 8 * 4 * 4}, -0.1, 0.1, p)};
}

std::vector<Batch> make_images(std::uint64_t seed, int n) {
  manual_seed(seed);
  std::vector<Batch> out;
  for (int i = 0; i < n; ++i) out.push_back({randn({4, 2, 8, 8}), randint(0, 3, {4})});
  return out;
}

// Conv (direct path: 2 input channels) -> relu -> conv (Winograd: 3x3, 8 channels) -> pool -> linear.
Tensor conv_loss(const ConvNet& m, const Batch& b) {
  Tensor h = relu(conv2d(b.x, m.k1, m.c1, 1, 1));
  h = max_pool2d(relu(conv2d(h, m.k2, m.c2, 1, 1)), 2);
  return cross_entropy(linear(h.reshape({h.size(0), -1}), m.w), b.y);
}

void train_convnet(ConvNet& m, const std::vector<Batch>& batches, int steps) {
  for (int s = 0; s < steps; ++s) {
    conv_loss(m, batches[s % batches.size()]).backward();
    NoGradGuard no_grad;
    for (Tensor* p : {&m.k1, &m.c1, &m.k2, &m.c2, &m.w}) {
      const Tensor g = p->grad();
      float* w = p->mutable_data<float>();
      for (std::int64_t i = 0; i < p->numel(); ++i) w[i] -= 0.01f * g.data<float>()[i];
      p->zero_grad();
    }
  }
}

void check_same(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  CHECK(a.to_vector<double>() == b.to_vector<double>());
}

}  // namespace

TEST_CASE("concurrency: two threads training separate MLPs equal a sequential run exactly") {
  const auto data_a = make_batches(1, 16), data_b = make_batches(2, 16);
  Mlp seq_a = make_mlp(10), seq_b = make_mlp(11);
  train_mlp(seq_a, data_a);
  train_mlp(seq_b, data_b);

  Mlp par_a = make_mlp(10), par_b = make_mlp(11);
  std::thread ta([&] { train_mlp(par_a, data_a); });
  std::thread tb([&] { train_mlp(par_b, data_b); });
  ta.join();
  tb.join();
  check_same(par_a.w1, seq_a.w1);
  check_same(par_a.w2, seq_a.w2);
  check_same(par_b.w1, seq_b.w1);
  check_same(par_b.b2, seq_b.b2);
}

TEST_CASE("concurrency: two threads training separate conv nets equal a sequential run exactly") {
  const int steps = kSteps / 8;
  const auto data_a = make_images(3, 4), data_b = make_images(4, 4);
  ConvNet seq_a = make_convnet(20), seq_b = make_convnet(21);
  train_convnet(seq_a, data_a, steps);
  train_convnet(seq_b, data_b, steps);

  ConvNet par_a = make_convnet(20), par_b = make_convnet(21);
  std::thread ta([&] { train_convnet(par_a, data_a, steps); });
  std::thread tb([&] { train_convnet(par_b, data_b, steps); });
  ta.join();
  tb.join();
  check_same(par_a.k1, seq_a.k1);
  check_same(par_a.k2, seq_a.k2);
  check_same(par_a.w, seq_a.w);
  check_same(par_b.k1, seq_b.k1);
  check_same(par_b.k2, seq_b.k2);
}

TEST_CASE("concurrency: two threads accumulating into shared parameters lose no gradient") {
  // Each thread runs backward over its own graph built from the shared leaves. The counter leaf
  // gets exactly 1 per pass (integers add exactly in float64), so a lost update would show; the
  // parameters' .grad must equal the sequential sum up to summation order.
  const Mlp shared = make_mlp(30);
  const auto data_a = make_batches(5, 8), data_b = make_batches(6, 8);
  auto counter = scalar_tensor(0.0, {.dtype = float64, .requires_grad = true});
  const int steps = kSteps / 2;
  auto run = [&](const std::vector<Batch>& data) {
    for (int s = 0; s < steps; ++s) (mlp_loss(shared, data[s % data.size()]) + counter).backward();
  };
  run(data_a);
  run(data_b);
  const Tensor seq_w1 = shared.w1.grad().clone(), seq_b2 = shared.b2.grad().clone();
  CHECK(counter.grad().item<double>() == 2.0 * steps);
  for (Tensor t : {shared.w1, shared.b1, shared.w2, shared.b2, counter}) t.zero_grad();

  std::thread ta([&] { run(data_a); });
  std::thread tb([&] { run(data_b); });
  ta.join();
  tb.join();
  CHECK(counter.grad().item<double>() == 2.0 * steps);
  const auto par_w1 = shared.w1.grad().to_vector<double>(), ref_w1 = seq_w1.to_vector<double>();
  for (std::size_t i = 0; i < par_w1.size(); ++i) CHECK(par_w1[i] == doctest::Approx(ref_w1[i]).epsilon(1e-9));
  const auto par_b2 = shared.b2.grad().to_vector<double>(), ref_b2 = seq_b2.to_vector<double>();
  for (std::size_t i = 0; i < par_b2.size(); ++i) CHECK(par_b2[i] == doctest::Approx(ref_b2[i]).epsilon(1e-9));
}

TEST_CASE("concurrency: shared conv parameters, two threads, no lost gradient") {
  ConvNet shared = make_convnet(40);
  const auto data_a = make_images(7, 2), data_b = make_images(8, 2);
  auto counter = scalar_tensor(0.0, {.requires_grad = true});
  const int steps = kSteps / 16;
  auto run = [&](const std::vector<Batch>& data) {
    for (int s = 0; s < steps; ++s) (conv_loss(shared, data[s % data.size()]) + counter).backward();
  };
  run(data_a);
  run(data_b);
  const auto ref = shared.k2.grad().to_vector<double>();
  for (Tensor* p : {&shared.k1, &shared.c1, &shared.k2, &shared.c2, &shared.w, &counter}) p->zero_grad();
  std::thread ta([&] { run(data_a); });
  std::thread tb([&] { run(data_b); });
  ta.join();
  tb.join();
  CHECK(counter.grad().item<float>() == 2.0f * steps);
  const auto par = shared.k2.grad().to_vector<double>();
  REQUIRE(par.size() == ref.size());
  for (std::size_t i = 0; i < par.size(); ++i) CHECK(par[i] == doctest::Approx(ref[i]).epsilon(1e-4));
}

TEST_CASE("concurrency: two threads backward through one shared retained graph") {
  auto x = tensor({1.0, 2.0, 3.0}, {.dtype = float64, .requires_grad = true});
  auto h = exp(x) * x;  // shared non-leaf nodes
  auto loss = h.sum();
  const int passes = kSteps / 4;
  std::vector<std::vector<double>> results(2);
  auto run = [&](int who) {
    for (int i = 0; i < passes; ++i) {
      auto g = grad({loss}, {x}, {}, {.retain_graph = true})[0];
      if (i == passes - 1) results[who] = g.to_vector<double>();
    }
  };
  std::thread ta(run, 0), tb(run, 1);
  ta.join();
  tb.join();
  for (int who = 0; who < 2; ++who)
    for (int i = 0; i < 3; ++i) CHECK(results[who][i] == doctest::Approx(std::exp(i + 1.0) * (i + 2.0)));
}
