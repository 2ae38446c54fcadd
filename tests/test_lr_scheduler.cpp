// Learning-rate schedulers against PyTorch's sequences. The expected numbers come from
// tests/lr_scheduler_reference.py, a plain-Python model of torch/optim/lr_scheduler.py's rules
// (each get_lr's chainable form, the constructor's initial step, the shared "initial_lr",
// SequentialLR's closed-form handover, OneCycleLR's phases, ReduceLROnPlateau's counters), printed
// with repr. Python floats are IEEE doubles and math.cos is the C library's, so the schedulers,
// doing the same operations in the same order, must reproduce them bit for bit: compared with ==.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;
using namespace xgrad::optim;

namespace {

// Real optimizers with one single-element parameter per group, which is all a scheduler sees:
// SGD when a momentum is given (OneCycleLR cycles it), Adagrad otherwise (it has no momentum).
std::unique_ptr<Optimizer> optimizer_with(std::vector<double> lrs, std::optional<double> momentum = std::nullopt) {
  if (momentum) {
    std::vector<ParamGroup<SGDOptions>> groups;
    for (double lr : lrs) groups.push_back({{zeros({1}, {.requires_grad = true})}, {.lr = lr, .momentum = *momentum}});
    return std::make_unique<SGD>(std::move(groups));
  }
  std::vector<ParamGroup<AdagradOptions>> groups;
  for (double lr : lrs) groups.push_back({{zeros({1}, {.requires_grad = true})}, {.lr = lr}});
  return std::make_unique<Adagrad>(std::move(groups));
}

void add_group(Optimizer& opt, double lr) {
  if (auto* sgd = dynamic_cast<SGD*>(&opt)) sgd->add_param_group({zeros({1}, {.requires_grad = true})}, {.lr = lr});
  else dynamic_cast<Adagrad&>(opt).add_param_group({zeros({1}, {.requires_grad = true})}, {.lr = lr});
}

// What the optimizer's own state_dict would carry for a resume: the lrs and momenta.
void copy_hyperparameters(Optimizer& to, const Optimizer& from) {
  for (std::size_t g = 0; g < from.num_param_groups(); ++g) {
    to.set_lr(g, from.lr(g));
    if (auto m = from.momentum(g)) to.set_momentum(g, *m);
  }
}

using Sequence = std::vector<double>;

// Group g's lr after construction and after each of n steps.
std::vector<Sequence> lrs_over(Optimizer& opt, const std::function<void()>& step, int n) {
  std::vector<Sequence> out(opt.num_param_groups());
  auto record = [&] {
    for (std::size_t g = 0; g < out.size(); ++g) out[g].push_back(opt.lr(g));
  };
  record();
  for (int i = 0; i < n; ++i) {
    step();
    record();
  }
  return out;
}

void check_exact(const Sequence& got, const Sequence& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("entry ", i, ": got ", fmt::format("{}", got[i]), " expected ", fmt::format("{}", expected[i]));
    CHECK(got[i] == expected[i]);
  }
}

using test::contains;

}  // namespace

TEST_CASE("lr_scheduler: StepLR decays every step_size epochs, per group") {
  auto opt_owner = optimizer_with({0.05, 0.5});
  Optimizer& opt = *opt_owner;
  StepLR sched(opt, {.step_size = 3, .gamma = 0.1});
  const auto got = lrs_over(opt, [&] { sched.step(); }, 9);
  check_exact(got[0], {0.05, 0.05, 0.05, 0.005000000000000001, 0.005000000000000001, 0.005000000000000001,
                       0.0005000000000000001, 0.0005000000000000001, 0.0005000000000000001, 5.0000000000000016e-05});
  check_exact(got[1], {0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005000000000000001, 0.005000000000000001,
                       0.005000000000000001, 0.0005000000000000001});
  CHECK(sched.last_epoch() == 9);
  check_exact(sched.get_last_lr(), {got[0].back(), got[1].back()});
  check_exact(sched.base_lrs(), {0.05, 0.5});
}

TEST_CASE("lr_scheduler: MultiStepLR decays at each milestone, twice at a repeated one") {
  auto opt_owner = optimizer_with({0.1});
  Optimizer& opt = *opt_owner;
  MultiStepLR sched(opt, {.milestones = {2, 5, 5, 7}, .gamma = 0.5});
  check_exact(lrs_over(opt, [&] { sched.step(); }, 9)[0],
              {0.1, 0.1, 0.05, 0.05, 0.05, 0.0125, 0.0125, 0.00625, 0.00625, 0.00625});
}

