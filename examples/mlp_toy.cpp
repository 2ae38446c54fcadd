// A 2-layer MLP learns the two-moons toy dataset: two interleaved half circles in the plane,
// one class each, which no straight line separates.
//
//   hidden = tanh(x W1 + b1)          x: [N, 2], W1: [2, H]
//   scores = hidden W2 + b2           W2: [H, 2], one score per class
//   loss   = mean((scores - onehot)^2)
//
// Plain full-batch gradient descent written by hand: backward() fills each parameter's .grad(),
// and the update runs under NoGradGuard so that it is not recorded in the graph.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <vector>

#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {

struct Dataset {
  Tensor inputs;   // [N, 2] float32
  Tensor onehot;   // [N, 2] float32 regression targets
  Tensor labels;   // [N] int64
};

// Two moons with Gaussian noise, centred and scaled to roughly unit spread.
Dataset two_moons(int per_class, double noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> angle(0.0, std::numbers::pi);
  std::normal_distribution<double> jitter(0.0, noise);
  std::vector<double> xy, onehot;
  std::vector<std::int64_t> labels;
  for (int label = 0; label < 2; ++label)
    for (int i = 0; i < per_class; ++i) {
      const double t = angle(rng);
      double px = label == 0 ? std::cos(t) : 1.0 - std::cos(t);
      double py = label == 0 ? std::sin(t) : 0.5 - std::sin(t);
      px += jitter(rng);
      py += jitter(rng);
      xy.insert(xy.end(), {(px - 0.5) / 0.9, (py - 0.25) / 0.5});
      onehot.insert(onehot.end(), {label == 0 ? 1.0 : 0.0, label == 1 ? 1.0 : 0.0});
      labels.push_back(label);
    }
  const std::int64_t n = 2 * per_class;
  return {tensor(xy, {n, 2}), tensor(onehot, {n, 2}), tensor(labels, {n})};
}

// Fraction of points whose highest score is their class.
double accuracy(const Tensor& scores, const Tensor& labels) {
  NoGradGuard no_grad;
  const Tensor correct = eq(argmax(scores, 1), labels);
  return sum(correct).item<std::int64_t>() / static_cast<double>(labels.numel());
}

}  // namespace

int main() {
  manual_seed(0);
  const Dataset data = two_moons(/*per_class=*/200, /*noise=*/0.1, /*seed=*/7);

  const std::int64_t hidden = 32;
  const double learning_rate = 0.1;  // larger rates (0.5) diverge on this loss
  const int steps = 2000;
  const int print_every = 200;

  // Scaled normal initialisation keeps tanh away from saturation at the start.
  Tensor w1 = (randn({2, hidden}) * (1.0 / std::sqrt(2.0))).detach().requires_grad_();
  Tensor b1 = zeros({hidden}, {.requires_grad = true});
  Tensor w2 = (randn({hidden, 2}) * (1.0 / std::sqrt(static_cast<double>(hidden)))).detach().requires_grad_();
  Tensor b2 = zeros({2}, {.requires_grad = true});
  std::vector<Tensor*> parameters = {&w1, &b1, &w2, &b2};

  std::printf("two moons: %lld points, MLP 2 -> %lld (tanh) -> 2, MSE on one-hot, SGD lr %.2f\n",
              static_cast<long long>(data.inputs.size(0)), static_cast<long long>(hidden), learning_rate);
  const auto start = std::chrono::steady_clock::now();
  Tensor scores;
  for (int step = 0; step <= steps; ++step) {
    const Tensor h = tanh(matmul(data.inputs, w1) + b1);
    scores = matmul(h, w2) + b2;
    const Tensor loss = mean(pow(scores - data.onehot, 2.0));
    if (step % print_every == 0)
      std::printf("step %5d  loss %.5f  accuracy %5.1f%%\n", step, loss.item<float>(),
                  100.0 * accuracy(scores, data.labels));
    if (step == steps) break;

    loss.backward();
    NoGradGuard no_grad;  // the update itself is not part of any graph
    for (Tensor* p : parameters) *p = (*p - learning_rate * p->grad()).requires_grad_();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double final_accuracy = accuracy(scores, data.labels);
  std::printf("final accuracy %.1f%% after %d steps in %.2f s\n", 100.0 * final_accuracy, steps, seconds);
  return final_accuracy >= 0.95 ? 0 : 1;
}
