// A 2-layer MLP learns the two-moons toy dataset: two interleaved half circles in the plane,
// one class each, which no straight line separates.
//
//   model = Linear(2, 32) -> Tanh -> Linear(32, 2)     (nn::Sequential, PyTorch's default init)
//   loss  = cross entropy of the two scores against the label
//
// Full-batch SGD with momentum (optim::SGD) and a cosine learning-rate schedule: backward() fills
// each parameter's .grad(), opt.step() updates the parameters in place without recording a graph.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <random>
#include <vector>

#include <xgrad/nn.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {

struct Dataset {
  Tensor inputs;  // [N, 2] float32
  Tensor labels;  // [N] int64
};

// Two moons with Gaussian noise, centred and scaled to roughly unit spread.
Dataset two_moons(int per_class, double noise, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> angle(0.0, std::numbers::pi);
  std::normal_distribution<double> jitter(0.0, noise);
  std::vector<double> xy;
  std::vector<std::int64_t> labels;
  for (int label = 0; label < 2; ++label)
    for (int i = 0; i < per_class; ++i) {
      const double t = angle(rng);
      double px = label == 0 ? std::cos(t) : 1.0 - std::cos(t);
      double py = label == 0 ? std::sin(t) : 0.5 - std::sin(t);
      px += jitter(rng);
      py += jitter(rng);
      xy.insert(xy.end(), {(px - 0.5) / 0.9, (py - 0.25) / 0.5});
      labels.push_back(label);
    }
  const std::int64_t n = 2 * per_class;
  return {tensor(xy, {n, 2}), tensor(labels, {n})};
}

// Fraction of points whose highest score is their class.
double accuracy(const Tensor& scores, const Tensor& labels) {
  NoGradGuard no_grad;
  return (scores.argmax(1) == labels).sum().item() / static_cast<double>(labels.numel());
}

}  // namespace

int main() {
  manual_seed(0);
  const Dataset data = two_moons(/*per_class=*/200, /*noise=*/0.1, /*seed=*/7);

  const int steps = 500;
  const int print_every = 50;
  nn::Sequential model(nn::Linear(2, 32), nn::Tanh(), nn::Linear(32, 2));
  nn::CrossEntropyLoss criterion;
  optim::SGD opt(model.parameters(), {.lr = 0.1, .momentum = 0.9});
  optim::CosineAnnealingLR schedule(opt, {.T_max = steps});

  std::printf("two moons: %lld points\n", static_cast<long long>(data.inputs.size(0)));
  std::printf("model: %s\n", fmt::format("{}", model).c_str());
  std::printf("SGD lr 0.1, momentum 0.9, cosine schedule over %d steps\n", steps);
  const auto start = std::chrono::steady_clock::now();
  Tensor scores;
  for (int step = 0; step <= steps; ++step) {
    scores = model(data.inputs);
    const Tensor loss = criterion(scores, data.labels);
    if (step % print_every == 0)
      std::printf("step %5d  lr %.4f  loss %.5f  accuracy %5.1f%%\n", step, opt.lr(0), loss.item(),
                  100.0 * accuracy(scores, data.labels));
    if (step == steps) break;
    opt.zero_grad();
    loss.backward();
    opt.step();
    schedule.step();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double final_accuracy = accuracy(scores, data.labels);
  std::printf("final accuracy %.1f%% after %d steps in %.2f s\n", 100.0 * final_accuracy, steps, seconds);
  return final_accuracy >= 0.95 ? 0 : 1;
}