TEST_CASE("lr_scheduler: ExponentialLR multiplies by gamma each epoch") {
  auto opt_owner = optimizer_with({0.1});
  Optimizer& opt = *opt_owner;
  ExponentialLR sched(opt, {.gamma = 0.9});
  check_exact(lrs_over(opt, [&] { sched.step(); }, 7)[0],
              {0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002,
               0.05904900000000002, 0.05314410000000002, 0.04782969000000002});
}

TEST_CASE("lr_scheduler: CosineAnnealingLR follows PyTorch's recursive form, past T_max too") {
  auto opt_owner = optimizer_with({0.1, 0.02});
  Optimizer& opt = *opt_owner;
  CosineAnnealingLR sched(opt, {.T_max = 4, .eta_min = 0.001});
  const auto got = lrs_over(opt, [&] { sched.step(); }, 12);
  // The recursion drifts from the closed form in the last bits (0.10000000000000003 at epoch 8),
  // and epoch 5 (T_max + 1) takes the special rising step.
  check_exact(got[0], {0.1, 0.0855017856687341, 0.0505, 0.0154982143312659, 0.001, 0.015498214331265896,
                       0.05050000000000001, 0.08550178566873413, 0.10000000000000003, 0.08550178566873413,
                       0.05050000000000003, 0.015498214331265945, 0.001});
  check_exact(got[1], {0.02, 0.0172175144212722, 0.010499999999999999, 0.0037824855787277987, 0.001,
                       0.003782485578727798, 0.010500000000000002, 0.017217514421272208, 0.020000000000000007,
                       0.017217514421272208, 0.010500000000000006, 0.0037824855787278074, 0.001});
  // The closed form, for comparison: eta_min + (base - eta_min) (1 + cos(pi e / T)) / 2 at e = 2.
  CHECK(got[0][2] == doctest::Approx(0.001 + (0.1 - 0.001) * (1 + std::cos(std::numbers::pi * 2 / 4)) / 2).epsilon(1e-15));
}

TEST_CASE("lr_scheduler: LinearLR warms up with the default factors and can decay") {
  {
    auto opt_owner = optimizer_with({0.1});
  Optimizer& opt = *opt_owner;
    LinearLR sched(opt);  // start 1/3, end 1, 5 iterations
    check_exact(lrs_over(opt, [&] { sched.step(); }, 7)[0],
                {0.03333333333333333, 0.04666666666666667, 0.060000000000000005, 0.07333333333333335,
                 0.08666666666666668, 0.1, 0.1, 0.1});
  }
  auto opt_owner = optimizer_with({0.1});
  Optimizer& opt = *opt_owner;
  LinearLR sched(opt, {.start_factor = 0.5, .end_factor = 0.1, .total_iters = 3});
  check_exact(lrs_over(opt, [&] { sched.step(); }, 5)[0],
              {0.05, 0.036666666666666674, 0.023333333333333338, 0.01, 0.01, 0.01});
}

TEST_CASE("lr_scheduler: LambdaLR takes one function per group or one for all") {
  auto opt_owner = optimizer_with({0.1, 0.2});
  Optimizer& opt = *opt_owner;
  LambdaLR sched(opt, std::vector<LRLambda>{[](std::int64_t e) { return 1.0 / static_cast<double>(e + 1); },
                                            [](std::int64_t e) { return std::pow(0.95, static_cast<double>(e)); }});
  const auto got = lrs_over(opt, [&] { sched.step(); }, 5);
  check_exact(got[0], {0.1, 0.05, 0.03333333333333333, 0.025, 0.020000000000000004, 0.016666666666666666});
  check_exact(got[1], {0.2, 0.19, 0.1805, 0.171475, 0.16290125, 0.15475618749999998});

  auto shared_owner = optimizer_with({0.1, 0.2});
  Optimizer& shared = *shared_owner;
  LambdaLR one(shared, [](std::int64_t e) { return 1.0 / static_cast<double>(e + 1); });
  one.step();
  check_exact(one.get_last_lr(), {0.05, 0.1});
}

