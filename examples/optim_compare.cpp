// Every optimizer and every learning-rate scheduler of optim/ on one toy problem, side by side.
// The problem: fit y = sin(3x) on [-1, 1] (64 noisy points) with a 1 -> 32 -> 32 -> 1 tanh MLP,
// full batch, mean squared error, 300 steps. Each run starts from the same weights (same seed).
// The program prints the final training loss of each run; it exits non-zero if a run fails to
// learn at all (final loss above the loss of predicting the mean), so the test suite runs it too.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <xgrad/nn.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

using namespace xgrad;
using namespace xgrad::optim;

namespace {

constexpr int kSteps = 300;

struct Problem {
  Tensor x, y;
};

Problem make_problem() {
  Generator gen(3);
  Tensor x = linspace(-1, 1, 64).unsqueeze(1);
  Tensor y = sin(3.0 * x) + normal({64, 1}, 0.0, 0.05, gen);
  return {x, y};
}

nn::Sequential make_model() {
  manual_seed(1);  // the same initial weights for every run
  return nn::Sequential(nn::Linear(1, 32), nn::Tanh(), nn::Linear(32, 32), nn::Tanh(), nn::Linear(32, 1));
}

// A scheduler stepped once per training step; ReduceLROnPlateau is given the loss.
using SchedulerStep = std::function<void(double loss)>;
using MakeScheduler = std::function<SchedulerStep(Optimizer&)>;

struct Result {
  double loss;
  double final_lr;
};

Result train(const Problem& p, const std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>& make_optimizer,
             const MakeScheduler& make_scheduler = nullptr) {
  nn::Sequential model = make_model();
  nn::MSELoss criterion;
  std::unique_ptr<Optimizer> opt = make_optimizer(model.parameters());
  SchedulerStep schedule = make_scheduler ? make_scheduler(*opt) : SchedulerStep{};
  double loss_value = 0;
  for (int step = 0; step < kSteps; ++step) {
    opt->zero_grad();
    const Tensor loss = criterion(model(p.x), p.y);
    loss.backward();
    opt->step();
    loss_value = loss.item();
    if (schedule) schedule(loss_value);
  }
  NoGradGuard no_grad;
  return {criterion(model(p.x), p.y).item(), opt->lr(0)};
}

template <class S, class... Args>
MakeScheduler every_step(Args... args) {
  return [=](Optimizer& opt) -> SchedulerStep {
    auto s = std::make_shared<S>(opt, args...);
    return [s](double) { s->step(); };
  };
}

}  // namespace

int main() {
  const Problem p = make_problem();
  const double baseline = mean(pow(p.y - mean(p.y), 2.0)).item();  // predicting the mean (no grad: plain data)
  bool all_learn = true;

  std::printf("fit sin(3x) with a 1-32-32-1 tanh MLP, %d full-batch steps; predicting the mean gives %.4f\n\n",
              kSteps, baseline);
  struct OptimizerRun {
    std::string name;
    std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)> make;
  };
  const std::vector<OptimizerRun> optimizers = {
      {"SGD lr 0.05", [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05}); }},
      {"SGD lr 0.05 momentum 0.9", [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.9}); }},
      {"SGD lr 0.05 Nesterov 0.9",
       [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}); }},
      {"Adagrad lr 0.1", [](auto ps) { return std::make_unique<Adagrad>(ps, AdagradOptions{.lr = 0.1}); }},
      {"RMSprop lr 0.01", [](auto ps) { return std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01}); }},
      {"RMSprop lr 0.01 centered",
       [](auto ps) { return std::make_unique<RMSprop>(ps, RMSpropOptions{.lr = 0.01, .centered = true}); }},
      {"Adam lr 0.01", [](auto ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01}); }},
      {"Adam lr 0.01 AMSGrad", [](auto ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.01, .amsgrad = true}); }},
      {"AdamW lr 0.01", [](auto ps) { return std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.01}); }},
      {"Adadelta lr 1.0", [](auto ps) { return std::make_unique<Adadelta>(ps, AdadeltaOptions{.lr = 1.0}); }},
  };
  std::printf("%-28s %12s\n", "optimizer", "final loss");
  for (const auto& run : optimizers) {
    const Result r = train(p, run.make);
    std::printf("%-28s %12.5f\n", run.name.c_str(), r.loss);
    all_learn = all_learn && r.loss < baseline;
  }

  std::printf("\nschedulers, each with SGD lr 0.05 momentum 0.9:\n");
  auto sgd = [](auto ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 0.05, .momentum = 0.9}); };
  struct SchedulerRun {
    std::string name;
    MakeScheduler make;
  };
  const std::vector<SchedulerRun> schedulers = {
      {"none", nullptr},
      {"StepLR(100, 0.5)", every_step<StepLR>(StepLROptions{.step_size = 100, .gamma = 0.5})},
      {"MultiStepLR({150, 250})", every_step<MultiStepLR>(MultiStepLROptions{.milestones = {150, 250}})},
      {"ExponentialLR(0.99)", every_step<ExponentialLR>(ExponentialLROptions{.gamma = 0.99})},
      {"CosineAnnealingLR(300)", every_step<CosineAnnealingLR>(CosineAnnealingLROptions{.T_max = kSteps})},
      {"LinearLR(0.1 -> 1, 30)", every_step<LinearLR>(LinearLROptions{.start_factor = 0.1, .total_iters = 30})},
      {"LambdaLR(1 / (1 + t/100))", every_step<LambdaLR>(LRLambda([](std::int64_t t) { return 1.0 / (1.0 + t / 100.0); }))},
      {"OneCycleLR(max 0.1)", every_step<OneCycleLR>(OneCycleLROptions{.max_lr = 0.1, .total_steps = kSteps})},
      {"warm-up then cosine",
       [](Optimizer& opt) -> SchedulerStep {
         auto warm = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.1, .total_iters = 30});
         auto cos = std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.T_max = kSteps - 30});
         auto s = std::make_shared<SequentialLR>(opt, std::vector<std::shared_ptr<LRScheduler>>{warm, cos},
                                                 std::vector<std::int64_t>{30});
         return [s](double) { s->step(); };
       }},
      {"ReduceLROnPlateau(patience 10)",
       [](Optimizer& opt) -> SchedulerStep {
         auto s = std::make_shared<ReduceLROnPlateau>(opt, ReduceLROnPlateauOptions{.factor = 0.5, .patience = 10});
         return [s](double loss) { s->step(loss); };
       }},
  };
  std::printf("%-32s %10s %12s\n", "scheduler", "final lr", "final loss");
  for (const auto& run : schedulers) {
    const Result r = train(p, sgd, run.make);
    std::printf("%-32s %10.5f %12.5f\n", run.name.c_str(), r.final_lr, r.loss);
    all_learn = all_learn && r.loss < baseline;
  }
  return all_learn ? 0 : 1;
}