TEST_CASE("lr_scheduler: OneCycleLR cos anneals lr up then down and momentum the other way") {
  auto opt_owner = optimizer_with({0.5}, 0.9);
  Optimizer& opt = *opt_owner;
  std::vector<double> momenta;
  OneCycleLR sched(opt, {.max_lr = 0.1, .total_steps = 10});
  momenta.push_back(*opt.momentum(0));
  const auto got = lrs_over(opt, [&] { sched.step(); momenta.push_back(*opt.momentum(0)); }, 10);
  // Starts at max_lr / 25 (not at the optimizer's 0.5), peaks at step 2 (0.3 * 10 - 1), ends near
  // initial / 1e4 at step 9 (total_steps - 1); the 10th step, allowed, is past the end of the cosine.
  check_exact(got[0], {0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738, 0.0811745653949763,
                       0.06112620219362893, 0.03887419780637107, 0.0188258346050237, 0.004951936798652629, 4e-07,
                       0.004951936798652624});
  check_exact(momenta, {0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842,
                        0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95, 0.945048443395121});
  CHECK(sched.total_steps() == 10);
  const std::string err = test::error_of([&] { sched.step(); });
  CHECK(contains(err, "OneCycleLR: tried to step 11 times; total_steps is 10"));
  CHECK(sched.last_epoch() == 10);  // unchanged by the refused step
  CHECK(opt.lr(0) == got[0].back());
}

TEST_CASE("lr_scheduler: OneCycleLR linear strategy, epochs x steps_per_epoch, three phases") {
  auto opt_owner = optimizer_with({0.5}, 0.9);
  Optimizer& opt = *opt_owner;
  std::vector<double> momenta;
  OneCycleLR sched(opt, {.max_lr = 0.1, .epochs = 2, .steps_per_epoch = 5, .anneal_strategy = AnnealStrategy::linear});
  CHECK(sched.total_steps() == 10);
  momenta.push_back(*opt.momentum(0));
  const auto got = lrs_over(opt, [&] { sched.step(); momenta.push_back(*opt.momentum(0)); }, 10);
  // Linear past the end goes below zero at step 10, exactly as PyTorch does.
  check_exact(got[0], {0.004, 0.052000000000000005, 0.1, 0.08571434285714286, 0.07142868571428572,
                       0.05714302857142858, 0.042857371428571434, 0.028571714285714284, 0.014286057142857148,
                       3.999999999976245e-07, -0.014285257142857138});
  check_exact(momenta, {0.95, 0.8999999999999999, 0.85, 0.8642857142857142, 0.8785714285714286, 0.8928571428571428,
                        0.9071428571428571, 0.9214285714285714, 0.9357142857142857, 0.95, 0.9642857142857142});

  auto plain_owner = optimizer_with({0.5});
  Optimizer& plain = *plain_owner;  // no momentum: cycle_momentum off
  OneCycleLR three(plain, {.max_lr = 1.0, .total_steps = 10, .pct_start = 0.25, .cycle_momentum = false,
                           .three_phase = true});
  check_exact(lrs_over(plain, [&] { three.step(); }, 10)[0],
              {0.040000000000000036, 0.7599999999999999, 0.76, 0.04, 0.03732077602488121, 0.030001000000000003,
               0.020002000000000002, 0.010003000000000007, 0.002683223975118795, 4e-06, 0.002683223975118797});
}

TEST_CASE("lr_scheduler: SequentialLR hands over at the milestone, restarting the next from the base lr") {
  auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
  auto warmup = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.1, .total_iters = 4});
  auto cosine = std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.T_max = 6});
  // The cosine's base lr is the optimizer's original 1.0 (the shared initial lr), not the 0.1 the
  // warm-up had set when it was made; at epoch 4 it starts from its closed form at 0.
  CHECK(cosine->base_lrs() == std::vector<double>{1.0});
  SequentialLR sched(opt, {warmup, cosine}, {4});
  const auto got = lrs_over(opt, [&] { sched.step(); }, 11);
  check_exact(got[0], {0.1, 0.325, 0.55, 0.7750000000000001, 1.0, 0.9330127018922194, 0.75, 0.5, 0.2500000000000001,
                       0.06698729810778065, 0.0, 0.06698729810778065});
  CHECK(sched.last_epoch() == 11);
  CHECK(cosine->last_epoch() == 7);
  check_exact(sched.get_last_lr(), {got[0].back()});
}

TEST_CASE("lr_scheduler: SequentialLR with three schedulers and two milestones") {
  auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
  auto a = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.5, .total_iters = 2});
  auto b = std::make_shared<ExponentialLR>(opt, ExponentialLROptions{.gamma = 0.9});
  auto c = std::make_shared<StepLR>(opt, StepLROptions{.step_size = 2, .gamma = 0.5});
  SequentialLR sched(opt, {a, b, c}, {3, 6});
  check_exact(lrs_over(opt, [&] { sched.step(); }, 9)[0], {0.5, 0.75, 1.0, 1.0, 0.9, 0.81, 1.0, 1.0, 0.5, 0.5});
}

TEST_CASE("lr_scheduler: SequentialLR restarts LinearLR and MultiStepLR through their closed forms") {
  auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
  auto a = std::make_shared<ExponentialLR>(opt, ExponentialLROptions{.gamma = 0.5});
  auto b = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.25, .total_iters = 3});
  auto c = std::make_shared<MultiStepLR>(opt, MultiStepLROptions{.milestones = {0, 2}, .gamma = 0.1});
  SequentialLR sched(opt, {a, b, c}, {2, 5});
  // At 2 LinearLR starts at base * start_factor; at 5 MultiStepLR at base * gamma (milestone 0 passed).
  check_exact(lrs_over(opt, [&] { sched.step(); }, 8)[0],
              {1.0, 0.5, 0.25, 0.5, 0.75, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002});
}

TEST_CASE("lr_scheduler: ChainedScheduler multiplies the effects of its schedulers") {
  {
    auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
    auto warmup = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.5, .total_iters = 4});
    auto decay = std::make_shared<ExponentialLR>(opt, ExponentialLROptions{.gamma = 0.9});
    ChainedScheduler sched({warmup, decay});
    check_exact(lrs_over(opt, [&] { sched.step(); }, 6)[0],
                {0.5, 0.5625, 0.6074999999999999, 0.637875, 0.6560999999999999, 0.59049, 0.5314409999999999});
    CHECK(sched.last_epoch() == 6);
  }
  {
    // The recursive cosine follows the lr the exponential decay changed (no closed form could).
    auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
    auto cosine = std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.T_max = 5});
    auto decay = std::make_shared<ExponentialLR>(opt, ExponentialLROptions{.gamma = 0.9});
    ChainedScheduler sched({cosine, decay});
    check_exact(lrs_over(opt, [&] { sched.step(); }, 6)[0],
                {1.0, 0.8140576474687263, 0.5301518827218538, 0.2518633055503317, 0.06265197499529852, 0.0,
                 0.08594235253127365});
  }
  // LambdaLR scales the shared initial lr (1.0), not the 0.5 LinearLR left: it overrides it.
  auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
  auto warmup = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.5, .total_iters = 4});
  auto lambda = std::make_shared<LambdaLR>(opt, [](std::int64_t e) { return 1.0 / static_cast<double>(e + 1); });
  ChainedScheduler sched({warmup, lambda});
  check_exact(lrs_over(opt, [&] { sched.step(); }, 4)[0], {1.0, 0.5, 0.3333333333333333, 0.25, 0.2});
}

TEST_CASE("lr_scheduler: ReduceLROnPlateau patience, cooldown, relative threshold and per-group min_lr") {
  auto opt_owner = optimizer_with({1.0, 0.1});
  Optimizer& opt = *opt_owner;
  ReduceLROnPlateau sched(opt, {.patience = 2, .threshold = 0.1, .cooldown = 1, .min_lr = {0.05, 0.0}});
  // 9.5 and 9.2 are within 10% of the best 10.0 (bad), 9.1 the third bad one: reduce. 8.0 is a new
  // best; then cooldown eats one bad step, three more reduce again (group 0 stops at its min 0.05).
  const std::vector<double> metrics = {10.0, 9.5, 9.2, 9.1, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 7.0, 7.0, 7.0, 7.0};
  std::vector<Sequence> got(2);
  for (double m : metrics) {
    sched.step(m);
    for (std::size_t g = 0; g < 2; ++g) got[g].push_back(opt.lr(g));
  }
  check_exact(got[0], {1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05});
  check_exact(got[1], {0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002,
                       0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002,
                       0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003});
  CHECK(sched.last_epoch() == 14);
  CHECK(sched.best() == 7.0);
  check_exact(sched.get_last_lr(), {0.05, 0.00010000000000000003});
}

TEST_CASE("lr_scheduler: ReduceLROnPlateau max mode, absolute threshold, eps skips a small reduction") {
  auto opt_owner = optimizer_with({1.0});
  Optimizer& opt = *opt_owner;
  ReduceLROnPlateau sched(opt, {.mode = PlateauMode::max, .factor = 0.5, .patience = 0, .threshold = 0.5,
                                .threshold_mode = ThresholdMode::abs, .eps = 0.2});
  // 1.4 does not beat 1.0 + 0.5: reduce. At 0.25 a further halving changes the lr by 0.125 < eps.
  const std::vector<double> metrics = {1.0, 1.4, 1.6, 2.2, 2.0, 3.0, 3.0, 3.0, 3.0};
  Sequence got;
  for (double m : metrics) {
    sched.step(m);
    got.push_back(opt.lr(0));
  }
  check_exact(got, {1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25});
}

namespace {

// Runs `steps` steps uninterrupted, and again with a save after `at` steps reloaded into fresh objects;
// both must give the same lrs (and momenta) bit for bit.
template <class Make>
void check_resume(Make make, std::vector<double> lrs, std::optional<double> momentum, int at, int steps) {
  auto trace = [](Optimizer& opt) {
    Sequence t;
    for (std::size_t g = 0; g < opt.num_param_groups(); ++g) {
      t.push_back(opt.lr(g));
      if (opt.momentum(g)) t.push_back(*opt.momentum(g));
    }
    return t;
  };
  auto straight_opt_owner = optimizer_with(lrs, momentum);
  Optimizer& straight_opt = *straight_opt_owner;
  auto straight = make(straight_opt);
  std::vector<Sequence> expected;
  for (int i = 0; i < steps; ++i) {
    straight->step();
    expected.push_back(trace(straight_opt));
  }

  auto first_opt_owner = optimizer_with(lrs, momentum);
  Optimizer& first_opt = *first_opt_owner;
  auto first = make(first_opt);
  for (int i = 0; i < at; ++i) first->step();
  const StateDict saved = first->state_dict();

  auto resumed_opt_owner = optimizer_with(lrs, momentum);
  Optimizer& resumed_opt = *resumed_opt_owner;
  auto resumed = make(resumed_opt);
  copy_hyperparameters(resumed_opt, first_opt);
  const LoadReport report = resumed->load_state_dict(saved);
  CHECK(report.complete());
  CHECK(resumed->last_epoch() == first->last_epoch());
  for (int i = at; i < steps; ++i) {
    resumed->step();
    INFO("step ", i + 1);
    check_exact(trace(resumed_opt), expected[i]);
  }
}

}  // namespace

TEST_CASE("lr_scheduler: state_dict round trip continues the identical sequence") {
  SUBCASE("CosineAnnealingLR") {
    check_resume([](Optimizer& o) { return std::make_unique<CosineAnnealingLR>(o, CosineAnnealingLROptions{.T_max = 4, .eta_min = 0.001}); },
                 {0.1, 0.02}, std::nullopt, 3, 12);
  }
  SUBCASE("OneCycleLR with momentum") {
    check_resume([](Optimizer& o) { return std::make_unique<OneCycleLR>(o, OneCycleLROptions{.max_lr = 0.1, .total_steps = 10}); },
                 {0.5}, 0.9, 4, 10);
  }
  SUBCASE("SequentialLR across its milestone") {
    auto make = [](Optimizer& o) {
      auto warmup = std::make_shared<LinearLR>(o, LinearLROptions{.start_factor = 0.1, .total_iters = 4});
      auto cosine = std::make_shared<CosineAnnealingLR>(o, CosineAnnealingLROptions{.T_max = 6});
      return std::make_unique<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                            std::vector<std::int64_t>{4});
    };
    check_resume(make, {1.0}, std::nullopt, 2, 11);
    check_resume(make, {1.0}, std::nullopt, 6, 11);
  }
  SUBCASE("ChainedScheduler") {
    auto make = [](Optimizer& o) {
      auto cosine = std::make_shared<CosineAnnealingLR>(o, CosineAnnealingLROptions{.T_max = 5});
      auto decay = std::make_shared<ExponentialLR>(o, ExponentialLROptions{.gamma = 0.9});
      return std::make_unique<ChainedScheduler>(std::vector<std::shared_ptr<LRScheduler>>{cosine, decay});
    };
    check_resume(make, {1.0}, std::nullopt, 3, 8);
  }
  SUBCASE("ReduceLROnPlateau") {
    const std::vector<double> metrics = {10.0, 9.5, 9.2, 9.1, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 7.0, 7.0};
    auto run = [&](ReduceLROnPlateau& s, Optimizer& o, std::size_t from, std::size_t to) {
      Sequence lrs;
      for (std::size_t i = from; i < to; ++i) {
        s.step(metrics[i]);
        lrs.push_back(o.lr(0));
      }
      return lrs;
    };
    const ReduceLROnPlateauOptions options{.patience = 2, .threshold = 0.1, .cooldown = 1, .min_lr = 0.05};
    auto o1_owner = optimizer_with({1.0});
  Optimizer& o1 = *o1_owner;
    ReduceLROnPlateau straight(o1, options);
    const Sequence expected = run(straight, o1, 0, metrics.size());
    auto o2_owner = optimizer_with({1.0});
  Optimizer& o2 = *o2_owner;
    ReduceLROnPlateau first(o2, options);
    run(first, o2, 0, 6);  // stops inside the cooldown
    auto o3_owner = optimizer_with({1.0});
  Optimizer& o3 = *o3_owner;
    ReduceLROnPlateau resumed(o3, options);
    copy_hyperparameters(o3, o2);
    CHECK(resumed.load_state_dict(first.state_dict()).complete());
    check_exact(run(resumed, o3, 6, metrics.size()), Sequence(expected.begin() + 6, expected.end()));
  }
}

TEST_CASE("lr_scheduler: load_state_dict validates everything before changing anything") {
  auto opt_owner = optimizer_with({0.1, 0.2});
  Optimizer& opt = *opt_owner;
  StepLR sched(opt, {.step_size = 2});
  sched.step();
  StateDict state = sched.state_dict();
  CHECK(state.keys() == std::vector<std::string>{"last_epoch", "step_count", "base_lrs", "last_lr", "step_size",
                                                 "gamma"});
  CHECK(state.at("last_epoch").dtype() == Dtype::int64);
  CHECK(state.at("gamma").dtype() == Dtype::float64);
  CHECK(state.at("gamma").dim() == 0);

  StepLR other(opt, {.step_size = 5, .gamma = 0.5});
  StateDict bad = state;
  bad.erase("step_size");
  bad.insert_or_assign("base_lrs", tensor({1.0, 2.0, 3.0}, {.dtype = Dtype::float64}));
  bad.insert_or_assign("gamma", scalar_tensor(0.5));  // float32
  bad.insert("extra", scalar_tensor(1.0));
  bad.insert_or_assign("last_epoch", tensor(std::vector<std::int64_t>{7}, Shape{}));
  const std::string err = test::error_of([&] { other.load_state_dict(bad); });
  CHECK(contains(err, "StepLR.load_state_dict: 4 problem(s), nothing loaded"));
  CHECK(contains(err, "'base_lrs' is float64 [3], expected float64 [2]"));
  CHECK(contains(err, "'gamma' is float32 [], expected float64 []"));
  CHECK(contains(err, "missing 'step_size'"));
  CHECK(contains(err, "unexpected 'extra'"));
  CHECK(other.last_epoch() == 0);  // the valid last_epoch was not loaded either

  const LoadReport report = other.load_state_dict(bad, /*strict=*/false);
  CHECK(report.missing_keys == std::vector<std::string>{"step_size"});
  CHECK(report.unexpected_keys == std::vector<std::string>{"extra"});
  CHECK(report.mismatched_keys == std::vector<std::string>{"base_lrs", "gamma"});
  CHECK(other.last_epoch() == 7);  // the valid entries were

  // A full load takes the saved options too, as PyTorch's does: step_size 2 and gamma 0.1 now.
  auto fresh_opt_owner = optimizer_with({0.1, 0.2});
  Optimizer& fresh_opt = *fresh_opt_owner;
  StepLR fresh(fresh_opt, {.step_size = 5, .gamma = 0.5});
  CHECK(fresh.load_state_dict(state).complete());
  fresh.step();  // epoch 2: a multiple of the loaded step_size
  check_exact(fresh.get_last_lr(), {0.1 * 0.1, 0.2 * 0.1});

  // Nested schedulers are checked under their prefixes, and flags must be 0 or 1.
  auto m_owner = optimizer_with({0.5}, 0.9);
  Optimizer& m = *m_owner;
  OneCycleLR cycle(m, {.max_lr = 0.1, .total_steps = 10});
  StateDict cs = cycle.state_dict();
  cs.insert_or_assign("three_phase", tensor(std::vector<std::int64_t>{2}, Shape{}));
  CHECK(contains(test::error_of([&] { cycle.load_state_dict(cs); }), "'three_phase' holds 2, expected 0 or 1"));
  auto a = std::make_shared<LinearLR>(m, LinearLROptions{});
  auto b = std::make_shared<ExponentialLR>(m, ExponentialLROptions{.gamma = 0.5});
  SequentialLR seq(m, {a, b}, {3});
  StateDict ss = seq.state_dict();
  CHECK(ss.contains("schedulers.1.gamma"));
  ss.erase("schedulers.0.total_iters");
  CHECK(contains(test::error_of([&] { seq.load_state_dict(ss); }), "missing 'schedulers.0.total_iters'"));
}

TEST_CASE("lr_scheduler: bad arguments raise errors naming the scheduler and the value") {
  auto opt_owner = optimizer_with({0.1, 0.2});
  Optimizer& opt = *opt_owner;
  auto err = [](const std::function<void()>& f) { return test::error_of(f); };
  CHECK(contains(err([&] { StepLR(opt, {.step_size = 0}); }), "StepLR: step_size must be > 0, got 0"));
  CHECK(contains(err([&] { StepLR(opt, {.step_size = 2, .gamma = 0}); }), "StepLR: gamma must be finite and > 0, got 0"));
  CHECK(contains(err([&] { MultiStepLR(opt, {.milestones = {}}); }), "MultiStepLR: milestones is empty"));
  CHECK(contains(err([&] { MultiStepLR(opt, {.milestones = {3, 2}}); }), "increasing order, got 2 after 3"));
  CHECK(contains(err([&] { MultiStepLR(opt, {.milestones = {-1}}); }), "milestone 0 is -1"));
  CHECK(contains(err([&] { ExponentialLR(opt, {.gamma = -0.5}); }), "ExponentialLR: gamma must be finite and > 0"));
  CHECK(contains(err([&] { ExponentialLR(opt, {.gamma = NAN}); }), "ExponentialLR: gamma must be finite and > 0"));
  CHECK(contains(err([&] { CosineAnnealingLR(opt, {.T_max = 0}); }), "CosineAnnealingLR: T_max must be > 0, got 0"));
  CHECK(contains(err([&] { CosineAnnealingLR(opt, {.T_max = 3, .eta_min = -1}); }), "eta_min must be finite and >= 0"));
  CHECK(contains(err([&] { LinearLR(opt, {.start_factor = 0}); }), "LinearLR: start_factor must be in (0, 1], got 0"));
  CHECK(contains(err([&] { LinearLR(opt, {.end_factor = 1.5}); }), "LinearLR: end_factor must be in [0, 1], got 1.5"));
  CHECK(contains(err([&] { LinearLR(opt, {.total_iters = 0}); }), "LinearLR: total_iters must be > 0"));
  CHECK(contains(err([&] { LambdaLR(opt, std::vector<LRLambda>{[](std::int64_t) { return 1.0; }}); }),
                 "LambdaLR: expected 2 lr_lambdas (one per parameter group), got 1"));
  CHECK(contains(err([&] { LambdaLR(opt, LRLambda{}); }), "LambdaLR: lr_lambda 0 is empty"));

  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 0}); }),
                 "OneCycleLR: total_steps must be > 0, got 0"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .epochs = 3}); }),
                 "OneCycleLR: give total_steps, or epochs and steps_per_epoch (got 3 and none)"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .epochs = 3, .steps_per_epoch = -1}); }),
                 "steps_per_epoch must be > 0"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = {0.1, 0.2, 0.3}, .total_steps = 5}); }),
                 "OneCycleLR: max_lr needs one value or one per parameter group (2 groups), got 3 values"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = {0.1, -0.2}, .total_steps = 5, .cycle_momentum = false}); }),
                 "max_lr of group 1 is -0.2"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 5, .pct_start = 1.5}); }),
                 "pct_start must be in [0, 1], got 1.5"));
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 5}); }),
                 "OneCycleLR: cycle_momentum needs an optimizer with momentum or beta1, and Adagrad has none"));
  // pct_start * total_steps == 1 makes the first phase empty: PyTorch divides by zero there.
  CHECK(contains(err([&] { OneCycleLR(opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 0.1, .cycle_momentum = false}); }),
                 "OneCycleLR: phase 0 is empty"));
  CHECK(opt.lr(0) == 0.1);  // none of the refused constructors changed the lrs

  CHECK(contains(err([&] { ReduceLROnPlateau(opt, {.factor = 1.0}); }), "factor must be in [0, 1), got 1"));
  CHECK(contains(err([&] { ReduceLROnPlateau(opt, {.patience = -1}); }), "patience must be >= 0"));
  CHECK(contains(err([&] { ReduceLROnPlateau(opt, {.cooldown = -2}); }), "cooldown must be >= 0"));
  CHECK(contains(err([&] { ReduceLROnPlateau(opt, {.min_lr = {0.1, 0.2, 0.3}}); }),
                 "ReduceLROnPlateau: min_lr needs one value or one per parameter group (2 groups), got 3 values"));

  auto a = std::make_shared<StepLR>(opt, StepLROptions{.step_size = 2});
  auto b = std::make_shared<ExponentialLR>(opt, ExponentialLROptions{.gamma = 0.9});
  CHECK(contains(err([&] { SequentialLR(opt, {}, {}); }), "SequentialLR: needs at least one scheduler, got none"));
  CHECK(contains(err([&] { SequentialLR(opt, {a, b}, {}); }), "got 2 schedulers and 0 milestones"));
  CHECK(contains(err([&] { SequentialLR(opt, {a, b}, {0}); }), "milestone 0 is 0; milestones must be > 0"));
  CHECK(contains(err([&] { SequentialLR(opt, {a, b, a}, {3, 2}); }), "scheduler 2 (StepLR) is also scheduler 0"));
  CHECK(contains(err([&] { SequentialLR(opt, {a, nullptr}, {3}); }), "SequentialLR: scheduler 1 is null"));
  auto other_owner = optimizer_with({0.1, 0.2});
  Optimizer& other = *other_owner;
  auto foreign = std::make_shared<StepLR>(other, StepLROptions{.step_size = 2});
  CHECK(contains(err([&] { SequentialLR(opt, {a, foreign}, {3}); }), "scheduler 1 (StepLR) belongs to another optimizer"));
  CHECK(contains(err([&] { ChainedScheduler({a, foreign}); }), "ChainedScheduler: scheduler 1 (StepLR) belongs to another"));
  CHECK(contains(err([&] { ChainedScheduler({}); }), "ChainedScheduler: needs at least one scheduler"));
  auto chained = std::make_shared<ChainedScheduler>(std::vector<std::shared_ptr<LRScheduler>>{a, b});
  CHECK(contains(err([&] { SequentialLR(opt, {a, chained}, {3}); }),
                 "scheduler 1 is a ChainedScheduler, which cannot restart at a milestone"));
}

TEST_CASE("lr_scheduler: a parameter group added after the scheduler was made") {
  auto opt_owner = optimizer_with({0.1, 0.2});
  Optimizer& opt = *opt_owner;
  ExponentialLR sched(opt, {.gamma = 0.5});
  ReduceLROnPlateau one_min(opt, {.patience = 0, .min_lr = 0.01});
  ReduceLROnPlateau per_group(opt, {.patience = 0, .min_lr = {0.0, 0.0}});
  add_group(opt, 0.4);
  CHECK(test::error_of([&] { sched.step(); }) ==
        "ExponentialLR: the optimizer (Adagrad) has 3 parameter groups, it had 2 when the scheduler was made");
  CHECK(sched.last_epoch() == 0);
  // One min_lr covers new groups (as in PyTorch); a per-group list cannot.
  one_min.step(1.0);
  one_min.step(2.0);
  check_exact(one_min.get_last_lr(), {0.010000000000000002, 0.020000000000000004, 0.04000000000000001});
  CHECK(contains(test::error_of([&] { per_group.step(1.0); }),
                 "ReduceLROnPlateau: the optimizer (Adagrad) has 3 parameter groups, but 2 min_lr values"));
  CHECK(per_group.last_epoch() == 0);
}

TEST_CASE("lr_scheduler: the initial lr is kept by the optimizer's groups and saved with its state") {
  Tensor w = zeros({2}, {.requires_grad = true});
  SGD opt({w}, {.lr = 1.0, .momentum = 0.9});
  CHECK_FALSE(opt.initial_lr(0).has_value());
  {
    StepLR decay(opt, {.step_size = 1, .gamma = 0.5});
    decay.step();
    decay.step();
  }  // the scheduler is gone; the record stays with the group, as in PyTorch
  CHECK(opt.lr(0) == 0.25);
  CHECK(opt.initial_lr(0) == 1.0);
  CosineAnnealingLR later(opt, {.T_max = 10});
  CHECK(later.base_lrs() == std::vector<double>{1.0});

  const StateDict saved = opt.state_dict();
  CHECK(saved.at("param_groups.0.initial_lr").item() == 1.0);
  Tensor w2 = zeros({2}, {.requires_grad = true});
  SGD resumed({w2}, {.lr = 0.25, .momentum = 0.9});
  CHECK(resumed.load_state_dict(saved).complete());
  CHECK(resumed.initial_lr(0) == 1.0);
  CHECK(CosineAnnealingLR(resumed, {.T_max = 10}).base_lrs() == std::vector<double>{1.0});
}
